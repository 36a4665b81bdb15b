"""The whole build on the seeds: the acceptance of the walking skeleton."""

import hashlib

import polars as pl

from fincorpus.config import Config
from fincorpus.pipeline import OUTPUT_FILES, build

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004


def test_build_writes_the_four_outputs(seed_build):
    assert sorted(path.name for path in seed_build.out.iterdir()) == sorted(OUTPUT_FILES)


def test_lineage_accounts_for_every_seed(seed_build):
    lineage = pl.read_parquet(seed_build.out / "lineage.parquet")
    assert lineage.height == 5
    rows = {row["doc_id"]: row for row in lineage.iter_rows(named=True)}
    assert rows[SEED_000]["status"] == "duplicate" and rows[SEED_000]["canonical_id"] == SEED_001
    assert rows[SEED_000]["reason"] == "contained" and rows[SEED_000]["containment"] > 0.9
    assert rows[SEED_003]["status"] == "duplicate" and rows[SEED_003]["canonical_id"] == SEED_004
    for name in (SEED_001, SEED_002, SEED_004):
        assert rows[name]["status"] == "canonical" and rows[name]["canonical_id"] == name
    assert all(row["input_hash"] and row["chars_in"] >= row["chars_out"] > 0 for row in rows.values())


def test_corpus_holds_one_clean_canonical_per_cluster(seed_build):
    corpus = pl.read_parquet(seed_build.out / "corpus.parquet")
    assert corpus["doc_id"].to_list() == [SEED_001, SEED_002, SEED_004]
    members = dict(zip(corpus["doc_id"], corpus["member_ids"].to_list()))
    assert members == {SEED_001: [SEED_000, SEED_001], SEED_002: [SEED_002], SEED_004: [SEED_003, SEED_004]}
    for text in corpus["text"]:
        assert "您的浏览器禁用了JavaScript" not in text and "发现报告" not in text


def test_removed_spans_quote_the_text_as_read(seed_build, seeds_dir):
    spans = pl.read_parquet(seed_build.out / "removed_spans.parquet")
    original = (seeds_dir / SEED_000).read_text(encoding="utf-8")
    for row in spans.filter(pl.col("doc_id") == SEED_000).iter_rows(named=True):
        assert original[row["start"]:row["end"]] == row["text"]
    assert "chrome_v1:js_disabled_banner" in spans["rule"].to_list()


def test_report_lists_clusters_and_rules(seed_build):
    report = (seed_build.out / "report.md").read_text(encoding="utf-8")
    assert f"### {SEED_001}" in report and f"| {SEED_000} | duplicate | contained |" in report
    assert "chrome_v1:breadcrumb" in report


def test_rebuild_is_byte_identical(seed_build, seeds_dir, tmp_path):
    build([seeds_dir], tmp_path, Config())
    for name in OUTPUT_FILES:
        first = hashlib.sha256((seed_build.out / name).read_bytes()).hexdigest()
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == first, name
