"""The dedup engine's compiled, bounded-memory stages give what their plain definitions give."""

import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincorpus.config import DedupConfig
from fincorpus.dedup.boilerplate import ExactCounts, FrequencySketch, boilerplate_cutoff, legal_section_start
from fincorpus.dedup.codepoints import fingerprint_codes
from fincorpus.dedup.engine import boilerplate_of
from fincorpus.dedup.passes import (Shingler, _distinct, compared_rows, scan_hashes, scan_partition,
                                    sign_partition)
from fincorpus.dedup.shingles import figures, fingerprint_text, shingle_hashes, window_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.dedup.verify import figure_counts, hashed_figure_counts, shingle_document
from fincorpus.dedup.boilerplate import HashSet

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, seed_text

TRICKY = list("ＡＢ１２，。：（）　华泰ｶﾞ㍻①ﬁßİΣσς\u0301\u0345\u1161\u11a8\u09be\u09c7가각\u3099か\ufe0f😀\n \t#*>_") + \
    ["免责声明", "分析师声明", "\n免责声明", "\n# 评级说明"]
TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), st.characters(), st.text(max_size=4)), max_size=80).map("".join)
HEADINGS = DedupConfig().legal_headings


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_fingerprint_from_code_points_equals_fingerprint_text_and_finds_the_same_legal_pages(text):
    codes, legal = Shingler(DedupConfig()).fingerprint(text)
    fingerprint = fingerprint_text(text)
    assert codes.tobytes().decode("utf-32-le", "surrogatepass") == fingerprint
    assert legal == legal_section_start(text, fingerprint, HEADINGS)


def test_a_character_nfkc_joins_with_its_neighbour_takes_the_plain_path():
    assert fingerprint_codes("e\u0301") is None and fingerprint_codes("\u1100\u1161") is None
    assert fingerprint_codes("华泰证券：２０２４年ＡＩ")[0].tobytes().decode("utf-32-le") == "华泰证券2024年ai"


def _numpy_windows(fingerprint: str, size: int) -> np.ndarray:
    """The window hash as a plain array computation: polynomial over code points, splitmix64 finaliser."""
    codes = np.array([ord(char) for char in fingerprint], dtype=np.uint64)
    if not len(codes):
        return codes
    width = min(size, len(codes))
    count = len(codes) - width + 1
    with np.errstate(over="ignore"):
        hashes = codes[:count].copy()
        for offset in range(1, width):
            hashes = hashes * np.uint64(0x100000001B3) + codes[offset:offset + count]
        for shift, multiplier in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            hashes = (hashes ^ (hashes >> np.uint64(shift))) * np.uint64(multiplier)
        return hashes ^ (hashes >> np.uint64(31))


@settings(max_examples=100, deadline=None)
@given(TEXT, st.integers(2, 8))
def test_compiled_windows_equal_the_array_definition(text, size):
    shingler = Shingler(DedupConfig(shingle_size=size))
    codes, _ = shingler.fingerprint(text)
    expected = _numpy_windows(fingerprint_text(text), size)
    assert np.array_equal(shingler.windows(codes), expected)
    assert np.array_equal(window_hashes(fingerprint_text(text), size), expected)


def _figures_by_context(text: str, common: set) -> dict[str, Counter]:
    by_context: dict[str, Counter] = {}
    for (context, number), count in figures(fingerprint_text(text)).items():
        if (context, number) not in common:
            by_context.setdefault(context, Counter())[number] += count
    return by_context


FIGURE_TEXT = st.lists(st.sampled_from(["收于", "成交额", "点", "亿元", "增长", "3021", "8000", "12", "5", "１２", "，"]),
                       max_size=40).map("".join)


@settings(max_examples=200, deadline=None)
@given(FIGURE_TEXT, FIGURE_TEXT)
def test_hashed_figure_counts_equal_the_counts_of_figures_spelled_out(left, right):
    config = DedupConfig(min_chars=0)
    shingler, nothing = Shingler(config), HashSet(np.empty(0, dtype=np.uint64))
    hashed = hashed_figure_counts(shingle_document(left, shingler, nothing, nothing, config),
                                  shingle_document(right, shingler, nothing, nothing, config))
    assert hashed == figure_counts(_figures_by_context(left, set()), _figures_by_context(right, set()))


def _exact_boilerplate(texts: list[str], config: DedupConfig) -> set[int]:
    """The definition: shingles in at least `boilerplate_cutoff` of the distinct fingerprints compared."""
    distinct = {fingerprint_text(text) for text in texts}
    compared = [shingle_hashes(fingerprint, config.shingle_size) for fingerprint in distinct
                if len(fingerprint) >= config.min_chars]
    counts = Counter(value for shingles in compared for value in shingles.tolist())
    cutoff = boilerplate_cutoff(len(compared), config)
    return {value for value, count in counts.items() if count >= cutoff}


def _engine_boilerplate(texts: list[str], config: DedupConfig, sketch_bits: int | None = None) -> set[int]:
    doc_ids = [f"d{row:05d}" for row in range(len(texts))]
    scanned = scan_partition(texts, config, len(texts), sketch_bits=sketch_bits)
    _, compared = compared_rows(doc_ids, scanned, config)
    cutoff = boilerplate_cutoff(len(compared), config)
    signed = sign_partition([texts[row] for row in sorted(compared)], scanned.sketch, cutoff, config,
                            Signer(config.num_perm, config.seed))
    return set(boilerplate_of(signed, cutoff)[0].tolist())


@pytest.fixture(scope="module")
def synthetic_texts():
    from bench.synth import generate

    return generate(400, 3)["text"].to_list()


@pytest.mark.parametrize("sketch_bits", [None, 16, 10])
def test_boilerplate_is_the_exact_document_frequency_however_narrow_the_sketch(synthetic_texts, sketch_bits):
    config = DedupConfig()
    expected = _exact_boilerplate(synthetic_texts, config)
    assert len(expected) > 1000  # the generator's shared legal pages and site chrome
    assert _engine_boilerplate(synthetic_texts, config, sketch_bits) == expected


def test_boilerplate_of_the_seeds_is_their_exact_document_frequency():
    texts = [seed_text(name) for name in (SEED_000, SEED_001, SEED_002, SEED_003, SEED_004)]
    config = DedupConfig(boilerplate_min_docs=2)
    expected = _exact_boilerplate(texts, config)
    assert expected  # 003 and 004 share their pages
    assert _engine_boilerplate(texts, config) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=40, unique=True), max_size=12), st.integers(1, 4))
def test_sketch_never_counts_below_and_exact_counts_add_up_across_partitions(documents, cut):
    truth = Counter(value for document in documents for value in document)
    sketch, first, second = FrequencySketch(1, bits=4), ExactCounts(4), ExactCounts(4)
    for number, document in enumerate(documents):
        array = np.array(document, dtype=np.uint64)
        sketch.add(array)
        (first if number < cut else second).add(array)
    for value, count in truth.items():
        assert sketch.counters[np.uint64(value) >> sketch.shift] >= min(count, 65535)
    merged = first.merge(second)
    for threshold in (1, 2, 3):
        assert merged.at_least(threshold).tolist() == sorted(v for v, c in truth.items() if c >= threshold)


def test_scanning_in_batches_that_hand_back_their_hashes_counts_what_scan_partition_counts(synthetic_texts):
    config, count = DedupConfig(), len(synthetic_texts)
    batches = [synthetic_texts[begin:begin + 64] for begin in range(0, count, 64)]
    expected = FrequencySketch(count)
    scans = [scan_partition(batch, config, count, sketch=expected) for batch in batches]
    sketch, shingler = FrequencySketch(count), Shingler(config)
    for batch, scanned in zip(batches, scans):
        exact, chars, hashes, documents = scan_hashes(batch, config, shingler)
        sketch.add(hashes)
        sketch.documents += documents
        assert np.array_equal(exact, scanned.exact) and np.array_equal(chars, scanned.chars)
    assert sketch.documents == expected.documents > 0
    assert np.array_equal(sketch.counters, expected.counters)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2, 2**63, 2**64 - 1, 12345]) | st.integers(0, 2**64 - 1), max_size=60))
def test_distinct_keeps_first_occurrences_in_order_zero_included(values):
    out = np.empty(len(values), dtype=np.uint64)
    found = _distinct(np.array(values, dtype=np.uint64), np.empty(256, dtype=np.uint64), out)
    assert out[:found].tolist() == list(dict.fromkeys(values))


def test_threads_and_partitions_do_not_change_any_result(synthetic_texts):
    from polars.testing import assert_frame_equal

    from fincorpus.dedup import deduplicate

    doc_ids = [f"d{row:05d}" for row in range(len(synthetic_texts))]
    one = deduplicate(doc_ids, synthetic_texts, DedupConfig(), threads=1)
    three = deduplicate(doc_ids, synthetic_texts, DedupConfig(), threads=3)
    assert one.candidate_pairs > 64 and one.verified_pairs > 0  # several batches and verification chunks
    assert_frame_equal(one.assignments, three.assignments)
    assert_frame_equal(one.pairs, three.pairs)
    assert (one.boilerplate_shingles, one.split_clusters) == (three.boilerplate_shingles, three.split_clusters)



def test_the_warm_up_sample_is_proposed_verified_and_clustered_as_a_build_would():
    """`warm.compile_kernels` calls every kernel a build calls only if its sample reaches verification: the
    report and its revision are one cluster (the revision's figure differs in one place), the other text apart.
    The CLI's compiling process runs it and ends, and `deduplicate` waits for that process before its own work."""
    from fincorpus.dedup import warm

    result = warm.compile_kernels(DedupConfig())
    assert result.candidate_pairs >= 1 and result.verified_pairs == 1
    clusters = dict(zip(result.assignments["doc_id"], result.assignments["cluster_id"]))
    assert clusters["warm-0"] == clusters["warm-1"] != clusters["warm-2"]
    assert any(heading in text for text in warm.sample_texts(DedupConfig()) for heading in DedupConfig().legal_headings)
    process = warm.compile_in_background()
    warm.compile_kernels(DedupConfig())  # `deduplicate` waits for the process first
    assert process.poll() == 0 and warm._background is None


def test_no_interpreter_to_start_means_no_compiling_process_and_nothing_to_wait_for(monkeypatch):
    from fincorpus.dedup import warm

    monkeypatch.setattr(warm.sys, "executable", "/nonexistent/python3")
    assert warm.compile_in_background() is None
    warm.wait_for_kernels()  # returns at once
    assert warm._background is None

