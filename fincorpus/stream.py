"""The local build streamed in batches, so that memory grows with the number of documents, not their text.

    read + first clean (batches, workers) → template lines → finish cleaning (batches) → runs on disk
    → deduplicate (texts read back from the runs) → lineage (in memory: no texts) → write (merged runs)

1. `read_and_clean`: documents are read `engine.stream_docs` at a time; each batch's per-document cleaning
   runs in the worker processes while this process reads the next batch. The first-pass results are spilled
   to the work directory and the batch's template-line counts are kept (short lines only: `cleaners.templates`).
2. `finish_cleaning`: the template lines of the whole batch (every document read) are chosen from the
   merged counts, then each spilled batch is finished and written as two *runs* sorted by doc_id (texts as
   read and cleaned; removed spans, `fincorpus.io.runs`). What stays in memory is the index: one row per
   document with what reading said of it, its character counts and where its texts are.
3. `dedup_cleaned`: the engine reads the cleaned texts through a disk-backed sequence (`RunTexts`).
4. `assemble_index`: lineage and the corpus rows without their text, from the index and the assignments.
5. `write_streamed`: the runs merged in doc_id order into corpus, documents and removed_spans, chunk by
   chunk, in a staging directory switched in whole (as `pipeline.write_outputs`).

The outputs are byte-identical to the in-memory stages of `fincorpus.pipeline` for any batch size.
A partitioned build (`engine.kind: dask`) makes each partition's runs where it was cleaned (`run_tables`)
and stores them in its work directory one partition at a time (`gather_runs`); steps 4 and 5 are the same.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path

import polars as pl

from cleaners import ChainResult
from cleaners.registry import batch_templates, finish_batch
from cleaners.templates import LineCounts, count_lines, merge_line_counts
from fincorpus.config import Config
from fincorpus.dedup import DedupResult
from fincorpus.documents import RawDocument, Status
from fincorpus.errors import OutputError
from fincorpus.io.readers import discover, read_all
from fincorpus.io.runs import RunTexts, merge_runs, write_run, write_texts
from fincorpus.io.writers import (describe_os_error, parquet_rows_atomic, staged_directory, write_manifest,
                                  write_parquet_atomic)
from fincorpus.lineage import CORPUS_SCHEMA, DOCUMENTS_SCHEMA, REMOVED_SPANS_SCHEMA, verify_written
from fincorpus.parallel import Workers, clean_each
from fincorpus.pipeline import (_HAS_CONTENT, CleanedBatch, Progress, cleaned_batch, corpus_of, dedup_texts,
                                lineage_join, lineage_of, raw_frame, site_of)
from fincorpus.report.files import load_tables, write_reports

_SPILL = "first-pass-{:06d}.pickle"
_DOCUMENT_RUN = "documents-{:06d}.parquet"
_SPAN_RUN = "spans-{:06d}.parquet"
_TEXT_RUN = "texts-{:06d}.utf8"
_COMPACT_EVERY = 8
"""Per-batch line counts are merged into one table every this many batches (memory: distinct short lines)."""


@dataclass(frozen=True, slots=True)
class FirstPass:
    work: Path
    batches: int
    line_counts: LineCounts | None
    """Template-line counts of every document read (None when the template rule is off)."""


@dataclass(frozen=True, slots=True)
class CleanedRuns:
    work: Path
    index: pl.DataFrame
    """One row per document in reading order: RAW_SCHEMA, chars_*, `has_content`, and where its rows are:
    `run` (batch number), `row` (in the run), `spans` (removed spans in the span run)."""
    batch_docs: int

    def document_runs(self) -> list[Path]:
        return [self.work / _DOCUMENT_RUN.format(run) for run in range(self._runs())]

    def text_runs(self) -> list[Path]:
        return [self.work / _TEXT_RUN.format(run) for run in range(self._runs())]

    def span_runs(self) -> list[Path]:
        return [self.work / _SPAN_RUN.format(run) for run in range(self._runs())]

    def _runs(self) -> int:
        return int(self.index["run"].max()) + 1 if self.index.height else 0


@dataclass(frozen=True, slots=True)
class IndexTables:
    lineage: pl.DataFrame
    corpus: pl.DataFrame
    """The corpus rows (CORPUS_SCHEMA) without `text`, which stays in the runs until written."""


def read_and_clean(inputs: Iterable[str | Path], config: Config, work: Path) -> FirstPass:
    """Pass 1: read and first-pass clean every document, a batch at a time; spill the results to `work`."""
    files = discover(inputs, config.input)
    counts = _LineCounter(config) if config.cleaning.template_min_docs > 0 else None
    batches = 0
    with Workers(config.engine) as workers:
        waiting = None
        for batch in _batched(read_all(files, config.input), config.engine.stream_docs):
            readable = [doc for doc in batch if doc.status is None]
            pending = workers.submit(partial(clean_each, config.cleaning), [doc.text for doc in readable])
            if waiting is not None:  # while the workers clean this batch, spill the one before
                _spill(work, *waiting, counts)
            waiting = (batches, batch, readable, pending)
            batches += 1
        if waiting is not None:
            _spill(work, *waiting, counts)
    return FirstPass(work, batches, counts.total() if counts else None)


def _batched(documents: Iterator[RawDocument], size: int) -> Iterator[list[RawDocument]]:
    while batch := list(islice(documents, size)):
        yield batch


def _spill(work: Path, number: int, batch: list[RawDocument], readable: list[RawDocument], pending,
           counts: _LineCounter | None) -> None:
    results: list[ChainResult] = pending.result()
    sites = [site_of(doc) for doc in readable]
    if counts is not None:
        counts.add([result.text for result in results], sites)
    for doc in readable:
        doc.text = None  # the result keeps the text as read (`original`): spill it once
    with open(work / _SPILL.format(number), "wb") as stream:
        pickle.dump((batch, sites, results), stream, protocol=pickle.HIGHEST_PROTOCOL)


class _LineCounter:
    """Template-line counts over many batches, merged as they come so the parts never pile up."""

    def __init__(self, config: Config) -> None:
        self._max_chars = config.cleaning.template_max_chars
        self._parts: list[LineCounts] = []

    def add(self, texts: list[str], sites: list[str]) -> None:
        self._parts.append(count_lines(texts, sites, self._max_chars))
        if len(self._parts) >= _COMPACT_EVERY:
            self._parts = [merge_line_counts(self._parts)]

    def total(self) -> LineCounts:
        return merge_line_counts(self._parts) if self._parts else count_lines([], [], self._max_chars)


def finish_cleaning(first: FirstPass, config: Config) -> CleanedRuns:
    """Pass 2: the batch's template lines on each spilled batch, then each batch as runs sorted by doc_id."""
    templates = batch_templates(first.line_counts, config.cleaning) if first.line_counts is not None else {}
    index = []
    for number in range(first.batches):
        spill = first.work / _SPILL.format(number)
        with open(spill, "rb") as stream:
            batch, sites, results = pickle.load(stream)
        spill.unlink()
        readable = [doc for doc in batch if doc.status is None]
        for doc, result in zip(readable, results):
            doc.text = result.original
        finish_batch(results, sites, templates, config.cleaning)
        index.append(_write_runs(first.work, number, batch, readable, results))
    return CleanedRuns(first.work, pl.concat(index) if index else _write_runs(first.work, 0, [], [], []).clear(),
                       config.engine.stream_docs)


def _write_runs(work: Path, number: int, batch: list[RawDocument], readable: list[RawDocument],
                results: list[ChainResult]) -> pl.DataFrame:
    """Write the batch's document, text and span runs; return its index rows (in reading order)."""
    tables = run_tables(batch, cleaned_batch(zip(readable, results)))
    write_texts(tables.documents["text"].to_arrow(), work / _TEXT_RUN.format(number))  # what dedup_cleaned reads
    return write_runs(work, number, tables)


@dataclass(frozen=True, slots=True)
class RunTables:
    """One batch (or partition) as a streamed build keeps it until it is written: `run_tables` makes it
    where the batch was cleaned, `write_runs` stores it in the work directory."""

    index: pl.DataFrame
    """Its index rows in reading order (`CleanedRuns.index` less `run`)."""
    documents: pl.DataFrame
    """doc_id, text_as_read, text (cleaned), sorted by doc_id: its document run."""
    spans: pl.DataFrame
    """Its removed spans sorted by doc_id, start, end, rule: its span run."""


def run_tables(batch: list[RawDocument], cleaned: CleanedBatch) -> RunTables:
    """The runs and index rows of `batch` (every document read, in reading order) and its cleaning."""
    spans = cleaned.removed_spans.sort("doc_id", "start", "end", "rule")
    span_counts = spans.group_by("doc_id").agg(pl.len().cast(pl.Int64).alias("spans"))
    as_read = pl.DataFrame({"doc_id": [doc.doc_id for doc in batch], "text_as_read": [doc.text for doc in batch]},
                           schema={"doc_id": pl.String, "text_as_read": pl.String})
    frame = (raw_frame(batch).with_row_index("read_order")
             .join(cleaned.documents, on="doc_id", how="left")
             .join(as_read, on="doc_id", how="left")
             .join(span_counts, on="doc_id", how="left")
             .with_columns(pl.col("spans").fill_null(0),
                           pl.col("text").str.contains(_HAS_CONTENT.pattern).fill_null(False).alias("has_content"))
             .sort("doc_id").with_row_index("row")
             .with_columns(pl.col("row").cast(pl.Int32)))
    return RunTables(frame.sort("read_order").drop("read_order", "text", "text_as_read"),
                     frame.select("doc_id", "text_as_read", "text"), spans)


def write_runs(work: Path, number: int, tables: RunTables) -> pl.DataFrame:
    """Store `tables` as run `number` in `work`; return its index rows."""
    write_run(tables.documents, work / _DOCUMENT_RUN.format(number))
    write_run(tables.spans, work / _SPAN_RUN.format(number))
    return tables.index.with_columns(pl.lit(number, pl.Int32).alias("run"))


def gather_runs(work: Path, parts: Iterable[RunTables], batch_docs: int) -> CleanedRuns:
    """The cleaned batch of a partitioned build, its partitions' tables stored in `work` as they come (one
    partition in memory at a time), in partition (reading) order: what `finish_cleaning` gives on the whole
    batch."""
    index = [write_runs(work, number, tables) for number, tables in enumerate(parts)]
    return CleanedRuns(work, pl.concat(index) if index else _write_runs(work, 0, [], [], []).clear(), batch_docs)


def dedup_cleaned(cleaned: CleanedRuns, config: Config, progress: Progress | None = None) -> DedupResult:
    """Deduplicate the documents that still hold letters or digits, in reading order, their cleaned texts
    read from the runs as the engine asks for them."""
    content = cleaned.index.filter(pl.col("has_content"))
    texts = RunTexts(cleaned.text_runs(), content["run"].to_numpy(), content["row"].to_numpy())
    return dedup_texts(content["doc_id"].to_list(), texts, config, progress)


def assemble_index(cleaned: CleanedRuns, dedup: DedupResult) -> IndexTables:
    """Lineage and the corpus rows without their texts: what `pipeline.assemble` gives, less the texts."""
    joined = lineage_join(cleaned.index.drop("run", "row", "spans", "has_content"), dedup.assignments)
    return IndexTables(lineage_of(joined), corpus_of(joined, {key: value for key, value in CORPUS_SCHEMA.items()
                                                               if key != "text"}))


def write_streamed(cleaned: CleanedRuns, tables: IndexTables, out: Path) -> None:
    """Write every output into a staging directory beside `out`, the texts merged from the runs a chunk at
    a time, check it, then switch it in as one step (see `pipeline.write_outputs`)."""
    order = (tables.lineage.select("doc_id", "status")
             .join(cleaned.index.select("doc_id", "run", "spans"), on="doc_id", how="left")
             .join(tables.corpus, on="doc_id", how="left").sort("doc_id"))
    chunk = cleaned.batch_docs
    try:
        with staged_directory(out) as staging:
            with parquet_rows_atomic(staging / "removed_spans.parquet", REMOVED_SPANS_SCHEMA) as spans:
                for rows in merge_runs(cleaned.span_runs(), order.select("run", pl.col("spans").alias("rows")),
                                       ("doc_id", "start", "end", "rule"), chunk):
                    spans.write(rows)
            _write_texts(cleaned, order, staging, chunk)
            write_parquet_atomic(tables.lineage, staging / "lineage.parquet")
            write_reports(staging, load_tables(staging, tables.lineage))
            verify_written(staging, tables.lineage["doc_id"].to_list())
            write_manifest(staging)
    except OSError as exc:
        raise OutputError(describe_os_error(exc, out)) from None


def _write_texts(cleaned: CleanedRuns, order: pl.DataFrame, staging: Path, chunk: int) -> None:
    """corpus.parquet and documents.parquet from the document runs, in doc_id order."""
    merged = merge_runs(cleaned.document_runs(), order.select("run", pl.lit(1).alias("rows")), ("doc_id",), chunk)
    with (parquet_rows_atomic(staging / "corpus.parquet", CORPUS_SCHEMA) as corpus,
          parquet_rows_atomic(staging / "documents.parquet", DOCUMENTS_SCHEMA) as documents):
        for start, texts in zip(range(0, order.height, chunk), merged):
            rows = order.slice(start, chunk)
            if not rows["doc_id"].equals(texts["doc_id"]):
                raise AssertionError("the document runs are out of step with the index")
            rows = rows.hstack(texts.drop("doc_id"))
            canonical = pl.col("status") == Status.CANONICAL.value
            corpus.write(rows.filter(canonical).select(list(CORPUS_SCHEMA)))
            documents.write(rows.filter(pl.col("text_as_read").is_not_null())
                            .select("doc_id", "text_as_read",
                                    pl.when(~canonical).then(pl.col("text")).alias("text_cleaned")))
