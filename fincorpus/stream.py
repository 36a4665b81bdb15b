"""The local build streamed in batches, so that memory grows with the number of documents, not their text.

    read + first clean (batches, workers) → template lines → finish cleaning (batches) → runs on disk
    → deduplicate (texts read back from the runs) → lineage (in memory: no texts) → write (merged runs)

1. `read_and_clean`: documents are read `engine.stream_docs` at a time; each batch is cut into worker tasks
   of `engine.batch_docs` documents that clean, count their template lines (short lines only:
   `cleaners.templates`) and spill their results to the work directory, while this process reads the next
   batch. Texts go to the workers and never come back; this process keeps the line counts and what reading
   said of each document, and spills each batch's documents without their texts.
2. `finish_cleaning`: the template lines of the whole batch (every document read) are chosen from the
   merged counts, then the workers finish each spilled batch and write it as *runs* sorted by doc_id (its
   texts as read and as cleaned, each as a text file; its removed spans, `fincorpus.io.runs`). What stays in
   memory is the index: one row per document with what reading said of it, its character counts and where
   its texts are.

The workers are forked and so run no polars (`fincorpus.parallel`): they count lines with plain counters and
write runs with pyarrow; this process does the polars work (merging counts, the index).
3. `dedup_cleaned`: the engine reads the cleaned texts through a disk-backed sequence (`RunTexts`).
4. `assemble_index`: lineage and the corpus rows without their text, from the index and the assignments.
5. `write_streamed`: the runs merged in doc_id order into corpus, documents and removed_spans, chunk by
   chunk (the texts as Arrow arrays over the bytes of the text files, never Python strings), in a staging
   directory switched in whole (as `pipeline.write_outputs`).

The outputs are byte-identical to the in-memory stages of `fincorpus.pipeline` for any batch size.
A partitioned build (`engine.kind: dask`) makes each partition's runs where it was cleaned (`run_tables`)
and stores them in its work directory one partition at a time (`gather_runs`); steps 4 and 5 are the same.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from cleaners import ChainResult
from cleaners.registry import batch_templates, finish_batch
from cleaners.templates import LineCounts, LineTally, count_lines, counts_of, line_tally, merge_line_counts
from fincorpus.config import CleaningConfig, Config
from fincorpus.dedup import DedupResult
from fincorpus.documents import RawDocument, Status
from fincorpus.errors import OutputError
from fincorpus.io.readers import discover, read_all
from fincorpus.io.runs import RunTexts, merge_runs, write_run, write_texts
from fincorpus.io.writers import (describe_os_error, parquet_rows_atomic, staged_directory, write_manifest,
                                  write_parquet_atomic)
from fincorpus.lineage import CORPUS_SCHEMA, DOCUMENTS_SCHEMA, REMOVED_SPANS_SCHEMA, verify_written
from fincorpus.parallel import Pending, Workers, clean_each
from fincorpus.pipeline import (_HAS_CONTENT, CleanedBatch, Progress, corpus_of, dedup_texts,
                                lineage_join, lineage_of, raw_frame, site_of)
from fincorpus.report.files import load_tables, write_reports

_BATCH = "batch-{:06d}.pickle"
_SPILL = "first-pass-{:06d}-{:04d}.pickle"
_SPAN_RUN = "spans-{:06d}.parquet"
_AS_READ_RUN = "as-read-{:06d}.utf8"
_TEXT_RUN = "texts-{:06d}.utf8"
_COMPACT_EVERY = 8
"""Per-task line counts are merged into one table every this many parts (memory: distinct short lines)."""


@dataclass(frozen=True, slots=True)
class FirstPass:
    work: Path
    parts: tuple[int, ...]
    """Per batch, the parts its first-pass results were spilled in (one per worker task)."""
    read: tuple[pl.DataFrame, ...]
    """Per batch, what reading said of each document (`pipeline.raw_frame`: no texts)."""
    line_counts: LineCounts | None
    """Template-line counts of every document read (None when the template rule is off)."""


@dataclass(frozen=True, slots=True)
class CleanedRuns:
    work: Path
    index: pl.DataFrame
    """One row per document in reading order: RAW_SCHEMA, chars_*, `has_content`, and where its rows are:
    `run` (batch number), `row` (in the run's text files), `spans` (removed spans in the span run)."""
    batch_docs: int

    def as_read_runs(self) -> list[Path]:
        return [self.work / _AS_READ_RUN.format(run) for run in range(self._runs())]

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


def read_and_clean(inputs: Iterable[str | Path], config: Config, work: Path, workers: Workers | None = None
                   ) -> FirstPass:
    """Pass 1: read and first-pass clean every document, a batch at a time. Each worker task cleans its
    part of a batch, counts its template lines and spills its results to `work` itself, so texts go to the
    workers and never come back through this process; this process keeps reading meanwhile and spills each
    batch's documents (readable ones without their text, which the results keep as `original`).
    `workers`: a pool to use (and leave running) rather than one of its own. A build passes the same pool to
    both passes: a pool of its own per pass forks its workers again when pass 2 starts, from this process
    grown by pass 1 (~630 MB at 100k documents), and each worker then counts those pages in its RSS and
    copies those it touches; shared, they are forked (or spawned, which imports everything again) once,
    while this process is small."""
    files = discover(inputs, config.input)
    counts = _LineCounter() if config.cleaning.template_min_docs > 0 else None
    size = config.engine.batch_docs
    parts: list[int] = []
    read: list[pl.DataFrame] = []
    with _pool(workers, config) as workers:
        waiting = None
        for number, batch in enumerate(_batched(read_all(files, config.input), config.engine.stream_docs)):
            readable = [doc for doc in batch if doc.status is None]
            sites = [site_of(doc) for doc in readable]
            tasks = [(work / _SPILL.format(number, part), [doc.text for doc in readable[start:start + size]],
                      sites[start:start + size]) for part, start in enumerate(range(0, len(readable), size))]
            pending = workers.map(partial(_first_pass_part, config.cleaning, counts is not None), tasks)
            for doc in readable:
                doc.text = None
            with open(work / _BATCH.format(number), "wb") as stream:
                pickle.dump((batch, sites), stream, protocol=pickle.HIGHEST_PROTOCOL)
            parts.append(len(tasks))
            read.append(raw_frame(batch))
            if waiting is not None:  # while the workers clean this batch, take the counts of the one before
                _count(waiting, counts)
            waiting = pending
        if waiting is not None:
            _count(waiting, counts)
    line_counts = counts.total(config.cleaning.template_max_chars) if counts is not None else None
    return FirstPass(work, tuple(parts), tuple(read), line_counts)


def _pool(workers: Workers | None, config: Config) -> AbstractContextManager[Workers]:
    """`workers` left running after the block, or a pool of the pass's own, shut down after it."""
    return nullcontext(workers) if workers is not None else Workers(config.engine)


def _first_pass_part(cleaning: CleaningConfig, count: bool, task: tuple[Path, list[str], list[str]]
                     ) -> LineTally | None:
    """In a worker: the per-document chain over one part of a batch, spilled to `spill`; its line counts
    (plain counters: a forked worker runs no polars)."""
    spill, texts, sites = task
    results = clean_each(cleaning, texts)
    with open(spill, "wb") as stream:
        pickle.dump(results, stream, protocol=pickle.HIGHEST_PROTOCOL)
    return line_tally([result.text for result in results], sites, cleaning.template_max_chars) if count else None


def _count(pending: Pending, counts: _LineCounter | None) -> None:
    for tally in pending.result():
        if counts is not None:
            counts.add(counts_of(tally))


def _batched(documents: Iterator[RawDocument], size: int) -> Iterator[list[RawDocument]]:
    while batch := list(islice(documents, size)):
        yield batch


class _LineCounter:
    """Template-line counts over many batches, merged as they come so the parts never pile up."""

    def __init__(self) -> None:
        self._parts: list[LineCounts] = []

    def add(self, part: LineCounts) -> None:
        self._parts.append(part)
        if len(self._parts) >= _COMPACT_EVERY:
            self._parts = [merge_line_counts(self._parts)]

    def total(self, max_chars: int) -> LineCounts:
        return merge_line_counts(self._parts) if self._parts else count_lines([], [], max_chars)


def finish_cleaning(first: FirstPass, config: Config, workers: Workers | None = None) -> CleanedRuns:
    """Pass 2: the template lines of the whole batch from the merged counts, then, in the workers, each
    spilled batch finished with them and written as runs sorted by doc_id; here, its index rows."""
    templates = batch_templates(first.line_counts, config.cleaning) if first.line_counts is not None else {}
    with _pool(workers, config) as workers:
        figures = workers.map(partial(_finish_batch, config.cleaning, templates, first.work),
                              list(enumerate(first.parts))).result()
    index = [_index_rows(first.work, number, read, batch_figures)
             for number, (read, batch_figures) in enumerate(zip(first.read, figures))]
    return CleanedRuns(first.work, pl.concat(index) if index else _empty_index(first.work),
                       config.engine.stream_docs)


def _empty_index(work: Path) -> pl.DataFrame:
    return _index_rows(work, 0, raw_frame([]), _write_runs(work, 0, [], [], []))


def _finish_batch(cleaning: CleaningConfig, templates: dict[str, frozenset[str]], work: Path,
                  task: tuple[int, int]) -> pa.Table:
    """In a worker: one spilled batch finished with the template lines and written as runs; the cleaning
    figures of its documents (`_write_runs`)."""
    number, parts = task
    with open(work / _BATCH.format(number), "rb") as stream:
        batch, sites = pickle.load(stream)
    results: list[ChainResult] = []
    for part in range(parts):
        with open(work / _SPILL.format(number, part), "rb") as stream:
            results.extend(pickle.load(stream))
    for spill in [work / _BATCH.format(number), *(work / _SPILL.format(number, part) for part in range(parts))]:
        spill.unlink()
    readable = [doc for doc in batch if doc.status is None]
    for doc, result in zip(readable, results):
        doc.text = result.original
    finish_batch(results, sites, templates, cleaning)
    return _write_runs(work, number, batch, readable, results)


_FIGURES = pa.schema([("doc_id", pa.string()), ("chars_in", pa.int64()), ("chars_out", pa.int64()),
                      ("chars_removed", pa.int64()), ("chars_rewritten", pa.int64()), ("spans", pa.int64())])
_SPAN_RUN_SCHEMA = pa.schema([("doc_id", pa.string()), ("rule", pa.string()), ("start", pa.int64()),
                              ("end", pa.int64()), ("text", pa.string())])


def _write_runs(work: Path, number: int, batch: list[RawDocument], readable: list[RawDocument],
                results: list[ChainResult]) -> pa.Table:
    """Write the batch's runs sorted by doc_id: its texts as read and cleaned (`write_texts`; null for a
    document that could not be read) and its span run (REMOVED_SPANS_SCHEMA);
    return, in the same order, each document's figures as `pipeline.cleaned_batch` counts them (null for one
    not read) and its span count, as `run_tables` (polars, for a partitioned build) makes the same runs.
    Arrow and plain Python only: this runs in forked workers, which polars cannot (`fincorpus.parallel`)."""
    cleaned = {doc.doc_id: result for doc, result in zip(readable, results)}
    documents = sorted(batch, key=lambda doc: doc.doc_id)  # doc_ids are unique: code point order = polars' order
    texts = [cleaned.get(doc.doc_id) for doc in documents]
    spans = sorted((doc.doc_id, span.start, span.end, span.rule, span.text)
                   for doc, result in zip(readable, results) for span in result.removed)
    write_texts(pa.array([doc.text for doc in documents], pa.string()), work / _AS_READ_RUN.format(number))
    write_texts(pa.array([None if result is None else result.text for result in texts], pa.string()),
                work / _TEXT_RUN.format(number))
    write_run(pa.Table.from_pylist([{"doc_id": doc_id, "rule": rule, "start": start, "end": end, "text": text}
                                    for doc_id, start, end, rule, text in spans], schema=_SPAN_RUN_SCHEMA),
              work / _SPAN_RUN.format(number))
    figures = [(doc.doc_id, None, None, None, None, 0) if result is None else
               (doc.doc_id, len(result.original), len(result.text),
                sum(span.end - span.start for span in result.removed), sum(result.rewritten.values()),
                len(result.removed)) for doc, result in zip(documents, texts)]
    return pa.Table.from_arrays([pa.array(column, type=field.type) for column, field in
                                 zip(zip(*figures) if figures else [[]] * len(_FIGURES), _FIGURES)], schema=_FIGURES)


def _index_rows(work: Path, number: int, read: pl.DataFrame, figures: pa.Table) -> pl.DataFrame:
    """A batch's index rows in reading order: what reading said (`read`), the cleaning figures, whether the
    cleaned text holds letters or digits (polars' regex over the run's text file) and where its rows are."""
    count = figures.num_rows
    run = RunTexts([work / _TEXT_RUN.format(number)], np.zeros(count), np.arange(count))
    texts = pl.from_arrow(run.column(0, count))
    runs = (pl.from_arrow(figures)
            .with_columns(texts.str.contains(_HAS_CONTENT.pattern).fill_null(False).alias("has_content"))
            .with_row_index("row")
            .with_columns(pl.lit(number, pl.Int32).alias("run"), pl.col("row").cast(pl.Int32)))
    return (read.with_row_index("read_order").join(runs, on="doc_id", how="left").sort("read_order")
            .select("row", *read.columns, "chars_in", "chars_out", "chars_removed", "chars_rewritten", "spans",
                    "has_content", "run"))


@dataclass(frozen=True, slots=True)
class RunTables:
    """One batch (or partition) as a streamed build keeps it until it is written: `run_tables` makes it
    where the batch was cleaned, `write_runs` stores it in the work directory."""

    index: pl.DataFrame
    """Its index rows in reading order (`CleanedRuns.index` less `run`)."""
    documents: pl.DataFrame
    """doc_id, text_as_read, text (cleaned), sorted by doc_id: its text runs."""
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
    texts = tables.documents.to_arrow(compat_level=pl.CompatLevel.oldest())
    write_texts(texts["text_as_read"], work / _AS_READ_RUN.format(number))
    write_texts(texts["text"], work / _TEXT_RUN.format(number))
    write_run(tables.spans, work / _SPAN_RUN.format(number))
    return tables.index.with_columns(pl.lit(number, pl.Int32).alias("run"))


def gather_runs(work: Path, parts: Iterable[RunTables], batch_docs: int) -> CleanedRuns:
    """The cleaned batch of a partitioned build, its partitions' tables stored in `work` as they come (one
    partition in memory at a time), in partition (reading) order: what `finish_cleaning` gives on the whole
    batch."""
    index = [write_runs(work, number, tables) for number, tables in enumerate(parts)]
    return CleanedRuns(work, pl.concat(index) if index else _empty_index(work), batch_docs)


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
             .join(cleaned.index.select("doc_id", "run", "row", "spans"), on="doc_id", how="left")
             .join(tables.corpus, on="doc_id", how="left").sort("doc_id"))
    chunk = cleaned.batch_docs
    try:
        with staged_directory(out) as staging:
            with ThreadPoolExecutor(1) as beside:  # both spend most of their time in Arrow, out of the GIL
                spans = beside.submit(_write_spans, cleaned, order, staging, chunk)
                _write_texts(cleaned, order, staging, chunk)
                spans.result()
            write_parquet_atomic(tables.lineage, staging / "lineage.parquet")
            write_reports(staging, load_tables(staging, tables.lineage))
            verify_written(staging, tables.lineage["doc_id"].to_list())
            write_manifest(staging)
    except OSError as exc:
        raise OutputError(describe_os_error(exc, out)) from None


def _write_spans(cleaned: CleanedRuns, order: pl.DataFrame, staging: Path, chunk: int) -> None:
    """removed_spans.parquet: the span runs merged in doc_id order."""
    with parquet_rows_atomic(staging / "removed_spans.parquet", REMOVED_SPANS_SCHEMA) as spans:
        for rows in merge_runs(cleaned.span_runs(), order.select("run", pl.col("spans").alias("rows")),
                               ("doc_id", "start", "end", "rule"), chunk):
            spans.write(rows)


def _write_texts(cleaned: CleanedRuns, order: pl.DataFrame, staging: Path, chunk: int) -> None:
    """corpus.parquet and documents.parquet: the index rows in doc_id order beside their texts, read from the
    text runs as Arrow arrays (never Python strings or polars columns: a text is only copied on its way).
    documents.parquet (most of the text) is compressed in a thread of its own while this one reads the
    next chunk and writes the corpus: each writer is used by one thread, its chunks in order."""
    runs, rows = order["run"].to_numpy(), order["row"].to_numpy()
    as_read, cleaned_texts = RunTexts(cleaned.as_read_runs(), runs, rows), RunTexts(cleaned.text_runs(), runs, rows)
    no_text = pa.scalar(None, pa.large_string())
    with (parquet_rows_atomic(staging / "corpus.parquet", CORPUS_SCHEMA) as corpus,
          parquet_rows_atomic(staging / "documents.parquet", DOCUMENTS_SCHEMA) as documents,
          ThreadPoolExecutor(1) as documents_thread):  # left first: a write under way ends before its file does
        written = None
        for start in range(0, order.height, chunk):
            stop = min(start + chunk, order.height)
            index = order.slice(start, stop - start)
            text, text_as_read = cleaned_texts.column(start, stop), as_read.column(start, stop)
            is_canonical = index["status"] == Status.CANONICAL.value
            canonical = is_canonical.to_arrow()
            corpus.write(index.filter(is_canonical).to_arrow(compat_level=pl.CompatLevel.oldest())
                         .append_column("text", text.filter(canonical)))
            kept = pa.table({"doc_id": index["doc_id"].to_arrow(), "text_as_read": text_as_read,
                             "text_cleaned": pc.if_else(canonical, no_text, text)}).filter(text_as_read.is_valid())
            if written is not None:
                written.result()
            written = documents_thread.submit(documents.write, kept)
        if written is not None:
            written.result()
