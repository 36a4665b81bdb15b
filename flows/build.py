"""`build_corpus`: the one-off corpus build as a Prefect flow over `fincorpus.pipeline`."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from fincorpus import pipeline
from fincorpus.config import Config
from fincorpus.errors import OutputError
from fincorpus.lineage import check_accounting
from fincorpus.report import summarize


def io_may_clear(_task, _run, state) -> bool:
    """Retry I/O failures only: a user error (missing input, foreign --out) or a bug fails the same way again."""
    failure = getattr(state, "data", None)
    return isinstance(failure, (OSError, OutputError))


# Documents move between tasks in memory; hashing them for a cache key would cost more than the work.
read_documents = task(pipeline.read_documents, name="read", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1,
                      retry_condition_fn=io_may_clear)
clean_documents = task(pipeline.clean_documents, name="clean", cache_policy=NO_CACHE)
dedup_documents = task(pipeline.dedup_documents, name="deduplicate", cache_policy=NO_CACHE)
assemble = task(pipeline.assemble, name="assemble", cache_policy=NO_CACHE)
write_outputs = task(pipeline.write_outputs, name="write", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1,
                     retry_condition_fn=io_may_clear)


@flow(name="build-corpus", log_prints=False, validate_parameters=False)
def build_corpus(inputs: list[str], out: str, config: Config) -> dict:
    """Same stages and outputs as `fincorpus.pipeline.build`, each a task with retries on I/O."""
    documents = read_documents(inputs, config)
    cleaned = clean_documents(documents, config)
    dedup = dedup_documents(cleaned, config)
    tables = assemble(documents, cleaned, dedup)
    check_accounting([doc.doc_id for doc in documents], tables.lineage, tables.corpus)
    write_outputs(tables, Path(out))
    return summarize(tables.lineage)
