"""report.md: counts, the clusters most worth a look, and the most frequent removed lines per rule."""

from __future__ import annotations

from pathlib import Path

import jinja2
import polars as pl

from fincorpus.documents import Status
from fincorpus.report.summary import (WHITESPACE_ONLY, merged_clusters, one_line, removed_lines, rule_counts,
                                      summarize)

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
MAX_RULES = 12
"""Rules whose most frequent removed lines are listed (the most characters removed first); the table lists all."""
MAX_NOT_KEPT = 20
"""Dropped and quarantined inputs listed."""


def _clusters(lineage: pl.DataFrame) -> tuple[list[dict], int]:
    order = merged_clusters(lineage)
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
    lines = removed_lines(removed_spans, TOP_REMOVED_LINES, examples=0)
    rules = [rule | {"top": [(one_line(line["line"], 60), line["count"]) for line in lines[rule["rule"]]]}
             for rule in rule_counts(removed_spans).iter_rows(named=True)]
    not_kept = lineage.filter(pl.col("status").is_in([Status.DROPPED.value, Status.QUARANTINED.value]))
    return _TEMPLATES.get_template("report.md.j2").render(
        summary=summarize(lineage), clusters=clusters, clusters_total=clusters_total,
        rules=rules, max_rules=MAX_RULES, whitespace_only=WHITESPACE_ONLY,
        not_kept=not_kept.head(MAX_NOT_KEPT).to_dicts(), not_kept_total=not_kept.height,
    )
