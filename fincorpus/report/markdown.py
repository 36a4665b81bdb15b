"""report.md: counts, clusters with their members, and the most frequent removed lines per rule."""

from __future__ import annotations

from pathlib import Path

import jinja2
import polars as pl

from fincorpus.documents import Status
from fincorpus.report.summary import summarize

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
TOP_REMOVED_LINES = 5


def _one_line(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def render_markdown(corpus: pl.DataFrame, lineage: pl.DataFrame, removed_spans: pl.DataFrame) -> str:
    clusters = []
    for row in corpus.filter(pl.col("member_ids").list.len() > 1).iter_rows(named=True):
        members = lineage.filter(pl.col("cluster_id") == row["cluster_id"]).sort("status", "doc_id")
        clusters.append({"canonical_id": row["doc_id"], "cluster_id": row["cluster_id"],
                         "members": list(members.iter_rows(named=True))})
    rules = []
    if removed_spans.height:
        by_rule = removed_spans.group_by("rule").agg(pl.len().alias("spans"), pl.col("text").str.len_chars().sum()
                                                     .alias("chars"), pl.col("doc_id").n_unique().alias("docs"))
        for rule in by_rule.sort("chars", "rule", descending=[True, False]).iter_rows(named=True):
            top = (removed_spans.filter(pl.col("rule") == rule["rule"])
                   .with_columns(pl.col("text").str.strip_chars().alias("line"))
                   .group_by("line").len().sort("len", "line", descending=[True, False]).head(TOP_REMOVED_LINES))
            rules.append(rule | {"top": [(_one_line(line), count) for line, count in top.iter_rows()]})
    not_kept = lineage.filter(pl.col("status").is_in([Status.DROPPED.value, Status.QUARANTINED.value]))
    return _TEMPLATES.get_template("report.md.j2").render(
        summary=summarize(lineage), clusters=clusters, rules=rules, not_kept=list(not_kept.iter_rows(named=True)),
    )
