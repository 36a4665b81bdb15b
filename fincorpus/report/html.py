"""report.html: one self-contained page for the audit of a build, rendered from its output tables.

Everything the page shows is capped (`Limits`) so it stays light at 100k documents; the counts in it are
always complete, and what is not shown is in the Parquet files beside it, as the page says where it cuts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import polars as pl
import xxhash

from fincorpus.documents import Status
from fincorpus.report.charts import bar_chart, histogram
from fincorpus.report.diff import SideBySide, side_by_side
from fincorpus.report.summary import (SIMILARITY_BINS, WHITESPACE_ONLY, merged_clusters, one_line, removed_lines,
                                      rule_counts, status_counts, summary_document)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every document text is escaped: a scraped `<script>` is shown, never run
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters["thousands"] = lambda number: f"{number:,}"
STATUS_ORDER = [status.value for status in Status]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a large build the page shows; the rest is counted, and listed in the Parquet files."""

    member_rows: int = 2000
    """Rows of the duplicates table (the least similar first: the merges most worth a look)."""
    clusters: int = 50
    """Cluster cards, each with its canonical, members and diffs."""
    diffs: int = 50
    """Side-by-side diffs over all cluster cards."""
    diff_chars: int = 30_000
    """Characters of each text that a diff aligns."""
    open_clusters: int = 10
    """Cluster cards shown open when the page loads."""
    documents: int = 100
    """Documents shown with their removed spans struck through."""
    document_chars: int = 30_000
    """Characters of each such document shown."""
    removed_lines: int = 10
    """Most frequent removed lines listed per rule."""
    examples: int = 3
    """Example documents per removed line."""
    not_kept_rows: int = 2000
    """Rows of the dropped and quarantined table."""
    chart_bars: int = 12
    """Bars per chart; the rest are summed into one `other` bar."""
    sources: int = 50
    """Rows of the per-source table (the sources with the most documents first)."""


@dataclass(slots=True)
class DocumentView:
    doc_id: str
    anchor: str
    status: str
    source: str
    segments: list[tuple[str, str, str]]
    """(kind, text, rule): kind `kept` or `removed`."""
    chars_in: int
    chars_removed: int
    truncated: bool


@dataclass(slots=True)
class ClusterCard:
    cluster_id: str
    anchor: str
    canonical: dict
    members: list[dict]
    diffs: list[tuple[dict, SideBySide]] = field(default_factory=list)
    open: bool = False


def anchor(kind: str, key: str) -> str:
    """A stable HTML id for any doc_id or cluster_id, whatever characters it holds."""
    return f"{kind}-{xxhash.xxh3_64_hexdigest(key.encode('utf-8'))}"


def struck_segments(text: str, spans: list[tuple[int, int, str]], max_chars: int) -> list[tuple[str, str, str]]:
    """The text as read cut into kept and removed pieces, up to `max_chars` characters.

    >>> struck_segments("您的浏览器禁用了JavaScript上海证券", [(0, 18, "chrome_v1:js")], 100)
    [('removed', '您的浏览器禁用了JavaScript', 'chrome_v1:js'), ('kept', '上海证券', '')]
    """
    segments: list[tuple[str, str, str]] = []
    position = 0
    for start, end, rule in sorted(spans):
        start, end = max(start, position), min(end, max_chars)
        if start >= max_chars:
            break
        if start >= end:
            continue
        if start > position:
            segments.append(("kept", text[position:start], ""))
        segments.append(("removed", text[start:end], rule))
        position = end
    if position < min(len(text), max_chars):
        segments.append(("kept", text[position:max_chars], ""))
    return segments


def _collect(frame: pl.DataFrame | pl.LazyFrame | None, doc_ids: list[str], column: str) -> pl.DataFrame | None:
    # A LazyFrame (the documents.parquet of a build) reads only the text column asked for.
    if frame is None or not doc_ids:
        return None
    return frame.lazy().filter(pl.col("doc_id").is_in(doc_ids)).select("doc_id", column).collect()


def _charts(lineage: pl.DataFrame, removed_spans: pl.DataFrame, summary: dict, limits: Limits) -> dict:
    def top(frame: pl.DataFrame, label: str, columns: list[str]) -> list[tuple[str, list[int]]]:
        shown = frame if frame.height <= limits.chart_bars else frame.head(limits.chart_bars - 1)
        rows = [(str(row[0]), [int(value) for value in row[1:]]) for row in shown.select(label, *columns).iter_rows()]
        if shown.height < frame.height:
            rest = frame.slice(shown.height).select(pl.col(columns).sum()).row(0)
            rows.append((f"other ({frame.height - shown.height:,})", [int(value) for value in rest]))
        return rows

    by_source = status_counts(lineage, "source")
    removed_by_source = by_source.filter(pl.col("chars_removed") > 0).sort("chars_removed", "source",
                                                                             descending=[True, False])
    bins = [f"{index / SIMILARITY_BINS:.1f}" for index in range(SIMILARITY_BINS)]
    merged = summary["merged_similarity"]
    return {
        "status_by_source": bar_chart("Documents per source, by status", STATUS_ORDER,
                                      top(by_source, "source", STATUS_ORDER)),
        "removed_by_rule": bar_chart("Characters removed, per rule", ["chars"],
                                     top(rule_counts(removed_spans), "rule", ["chars"])),
        "removed_by_source": bar_chart("Characters removed, per source", ["chars"],
                                       top(removed_by_source, "source", ["chars_removed"])),
        "jaccard": histogram("Jaccard similarity of merged duplicates", bins, merged["jaccard"]),
        "containment": histogram("Containment of merged duplicates in their canonical", bins, merged["containment"]),
    }


def _rules(removed_spans: pl.DataFrame, limits: Limits) -> list[dict]:
    lines = removed_lines(removed_spans, limits.removed_lines, limits.examples)
    return [rule | {"anchor": anchor("rule", rule["rule"]),
                    "lines": [line | {"line": one_line(line["line"], 120)} for line in lines[rule["rule"]]]}
            for rule in rule_counts(removed_spans).iter_rows(named=True)]


def _clusters(corpus: pl.DataFrame, lineage: pl.DataFrame, members: pl.DataFrame,
              documents: pl.DataFrame | pl.LazyFrame | None, limits: Limits) -> list[ClusterCard]:
    cluster_ids = merged_clusters(lineage).head(limits.clusters)["cluster_id"].to_list()
    in_shown = pl.col("cluster_id").is_in(cluster_ids)
    by_cluster = members.filter(in_shown).sort("similarity", "containment", "doc_id").partition_by("cluster_id",
                                                                                                   as_dict=True)
    canonicals = {row["cluster_id"]: row for row in lineage.filter(
        in_shown & (pl.col("status") == Status.CANONICAL.value)).iter_rows(named=True)}
    canonical_text = dict(corpus.filter(in_shown).select("cluster_id", "text").iter_rows())
    diff_ids: list[str] = []
    for cluster_id in cluster_ids:
        diff_ids.extend(by_cluster[(cluster_id,)]["doc_id"].head(max(limits.diffs - len(diff_ids), 0)).to_list())
    texts = _collect(documents, diff_ids, "text_cleaned")
    member_text = {} if texts is None else {
        doc_id: text for doc_id, text in texts.select("doc_id", "text_cleaned").iter_rows() if text is not None}
    cards = []
    for index, cluster_id in enumerate(cluster_ids):
        rows = by_cluster[(cluster_id,)].to_dicts()
        card = ClusterCard(cluster_id, anchor("cluster", cluster_id), canonicals[cluster_id], rows,
                           open=index < limits.open_clusters)
        for row in rows:
            if row["doc_id"] in member_text and cluster_id in canonical_text:
                diff = side_by_side(member_text[row["doc_id"]], canonical_text[cluster_id], limits.diff_chars)
                card.diffs.append((row, diff))
        cards.append(card)
    return cards


def _document_views(doc_ids: list[str], lineage: pl.DataFrame, removed_spans: pl.DataFrame,
                    documents: pl.DataFrame | pl.LazyFrame | None, limits: Limits) -> list[DocumentView]:
    texts = _collect(documents, doc_ids, "text_as_read")
    if texts is None:
        return []
    as_read = dict(texts.select("doc_id", "text_as_read").iter_rows())
    rows = {row["doc_id"]: row for row in lineage.filter(pl.col("doc_id").is_in(doc_ids)).iter_rows(named=True)}
    spans = removed_spans.filter(pl.col("doc_id").is_in(doc_ids)).partition_by("doc_id", as_dict=True)
    views = []
    for doc_id in doc_ids:
        if doc_id not in as_read:
            continue
        text = as_read[doc_id]
        own = spans.get((doc_id,))
        triples = [] if own is None else list(own.select("start", "end", "rule").iter_rows())
        row = rows[doc_id]
        views.append(DocumentView(doc_id, anchor("doc", doc_id), row["status"], row["source"],
                                  struck_segments(text, triples, limits.document_chars), row["chars_in"],
                                  row["chars_removed"], len(text) > limits.document_chars))
    return views


def _documents_to_show(cards: list[ClusterCard], rules: list[dict], lineage: pl.DataFrame, limits: Limits) -> list[str]:
    """Documents of the diffs first (member, canonical), then those cleaning emptied (dropped: all their text
    was removed), then the rules' examples, then the most cleaned."""
    wanted: dict[str, None] = {}
    for card in cards:
        for row, _ in card.diffs:
            wanted.update({row["doc_id"]: None, card.canonical["doc_id"]: None})
    emptied = lineage.filter((pl.col("status") == Status.DROPPED.value) & (pl.col("chars_removed") > 0))
    wanted.update(dict.fromkeys(emptied.head(limits.documents)["doc_id"].to_list()))
    for rule in rules:
        for line in rule["lines"]:
            wanted.update(dict.fromkeys(line["examples"]))
    most_cleaned = (lineage.filter(pl.col("chars_removed") > 0)
                    .sort("chars_removed", "doc_id", descending=[True, False])
                    .head(limits.documents)["doc_id"].to_list())
    wanted.update(dict.fromkeys(most_cleaned))
    return list(wanted)[:limits.documents]


def render_html(tables: dict[str, pl.DataFrame | pl.LazyFrame | None], limits: Limits | None = None) -> str:
    """The page, from the output tables (`documents` may be a LazyFrame, or None for a build without it)."""
    limits = limits or Limits()
    corpus, lineage, removed_spans = tables["corpus"], tables["lineage"], tables["removed_spans"]
    documents = tables.get("documents")
    summary = summary_document(lineage, removed_spans)
    members_all = lineage.filter(pl.col("status") == Status.DUPLICATE.value).sort("similarity", "containment", "doc_id")
    cards = _clusters(corpus, lineage, members_all, documents, limits)
    rules = _rules(removed_spans, limits)
    shown_ids = _documents_to_show(cards, rules, lineage, limits)
    views = _document_views(shown_ids, lineage, removed_spans, documents, limits)
    shown = {view.doc_id: view.anchor for view in views}
    diffed = {row["doc_id"]: anchor("diff", row["doc_id"]) for card in cards for row, _ in card.diffs}
    carded = {row["doc_id"]: card.anchor for card in cards for row in card.members}
    not_kept = lineage.filter(pl.col("status").is_in([Status.DROPPED.value, Status.QUARANTINED.value]))
    by_source = status_counts(lineage, "source")
    member_sources = (members_all.group_by("source").len().sort("len", "source", descending=[True, False])
                      .head(200)["source"].to_list())
    return _TEMPLATES.get_template("report.html.j2").render(
        summary=summary, limits=limits, charts=_charts(lineage, removed_spans, summary, limits),
        members=members_all.head(limits.member_rows).to_dicts(), members_total=members_all.height,
        member_sources=member_sources, reasons=sorted(set(members_all["reason"].drop_nulls().to_list())),
        cards=cards, clusters_total=int(members_all["cluster_id"].n_unique()),
        rules=rules, views=views, shown=shown, diffed=diffed, carded=carded,
        has_documents=documents is not None,
        not_kept=not_kept.head(limits.not_kept_rows).to_dicts(), not_kept_total=not_kept.height,
        status_order=STATUS_ORDER, whitespace_only=WHITESPACE_ONLY,
        sources=by_source.head(limits.sources).to_dicts(), sources_total=by_source.height,
    )
