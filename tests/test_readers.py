import json
import os
import tracemalloc
from pathlib import Path

import polars as pl
import pytest

from fincorpus.config import Config, InputConfig
from fincorpus.documents import Reason, Status
from fincorpus.errors import UserError
from fincorpus.io.readers import check_output_outside, discover, read_all
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


def test_symlinks_are_listed_but_not_followed_by_default(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("外部", encoding="utf-8")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "link.txt").symlink_to(outside)
    (tmp_path / "in" / "loop").symlink_to(tmp_path / "in")
    docs = read([tmp_path / "in"])
    assert set(docs) == {"link.txt", "loop"}
    for doc in docs.values():
        assert doc.status is Status.QUARANTINED and doc.reason is Reason.SYMLINK_SKIPPED and doc.text is None
        assert "input.follow_symlinks is off" in doc.detail


def test_followed_symlinks_never_leave_the_tree_or_loop(tmp_path: Path):
    (tmp_path / "outside.txt").write_text("外部机密", encoding="utf-8")
    tree = tmp_path / "in"
    (tree / "reports").mkdir(parents=True)
    (tree / "reports" / "a.txt").write_text("华泰研究", encoding="utf-8")
    (tree / "escape.txt").symlink_to(tmp_path / "outside.txt")
    (tree / "reports" / "loop").symlink_to(tree)
    (tree / "self").symlink_to(tree / "self")
    (tree / "alias.txt").symlink_to(tree / "reports" / "a.txt")
    docs = read([tree], InputConfig(follow_symlinks=True))
    assert set(docs) == {"alias.txt", "escape.txt", "reports/a.txt", "reports/loop", "self"}
    assert docs["alias.txt"].text == "华泰研究"
    assert "out of the input tree" in docs["escape.txt"].detail
    assert "back to a directory already read" in docs["reports/loop"].detail
    assert "broken or loops" in docs["self"].detail
    assert all(doc.text != "外部机密" for doc in docs.values())


def test_a_fifo_is_quarantined_not_read(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would block the run for ever
    doc = read([tmp_path])["pipe.txt"]
    assert doc.reason is Reason.UNREADABLE_FILE and doc.detail == "not a regular file"


def test_a_file_name_that_is_not_utf8_gets_a_printable_doc_id(tmp_path: Path):
    (tmp_path / os.fsdecode(b"\xb2\xe2\xca\xd4.txt")).write_text("华泰研究", encoding="utf-8")  # GBK file name
    assert set(read([tmp_path])) == {"\\xb2\\xe2\\xca\\xd4.txt"}


def test_missing_input_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="input not found"):
        discover([tmp_path / "missing"], InputConfig())


def test_duplicate_doc_ids_are_a_user_error(tmp_path: Path):
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "same.txt").write_text(name, encoding="utf-8")
    with pytest.raises(UserError, match="duplicate doc_id 'same.txt'"):
        read_documents([tmp_path / "x", tmp_path / "y"], Config())


ARTICLE = "华泰证券研究所发布了关于人工智能产业的深度研究报告，认为大模型将带来范式革命，传媒与计算机板块受益。" * 3
ARTICLE_TRADITIONAL = "華泰證券研究所發布了關於人工智慧產業的深度研究報告，認為大模型將帶來範式革命，傳媒與電腦板塊受益。" * 3


@pytest.mark.parametrize(("encoding", "text", "recorded", "guessed"), [
    ("utf-8", ARTICLE, "utf-8", False),
    ("utf-8-sig", ARTICLE, "utf-8-sig", False),
    ("utf-16", ARTICLE, "utf-16", False),  # with its BOM
    ("utf-16-be", ARTICLE, "utf-16", False),
    ("gb18030", ARTICLE, "gb18030", True),
    ("gbk", ARTICLE, "gb18030", True),  # GBK is a subset of GB18030: decoded by the superset
    ("big5", ARTICLE_TRADITIONAL, "big5", True),
])
def test_each_encoding_is_decoded_and_recorded(tmp_path: Path, encoding, text, recorded, guessed):
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    (tmp_path / "doc.txt").write_bytes(data)
    doc = read([tmp_path])["doc.txt"]
    assert doc.text == text and doc.status is None
    assert doc.encoding == recorded
    assert ("guessed with confidence" in doc.detail) is guessed


def test_a_guess_below_the_confidence_floor_is_undecodable(tmp_path: Path):
    (tmp_path / "doc.txt").write_bytes(ARTICLE.encode("gb18030"))
    doc = read([tmp_path], InputConfig(min_encoding_confidence=1.0))["doc.txt"]
    assert doc.status is Status.QUARANTINED and doc.reason is Reason.UNDECODABLE
    assert "confidence >= 100%" in doc.detail


def test_a_half_written_jsonl_quarantines_only_its_broken_lines(tmp_path: Path):
    good = json.dumps({"id": "r1", "text": "一"}, ensure_ascii=False).encode("utf-8")
    cut_in_a_character = json.dumps({"id": "r2", "text": "研究"}, ensure_ascii=False).encode("utf-8")[:-4]
    (tmp_path / "feed.jsonl").write_bytes(b"\xef\xbb\xbf" + good + b"\n" + b"[" * 100_000 + b"\n"
                                          + b'{"id": "r3", "text": "\\ud800x"}\n' + cut_in_a_character)
    docs = read([tmp_path])
    assert set(docs) == {"r1", "feed.jsonl:2", "r3", "feed.jsonl:4"}
    assert docs["r1"].text == "一"  # a UTF-8 BOM on the first line is not an error
    assert docs["feed.jsonl:2"].reason is Reason.MALFORMED_RECORD and "line 2: invalid JSON" in docs["feed.jsonl:2"].detail
    assert "lone surrogate" in docs["r3"].detail and docs["r3"].locator == "feed.jsonl:3"
    assert docs["feed.jsonl:4"].reason is Reason.MALFORMED_RECORD


def test_a_repeated_record_id_is_quarantined_under_its_line(tmp_path: Path):
    lines = [json.dumps({"id": "same", "text": text}, ensure_ascii=False) for text in ("第一", "第二")]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines), encoding="utf-8")
    docs = read([tmp_path])
    assert docs["same"].text == "第一"
    assert docs["feed.jsonl:2"].reason is Reason.DUPLICATE_ID and "'same'" in docs["feed.jsonl:2"].detail


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_a_jsonl_without_records_is_one_dropped_row(tmp_path: Path, content):
    (tmp_path / "none.jsonl").write_bytes(content)
    doc = read([tmp_path])["none.jsonl"]
    assert doc.status is Status.DROPPED and doc.reason is Reason.EMPTY_INPUT and doc.detail == "no records in the file"


def test_a_huge_jsonl_line_is_quarantined_without_holding_it(tmp_path: Path):
    line = json.dumps({"id": "big", "text": "字" * 4_000_000}, ensure_ascii=False).encode("utf-8")  # 12 MB
    (tmp_path / "feed.jsonl").write_bytes(line + b"\n" + json.dumps({"id": "ok", "text": "小"}).encode() + b"\n")
    config = InputConfig(max_doc_bytes=1_000_000)
    tracemalloc.start()
    try:
        docs = read([tmp_path], config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert docs["feed.jsonl:1"].reason is Reason.TOO_LARGE and docs["feed.jsonl:1"].input_hash
    assert docs["ok"].text == "小"
    assert peak < len(line) // 2  # the line is never held whole


def test_a_200_mb_text_file_is_quarantined_by_size_in_bounded_memory(tmp_path: Path):
    with open(tmp_path / "huge.txt", "wb") as stream:  # sparse: 200 MB on paper, nothing on disk
        stream.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    try:
        doc = read([tmp_path])["huge.txt"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert doc.reason is Reason.TOO_LARGE and "209715200 bytes > input.max_doc_bytes" in doc.detail
    assert doc.input_hash  # hashed in chunks all the same
    assert peak < 16 * 1024 * 1024


def test_a_parquet_with_a_broken_row_group_keeps_every_other_row(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [f"第{i}条" for i in range(3000)]}), tmp_path / "rows.parquet",
                   row_group_size=1000, compression="none")
    second_group = pq.ParquetFile(tmp_path / "rows.parquet").metadata.row_group(1).column(0).data_page_offset
    data = bytearray((tmp_path / "rows.parquet").read_bytes())
    data[second_group:second_group + 64] = b"\xff" * 64
    (tmp_path / "rows.parquet").write_bytes(bytes(data))
    docs = read([tmp_path])
    assert docs["rows.parquet:999"].text == "第999条" and "rows.parquet:1000" not in docs
    broken = docs["rows.parquet:1000-1999"]
    assert broken.reason is Reason.UNREADABLE_FILE and broken.detail.startswith("rows 1000-1999 unreadable")
    assert docs["rows.parquet:2000"].text == "第2000条" and len(docs) == 2001


def test_a_truncated_parquet_is_one_quarantined_row(tmp_path: Path):
    pl.DataFrame({"text": ["甲", "乙"]}).write_parquet(tmp_path / "full.parquet")
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "full.parquet").write_bytes(data[: len(data) // 2])
    docs = read([tmp_path])
    assert list(docs) == ["full.parquet"] and docs["full.parquet"].reason is Reason.UNREADABLE_FILE


def test_paths_and_urls_in_records_are_data_never_opened(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("机密内容", encoding="utf-8")
    (tmp_path / "in").mkdir()
    record = {"id": "r", "text": str(secret), "url": secret.as_uri(), "title": "../secret.txt", "path": str(secret)}
    (tmp_path / "in" / "feed.jsonl").write_text(json.dumps(record), encoding="utf-8")
    doc = read([tmp_path / "in"])["r"]
    assert doc.text == str(secret) and doc.metadata["url"] == secret.as_uri()


@pytest.mark.parametrize("out", ["in/out", "in", "in/reports/out"])
def test_an_output_directory_inside_the_inputs_is_a_user_error(tmp_path: Path, out):
    (tmp_path / "in" / "reports").mkdir(parents=True)
    with pytest.raises(UserError, match="the next run would read the outputs as input"):
        check_output_outside([tmp_path / "in"], tmp_path / out)


def test_an_output_directory_beside_or_hidden_in_the_inputs_is_fine(tmp_path: Path):
    (tmp_path / "in").mkdir()
    check_output_outside([tmp_path / "in"], tmp_path / "out")
    check_output_outside([tmp_path / "in"], tmp_path / "in" / ".fincorpus-out")  # hidden: never walked
