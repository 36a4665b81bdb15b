"""Verification's compiled measures give what their plain definitions give, in any measuring order."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincorpus.config import DedupConfig
from fincorpus.dedup.passes import Shingler
from fincorpus.dedup.shingles import window_hashes
from fincorpus.dedup.engine import round_like_python
from fincorpus.dedup.verify import PairScore, PairScores, Verifier, verify_pairs

PHRASES = ["沪指收于3021点", "成交额8000亿元", "华泰证券研究所", "本报告仅供参考", "同比增长12%", "ＡＩ＋传媒",
           "燃气行业跟踪周报", "欧洲亚洲气价下跌", "\n免责声明\n", "。", "ab", "维持增持评级"]
TEXT = st.lists(st.sampled_from(PHRASES), max_size=14).map("".join)


def _plain(text: str, boilerplate: set[int], config: DedupConfig) -> dict:
    """One document as the definitions read it: windows, which are masked, its shingle sets."""
    codes, legal = Shingler(config).fingerprint(text)
    windows = window_hashes("".join(map(chr, codes.tolist())), config.shingle_size).tolist()
    body_end = len(windows) if legal is None else legal
    masked = [position >= body_end or value in boilerplate for position, value in enumerate(windows)]
    informative = {value for value, is_masked in zip(windows, masked) if not is_masked}
    return {"windows": windows, "masked": masked, "legal": legal, "all": set(windows), "informative": informative,
            "body": set(windows[:body_end]), "mostly": len(informative) < config.min_chars}


def _plain_share(doc: dict, other: dict, on_all: bool, size: int) -> float:
    """Share of `doc`'s characters inside a window whose 5-gram `other` has (informative ones; body ones when
    both are mostly boilerplate), among the characters no masked window covers (or before the legal pages)."""
    windows = doc["windows"]
    width = min(size, max(len(windows), 1))
    chars = range(len(windows) + width - 1)
    wanted = other["body"] if on_all else other["informative"]
    covered = {char for position, value in enumerate(windows) if value in wanted
               for char in range(position, position + width)}
    if not on_all and any(doc["masked"]):
        hidden = {char for position, is_masked in enumerate(doc["masked"]) if is_masked
                  for char in range(position, position + width)}
        counted = [char for char in chars if char not in hidden]
    else:
        counted = [char for char in chars if doc["legal"] is None or char < doc["legal"]]
    if not windows or not wanted or not counted:
        return 0.0
    return sum(char in covered for char in counted) / len(counted)


@settings(max_examples=150, deadline=None)
@given(TEXT, TEXT, st.sets(st.sampled_from(PHRASES[:8]), max_size=3), st.sampled_from([0, 20]))
def test_pair_scores_equal_jaccard_and_character_containment_spelled_out(left, right, common, min_chars):
    config = DedupConfig(min_chars=min_chars)
    boilerplate = {value for phrase in common for value in window_hashes(phrase, config.shingle_size).tolist()}
    verifier = Verifier([left, right], np.array(sorted(boilerplate), dtype=np.uint64), np.empty(0, np.uint64),
                        config)
    score = verifier.score(0, 1)
    one, two = _plain(left, boilerplate, config), _plain(right, boilerplate, config)
    union = one["all"] | two["all"]
    assert score.similarity == (len(one["all"] & two["all"]) / len(union) if union else 0.0)
    on_all = one["mostly"] and two["mostly"]
    assert score.left_in_right == _plain_share(one, two, on_all, config.shingle_size)
    assert score.right_in_left == _plain_share(two, one, on_all, config.shingle_size)
    shorter, longer = sorted((len(one["windows"]), len(two["windows"])))
    assert (score.shorter_chars, score.longer_chars) == (shorter + 4, longer + 4)


@pytest.fixture(scope="module")
def some_texts():
    from bench.synth import generate

    return generate(60, 5)["text"].to_list()


@pytest.mark.parametrize("threads, cache_bytes, block_docs",
                         [(1, 1 << 27, 2048), (1, 1, 4), (2, 40_000, 16), (3, 1 << 27, 2048)])
def test_every_pair_gets_the_score_it_gets_alone_whatever_the_order_threads_and_cache(some_texts, threads,
                                                                                     cache_bytes, block_docs):
    config = DedupConfig()
    rng = np.random.default_rng(7)
    pairs = np.unique(np.sort(rng.integers(0, len(some_texts), size=(300, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    nothing = np.empty(0, dtype=np.uint64)
    alone = [Verifier(some_texts, nothing, nothing, config).score(int(a), int(b)) for a, b in pairs]
    scores = verify_pairs(pairs, Verifier(some_texts, nothing, nothing, config, cache_bytes=cache_bytes), threads,
                          block_docs)
    assert isinstance(scores, PairScores) and list(scores) == alone
    assert [scores[index] for index in range(len(pairs))] == alone


SCORE = st.builds(
    PairScore,
    similarity=st.floats(0, 1), left_in_right=st.sampled_from([0.0, 0.59, 0.6, 0.61, 0.9, 0.95, 1.0]),
    right_in_left=st.sampled_from([0.0, 0.3, 0.6, 0.89, 0.9, 1.0]),
    number_difference=st.one_of(st.none(), st.sampled_from([0.0, 0.3, 0.31, 1.0])),
    length_ratio=st.sampled_from([0.1, 0.79, 0.8, 1.0]), shorter_chars=st.integers(1, 400),
    longer_chars=st.integers(1, 400), figures_differing=st.integers(0, 3),
    inner_edits=st.one_of(st.none(), st.integers(0, 4)), ends_replaced=st.booleans())


@settings(max_examples=100, deadline=None)
@given(st.lists(SCORE, max_size=30), st.sampled_from([DedupConfig(), DedupConfig(title_max_inner_edits=0),
                                                      DedupConfig(short_chars=0, title_chars=0)]))
def test_the_tests_of_many_pairs_at_once_are_each_pairs_test(scores, config):
    codes = PairScores.of(scores).tests(config)
    assert [None if code < 0 else PairScores.TESTS[code] for code in codes] == [s.test(config) for s in scores]


def test_rounding_many_floats_at_once_rounds_each_as_round_does():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(200_000), np.arange(1, 20_001) / 20_000, np.arange(0, 2001) / 1600,
                             [(k + 0.5) / 10_000 for k in range(3000)], [0.14375, 0.83125, 1.0, 0.0, np.nan]])
    rounded = round_like_python(values, 4)
    expected = [round(value, 4) for value in values.tolist()]
    assert all(a == b or (a != a and b != b) for a, b in zip(rounded.tolist(), expected))
    # numpy floats (the similarity column) round as numpy rounds, which is what `round` does with them
    assert np.array_equal(np.round(values, 4), np.array([round(value, 4) for value in values]), equal_nan=True)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=40), st.lists(st.integers(0, 5), max_size=40),
       st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2), st.integers(0, 5)), max_size=4))
def test_compiled_opcodes_are_difflibs_without_junk(left, right, edits):
    """Random sequences and edited copies (an edit: position, replace/insert/delete, value)."""
    from difflib import SequenceMatcher

    from fincorpus.dedup.alignment import TAGS, opcodes

    edited = list(left)
    for position, kind, value in edits:
        position = min(position, len(edited))
        if kind == 1 or position == len(edited):
            edited.insert(position, value)
        elif kind == 0:
            edited[position] = value
        else:
            del edited[position]
    for other in (right, edited):
        expected = SequenceMatcher(None, left, other, autojunk=False).get_opcodes()
        found = opcodes(np.array(left, dtype=np.uint64), np.array(other, dtype=np.uint64)).tolist()
        assert [(TAGS[tag], *rest) for tag, *rest in found] == expected


@pytest.mark.parametrize("threads", [1, 2])
def test_with_room_for_every_document_each_is_shingled_once(some_texts, threads, monkeypatch):
    shingled = []
    real = Verifier._shingle
    monkeypatch.setattr(Verifier, "_shingle", lambda self, row: shingled.append(row) or real(self, row))
    rng = np.random.default_rng(11)
    pairs = np.unique(np.sort(rng.integers(0, len(some_texts), size=(200, 2)), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    nothing = np.empty(0, dtype=np.uint64)
    verify_pairs(pairs, Verifier(some_texts, nothing, nothing, DedupConfig()), threads)
    lanes_per_document = 1 if threads == 1 else 2  # a document with pairs in both lanes is shingled in each
    assert len(set(shingled)) == len(np.unique(pairs))
    assert len(shingled) <= lanes_per_document * len(np.unique(pairs))
    if threads == 1:
        assert len(shingled) == len(np.unique(pairs))
