"""`build_corpus`: the one-off corpus build as a Prefect flow over `fincorpus.pipeline`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from fincorpus import partitions, pipeline, stream
from fincorpus.config import Config
from fincorpus.dedup import DedupResult
from fincorpus.errors import OutputError
from fincorpus.lineage import check_accounting
from fincorpus.parallel import Workers
from fincorpus.report import summarize
from flows.engine import PrefectExecutor, api_for_workers, task_runner_for


def io_may_clear(_task, _run, state) -> bool:
    """Retry I/O failures only: a user error (missing input, foreign --out) or a bug fails the same way again."""
    failure = getattr(state, "data", None)
    return isinstance(failure, (OSError, OutputError))


def stage(function, name: str, retry_delay_seconds: float | None = None):
    """`function` as an uncached task (documents move between tasks in memory or on disk; hashing them for a
    cache key would cost more than the work); with a `retry_delay_seconds`, retried twice on I/O failures
    (`io_may_clear`)."""
    if retry_delay_seconds is None:
        return task(function, name=name, cache_policy=NO_CACHE)
    return task(function, name=name, cache_policy=NO_CACHE, retries=2, retry_delay_seconds=retry_delay_seconds,
                retry_condition_fn=io_may_clear)


# The local engine's stages, streamed in batches through a work directory (see `fincorpus.stream`).
read_and_clean = stage(stream.read_and_clean, "read+clean", retry_delay_seconds=1)
finish_cleaning = stage(stream.finish_cleaning, "finish-cleaning")
dedup_cleaned = stage(stream.dedup_cleaned, "deduplicate")
assemble_index = stage(stream.assemble_index, "assemble")
write_streamed = stage(stream.write_streamed, "write", retry_delay_seconds=1)

# The same stages per partition of the input files, for `engine.kind: dask` (see `fincorpus.partitions`).
read_partition = stage(partitions.read_partition, "read-partition", retry_delay_seconds=1)
document_keys = stage(partitions.document_keys, "document-keys")
mark_repeated = stage(partitions.mark_repeated, "mark-repeated-ids")
first_clean = stage(partitions.first_clean, "clean-partition")
line_counts = stage(partitions.line_counts, "count-lines")
templates_of = stage(partitions.templates_of, "template-lines")
finish_clean = stage(partitions.finish_clean, "finish-partition")
with_content = stage(pipeline.with_content, "with-content")
run_tables = stage(stream.run_tables, "run-tables")


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
    with pipeline.work_for(Path(out)) as work:
        if config.engine.kind == "dask":
            cleaned, dedup = _partitioned(inputs, config, work)
        else:
            with Workers(config.engine) as workers:  # one pool for both passes (`stream.read_and_clean`)
                first = read_and_clean(inputs, config, work, workers)
                cleaned = finish_cleaning(first, config, workers)
            dedup = dedup_cleaned(cleaned, config)
        index = assemble_index(cleaned, dedup)
        check_accounting(cleaned.index["doc_id"].to_list(), index.lineage, index.corpus)
        write_streamed(cleaned, index, Path(out))
    return summarize(index.lineage)


def _partitioned(inputs: list[str], config: Config, work: Path) -> tuple[stream.CleanedRuns, DedupResult]:
    """Read, clean and deduplicate per partition on the task runner; each partition's runs come to `work`
    one at a time (`stream.gather_runs`), so the write that follows streams as the local engine's does."""
    documents, cleaned_parts = _read_and_clean_partitions(inputs, config)
    tables = [run_tables.submit(part, cleaned) for part, cleaned in zip(documents, cleaned_parts)]
    dedup = partitions.dedup_partitions([with_content.submit(part) for part in cleaned_parts], config,
                                        PrefectExecutor())
    return stream.gather_runs(work, _one_at_a_time(tables), config.engine.stream_docs), dedup


def _one_at_a_time(futures: list[PrefectFuture]) -> Iterator:
    """Each future's result in turn, let go of before the next is fetched (the list empties as it goes)."""
    futures.reverse()
    while futures:
        yield futures.pop().result()


def read_partitions(inputs: list[str], config: Config) -> list[PrefectFuture]:
    """Futures of each partition's documents, repeated ids resolved across partitions."""
    parts = partitions.partition_files(inputs, config)
    raw = [read_partition.submit(files, config) for files in parts]
    repeated = partitions.repeated_by_partition([document_keys.submit(part).result() for part in raw])
    return [mark_repeated.submit(part, rows) for part, rows in zip(raw, repeated)]


def _read_and_clean_partitions(inputs: list[str], config: Config):
    """Futures of each partition's documents and of its cleaned documents."""
    documents = read_partitions(inputs, config)
    first = [first_clean.submit(part, config) for part in documents]
    templates = templates_of.submit([line_counts.submit(part, config) for part in first], config)
    return documents, [finish_clean.submit(part, templates, config) for part in first]
