"""One build, as plain functions in the direction documents flow:

    read → clean → deduplicate → assemble tables → check accounting → write

`flows/build.py` wires the same functions into Prefect tasks; `build()` runs them directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl

from cleaners import ChainResult, clean_batch
from fincorpus.config import Config
from fincorpus.dedup import DedupResult, KnownPairs, deduplicate
from fincorpus.documents import METADATA_COLUMNS, RawDocument, Reason, Status
from fincorpus.errors import OutputError
from fincorpus.io.readers import check_output_outside, discover, read_all
from fincorpus.io.writers import (describe_os_error, staged_directory, work_directory, write_manifest,
                                  write_parquet_atomic)
from fincorpus.lineage import (CORPUS_SCHEMA, DOCUMENTS_SCHEMA, LINEAGE_SCHEMA, REMOVED_SPANS_SCHEMA,
                               check_accounting, verify_written)
from fincorpus.parallel import Workers, first_pass_cleaning
from fincorpus.report import summarize
from fincorpus.report.files import write_reports

OUTPUT_FILES = ("corpus.parquet", "lineage.parquet", "removed_spans.parquet", "documents.parquet",
                "report.md", "summary.json", "report.html", "manifest.json")
_HAS_CONTENT = re.compile(r"[^\W_]")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CleanedBatch:
    documents: pl.DataFrame
    """doc_id, text (cleaned), chars_in, chars_out, chars_removed, chars_rewritten: readable documents only."""
    removed_spans: pl.DataFrame


@dataclass(frozen=True, slots=True)
class OutputTables:
    corpus: pl.DataFrame
    lineage: pl.DataFrame
    removed_spans: pl.DataFrame
    documents: pl.DataFrame | None = None
    """Every document read, as read and as cleaned (DOCUMENTS_SCHEMA): what the audit report shows."""

    def as_dict(self) -> dict[str, pl.DataFrame]:
        return {"corpus": self.corpus, "lineage": self.lineage, "removed_spans": self.removed_spans,
                "documents": self.documents}


class WrittenTables:
    """The output tables of a written directory: lineage as the build held it (no texts), the others read
    from their Parquet files when asked for (they hold every text)."""

    def __init__(self, directory: Path, lineage: pl.DataFrame) -> None:
        self.directory = directory
        self.lineage = lineage

    def _read(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.directory / f"{name}.parquet")

    corpus = property(lambda self: self._read("corpus"))
    removed_spans = property(lambda self: self._read("removed_spans"))
    documents = property(lambda self: self._read("documents"))

    def as_dict(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in ("corpus", "lineage", "removed_spans", "documents")}


@dataclass(frozen=True, slots=True)
class BuildResult:
    out: Path
    tables: OutputTables | WrittenTables
    """The tables as written (a streamed build reads them from `out` when asked: they may be large)."""
    summary: dict


def read_documents(inputs: Iterable[str | Path], config: Config) -> list[RawDocument]:
    """Every input document, readable or not, each doc_id once (a repeated file path is a user error)."""
    return list(read_all(discover(inputs, config.input), config.input))


def clean_texts(documents: Iterable[RawDocument], config: Config) -> list[tuple[RawDocument, ChainResult]]:
    """Each readable document with its cleaning result. Template lines are counted over the whole batch, per
    site (the host of a record's `url`; documents without one form one group)."""
    readable = [doc for doc in documents if doc.status is None]
    sites = [site_of(doc) for doc in readable]
    run_first_pass = first_pass_cleaning(config.cleaning, config.engine)
    return list(zip(readable, clean_batch([doc.text for doc in readable], sites, config.cleaning, run_first_pass)))


def site_of(doc: RawDocument) -> str:
    """The group a document's template lines are counted in: the host of its record's `url`, else ""."""
    return _site(doc.metadata.get("url"))


def _site(url: str | None) -> str:
    try:
        return urlsplit(url or "").hostname or ""
    except ValueError:  # a malformed url in a record: the document simply joins the group without a site
        return ""


def clean_documents(documents: Iterable[RawDocument], config: Config) -> CleanedBatch:
    """Clean every readable document; the removed spans are in offsets of the text as read."""
    return cleaned_batch(clean_texts(documents, config))


def cleaned_batch(results: Iterable[tuple[RawDocument, ChainResult]]) -> CleanedBatch:
    """The cleaned-documents and removed-spans tables of documents with their cleaning results."""
    rows: list[tuple] = []
    spans: list[tuple] = []
    for doc, result in results:
        removed = sum(span.end - span.start for span in result.removed)
        rows.append((doc.doc_id, result.text, len(doc.text), len(result.text), removed, sum(result.rewritten.values())))
        spans.extend((doc.doc_id, span.rule, span.start, span.end, span.text) for span in result.removed)
    frame = pl.DataFrame(rows, schema=["doc_id", "text", "chars_in", "chars_out", "chars_removed", "chars_rewritten"],
                         orient="row", schema_overrides={"doc_id": pl.String, "text": pl.String})
    return CleanedBatch(frame, pl.DataFrame(spans, schema=REMOVED_SPANS_SCHEMA, orient="row"))


def with_content(cleaned: CleanedBatch) -> pl.DataFrame:
    """The cleaned documents that still hold letters or digits: the ones dedup sees (others are dropped)."""
    return cleaned.documents.filter(pl.col("text").str.contains(_HAS_CONTENT.pattern))


def dedup_documents(cleaned: CleanedBatch, config: Config, progress: Progress | None = None,
                    known: KnownPairs | None = None) -> DedupResult:
    """Deduplicate the documents that still hold letters or digits after cleaning. Lineage notes the ones too
    short for near-duplicate matching (`dedup_note`), from the fingerprint lengths the engine measured."""
    kept = with_content(cleaned)
    return dedup_texts(kept["doc_id"].to_list(), kept["text"].to_list(), config, progress, known)


def dedup_texts(doc_ids: Sequence[str], texts: Sequence[str], config: Config,
                progress: Progress | None = None, known: KnownPairs | None = None) -> DedupResult:
    """`deduplicate` with lineage's note on documents too short for near-duplicate matching (`dedup_note`).
    `texts` may be any sequence, such as the cleaned texts of a streamed build on disk."""
    return with_dedup_notes(deduplicate(doc_ids, texts, config.dedup, progress, known=known), config)


def with_dedup_notes(result: DedupResult, config: Config) -> DedupResult:
    """The assignments with `dedup_note`: documents too short for near-duplicate matching say so."""
    min_chars = config.dedup.min_chars
    note = (pl.when(pl.col("fingerprint_chars") < min_chars)
            .then(pl.format("{} letters/digits < dedup.min_chars {}: exact-duplicate matching only",
                            "fingerprint_chars", pl.lit(min_chars))))
    return replace(result, assignments=result.assignments.with_columns(note.alias("dedup_note")))


RAW_SCHEMA = {key: pl.String for key in ("doc_id", "source", "input_hash", "encoding", "read_status", "read_reason",
                                         "read_detail", *METADATA_COLUMNS)}
"""What reading says of each document, as the lineage join takes it."""


def raw_frame(documents: Iterable[RawDocument]) -> pl.DataFrame:
    """One row per document as read (RAW_SCHEMA), without its text."""
    return pl.DataFrame(
        [(doc.doc_id, doc.source, doc.input_hash, doc.encoding, doc.status and doc.status.value,
          doc.reason and doc.reason.value, doc.detail, *(doc.metadata.get(key) for key in METADATA_COLUMNS))
         for doc in documents],
        schema=RAW_SCHEMA, orient="row")


def lineage_join(read_and_cleaned: pl.DataFrame, assignments: pl.DataFrame) -> pl.DataFrame:
    """Reading (RAW_SCHEMA), cleaning (chars_* of the readable documents, null for the others) and dedup
    joined per document, with the final status, reason and detail."""
    if "dedup_note" not in assignments.columns:
        assignments = assignments.with_columns(pl.lit(None, pl.String).alias("dedup_note"))
    return read_and_cleaned.join(assignments, on="doc_id", how="left").with_columns(_status_columns())


def lineage_of(joined: pl.DataFrame) -> pl.DataFrame:
    return joined.select(list(LINEAGE_SCHEMA)).cast(LINEAGE_SCHEMA).sort("doc_id")


def corpus_of(joined: pl.DataFrame, schema: dict[str, pl.DataType] = CORPUS_SCHEMA) -> pl.DataFrame:
    """The canonical rows with their clusters' members, in `schema`'s columns (without `text` for a build
    whose texts stay on disk)."""
    members = (joined.filter(pl.col("cluster_id").is_not_null())
               .group_by("cluster_id").agg(pl.col("doc_id").sort().alias("member_ids")))
    return (joined.filter(pl.col("status") == Status.CANONICAL.value)
            .join(members, on="cluster_id", how="left")
            .select(list(schema)).cast(schema).sort("doc_id"))


def assemble(documents: list[RawDocument], cleaned: CleanedBatch, dedup: DedupResult) -> OutputTables:
    """Join reading, cleaning and dedup into the output tables, sorted by doc_id."""
    joined = lineage_join(raw_frame(documents).join(cleaned.documents, on="doc_id", how="left"), dedup.assignments)
    lineage = lineage_of(joined)
    return OutputTables(corpus_of(joined), lineage, cleaned.removed_spans.sort("doc_id", "start", "end", "rule"),
                        _documents_table(documents, cleaned, lineage))


def _documents_table(documents: list[RawDocument], cleaned: CleanedBatch, lineage: pl.DataFrame) -> pl.DataFrame:
    as_read = pl.DataFrame([(doc.doc_id, doc.text) for doc in documents if doc.text is not None],
                           schema={"doc_id": pl.String, "text_as_read": pl.String}, orient="row")
    return (as_read.join(cleaned.documents.select("doc_id", pl.col("text").alias("text_cleaned")), on="doc_id", how="left")
            .join(lineage.select("doc_id", "status"), on="doc_id", how="left")
            .with_columns(pl.when(pl.col("status") != Status.CANONICAL.value).then(pl.col("text_cleaned"))
                          .alias("text_cleaned"))
            .select(list(DOCUMENTS_SCHEMA)).cast(DOCUMENTS_SCHEMA).sort("doc_id"))


def _status_columns() -> list[pl.Expr]:
    cleaned_empty = pl.col("read_status").is_null() & pl.col("status").is_null()
    return [
        pl.when(pl.col("read_status").is_not_null()).then(pl.col("read_status"))
        .when(cleaned_empty).then(pl.lit(Status.DROPPED.value))
        .otherwise(pl.col("status")).alias("status"),
        pl.when(pl.col("read_status").is_not_null()).then(pl.col("read_reason"))
        .when(cleaned_empty).then(pl.lit(Reason.EMPTY_AFTER_CLEANING.value))
        .otherwise(pl.col("reason")).alias("reason"),
        pl.concat_str([
            pl.when(pl.col("read_status").is_not_null()).then(pl.col("read_detail"))
            .when(cleaned_empty).then(pl.lit("no letters or digits left after cleaning"))
            .when(pl.col("status") == Status.DUPLICATE.value)
            .then(pl.format("{} of {}", pl.col("reason"), pl.col("canonical_id"))),
            # notes on a document that went on: how it was decoded, whether it was too short for near-dup
            pl.when(pl.col("read_status").is_null() & (pl.col("read_detail") != "")).then(pl.col("read_detail")),
            pl.col("dedup_note"),
        ], separator="; ", ignore_nulls=True).alias("detail"),
        pl.col("chars_in").fill_null(0), pl.col("chars_out").fill_null(0),
        pl.col("chars_removed").fill_null(0), pl.col("chars_rewritten").fill_null(0),
    ]


def write_outputs(tables: OutputTables, out: Path) -> None:
    """Write every output into a staging directory beside `out`, check it, then switch it in as one step.

    The reports are rendered from the tables alone. On any failure (a full disk, an accounting error, a
    signal) `out` keeps the previous build's outputs; see `fincorpus.io.writers.staged_directory`.
    """
    try:
        with staged_directory(out) as staging:
            write_parquet_atomic(tables.removed_spans, staging / "removed_spans.parquet")
            write_parquet_atomic(tables.corpus, staging / "corpus.parquet")
            write_parquet_atomic(tables.lineage, staging / "lineage.parquet")
            if tables.documents is not None:
                write_parquet_atomic(tables.documents, staging / "documents.parquet")
            write_reports(staging, tables.as_dict())
            verify_written(staging, tables.lineage["doc_id"].to_list())
            write_manifest(staging)
    except OSError as exc:
        raise OutputError(describe_os_error(exc, out)) from None


@contextmanager
def work_for(out: Path) -> Iterator[Path]:
    """The work directory of a streamed build into `out` (beside it, removed at the end). An OSError in the
    block (the work directory or an output cannot be written; reading quarantines instead) becomes a
    one-line `OutputError`."""
    try:
        with work_directory(out) as work:
            yield work
    except OSError as exc:
        raise OutputError(describe_os_error(exc, out)) from None


def build(inputs: Iterable[str | Path], out: str | Path, config: Config, progress: Progress | None = None) -> BuildResult:
    """Read, clean, deduplicate and write a corpus with lineage. The library entry point of `fincorpus build`.

    Streamed in batches of `engine.stream_docs` documents (`fincorpus.stream`): memory grows with the number
    of documents, not with their text."""
    from fincorpus import stream

    say = progress or (lambda stage: None)
    out = Path(out)
    check_output_outside(inputs := list(inputs), out)
    with work_for(out) as work:
        with Workers(config.engine) as workers:  # one pool for both passes (`stream.read_and_clean`)
            say("read+clean")
            first = stream.read_and_clean(inputs, config, work, workers)
            say("templates")
            cleaned = stream.finish_cleaning(first, config, workers)
        say("deduplicate")
        dedup = stream.dedup_cleaned(cleaned, config, say)
        say("write")
        tables = stream.assemble_index(cleaned, dedup)
        check_accounting(cleaned.index["doc_id"].to_list(), tables.lineage, tables.corpus)
        stream.write_streamed(cleaned, tables, out)
    return BuildResult(out, WrittenTables(out, tables.lineage), summarize(tables.lineage))
