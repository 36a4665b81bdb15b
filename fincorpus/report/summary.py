"""Counts from the output tables: the build's one-line summary and every count of `summary.json`."""

from __future__ import annotations

import json

import polars as pl

from fincorpus.documents import Status

SIMILARITY_BINS = 10
"""Merged pairs are counted in bins of width 0.1 of Jaccard similarity and of containment."""
SUMMARY_FORMAT = "fincorpus-summary/1"


def summarize(lineage: pl.DataFrame) -> dict:
    """Counts by status, from lineage alone."""
    counts = dict(lineage.group_by("status").len().iter_rows())
    return {
        "documents_in": lineage.height,
        **{status.value: int(counts.get(status.value, 0)) for status in Status},
        "clusters": int(lineage["cluster_id"].drop_nulls().n_unique()),
        "chars_in": int(lineage["chars_in"].sum()),
        "chars_removed": int(lineage["chars_removed"].sum()),
    }


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def status_counts(lineage: pl.DataFrame, by: str) -> pl.DataFrame:
    """One row per value of `by`: documents in, one column per status, and characters removed."""
    return (lineage.group_by(by).agg(
        pl.len().alias("documents_in"),
        *(pl.col("status").eq(status.value).sum().alias(status.value) for status in Status),
        pl.col("chars_removed").sum(), pl.col("chars_in").sum())
        .sort("documents_in", by, descending=[True, False]))


def rule_counts(removed_spans: pl.DataFrame) -> pl.DataFrame:
    """One row per cleaning rule: spans, documents touched and characters removed, most characters first."""
    return (removed_spans.group_by("rule").agg(
        pl.len().alias("spans"), pl.col("doc_id").n_unique().alias("documents"),
        (pl.col("end") - pl.col("start")).sum().alias("chars"))
        .sort("chars", "rule", descending=[True, False]))


def merged_clusters(lineage: pl.DataFrame) -> pl.DataFrame:
    """Clusters with duplicates, the one with the least similar member first: cluster_id, lowest, canonical_id."""
    return (lineage.filter(pl.col("status") == Status.DUPLICATE.value)
            .group_by("cluster_id").agg(pl.col("similarity").min().alias("lowest"), pl.col("canonical_id").first())
            .sort("lowest", "canonical_id"))


WHITESPACE_ONLY = "(whitespace only)"


def one_line(text: str, limit: int) -> str:
    """A removed span as one line for a listing: whitespace collapsed, cut to `limit` characters."""
    flat = " ".join(text.split())
    if not flat:
        return WHITESPACE_ONLY
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def removed_lines(removed_spans: pl.DataFrame, per_rule: int, examples: int) -> dict[str, list[dict]]:
    """Per rule, its most frequent removed lines (whitespace collapsed): line, count, documents, examples."""
    lines = (removed_spans.with_columns(pl.col("text").str.replace_all(r"\s+", " ").str.strip_chars().alias("line"))
             .group_by("rule", "line")
             .agg(pl.len().alias("count"), pl.col("doc_id").n_unique().alias("documents"),
                  pl.col("doc_id").unique().sort().head(examples).alias("examples"))
             .sort("rule", "count", "line", descending=[False, True, False])
             .group_by("rule", maintain_order=True).head(per_rule))
    return {rule: frame.drop("rule").to_dicts() for (rule,), frame in lines.partition_by("rule", as_dict=True).items()}


def similarity_histogram(lineage: pl.DataFrame, column: str) -> list[int]:
    """Counts of duplicates per bin of `column` ([0, 0.1), …, [0.9, 1.0]), from their lineage rows."""
    values = lineage.filter(pl.col("status") == Status.DUPLICATE.value)[column].drop_nulls().to_list()
    counts = [0] * SIMILARITY_BINS
    for value in values:
        counts[min(int(value * SIMILARITY_BINS), SIMILARITY_BINS - 1)] += 1
    return counts


def summary_document(lineage: pl.DataFrame, removed_spans: pl.DataFrame) -> dict:
    """Everything `summary.json` holds: totals at the top level (for alerting), then the breakdowns."""
    totals = summarize(lineage)
    chars_out = int(lineage["chars_out"].sum())
    by_reason: dict[str, dict[str, int]] = {}
    for status, reason, count in (lineage.filter(pl.col("reason").is_not_null())
                                  .group_by("status", "reason").len().sort("status", "reason").iter_rows()):
        by_reason.setdefault(status, {})[reason] = int(count)
    by_source = {row.pop("source"): row for row in status_counts(lineage, "source").sort("source")
                 .iter_rows(named=True)}
    by_rule = {row.pop("rule"): row for row in rule_counts(removed_spans).sort("rule").iter_rows(named=True)}
    clusters_merged = int(lineage.filter(pl.col("status") == Status.DUPLICATE.value)["cluster_id"].n_unique())
    return {
        "format": SUMMARY_FORMAT,
        **totals,
        "chars_out": chars_out,
        "chars_rewritten": int(lineage["chars_rewritten"].sum()),
        "clusters_with_duplicates": clusters_merged,
        "duplicate_rate": _share(totals[Status.DUPLICATE.value], totals["documents_in"]),
        "removed_share": _share(totals["chars_removed"], totals["chars_in"]),
        "by_reason": by_reason,
        "by_source": by_source,
        "by_rule": by_rule,
        "merged_similarity": {
            "bins": [round(index / SIMILARITY_BINS, 1) for index in range(SIMILARITY_BINS)],
            "jaccard": similarity_histogram(lineage, "similarity"),
            "containment": similarity_histogram(lineage, "containment"),
        },
    }


def render_summary_json(lineage: pl.DataFrame, removed_spans: pl.DataFrame) -> str:
    return json.dumps(summary_document(lineage, removed_spans), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
