"""Acceptance of issue 9: a corpus of bad inputs, generated here, builds to completion with exit 0 and every
input accounted for in lineage with a clear reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fincorpus.config import Config
from fincorpus.io.writers import verify_manifest
from fincorpus.lineage import check_summary

from conftest import REPO

ARTICLE = "华泰证券研究所发布了关于人工智能产业的深度研究报告，认为大模型将带来范式革命，传媒与计算机板块受益。" * 3
TRADITIONAL = "東吳證券傳媒行業週報指出，遊戲版號發放常態化，短視頻平台廣告收入持續增長，維持行業增持評級。" * 3
NEWS = "国泰君安：银行业净息差企稳回升，资产质量持续改善，上调板块评级至增持，看好国有大行估值修复。" * 3
STRATEGY = "中信证券策略周报：外资连续三周净流入，成长风格占优，建议关注半导体设备与创新药的配置机会。" * 3
PAGE = "招商证券电子行业点评：消费电子需求触底，面板价格企稳，维持推荐评级并上调龙头公司盈利预测。" * 2

# doc_id → (status, reason or None, a phrase the detail must hold)
EXPECTED = {
    # one text in four encodings: one canonical (the smallest doc_id), three exact duplicates of it
    "encodings/gb18030.txt": ("canonical", None, "encoding gb18030 guessed"),
    "encodings/utf8.txt": ("duplicate", "exact_duplicate", "exact_duplicate of encodings/gb18030.txt"),
    "encodings/utf8_bom.txt": ("duplicate", "exact_duplicate", "exact_duplicate of encodings/gb18030.txt"),
    "encodings/utf16.txt": ("duplicate", "exact_duplicate", "exact_duplicate of encodings/gb18030.txt"),
    "encodings/gbk.txt": ("canonical", None, "encoding gb18030 guessed"),
    "encodings/big5.txt": ("canonical", None, "encoding big5 guessed"),
    "junk.txt": ("quarantined", "binary", "NUL bytes"),
    "noise.txt": ("quarantined", "undecodable", "no encoding guessed"),
    "r1": ("canonical", None, ""),
    "r2": ("duplicate", "exact_duplicate", "exact_duplicate of r1"),  # the same news under another id
    "half.jsonl:3": ("quarantined", "malformed_record", "line 3: invalid JSON"),
    "truncated.parquet": ("quarantined", "unreadable_file", "not a readable Parquet file"),
    "empty.txt": ("dropped", "empty_input", "no text in the input"),
    "blank.md": ("dropped", "empty_input", "no text in the input"),
    "script.html": ("canonical", None, ""),
    "script.txt": ("canonical", None, "exact-duplicate matching only"),
    "broken.html": ("canonical", None, ""),
    "short.txt": ("canonical", None, "2 letters/digits < dedup.min_chars 50: exact-duplicate matching only"),
    "loop": ("quarantined", "symlink_skipped", "not followed"),
    "scan.pdf": ("quarantined", "unreadable_file", "unsupported file type"),
    "pipe.txt": ("quarantined", "unreadable_file", "not a regular file"),
}


def make_bad_corpus(root: Path) -> Path:
    (root / "encodings").mkdir(parents=True)
    (root / "encodings" / "utf8.txt").write_text(ARTICLE, encoding="utf-8")
    (root / "encodings" / "utf8_bom.txt").write_text(ARTICLE, encoding="utf-8-sig")
    (root / "encodings" / "utf16.txt").write_text(ARTICLE, encoding="utf-16")
    (root / "encodings" / "gb18030.txt").write_bytes(ARTICLE.encode("gb18030"))
    (root / "encodings" / "gbk.txt").write_bytes(STRATEGY.encode("gbk"))
    (root / "encodings" / "big5.txt").write_bytes(TRADITIONAL.encode("big5"))
    (root / "junk.txt").write_bytes(bytes(range(256)) * 16)
    (root / "noise.txt").write_bytes(bytes((index * 151 + 7) % 128 + 128 for index in range(4096)))
    records = [json.dumps({"id": "r1", "text": NEWS, "url": "file:///etc/passwd"}, ensure_ascii=False),
               json.dumps({"id": "r2", "text": NEWS}, ensure_ascii=False)]
    (root / "half.jsonl").write_text("\n".join(records) + '\n{"id": "r3", "text": "写到一半', encoding="utf-8")
    pl.DataFrame({"text": [ARTICLE, NEWS]}).write_parquet(root / "full.parquet")
    whole = (root / "full.parquet").read_bytes()
    (root / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    (root / "full.parquet").unlink()
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.md").write_text(" \n\t\u3000\n", encoding="utf-8")
    (root / "script.html").write_text(f"<html><body><script>document.write('注入')</script><p>{PAGE}</p>"
                                      "<img src=x onerror=alert(1)></body></html>", encoding="utf-8")
    (root / "script.txt").write_text("<script>alert('xss')</script>", encoding="utf-8")
    (root / "broken.html").write_text(f"<div><p>{NEWS[:40]}<b>未闭合<table><tr><td>单元格</td", encoding="utf-8")
    (root / "short.txt").write_text("快讯。", encoding="utf-8")
    (root / "loop").symlink_to(root)
    (root / "scan.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    os.mkfifo(root / "pipe.txt")
    return root


@pytest.fixture(scope="module")
def bad_build(tmp_path_factory):
    root = make_bad_corpus(tmp_path_factory.mktemp("bad") / "in")
    out = tmp_path_factory.mktemp("bad-out") / "out"
    result = subprocess.run([sys.executable, "-m", "fincorpus", "build", str(root), "--out", str(out), "--no-prefect"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    return root, out, result


def test_bad_inputs_build_to_completion_with_exit_0(bad_build):
    _, out, result = bad_build
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert verify_manifest(out) == []


def test_every_bad_input_is_accounted_for_with_its_reason(bad_build):
    _, out, _ = bad_build
    lineage = pl.read_parquet(out / "lineage.parquet")
    rows = {row["doc_id"]: row for row in lineage.iter_rows(named=True)}
    assert sorted(rows) == sorted(EXPECTED)
    for doc_id, (status, reason, phrase) in EXPECTED.items():
        row = rows[doc_id]
        assert (row["status"], row["reason"]) == (status, reason), doc_id
        assert phrase in row["detail"], (doc_id, row["detail"])
        if status in ("dropped", "quarantined"):
            assert row["detail"], doc_id


def test_every_file_of_the_bad_corpus_is_a_source_in_lineage(bad_build):
    root, out, _ = bad_build
    files = {path.relative_to(root).as_posix() for path in root.rglob("*") if not path.is_dir() or path.is_symlink()}
    assert set(pl.read_parquet(out / "lineage.parquet")["source"]) == files


def test_detected_encodings_are_in_lineage(bad_build):
    _, out, _ = bad_build
    encodings = dict(pl.read_parquet(out / "lineage.parquet").select("doc_id", "encoding").iter_rows())
    assert encodings["encodings/utf8.txt"] == "utf-8" and encodings["encodings/utf8_bom.txt"] == "utf-8-sig"
    assert encodings["encodings/utf16.txt"] == "utf-16" and encodings["encodings/big5.txt"] == "big5"
    assert encodings["encodings/gb18030.txt"] == encodings["encodings/gbk.txt"] == "gb18030"


def test_html_is_parsed_never_executed_and_script_text_stays_text(bad_build):
    _, out, _ = bad_build
    texts = dict(pl.read_parquet(out / "corpus.parquet").select("doc_id", "text").iter_rows())
    assert "注入" not in texts["script.html"] and "document.write" not in texts["script.html"]
    assert texts["script.txt"] == "<script>alert('xss')</script>"  # data, not markup: the reports escape it
    assert "未闭合" in texts["broken.html"] and "单元格" in texts["broken.html"]


def test_summary_counts_equal_lineage_counts(bad_build):
    _, out, _ = bad_build
    lineage = pl.read_parquet(out / "lineage.parquet")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    check_summary(summary, lineage)
    assert summary["documents_in"] == len(EXPECTED)


def test_the_prefect_flow_builds_the_bad_corpus_alike(prefect_harness, bad_build, tmp_path):
    from flows.build import build_corpus

    root, out, _ = bad_build
    summary = build_corpus([str(root)], str(tmp_path / "out"), Config())
    assert summary["documents_in"] == len(EXPECTED)
    assert (pl.read_parquet(tmp_path / "out" / "lineage.parquet").equals(pl.read_parquet(out / "lineage.parquet")))
