"""`build_corpus`: the one-off corpus build as a Prefect flow over `fincorpus.pipeline`."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from fincorpus import partitions, pipeline, stream
from fincorpus.config import Config
from fincorpus.errors import OutputError
from fincorpus.lineage import check_accounting
from fincorpus.report import summarize
from flows.engine import PrefectExecutor, api_for_workers, task_runner_for


def io_may_clear(_task, _run, state) -> bool:
    """Retry I/O failures only: a user error (missing input, foreign --out) or a bug fails the same way again."""
    failure = getattr(state, "data", None)
    return isinstance(failure, (OSError, OutputError))


# Documents move between tasks in memory (or on disk); hashing them for a cache key would cost more than the work.
# The in-memory stages, for `engine.kind: dask`:
assemble = task(pipeline.assemble, name="assemble", cache_policy=NO_CACHE)
write_outputs = task(pipeline.write_outputs, name="write", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1,
                     retry_condition_fn=io_may_clear)

# The local engine's stages, streamed in batches through a work directory (see `fincorpus.stream`).
read_and_clean = task(stream.read_and_clean, name="read+clean", cache_policy=NO_CACHE, retries=2,
                      retry_delay_seconds=1, retry_condition_fn=io_may_clear)
finish_cleaning = task(stream.finish_cleaning, name="finish-cleaning", cache_policy=NO_CACHE)
dedup_cleaned = task(stream.dedup_cleaned, name="deduplicate", cache_policy=NO_CACHE)
assemble_index = task(stream.assemble_index, name="assemble", cache_policy=NO_CACHE)
write_streamed = task(stream.write_streamed, name="write", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1,
                      retry_condition_fn=io_may_clear)

# The same stages per partition of the input files, for `engine.kind: dask` (see `fincorpus.partitions`).
read_partition = task(partitions.read_partition, name="read-partition", cache_policy=NO_CACHE, retries=2,
                      retry_delay_seconds=1, retry_condition_fn=io_may_clear)
document_keys = task(partitions.document_keys, name="document-keys", cache_policy=NO_CACHE)
mark_repeated = task(partitions.mark_repeated, name="mark-repeated-ids", cache_policy=NO_CACHE)
first_clean = task(partitions.first_clean, name="clean-partition", cache_policy=NO_CACHE)
line_counts = task(partitions.line_counts, name="count-lines", cache_policy=NO_CACHE)
templates_of = task(partitions.templates_of, name="template-lines", cache_policy=NO_CACHE)
finish_clean = task(partitions.finish_clean, name="finish-partition", cache_policy=NO_CACHE)
concat_cleaned = task(partitions.concat_cleaned, name="gather-cleaned", cache_policy=NO_CACHE)
concat_documents = task(partitions.concat_documents, name="gather-documents", cache_policy=NO_CACHE)
with_content = task(pipeline.with_content, name="with-content", cache_policy=NO_CACHE)


def run_build(inputs: list[str], out: str, config: Config) -> dict:
    """`build_corpus` on the task runner that `config.engine` selects (a LocalCluster lives for the run)."""
    with api_for_workers(config.engine):
        return build_corpus.with_options(task_runner=task_runner_for(config.engine))(inputs, out, config)


@flow(name="build-corpus", log_prints=False, validate_parameters=False)
def build_corpus(inputs: list[str], out: str, config: Config) -> dict:
    """Same stages and outputs as `fincorpus.pipeline.build`, each a task with retries on I/O. With
    `engine.kind: dask`, reading, cleaning and dedup run per partition on the task runner's workers
    (`fincorpus.partitions`, `fincorpus.partitioned_dedup`); settling clusters, checking and writing stay
    here, beside `out`."""
    if config.engine.kind == "dask":
        documents, cleaned_parts, doc_ids = _read_and_clean_partitions(inputs, config)
        dedup = partitions.dedup_partitions([with_content.submit(part) for part in cleaned_parts], config,
                                            PrefectExecutor())
        tables = assemble.submit(documents, concat_cleaned.submit(cleaned_parts), dedup).result()
        check_accounting(doc_ids, tables.lineage, tables.corpus)
        write_outputs(tables, Path(out))
        return summarize(tables.lineage)
    with pipeline.work_for(Path(out)) as work:
        first = read_and_clean(inputs, config, work)
        cleaned = finish_cleaning(first, config)
        dedup = dedup_cleaned(cleaned, config)
        index = assemble_index(cleaned, dedup)
        check_accounting(cleaned.index["doc_id"].to_list(), index.lineage, index.corpus)
        write_streamed(cleaned, index, Path(out))
    return summarize(index.lineage)


def read_partitions(inputs: list[str], config: Config):
    """Futures of each partition's documents (repeated ids resolved across partitions), and every doc_id."""
    parts = partitions.partition_files(inputs, config)
    raw = [read_partition.submit(files, config) for files in parts]
    repeated = partitions.repeated_by_partition([document_keys.submit(part).result() for part in raw])
    documents = [mark_repeated.submit(part, rows) for part, rows in zip(raw, repeated)]
    doc_ids = [doc_id for part in documents for doc_id, _ in document_keys.submit(part).result()]
    return documents, doc_ids


def _read_and_clean_partitions(inputs: list[str], config: Config):
    """Futures of all documents and of each partition's cleaned documents, and the doc_ids."""
    documents, doc_ids = read_partitions(inputs, config)
    first = [first_clean.submit(part, config) for part in documents]
    templates = templates_of.submit([line_counts.submit(part, config) for part in first], config)
    cleaned = [finish_clean.submit(part, templates, config) for part in first]
    return concat_documents.submit(documents), cleaned, doc_ids
