"""Cleaning's fast paths give exactly what the plain way gives: every rule on every line of its window, OpenCC
on the whole text. Checked on the benchmark's own corpus and on generated text."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bench_clean import synthesise
from cleaners import CleaningChain, build_chain
from cleaners.base import CharacterClass
from cleaners.chrome import ChromeRule, ChromeRules, _non_blank_lines, chrome_rules, read_rule_files
from cleaners.patterns import stays_within_lines
from cleaners.unicode import ChineseConversion, _converter
from fincorpus.config import CleaningConfig

GENERIC = chrome_rules(read_rule_files(["generic"]))


def plain_chain(config: CleaningConfig) -> CleaningChain:
    """The chain of `config` with every prefilter off."""
    def plain(cleaner):
        if isinstance(cleaner, ChromeRules):
            return ChromeRules(cleaner.rules, cleaner.name, prefilter=False)
        if isinstance(cleaner, ChineseConversion):
            return ChineseConversion(cleaner.profile, prefilter=False)
        return cleaner
    return CleaningChain([plain(cleaner) for cleaner in build_chain(config).cleaners])


@pytest.fixture(scope="module")
def bench_corpus() -> list[str]:
    return synthesise(0.6, seed=3)  # chrome, emoji rewrites, traditional and mojibake documents, the seeds


@pytest.mark.parametrize("config", [CleaningConfig(), CleaningConfig(opencc="tw2s", punctuation="keep")],
                         ids=["default", "tw2s"])
def test_the_fast_chain_cleans_the_benchmark_corpus_exactly_like_the_plain_one(bench_corpus, config):
    fast, plain = build_chain(config), plain_chain(config)
    for text in bench_corpus:
        expected, got = plain(text), fast(text)
        assert (got.text, got.removed, got.rewritten) == (expected.text, expected.removed, expected.rewritten)


def test_the_benchmark_corpus_has_chrome_mojibake_and_traditional_documents(bench_corpus):
    chain = build_chain(CleaningConfig())
    results = [chain(text) for text in bench_corpus]
    assert sum(1 for result in results if "ftfy_v1" in result.rewritten) >= 0.03 * len(bench_corpus)
    assert sum(1 for result in results if result.rewritten.get("opencc_t2s_v1", 0) > 100) >= 0.03 * len(bench_corpus)
    assert sum(1 for result in results if any(span.rule.startswith("chrome_v1") for span in result.removed)) \
        >= 0.3 * len(bench_corpus)


@pytest.mark.parametrize("profile", ["t2s", "tw2s", "hk2s"])
def test_opencc_on_trigger_lines_only_equals_opencc_on_the_whole_text(profile):
    # 滑鼠 → 鼠标 (tw2s) and 回覆 → 回复 change under phrase entries whose characters alone stay.
    text = "华泰证券研究报告\n回覆:用滑鼠点击\n\n打坏了\n乾坤未定,著作权\n華泰證券\n数据来源:万得\n" * 3
    assert ChineseConversion(profile)(text) == ChineseConversion(profile, prefilter=False)(text)
    assert ChineseConversion(profile)(text).text == _converter(profile).convert(text)


@settings(max_examples=150, deadline=None)
@given(st.text(st.sampled_from(list("华泰證券回覆盖滑鼠打坏乾著报告后發么麼沈🚀𠮷\n ,。1")), max_size=60))
def test_opencc_prefilter_never_changes_the_conversion(text):
    # 覆, 么, 坏 and 沈 change only inside longer keys; the prefilter finds a supplementary character by its range.
    for profile in ("t2s", "tw2s"):
        assert ChineseConversion(profile)(text).text == _converter(profile).convert(text)


def test_patterns_that_can_take_in_a_line_break_or_see_past_a_line_are_not_searched_across_lines():
    assert all(stays_within_lines(rule.pattern) for rule in GENERIC if rule.id != "js_disabled_banner")
    for pattern in [r"禁用了\s*JavaScript", r"[^。]+页", r"页\Z", r"(?-m:页$)", r"(?s:.)页", r"页(?=\s)", r"\D页"]:
        assert not stays_within_lines(re.compile(pattern, re.MULTILINE)), pattern


LINES_TEXT = st.lists(st.text(st.sampled_from(list("0123456789 \t页共-年前MBkb.pdf报告\u3000")), max_size=12),
                      max_size=8).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(LINES_TEXT)
def test_one_search_over_whole_lines_finds_a_match_exactly_when_some_line_has_one(text):
    starts = [0, *(match.end() for match in re.finditer("\n", text))]
    for rule in GENERIC:
        if stays_within_lines(rule.pattern):
            in_some_line = any(rule.pattern.search(text, start, len(text) if (end := text.find("\n", start)) < 0
                                                   else end) for start in starts)
            assert bool(rule.pattern.search(text)) == in_some_line, rule.id


def test_a_rule_without_literals_or_window_tries_every_line():
    rules = ChromeRules([ChromeRule("lone_number", re.compile(r"^\d+$", re.MULTILINE), "line")])
    assert rules("正文\n123\n正文\n").text == "正文\n正文\n"
    assert rules("正文\n正文 123\n").text == "正文\n正文 123\n"


def test_cleaning_a_batch_gives_each_document_what_cleaning_it_alone_gives(bench_corpus):
    chain = build_chain(CleaningConfig())
    batch = chain.clean_all(bench_corpus[:60])
    for text, result in zip(bench_corpus[:60], batch):
        alone = chain.clean_all([text])[0]
        assert (result.text, result.removed, result.rewritten) == (alone.text, alone.removed, alone.rewritten)


def _non_blank_line_starts(text: str) -> list[int]:
    starts, position = [], 0
    for line in text.split("\n"):
        if line and not line.isspace():
            starts.append(position)
        position += len(line) + 1
    return starts


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["", " ", "\t", "\u3000", "正文", " 甲 ", "2页"]), max_size=80).map("\n".join),
       st.integers(0, 40))
def test_the_first_and_last_lines_of_a_window_are_its_non_blank_lines(text, count):
    expected = _non_blank_line_starts(text)
    assert _non_blank_lines(text, count, last=False) == expected[:count]
    assert _non_blank_lines(text, count, last=True) == (expected[-count:] if count else [])


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("华泰\u200b\ufeff\u00a0🚀❶\u2300 a\n")) | st.characters(), max_size=40))
def test_a_character_class_finds_what_its_pattern_finds(text):
    for pattern in ["[\u200b\ufeff\u00a0]", "[\u2300-\u2bff\U0001f000-\U0001faff]", "[华]"]:
        found, expected = CharacterClass(pattern).search(text), re.search(pattern, text)
        assert (found and found.span()) == (expected and expected.span())
