"""Fuzzing (hypothesis): random bytes and random Unicode through the readers and the cleaning chain never
crash; bad input only ever comes out as a dropped or quarantined document with a reason."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaners import build_chain
from fincorpus.config import CleaningConfig, Config, InputConfig
from fincorpus.documents import RawDocument, Status
from fincorpus.io.decode import decode_bytes
from fincorpus.io.html import html_to_text
from fincorpus.io.readers import InputFile, read_file

SUFFIXES = (".txt", ".md", ".html", ".jsonl", ".parquet")
CHAIN = build_chain(CleaningConfig())
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Bytes that look like what scrapers save: fragments of real encodings, markup, JSON, and junk, in any order.
TEXTS = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.sampled_from(
    ["华泰证券研究所", "華泰證券", "<p>", "</div><script>", '{"text": "', '"}', "\n", "\r\n", "\ufeff", "\x00"])
FRAGMENTS = st.one_of(
    st.binary(max_size=300),
    TEXTS.map(lambda text: text.encode("utf-8")),
    st.tuples(TEXTS, st.sampled_from(["gb18030", "big5", "utf-16", "utf-16-le", "utf-32"])).map(
        lambda pair: pair[0].encode(pair[1], "ignore")),
)
SCRAPED_BYTES = st.lists(FRAGMENTS, max_size=8).map(b"".join)


def assert_accounted(doc: RawDocument) -> None:
    if doc.status is None:
        assert isinstance(doc.text, str) and doc.text.strip()
        doc.text.encode("utf-8")  # every kept text can be written to the output tables
    else:
        assert doc.status in (Status.DROPPED, Status.QUARANTINED) and doc.reason is not None and doc.detail
    doc.doc_id.encode("utf-8")


@FUZZ
@given(SCRAPED_BYTES)
def test_decoding_random_bytes_gives_text_or_a_reason(data):
    decoded = decode_bytes(data)
    assert (decoded.text is None) == (decoded.reason is not None)
    if decoded.text is not None:
        decoded.text.encode("utf-8")


@FUZZ
@given(data=SCRAPED_BYTES, suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_in_any_supported_file_are_read_or_quarantined(data, suffix):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"scraped{suffix}"
        path.write_bytes(data)
        documents = list(read_file(InputFile(path, path.name), InputConfig(max_doc_bytes=1000)))
    assert documents, "every file yields at least one lineage row"
    for doc in documents:
        assert_accounted(doc)
    assert len({doc.doc_id for doc in documents}) == len(documents)


# JSON may escape lone surrogates ("\ud800"), which no UTF-8 table can hold: the reader must refuse them.
JSON_STRINGS = st.text(max_size=50) | st.sampled_from(["\ud800", "研\udfff究", "\ud83d"])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | JSON_STRINGS,
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.sampled_from(["id", "text", "url", "title", "date", "x"]), children,
                                             max_size=5), max_leaves=12)


@FUZZ
@given(st.lists(JSON_VALUES, min_size=1, max_size=6))
def test_any_json_records_are_read_or_quarantined_line_by_line(records):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "feed.jsonl"
        path.write_text("\n".join(json.dumps(record) for record in records), encoding="utf-8")
        documents = list(read_file(InputFile(path, path.name), InputConfig()))
    for doc in documents:
        assert_accounted(doc)


@FUZZ
@given(st.text(max_size=400) | st.lists(TEXTS, max_size=12).map("".join))
def test_html_of_any_text_gives_text(markup):
    assert isinstance(html_to_text(markup), str)


@FUZZ
@given(st.text(max_size=400) | st.lists(TEXTS, max_size=12).map("".join))
def test_the_cleaning_chain_survives_any_text_and_quotes_what_it_removes(text):
    result = CHAIN(text)
    assert isinstance(result.text, str)
    for span in result.removed:
        assert text[span.start:span.end] == span.text


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(SCRAPED_BYTES, st.sampled_from(SUFFIXES)), min_size=1, max_size=5))
def test_a_build_of_random_files_completes_and_accounts_for_every_file(files):
    from fincorpus.pipeline import build

    with tempfile.TemporaryDirectory() as directory:
        inputs = Path(directory) / "in"
        inputs.mkdir()
        for number, (data, suffix) in enumerate(files):
            (inputs / f"f{number}{suffix}").write_bytes(data)
        result = build([inputs], Path(directory) / "out", Config())  # checks the accounting invariant itself
    assert set(result.tables.lineage["source"]) == {f"f{number}{suffix}" for number, (_, suffix) in enumerate(files)}
