"""Forms of one report join its cluster; documents that only share legal pages or a template do not."""

import random

import opencc
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincorpus.config import Config, DedupConfig
from fincorpus.dedup import deduplicate
from fincorpus.documents import RawDocument
from fincorpus.pipeline import clean_documents

from conftest import CORPUS, SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, seed_text

SEEDS = [SEED_000, SEED_001, SEED_002, SEED_003, SEED_004]


def clean(named_texts: dict[str, str]) -> dict[str, str]:
    documents = [RawDocument(doc_id, doc_id, "", text) for doc_id, text in named_texts.items()]
    batch = clean_documents(documents, Config())
    return dict(zip(batch.documents["doc_id"], batch.documents["text"]))


def run(named_texts: dict[str, str], config: DedupConfig | None = None):
    cleaned = clean(named_texts)
    ids = sorted(cleaned)
    result = deduplicate(ids, [cleaned[doc_id] for doc_id in ids], config or DedupConfig())
    return {row["doc_id"]: row for row in result.assignments.iter_rows(named=True)}


def traditional(text: str) -> str:
    return opencc.OpenCC("s2t").convert(text)


def full_width(text: str) -> str:
    table = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}
    return text.translate(table)


def shuffled(text: str) -> str:
    paragraphs = [part for part in text.split("\n\n") if part.strip()]
    random.Random(5).shuffle(paragraphs)
    return "\n\n".join(paragraphs)


def preview(text: str) -> str:
    return text[:len(text) // 4]


@pytest.fixture(scope="module")
def seed_texts(seeds_dir):
    return {name: seed_text(name) for name in SEEDS}


@pytest.fixture(scope="module")
def headline_bodies():
    """Distinct report bodies made of real headlines, 40 per body."""
    texts = pl.read_parquet(CORPUS, columns=["text"])["text"].unique(maintain_order=True).to_list()
    return ["\n\n".join("，".join(texts[start + offset:start + offset + 4]) + "。" for offset in range(0, 40, 4))
            for start in range(0, 40 * 30, 40)]


@pytest.mark.parametrize("form", [traditional, full_width, shuffled, preview], ids=lambda form: form.__name__)
@pytest.mark.parametrize("seed", [SEED_001, SEED_004])
def test_a_form_of_a_seed_joins_the_seed_cluster(seed_texts, seed, form):
    rows = run(seed_texts | {"variant.txt": form(seed_texts[seed])})
    assert rows["variant.txt"]["cluster_id"] == rows[seed]["cluster_id"]
    assert rows["variant.txt"]["status"] == "duplicate"
    assert rows[SEED_002]["status"] == "canonical"  # nothing else moved
    assert rows[SEED_000]["canonical_id"] == SEED_001 and rows[SEED_003]["canonical_id"] == SEED_004


def test_the_preview_is_recorded_as_contained(seed_texts):
    rows = run(seed_texts | {"variant.txt": preview(seed_texts[SEED_004])})
    assert rows["variant.txt"]["reason"] == "contained" and rows["variant.txt"]["canonical_id"] == SEED_004


def huatai_disclosure(seed_texts) -> str:
    text = seed_texts[SEED_004]
    return text[text.index("免责声明"):]


def test_a_report_sharing_only_the_legal_pages_stays_apart(seed_texts, headline_bodies):
    other = "ChatGPT 之后: 华泰研究\n\n" + headline_bodies[0] + "\n\n" + huatai_disclosure(seed_texts)
    rows = run(seed_texts | {"other_huatai.txt": other})
    assert rows["other_huatai.txt"]["status"] == "canonical"
    assert rows[SEED_004]["status"] == "canonical" and rows[SEED_003]["canonical_id"] == SEED_004


def test_different_huatai_reports_with_the_same_disclosure_pages_do_not_merge(seed_texts, headline_bodies):
    disclosure = huatai_disclosure(seed_texts)
    reports = {f"huatai_{number:02d}.txt": f"华泰研究 专题报告 {number}\n\n{body}\n\n{disclosure}"
               for number, body in enumerate(headline_bodies[:12])}
    rows = run(seed_texts | reports)
    assert all(rows[name]["status"] == "canonical" for name in reports)
    assert rows[SEED_003]["canonical_id"] == SEED_004


def test_disclosure_pages_without_a_heading_are_found_by_document_frequency(seed_texts, headline_bodies):
    disclosure = huatai_disclosure(seed_texts).replace("免责声明", "")
    reports = {f"huatai_{number:02d}.txt": f"华泰研究 {number}\n\n{body}\n\n{disclosure}"
               for number, body in enumerate(headline_bodies[:12])}
    no_headings = DedupConfig(legal_headings=())
    assert all(rows["status"] == "canonical" for name, rows in run(reports, no_headings).items())
    # without boilerplate awareness the shared pages would merge them: the test above can fail
    blind = DedupConfig(legal_headings=(), boilerplate_min_docs=1000)
    assert any(row["status"] == "duplicate" for row in run(reports, blind).values())


TEMPLATE = ("{day}日A股市场日报\n\n今日沪指收于{a}点，上涨{b}%，深成指收于{c}点，上涨{d}%，创业板指上涨{e}%。两市成交额{f}亿元，"
            "较上一交易日增加{g}亿元。北向资金净流入{h}亿元。行业方面，{i}个申万一级行业上涨，涨幅居前的是电子和计算机；"
            "跌幅居前的是煤炭和银行。个股方面，两市{j}只个股上涨，{k}只下跌，涨停{l}只，跌停{m}只。融资余额{n}亿元。\n\n"
            "市场展望：当前市场情绪仍处于修复阶段，政策面持续释放积极信号，稳增长政策有望进一步加码；"
            "建议投资者关注估值合理、业绩确定性较高的优质龙头公司，同时注意控制仓位，防范外部市场波动带来的风险。"
            "配置上建议关注受益于国内需求复苏的消费板块、受益于产业政策支持的高端制造板块以及高股息的红利资产。")


def daily_report(day: int, seed: int) -> str:
    rng = random.Random(seed)
    values = {key: f"{rng.uniform(10, 9999):.2f}" for key in "abcdefghijklmn"}
    return TEMPLATE.format(day=day, **values)


def test_templated_reports_with_different_figures_stay_apart():
    rows = run({"monday.txt": daily_report(3, 1), "tuesday.txt": daily_report(4, 2)})
    assert {row["status"] for row in rows.values()} == {"canonical"}


def test_finance_guard_is_what_keeps_them_apart_and_is_configurable():
    texts = {"monday.txt": daily_report(3, 1), "tuesday.txt": daily_report(4, 2)}
    rows = run(texts, DedupConfig(max_number_difference=1.0))
    assert {row["status"] for row in rows.values()} == {"canonical", "duplicate"}


def test_a_repost_of_a_templated_report_with_the_same_figures_merges():
    report = daily_report(3, 1)
    rows = run({"monday.txt": report, "repost.txt": "财经早参 来源：网络 阅读 1234\n" + report + "\n喜欢请点赞"})
    assert rows["repost.txt"]["cluster_id"] == rows["monday.txt"]["cluster_id"]


@settings(max_examples=8, deadline=None)
@given(order=st.permutations(range(7)))
def test_clusters_and_canonicals_do_not_depend_on_input_order(order):
    base = daily_report(9, 9)
    texts = [base, base + "。", "转载：" + base, daily_report(10, 10), daily_report(11, 11),
             base[:len(base) // 2], daily_report(12, 12)]
    ids = [f"doc{number}" for number in range(7)]
    reference = deduplicate(ids, texts, DedupConfig()).assignments
    permuted = deduplicate([ids[index] for index in order], [texts[index] for index in order], DedupConfig())
    assert permuted.assignments.equals(reference)
    # invariants: one row per input, every duplicate points at a canonical row of its own cluster
    canonical = permuted.assignments.filter(pl.col("status") == "canonical")
    assert permuted.assignments.height == 7
    assert set(permuted.assignments["canonical_id"]) == set(canonical["doc_id"])
