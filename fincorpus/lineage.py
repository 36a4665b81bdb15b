"""The output tables' schemas, declared once, and the accounting invariant that every run checks."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import polars as pl

from fincorpus.documents import Reason, Status
from fincorpus.errors import AccountingError

LINEAGE_SCHEMA = {
    "doc_id": pl.String,
    "source": pl.String,
    "input_hash": pl.String,
    "encoding": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "detail": pl.String,
    "cluster_id": pl.String,
    "canonical_id": pl.String,
    "similarity": pl.Float64,
    "containment": pl.Float64,
    "chars_in": pl.Int64,
    "chars_out": pl.Int64,
    "chars_removed": pl.Int64,
    "chars_rewritten": pl.Int64,
}

CORPUS_SCHEMA = {
    "doc_id": pl.String,
    "text": pl.String,
    "cluster_id": pl.String,
    "member_ids": pl.List(pl.String),
    "source": pl.String,
    "url": pl.String,
    "title": pl.String,
    "date": pl.String,
}

REMOVED_SPANS_SCHEMA = {
    "doc_id": pl.String,
    "rule": pl.String,
    "start": pl.Int64,
    "end": pl.Int64,
    "text": pl.String,
}

DOCUMENTS_SCHEMA = {
    "doc_id": pl.String,
    "text_as_read": pl.String,
    "text_cleaned": pl.String,
}
"""The audit copy of every document read: `removed_spans` offsets point into `text_as_read`; `text_cleaned` is
null for canonical documents, whose cleaned text is `corpus.text`."""


_STATUSES = frozenset(status.value for status in Status)
_REASONS = frozenset(reason.value for reason in Reason)


def check_accounting(input_ids: Collection[str], lineage: pl.DataFrame, corpus: pl.DataFrame) -> None:
    """Every input appears exactly once in lineage with a known status and reason, every duplicate points at
    a canonical row, and the corpus holds exactly the canonical rows. Raises `AccountingError` otherwise."""
    lineage_ids = lineage["doc_id"]
    if lineage_ids.n_unique() != lineage.height:
        repeated = lineage_ids.filter(lineage_ids.is_duplicated()).unique().sort().head(3).to_list()
        raise AccountingError(f"a document appears twice in lineage (e.g. {repeated})")
    expected = set(input_ids)
    if len(expected) != len(input_ids):
        raise AccountingError("an input doc_id was read twice")
    if lineage.height != len(expected) or set(lineage_ids.to_list()) != expected:
        missing = sorted(expected - set(lineage_ids.to_list()))[:3]
        extra = sorted(set(lineage_ids.to_list()) - expected)[:3]
        raise AccountingError(f"lineage has {lineage.height} rows for {len(expected)} inputs "
                              f"(missing e.g. {missing}, unexpected e.g. {extra})")
    unknown = set(lineage["status"].to_list()) - _STATUSES
    if unknown:
        raise AccountingError(f"unknown status {sorted(map(str, unknown))[0]} in lineage")
    not_canonical = lineage.filter(pl.col("status") != Status.CANONICAL.value)
    bad_reasons = set(not_canonical["reason"].to_list()) - _REASONS
    if bad_reasons:
        raise AccountingError(f"a {Status.DUPLICATE.value}/dropped/quarantined row has reason {sorted(map(str, bad_reasons))[0]}")
    canonical = set(lineage.filter(pl.col("status") == Status.CANONICAL.value)["doc_id"].to_list())
    pointed_at = set(lineage.filter(pl.col("status") == Status.DUPLICATE.value)["canonical_id"].to_list())
    if not pointed_at <= canonical:
        raise AccountingError(f"a duplicate points at {sorted(map(str, pointed_at - canonical))[0]}, not a canonical row")
    if canonical != set(corpus["doc_id"].to_list()) or corpus.height != len(canonical):
        raise AccountingError("corpus rows differ from the canonical rows of lineage")


def check_summary(summary: dict, lineage: pl.DataFrame) -> None:
    """The counts a summary states (documents in, per status, per status and reason) are lineage's counts."""
    counts = dict(lineage.group_by("status").len().iter_rows())
    expected = {"documents_in": lineage.height} | {status.value: counts.get(status.value, 0) for status in Status}
    for key, value in expected.items():
        if key in summary and summary[key] != value:
            raise AccountingError(f"summary says {key}={summary[key]} but lineage has {value}")
    if "by_reason" in summary:
        by_reason: dict[str, dict[str, int]] = {}
        with_reason = lineage.filter(pl.col("reason").is_not_null())
        for status, reason, count in with_reason.group_by("status", "reason").len().iter_rows():
            by_reason.setdefault(status, {})[reason] = count
        if summary["by_reason"] != by_reason:
            raise AccountingError(f"summary counts by reason {summary['by_reason']} differ from lineage's {by_reason}")


def verify_written(directory: Path, input_ids: Collection[str]) -> None:
    """Re-read the tables just written to `directory` and check them, and any summary.json, as a whole.

    Only the few columns the check needs are read, so this stays cheap beside the build.
    """
    lineage = pl.read_parquet(directory / "lineage.parquet", columns=["doc_id", "status", "reason", "canonical_id"])
    corpus = pl.read_parquet(directory / "corpus.parquet", columns=["doc_id"])
    check_accounting(input_ids, lineage, corpus)
    summary_path = directory / "summary.json"
    if summary_path.is_file():
        check_summary(json.loads(summary_path.read_text(encoding="utf-8")), lineage)
