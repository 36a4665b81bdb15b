"""The build's stages over a batch cut into partitions of input files, for a cluster (`engine.kind: dask`).

Each stage that looks at one document at a time runs per partition; each stage that looks at the whole batch
merges small per-partition tables (counts, ids) and hands back what it found. The steps, in order:

    partition_files → read_partition ─┐ document_keys → repeated_by_partition → mark_repeated
    → first_clean ─┐ line_counts → batch_templates → finish_clean ─┐ with_content → dedup_partitions …

Concatenated in partition order, the results are those of `pipeline.read_documents` and
`pipeline.clean_documents` on the whole batch: the same documents, texts, removed spans and doc_ids, so
the corpus and lineage are identical (a test holds the two engines equal). `flows/build.py` runs the
per-partition steps as mapped Prefect tasks; a plain loop over the partitions gives the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cleaners import ChainResult
from cleaners.registry import batch_templates, finish_batch, first_pass
from cleaners.templates import LineCounts, count_lines, merge_line_counts
from fincorpus.config import Config
from fincorpus.documents import RawDocument
from fincorpus.io.readers import InputFile, discover, quarantine_repeated, read_file, repeated_rows
from fincorpus.dedup import DedupResult
from fincorpus.partitioned_dedup import Executor, run
from fincorpus.pipeline import CleanedBatch, cleaned_batch, site_of, with_dedup_notes

import polars as pl


@dataclass(slots=True)
class FirstClean:
    """One partition after the per-document cleaning chain, before the batch's template lines."""

    documents: list[RawDocument]
    """The partition's readable documents."""
    sites: list[str]
    results: list[ChainResult]


def partition_files(inputs: Iterable[str | Path], config: Config) -> list[list[InputFile]]:
    """The input files in reading order, cut into runs of `engine.partition_files` (at least one run)."""
    files = discover(inputs, config.input)
    size = config.engine.partition_files
    return [files[start:start + size] for start in range(0, len(files), size)] or [[]]


def read_partition(files: Sequence[InputFile], config: Config) -> list[RawDocument]:
    """Every document of `files` as `read_all` reads it, except that repeated ids are not yet resolved."""
    return [doc for file in files for doc in read_file(file, config.input)]


def document_keys(documents: Sequence[RawDocument]) -> list[tuple[str, str]]:
    """(doc_id, locator) of each document: all the driver needs to find repeated ids across partitions."""
    return [(doc.doc_id, doc.locator) for doc in documents]


def repeated_by_partition(keys: Sequence[Sequence[tuple[str, str]]]) -> list[frozenset[int]]:
    """For each partition, the rows `read_all` would quarantine as `duplicate_id` (a UserError as there)."""
    repeated = repeated_rows(key for part in keys for key in part)
    result, start = [], 0
    for part in keys:
        result.append(frozenset(row - start for row in repeated if start <= row < start + len(part)))
        start += len(part)
    return result


def mark_repeated(documents: Sequence[RawDocument], rows: frozenset[int]) -> list[RawDocument]:
    return [quarantine_repeated(doc) if row in rows else doc for row, doc in enumerate(documents)]


def first_clean(documents: Sequence[RawDocument], config: Config) -> FirstClean:
    readable = [doc for doc in documents if doc.status is None]
    return FirstClean(readable, [site_of(doc) for doc in readable],
                      first_pass([doc.text for doc in readable], config.cleaning))


def line_counts(part: FirstClean, config: Config) -> LineCounts:
    return count_lines([result.text for result in part.results], part.sites, config.cleaning.template_max_chars)


def templates_of(counts: Sequence[LineCounts], config: Config) -> dict[str, frozenset[str]]:
    """The batch's template lines from the line counts of every partition."""
    if config.cleaning.template_min_docs <= 0:
        return {}
    return batch_templates(merge_line_counts(counts), config.cleaning)


def finish_clean(part: FirstClean, templates: dict[str, frozenset[str]], config: Config) -> CleanedBatch:
    results = finish_batch(part.results, part.sites, templates, config.cleaning)
    return cleaned_batch(zip(part.documents, results))


def concat_cleaned(parts: Sequence[CleanedBatch]) -> CleanedBatch:
    return CleanedBatch(pl.concat([part.documents for part in parts], how="vertical_relaxed"),
                        pl.concat([part.removed_spans for part in parts], how="vertical_relaxed"))


def dedup_partitions(kept: Sequence, config: Config, executor: Executor) -> DedupResult:
    """`pipeline.dedup_documents` over the cleaned partitions' documents with content (`pipeline.with_content`
    of each, or the executor's handles to them), its stages run by `executor` (`fincorpus.partitioned_dedup`)."""
    return with_dedup_notes(run(kept, config.dedup, executor, config.engine.dedup_tasks), config)


def concat_documents(parts: Sequence[Sequence[RawDocument]]) -> list[RawDocument]:
    return [doc for part in parts for doc in part]
