"""The output tables' schemas, declared once, and the accounting invariant that every run checks."""

from __future__ import annotations

import polars as pl

from fincorpus.documents import Status
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


def check_accounting(input_ids: list[str], lineage: pl.DataFrame, corpus: pl.DataFrame) -> None:
    """Every input appears exactly once in lineage, and the corpus holds exactly the canonical rows."""
    lineage_ids = lineage["doc_id"].to_list()
    if len(lineage_ids) != len(input_ids) or set(lineage_ids) != set(input_ids):
        missing = sorted(set(input_ids) - set(lineage_ids))[:3]
        raise AccountingError(f"lineage has {len(lineage_ids)} rows for {len(input_ids)} inputs (missing e.g. {missing})")
    if lineage["doc_id"].n_unique() != lineage.height:
        raise AccountingError("a document appears twice in lineage")
    canonical = set(lineage.filter(pl.col("status") == Status.CANONICAL.value)["doc_id"].to_list())
    if canonical != set(corpus["doc_id"].to_list()) or corpus.height != len(canonical):
        raise AccountingError("corpus rows differ from the canonical rows of lineage")
