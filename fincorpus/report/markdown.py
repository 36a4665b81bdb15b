"""report.md: counts, the clusters most worth a look, and the most frequent removed lines per rule."""

from __future__ import annotations

from pathlib import Path

import jinja2
import polars as pl

from fincorpus.documents import Status
from fincorpus.report.summary import rule_counts, summarize

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
TOP_REMOVED_LINES = 5
MAX_CLUSTERS = 20
"""Clusters listed (the least similar members first); report.html and lineage.parquet hold the rest."""
MAX_NOT_KEPT = 20
"""Dropped and quarantined inputs listed."""


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _clusters(lineage: pl.DataFrame) -> tuple[list[dict], int]:
    merged = lineage.filter(pl.col("status") == Status.DUPLICATE.value)
    order = (merged.group_by("cluster_id").agg(pl.col("similarity").min().alias("lowest"), pl.col("canonical_id").first())
             .sort("lowest", "canonical_id"))
    shown = order.head(MAX_CLUSTERS)
    members = (lineage.filter(pl.col("cluster_id").is_in(shown["cluster_id"].to_list()))
               .sort("status", "doc_id").partition_by("cluster_id", as_dict=True))
    clusters = [{"canonical_id": canonical_id, "cluster_id": cluster_id,
                 "members": members[(cluster_id,)].to_dicts()}
                for cluster_id, canonical_id in shown.select("cluster_id", "canonical_id").iter_rows()]
    return clusters, order.height


def render_markdown(corpus: pl.DataFrame, lineage: pl.DataFrame, removed_spans: pl.DataFrame) -> str:
    """A short summary for a terminal or a pull request; `corpus` is unused (kept for a uniform signature)."""
    clusters, clusters_total = _clusters(lineage)
    rules = []
    if removed_spans.height:
        top_lines = (removed_spans.with_columns(pl.col("text").str.strip_chars().alias("line"))
                     .group_by("rule", "line").len().sort("rule", "len", "line", descending=[False, True, False])
                     .group_by("rule", maintain_order=True).head(TOP_REMOVED_LINES).partition_by("rule", as_dict=True))
        for rule in rule_counts(removed_spans).iter_rows(named=True):
            top = top_lines[(rule["rule"],)].select("line", "len").iter_rows()
            rules.append(rule | {"top": [(_one_line(line), count) for line, count in top]})
    not_kept = lineage.filter(pl.col("status").is_in([Status.DROPPED.value, Status.QUARANTINED.value]))
    return _TEMPLATES.get_template("report.md.j2").render(
        summary=summarize(lineage), clusters=clusters, clusters_total=clusters_total, rules=rules,
        not_kept=not_kept.head(MAX_NOT_KEPT).to_dicts(), not_kept_total=not_kept.height,
    )
