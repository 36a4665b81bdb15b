import json
from pathlib import Path

import polars as pl
import pytest

from fincorpus.config import Config, InputConfig
from fincorpus.documents import Reason, Status
from fincorpus.errors import UserError
from fincorpus.io.readers import discover, read_all
from fincorpus.pipeline import read_documents


def read(paths, config=InputConfig()):
    return {doc.doc_id: doc for doc in read_all(discover(paths, config), config)}


def test_plain_file_ids_are_paths_relative_to_the_input_directory(tmp_path: Path):
    (tmp_path / "site" / "a").mkdir(parents=True)
    (tmp_path / "site" / "a" / "report.txt").write_text("华泰研究", encoding="utf-8")
    (tmp_path / "site" / "note.md").write_text("# 标题", encoding="utf-8")
    docs = read([tmp_path / "site"])
    assert set(docs) == {"a/report.txt", "note.md"}
    assert docs["a/report.txt"].text == "华泰研究"
    assert docs["a/report.txt"].encoding == "utf-8"
    assert read([tmp_path / "site" / "a" / "report.txt"]).keys() == {"report.txt"}


def test_html_yields_visible_text_only(tmp_path: Path):
    (tmp_path / "p.html").write_text(
        "<html><head><title>t</title><style>p{}</style></head><body><p>华泰<b>研究</b></p>"
        "<script>alert('x')</script><div>ChatGPT", encoding="utf-8")
    assert read([tmp_path])["p.html"].text == "华泰研究\nChatGPT"


def test_jsonl_rows_use_id_or_file_and_line(tmp_path: Path):
    lines = [json.dumps({"id": "r1", "text": "一", "url": "http://x", "title": "T"}, ensure_ascii=False),
             json.dumps({"text": "二"}, ensure_ascii=False), "", "{not json", json.dumps({"id": "r4"}),
             json.dumps({"text": 5})]
    (tmp_path / "b.jsonl").write_text("\n".join(lines), encoding="utf-8")
    docs = read([tmp_path])
    assert docs["r1"].text == "一" and docs["r1"].metadata["url"] == "http://x" and docs["r1"].source == "b.jsonl"
    assert docs["b.jsonl:2"].text == "二"
    assert docs["b.jsonl:4"].status is Status.QUARANTINED and docs["b.jsonl:4"].reason is Reason.MALFORMED_RECORD
    assert docs["r4"].reason is Reason.MALFORMED_RECORD and "no 'text'" in docs["r4"].detail
    assert "not a string" in docs["b.jsonl:6"].detail
    assert len(docs) == 5


def test_parquet_rows_use_id_or_file_and_row(tmp_path: Path):
    pl.DataFrame({"id": ["p1", None], "text": ["甲", "乙"], "date": ["2023-01-01", None]}).write_parquet(tmp_path / "c.parquet")
    docs = read([tmp_path])
    assert docs["p1"].text == "甲" and docs["p1"].metadata["date"] == "2023-01-01"
    assert docs["c.parquet:1"].text == "乙"


def test_corrupt_parquet_quarantines_the_file(tmp_path: Path):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    doc = read([tmp_path])["bad.parquet"]
    assert doc.status is Status.QUARANTINED and doc.reason is Reason.UNREADABLE_FILE


def test_gb18030_is_detected(tmp_path: Path):
    text = "华泰证券研究所发布了关于人工智能产业的深度研究报告，认为大模型将带来范式革命。" * 3
    (tmp_path / "gbk.txt").write_bytes(text.encode("gb18030"))
    doc = read([tmp_path])["gbk.txt"]
    assert doc.text == text
    assert doc.encoding.lower().replace("_", "") in {"gb18030", "gbk", "gb2312"}


def test_empty_and_binary_files_are_kept_in_lineage(tmp_path: Path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_text("  \n\t\n", encoding="utf-8")
    (tmp_path / "junk.txt").write_bytes(bytes(range(256)) * 4)
    docs = read([tmp_path])
    assert docs["empty.txt"].status is Status.DROPPED and docs["empty.txt"].reason is Reason.EMPTY_INPUT
    assert docs["blank.txt"].reason is Reason.EMPTY_INPUT
    assert docs["junk.txt"].status is Status.QUARANTINED and docs["junk.txt"].reason is Reason.BINARY


def test_unsupported_file_types_are_quarantined_not_skipped(tmp_path: Path):
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    doc = read([tmp_path])["scan.pdf"]
    assert doc.reason is Reason.UNREADABLE_FILE and "unsupported" in doc.detail


def test_too_large_file_is_quarantined_unread(tmp_path: Path):
    (tmp_path / "big.txt").write_text("字" * 100, encoding="utf-8")
    doc = read([tmp_path], InputConfig(max_doc_bytes=50))["big.txt"]
    assert doc.reason is Reason.TOO_LARGE


def test_symlinks_are_not_followed_by_default(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("外部", encoding="utf-8")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "link.txt").symlink_to(outside)
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in")
    assert read([tmp_path / "in"]) == {}


def test_missing_input_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="input not found"):
        discover([tmp_path / "missing"], InputConfig())


def test_duplicate_doc_ids_are_a_user_error(tmp_path: Path):
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.txt").write_text(name, encoding="utf-8")
    with pytest.raises(UserError, match="duplicate doc_id 'same.txt'"):
        read_documents([tmp_path / "x", tmp_path / "y"], Config())
