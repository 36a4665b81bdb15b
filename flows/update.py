"""`update_store`: one batch added to a corpus store as a Prefect flow over `fincorpus.store`."""

from __future__ import annotations

from prefect import flow

from fincorpus import partitions, pipeline, store
from fincorpus.config import Config
from fincorpus.documents import RawDocument
from fincorpus.io.readers import check_output_outside
from flows.build import read_partitions, stage
from flows.engine import api_for_workers, task_runner_for


# Retried on I/O failures only (`io_may_clear`): a user error (a busy or foreign store) fails the same way again.
read_documents = stage(pipeline.read_documents, "read", retry_delay_seconds=1)
concat_documents = stage(partitions.concat_documents, "gather-documents")
# An attempt that fails leaves the store at its previous generation, so the whole update is safe to retry.
apply_batch = stage(store.apply_batch, "update-store", retry_delay_seconds=2)


@flow(name="read-partitions", log_prints=False, validate_parameters=False)
def read_partitioned(inputs: list[str], config: Config) -> list[RawDocument]:
    """Reading and decoding per partition of the input files, on the task runner it is given."""
    parts = read_partitions(inputs, config)
    return concat_documents.submit(parts).result()


@flow(name="update-store", log_prints=False, validate_parameters=False)
def update_store(inputs: list[str], store_dir: str, config: Config | dict | None = None) -> dict:
    """Same stages as `fincorpus.store.update`. `config` may be a dict (a deployment's JSON parameters).
    With `engine.kind: dask` the batch is read on the engine's workers by a subflow with its own task runner,
    so a served deployment (`fincorpus serve`) reaches the cluster as `fincorpus update` does; the store is
    changed from here."""
    settings = config if isinstance(config, Config) else Config.model_validate(config or {})
    check_output_outside(inputs, store_dir, "--store")
    if settings.engine.kind == "dask":
        documents = read_partitioned.with_options(task_runner=task_runner_for(settings.engine))(inputs, settings)
    else:
        documents = read_documents(inputs, settings)
    return apply_batch(documents, store_dir, settings).summary


def run_update(inputs: list[str], store_dir: str, config: Config) -> dict:
    """`update_store`, with a Prefect API the engine's workers can reach."""
    with api_for_workers(config.engine):
        return update_store(inputs, store_dir, config)
