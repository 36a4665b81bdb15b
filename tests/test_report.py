"""The reports: summary.json counts, report.html's content, escaping and caps, without a browser."""

import html
import json
import re
import shutil
from html.parser import HTMLParser

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincorpus.config import Config
from fincorpus.io.writers import verify_manifest, write_manifest
from fincorpus.lineage import CORPUS_SCHEMA, DOCUMENTS_SCHEMA, LINEAGE_SCHEMA, REMOVED_SPANS_SCHEMA
from fincorpus.pipeline import build
from fincorpus.report import Limits, render_html, render_markdown, summary_document
from fincorpus.report.markdown import MAX_CLUSTERS
from fincorpus.report.diff import side_by_side
from fincorpus.report.files import REPORT_FILES, write_reports
from fincorpus.report.html import anchor, struck_segments

from conftest import SEED_000, SEED_001, SEED_003, SEED_004

BANNER = "您的浏览器禁用了JavaScript"


@pytest.fixture(scope="module")
def seed_html(seed_build):
    return (seed_build.out / "report.html").read_text(encoding="utf-8")


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start:html.index("</section>", start)]


def _document_view(html: str, doc_id: str) -> str:
    start = html.index(f'id="{anchor("doc", doc_id)}"')
    return html[start:html.index("</details>", start)]


# summary.json

def test_summary_json_counts_match_lineage_and_spans(seed_build):
    summary = json.loads((seed_build.out / "summary.json").read_text(encoding="utf-8"))
    lineage = pl.read_parquet(seed_build.out / "lineage.parquet")
    spans = pl.read_parquet(seed_build.out / "removed_spans.parquet")
    assert summary["format"] == "fincorpus-summary/1"
    assert (summary["documents_in"], summary["canonical"], summary["duplicate"]) == (5, 3, 2)
    assert summary["duplicate_rate"] == pytest.approx(0.4)
    assert summary["by_reason"]["duplicate"] == dict(
        lineage.filter(pl.col("status") == "duplicate").group_by("reason").len().iter_rows())
    assert sum(rule["chars"] for rule in summary["by_rule"].values()) == summary["chars_removed"] == \
        int((spans["end"] - spans["start"]).sum())
    assert sum(source["documents_in"] for source in summary["by_source"].values()) == 5
    assert summary["by_source"][SEED_000]["duplicate"] == 1
    assert sum(summary["merged_similarity"]["jaccard"]) == sum(summary["merged_similarity"]["containment"]) == 2


def test_summary_json_counts_every_status_even_when_zero(seed_build):
    summary = summary_document(seed_build.tables.lineage, seed_build.tables.removed_spans)
    assert summary["dropped"] == summary["quarantined"] == 0
    assert summary["canonical"] + summary["duplicate"] + summary["dropped"] + summary["quarantined"] == \
        summary["documents_in"]


# report.html on the seeds

def test_report_html_is_one_self_contained_utf8_page(seed_html):
    assert seed_html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in seed_html
    assert "default-src 'none'" in seed_html  # the page may not fetch anything, even by mistake
    assert not re.search(r'\b(?:src|href)\s*=\s*"(?:https?:)?//', seed_html)
    assert not re.search(r"<link\b|@import|url\(", seed_html)
    assert '"Noto Sans CJK SC"' in seed_html and '"PingFang SC"' in seed_html and '"Microsoft YaHei"' in seed_html


def test_report_html_shows_both_seed_clusters_with_their_canonicals(seed_html):
    clusters = _section(seed_html, "clusters")
    assert clusters.count('<details class="cluster"') == 2
    for canonical, member in ((SEED_001, SEED_000), (SEED_004, SEED_003)):
        assert f"<h3>{member} against {canonical}</h3>" in clusters


def test_diff_of_the_preview_against_the_full_report_greys_what_they_share(seed_html, seed_build):
    start = seed_html.index(f'id="{anchor("diff", SEED_000)}"')
    diff = seed_html[start:seed_html.index("</table>", start)]
    shared = "".join(re.findall(r'<tr class="shared"><td class="member">(.*?)</td>', diff, re.S))
    canonical_only = "".join(re.findall(r'<tr class="changed">.*?<td class="canonical">(.*?)</td>', diff, re.S))
    assert "我们拆解ChatGPT技术模型后认为" in shared
    # The preview stops mid-report: the end of the full report is text only the canonical has.
    ending = seed_build.tables.corpus.filter(pl.col("doc_id") == SEED_001)["text"][0].strip()[-12:]
    assert ending in html.unescape(canonical_only)


def test_seed_000_banner_is_struck_through_in_its_text_as_read(seed_html):
    view = _document_view(seed_html, SEED_000)
    assert re.search(rf'<del class="removed" title="chrome_v1:js_disabled_banner"[^>]*>{BANNER}', view)


def test_seed_003_repeated_title_lines_are_struck_through(seed_html, seed_build):
    view = _document_view(seed_html, SEED_003)
    struck = re.findall(r'<del class="removed[^"]*" title="([^"]+)"', view)
    spans = seed_build.tables.removed_spans.filter(pl.col("doc_id") == SEED_003)
    assert len(struck) == spans.height > 0


def test_duplicates_table_lists_the_least_similar_first_and_links_each_to_its_diff(seed_html, seed_build):
    table = _section(seed_html, "duplicates")
    rows = re.findall(r'<tr data-source="([^"]*)" data-reason="([^"]*)" data-similarity="([^"]*)"', table)
    duplicates = seed_build.tables.lineage.filter(pl.col("status") == "duplicate").sort("similarity")
    assert [source for source, _, _ in rows] == duplicates["source"].to_list()
    assert sorted(source for source, _, _ in rows) == [SEED_000, SEED_003]
    assert [float(similarity) for _, _, similarity in rows] == sorted(float(similarity) for _, _, similarity in rows)
    assert f'href="#{anchor("diff", SEED_000)}"' in table


def test_cleaning_view_lists_removed_lines_with_example_documents(seed_html):
    cleaning = _section(seed_html, "cleaning")
    assert "chrome_v1:breadcrumb" in cleaning and "当前位置" in cleaning
    assert f'href="#{anchor("doc", SEED_000)}"' in cleaning


def test_report_command_rewrites_the_three_reports_and_the_manifest(seed_build, tmp_path):
    import subprocess
    import sys

    for path in seed_build.out.glob("*.parquet"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "report.html").write_text("stale", encoding="utf-8")
    write_manifest(tmp_path)
    result = subprocess.run([sys.executable, "-m", "fincorpus", "report", str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "quarantined" in result.stdout
    for name in REPORT_FILES:
        assert str(tmp_path / name) in result.stdout
        assert (tmp_path / name).read_bytes() == (seed_build.out / name).read_bytes(), name
    assert verify_manifest(tmp_path) == []


def test_report_without_documents_parquet_still_renders_the_counts(seed_build, tmp_path):
    for name in ("corpus", "lineage", "removed_spans"):
        shutil.copy(seed_build.out / f"{name}.parquet", tmp_path / f"{name}.parquet")
    write_reports(tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No <code>documents.parquet</code> here" in html and SEED_000 in html
    assert '<table class="diff">' not in html


# escaping

def test_a_document_with_markup_renders_as_text(tmp_path):
    payload = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
    body = "华泰研究认为算力需求将持续增长，国产大模型厂商有望受益。" * 8
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(payload + "\n" + body, encoding="utf-8")
    (tmp_path / "in" / "b.txt").write_text(body + "\n" + payload + " 相关文章", encoding="utf-8")
    build([tmp_path / "in"], tmp_path / "out", Config())
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>document" not in html and "<img src=x" not in html
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the page's own


# caps at scale

def _synthetic_tables(clusters: int, members: int, dropped: int, repeat: int = 30) -> dict[str, pl.DataFrame]:
    """`clusters` canonicals with `members` near-duplicates each, every duplicate cleaned of a banner line."""
    canonical_ids = [f"c{index:06d}.txt" for index in range(clusters)]
    body = [f"第{index}号报告：华泰研究认为算力需求将持续增长，国产大模型厂商有望受益。" * repeat for index in range(clusters)]
    rows, documents, spans = [], [], []
    for index, (doc_id, text) in enumerate(zip(canonical_ids, body)):
        cluster_id = f"k{index:06d}"
        rows.append((doc_id, doc_id, "h", "utf-8", "canonical", None, "", cluster_id, doc_id, 1.0, 1.0,
                     len(text), len(text), 0, 0))
        documents.append((doc_id, text, None))
        for member in range(members):
            member_id = f"m{index:06d}-{member}.txt"
            cleaned = text[:len(text) // (member + 2)] + "（预览）"
            as_read = BANNER + "\n" + cleaned
            similarity = round(0.3 + 0.6 * ((index * members + member) % 97) / 97, 4)
            rows.append((member_id, f"site{member}/{member_id}", "h", "utf-8", "duplicate", "near_duplicate",
                         f"near_duplicate of {doc_id}", cluster_id, doc_id, similarity, 0.95,
                         len(as_read), len(cleaned), len(BANNER) + 1, 0))
            documents.append((member_id, as_read, cleaned))
            spans.append((member_id, "chrome_v1:js_disabled_banner", 0, len(BANNER) + 1, BANNER + "\n"))
    for index in range(dropped):
        rows.append((f"z{index:06d}.txt", f"z{index:06d}.txt", "h", None, "quarantined", "undecodable",
                     "not valid in any supported encoding", None, None, None, None, 0, 0, 0, 0))
    lineage = pl.DataFrame(rows, schema=LINEAGE_SCHEMA, orient="row").sort("doc_id")
    corpus = pl.DataFrame([(doc_id, text, f"k{index:06d}", [doc_id] + [f"m{index:06d}-{m}.txt" for m in range(members)],
                            doc_id, None, None, None) for index, (doc_id, text) in enumerate(zip(canonical_ids, body))],
                          schema=CORPUS_SCHEMA, orient="row")
    return {"corpus": corpus, "lineage": lineage,
            "removed_spans": pl.DataFrame(spans, schema=REMOVED_SPANS_SCHEMA, orient="row"),
            "documents": pl.DataFrame(documents, schema=DOCUMENTS_SCHEMA, orient="row")}


def test_page_shows_at_most_its_limits_and_says_where_the_rest_is():
    limits = Limits(member_rows=25, clusters=6, diffs=4, open_clusters=2, documents=5, document_chars=40,
                    not_kept_rows=3, chart_bars=4, removed_lines=1, examples=2, sources=2)
    html = render_html(_synthetic_tables(clusters=20, members=3, dropped=7), limits)
    assert html.count("<tr data-source=") == 25 and "Showing 25 of 60" in html
    assert html.count('<details class="cluster"') == 6 and "Showing 6 of 20 clusters" in html
    assert html.count('<details class="cluster" id="cluster-') == 6
    assert len(re.findall(r'<details class="cluster"[^>]* open>', html)) == 2
    assert html.count('class="diff-block"') == 4
    assert html.count('<details class="document"') == 5 and "The first 40 characters of" in html
    assert "Showing 3 of 7" in html
    assert re.search(r">other \(\d+\)</text>", html)  # chart bars beyond the limit are summed
    assert "(the 2 largest of 87)" in html


def test_page_for_100k_documents_stays_small():
    tables = _synthetic_tables(clusters=25_000, members=3, dropped=0, repeat=3)
    assert tables["lineage"].height == 100_000
    html = render_html(tables)
    limits = Limits()
    assert html.count("<tr data-source=") == limits.member_rows
    assert html.count('class="diff-block"') == limits.diffs
    assert html.count('<details class="document"') == limits.documents
    assert len(html.encode("utf-8")) < 8_000_000
    markdown = render_markdown(tables["corpus"], tables["lineage"], tables["removed_spans"])
    assert markdown.count("\n### c0") == MAX_CLUSTERS and f"The {MAX_CLUSTERS} of 25000 clusters" in markdown
    assert len(markdown) < 20_000


# the pieces, as properties

spans_strategy = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20), st.sampled_from(["a_v1", "b_v1"])),
                          max_size=8)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), raw_spans=spans_strategy, max_chars=st.integers(0, 80))
def test_struck_segments_cover_the_text_in_order_and_strike_only_removed_spans(text, raw_spans, max_chars):
    spans = [(start, min(start + length, len(text)), rule) for start, length, rule in raw_spans if start < len(text)]
    segments = struck_segments(text, spans, max_chars)
    assert "".join(piece for _, piece, _ in segments) == text[:max_chars]
    removed = set()
    for start, end, _ in spans:
        removed.update(range(start, end))
    position = 0
    for kind, piece, _ in segments:
        inside = {position + offset in removed for offset in range(len(piece))}
        assert inside <= ({True} if kind == "removed" else {False})
        position += len(piece)


cjk_text = st.text(alphabet="上海证券华泰研究报告算力模型，。 \n的AI", max_size=120)


@settings(max_examples=200, deadline=None)
@given(member=cjk_text, canonical=cjk_text)
def test_side_by_side_columns_spell_out_both_texts_when_nothing_is_elided(member, canonical):
    diff = side_by_side(member, canonical, max_chars=1000, context=1000)
    assert "".join(row.member_text for row in diff.rows) == member
    assert "".join(row.canonical_text for row in diff.rows) == canonical
    assert diff.shared_chars + diff.member_only_chars == len(member)
    assert diff.shared_chars + diff.canonical_only_chars == len(canonical)
    assert all(row.member == row.canonical for row in diff.rows if row.kind == "shared")


def test_side_by_side_elides_long_shared_runs_to_their_context():
    shared = "我们拆解ChatGPT技术模型后认为" * 40
    diff = side_by_side("预览" + shared, "全文" + shared + "免责声明", max_chars=10_000, context=20)
    gaps = [row for row in diff.rows if row.kind == "gap"]
    assert len(gaps) == 1 and gaps[0].elided == len(shared) - 40
    assert [row.canonical_text for row in diff.rows if row.kind == "changed"] == ["全文", "免责声明"]


def test_side_by_side_keeps_a_reworded_sentence_in_one_row():
    diff = side_by_side("华泰研究认为ChatGPT引领革命" + "。" * 200, "华泰研究指出ChatGPT带来机遇" + "。" * 200, max_chars=1000)
    assert [row.kind for row in diff.rows] == ["shared", "changed", "shared"]
    assert diff.rows[1].member == (("认为", False), ("ChatGPT", True), ("引领革命", False))
    assert diff.rows[1].canonical == (("指出", False), ("ChatGPT", True), ("带来机遇", False))


def test_dropped_and_quarantined_inputs_are_listed_with_their_reasons(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.txt").write_bytes(b"")
    (tmp_path / "in" / "scan.pdf").write_bytes(b"%PDF-1.7 binary")
    (tmp_path / "in" / "crumbs.txt").write_text("当前位置:首页/行业研究/报告详情/\n", encoding="utf-8")
    (tmp_path / "in" / "report.txt").write_text("华泰研究认为算力需求将持续增长。", encoding="utf-8")
    build([tmp_path / "in"], tmp_path / "out", Config())
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    not_kept = _section(html, "not-kept")
    lineage = pl.read_parquet(tmp_path / "out" / "lineage.parquet")
    rows = {row["doc_id"]: row for row in lineage.filter(pl.col("status") != "canonical").iter_rows(named=True)}
    assert set(rows) == {"empty.txt", "scan.pdf", "crumbs.txt"}
    for doc_id, row in rows.items():
        assert re.search(rf'<td>(<a class="id" href="#[^"]+"|<span class="id")>{re.escape(doc_id)}</', not_kept)
        assert f"<td>{row['reason']}</td>" in not_kept
    # Cleaning emptied crumbs.txt: its row links to its text, every character of it struck through.
    assert rows["crumbs.txt"]["reason"] == "empty_after_cleaning"
    assert f'href="#{anchor("doc", "crumbs.txt")}">crumbs.txt</a>' in not_kept
    assert '<del class="removed" title="chrome_v1:breadcrumb"' in _document_view(html, "crumbs.txt")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["dropped"] + summary["quarantined"] == 3 and summary["documents_in"] == 4


def test_removed_whitespace_is_marked_and_listed_as_whitespace_only():
    tables = _synthetic_tables(clusters=1, members=1, dropped=0)
    member_id = "m000000-0.txt"
    tables["removed_spans"] = pl.DataFrame(
        [(member_id, "chrome_v1:js_disabled_banner", 0, len(BANNER), BANNER),
         (member_id, "blank_lines_v1:blank_run", len(BANNER), len(BANNER) + 1, "\n")],
        schema=REMOVED_SPANS_SCHEMA, orient="row")
    html = render_html(tables)
    assert '<del class="removed space" title="blank_lines_v1:blank_run"' in _document_view(html, member_id)
    assert '<span class="muted">(whitespace only)</span>' in _section(html, "cleaning")
    markdown = render_markdown(tables["corpus"], tables["lineage"], tables["removed_spans"])
    assert "- 1× (whitespace only)" in markdown and f"- 1× `{BANNER}`" in markdown


class _DocumentText(HTMLParser):
    """The text and the tags inside one document view's text block, as a browser's parser reads them."""

    def __init__(self, view_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.view_id, self.inside_view, self.depth = view_id, False, 0
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id") == self.view_id:
            self.inside_view = True
        elif self.inside_view and tag == "div" and attributes.get("class") == "text":
            self.depth = 1
        elif self.depth:
            self.tags.append(tag)
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.inside_view = False

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


@settings(max_examples=60, deadline=None)
@given(text=st.lists(st.sampled_from([*"<>&\"'/=` 华泰研究\n\t!-[]{}\u2028", "<script>", "</div>", "&amp;", "<!--", "]]>"]),
                     min_size=1, max_size=40).map("".join),
       cut=st.integers(0, 80), length=st.integers(0, 20))
def test_any_document_text_reaches_the_page_as_exactly_that_text(text, cut, length):
    tables = _synthetic_tables(clusters=1, members=1, dropped=0, repeat=1)
    member_id = "m000000-0.txt"
    start, end = min(cut, len(text)), min(cut + length, len(text))
    tables["documents"] = tables["documents"].with_columns(
        pl.when(pl.col("doc_id") == member_id).then(pl.lit(text)).otherwise(pl.col("text_as_read")).alias("text_as_read"))
    tables["removed_spans"] = pl.DataFrame([(member_id, "chrome_v1:x", start, end, text[start:end])] if end > start
                                           else [], schema=REMOVED_SPANS_SCHEMA, orient="row")
    tables["lineage"] = tables["lineage"].with_columns(
        pl.when(pl.col("doc_id") == member_id).then(pl.lit(end - start + 1)).otherwise(pl.col("chars_removed"))
        .alias("chars_removed"))
    parser = _DocumentText(anchor("doc", member_id))
    parser.feed(render_html(tables))
    assert "".join(parser.text) == text
    assert set(parser.tags) <= {"del"}
