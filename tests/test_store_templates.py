"""Template lines in a store: counted over every stored document and the batch, as one build counts them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from bench.synth import generate
from fincorpus.config import Config
from fincorpus.pipeline import build
from fincorpus.store import StoreLayout, update
from fincorpus.store.export import store_tables

CLEANING_COLUMNS = ["doc_id", "chars_in", "chars_out", "chars_removed", "chars_rewritten"]


def pages(directory: Path, site: str, first: int, count: int, footer: str | None) -> Path:
    """`count` pages of `site` as one JSONL file, each with its own body and, when given, the site's footer."""
    directory.mkdir(parents=True)
    with (directory / "pages.jsonl").open("w", encoding="utf-8") as out:
        for number in range(first, first + count):
            body = f"第{number}号公告：公司第{number}次董事会审议通过年度利润分配方案，每十股派发现金红利{number}元。"
            text = body + ("\n" + footer if footer else "")
            out.write(json.dumps({"id": f"{site}-{number:03d}", "text": text, "url": f"https://{site}/{number}"},
                                 ensure_ascii=False) + "\n")
    return directory


def assert_cleaned_as_one_build(store: Path, inputs: list[Path], out: Path) -> None:
    built = build(inputs, out, Config()).tables
    stored = store_tables(store)
    assert stored.removed_spans.equals(built.removed_spans)
    assert stored.lineage.select(CLEANING_COLUMNS).equals(built.lineage.select(CLEANING_COLUMNS))
    assert stored.corpus.select("doc_id", "text").equals(built.corpus.select("doc_id", "text"))


def footers(store: Path) -> set[str]:
    return set(StoreLayout(store).read_state().templates["line"].to_list())


def test_a_line_becomes_a_template_after_two_batches_and_the_first_batch_is_cleaned_again(tmp_path):
    store = tmp_path / "store"
    first = pages(tmp_path / "day1", "news.example.cn", 0, 12, "返回顶部")
    update([first], store, Config())
    assert footers(store) == set()  # 12 pages < template_min_docs 20: kept, as a build of these 12 keeps it
    second = pages(tmp_path / "day2", "news.example.cn", 12, 12, "返回顶部")
    other = pages(tmp_path / "other", "blog.example.cn", 0, 3, "返回顶部")  # another site: counted apart
    result = update([second, other], store, Config())
    assert footers(store) == {"返回顶部"}
    assert result.summary["cleaned_again"] == 12 and result.summary["added"] == 15
    texts = dict(store_tables(store).corpus.select("doc_id", "text").iter_rows())
    assert "返回顶部" not in texts["news.example.cn-000"] and "返回顶部" in texts["blog.example.cn-000"]
    assert_cleaned_as_one_build(store, [first, second, other], tmp_path / "built")


def test_a_template_line_that_falls_below_its_share_comes_back_in_every_stored_page(tmp_path):
    store = tmp_path / "store"
    first = pages(tmp_path / "day1", "news.example.cn", 0, 24, "返回顶部")
    update([first], store, Config())
    assert footers(store) == {"返回顶部"}
    redesign = pages(tmp_path / "day2", "news.example.cn", 24, 30, None)  # 24 of 54 pages < 0.5
    result = update([redesign], store, Config())
    assert footers(store) == set() and result.summary["cleaned_again"] == 24
    texts = dict(store_tables(store).corpus.select("doc_id", "text").iter_rows())
    assert texts["news.example.cn-000"].rstrip().endswith("返回顶部")
    assert_cleaned_as_one_build(store, [first, redesign], tmp_path / "built")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, list[Path]]:
    """160 synthetic documents (broker reports, their forms, templated reports) and their split in 4 batches."""
    work = tmp_path_factory.mktemp("generated")
    corpus = generate(160, seed=11).select(pl.col("doc_id").alias("id"), "text")
    batches = []
    for number, start in enumerate(range(0, 160, 40)):
        (work / f"batch{number}").mkdir()
        corpus.slice(start, 40).write_parquet(work / f"batch{number}" / "documents.parquet")
        batches.append(work / f"batch{number}")
    return work, batches


def test_a_generated_corpus_added_in_batches_is_cleaned_exactly_as_one_build(generated):
    """Its legal-page lines sit near half of the documents, so template lines come and go between batches."""
    work, batches = generated
    store = work / "store"
    again = [update([batch], store, Config()).summary["cleaned_again"] for batch in batches]
    assert sum(again) > 0
    assert_cleaned_as_one_build(store, batches, work / "built")
