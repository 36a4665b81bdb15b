"""The cleaner contract and the first rules, on real seed text and on generated text."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cleaners import CleaningChain, Edit, apply_edits, build_chain
from cleaners.chrome import ChromeRule, ChromeRules
from cleaners.repeats import RepeatedLines
from cleaners.unicode import ChineseConversion, InvisibleCharacters, MojibakeRepair, WidthFold
from fincorpus.config import CleaningConfig

from conftest import SEED_000, SEED_003, SEED_004, seed_text

SEED_CHAIN = build_chain(CleaningConfig())
TEXT = st.text(st.sampled_from(list("华泰研究报告，。：:（）() \n\t\u200bＡＢ１２AB12🚀發現報告-當前位置")), max_size=200)
ALL_CLEANERS = [MojibakeRepair("always"), InvisibleCharacters(), WidthFold(), WidthFold(fold_punctuation=False),
                ChineseConversion("t2s"), *SEED_CHAIN.cleaners]


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_every_cleaner_reports_edits_that_replay_to_its_output(text):
    for cleaner in ALL_CLEANERS:
        result = cleaner(text)
        assert apply_edits(text, result.edits) == result.text, cleaner.name
        assert all(a.end <= b.start for a, b in zip(result.edits, result.edits[1:])), cleaner.name


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_chain_spans_are_disjoint_in_bounds_and_quote_the_input(text):
    result = SEED_CHAIN(text)
    for span in result.removed:
        assert 0 <= span.start < span.end <= len(text)
        assert text[span.start:span.end] == span.text
    assert all(a.end <= b.start for a, b in zip(result.removed, result.removed[1:]))


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_cleaning_is_idempotent(text):
    once = SEED_CHAIN(text).text
    assert SEED_CHAIN(once).text == once


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_without_rewriters_kept_text_plus_removed_spans_is_the_input(text):
    chain = CleaningChain(SEED_CHAIN.cleaners[-2:])  # chrome rules and repeated lines: removals only
    result = chain(text)
    rebuilt = apply_edits(text, [Edit(span.start, span.end) for span in result.removed])
    assert rebuilt == result.text


def test_removals_after_a_rewrite_map_back_to_as_read_offsets():
    text = "ＡＩ報告\u200b - 发现报告\n正文"
    result = SEED_CHAIN(text)
    assert result.text == "AI报告\n正文"
    suffix = [span for span in result.removed if span.rule.endswith("aggregator_title_suffix")]
    assert [span.text for span in suffix] == [" - 发现报告"]
    assert text[suffix[0].start:suffix[0].end] == " - 发现报告"


def test_width_folding_keeps_punctuation_when_asked():
    assert WidthFold()("ＡＩ＋传媒，２０２３年").text == "AI+传媒,2023年"
    assert WidthFold(fold_punctuation=False)("ＡＩ＋传媒，２０２３年").text == "AI＋传媒，2023年"


def test_mojibake_repair_runs_only_where_needed():
    broken = "华泰研究".encode("utf-8").decode("latin-1")
    assert MojibakeRepair()(broken).text == "华泰研究"
    clean = seed_text(SEED_004)
    assert MojibakeRepair()(clean).text == clean


def test_traditional_is_converted_to_simplified():
    assert ChineseConversion("t2s")("華泰證券：深度拆解報告").text == "华泰证券：深度拆解报告"


def test_invisible_characters_are_removed_or_made_spaces():
    result = InvisibleCharacters()("研\u200b究\u00a0报\ufeff告")
    assert result.text == "研究 报告"


def test_seed_000_loses_its_aggregator_chrome_only():
    text = seed_text(SEED_000)
    result = SEED_CHAIN(text)
    rules = {span.rule for span in result.removed if not span.rule.startswith("blank_lines")}
    assert rules == {"chrome_v1:js_disabled_banner", "chrome_v1:aggregator_title_suffix", "chrome_v1:breadcrumb",
                     "chrome_v1:header_date_line", "chrome_v1:summary_widget"}
    assert "您的浏览器禁用了JavaScript" not in result.text
    assert "发现报告" not in result.text
    assert "当前位置" not in result.text
    assert result.text.startswith("[上海证券]:传媒行业通用预训练模型技术拆解")
    assert "我们拆解ChatGPT技术模型后认为" in result.text


def test_seed_003_title_repeated_where_images_were_is_kept_once():
    title = "ChatGPT引领革命,国产AI厂商能否迎景气?大模型、算力与创新路径解析"
    text = seed_text(SEED_003)
    assert text.count(title) == 23  # the title once, then 22 times where images were
    assert SEED_CHAIN(text).text.count(title) == 1


def test_seed_004_figure_sources_repeat_and_are_kept():
    text = seed_text(SEED_004)
    result = SEED_CHAIN(text)
    assert {span.rule.split(":")[0] for span in result.removed} == {"blank_lines_v1"}
    assert result.text.count("资料来源: CSDN、华泰研究") == text.count("资料来源: CSDN、华泰研究") == 6


def test_chrome_rule_kinds():
    rules = ChromeRules([ChromeRule("suffix", re.compile(r" - 站$", re.M), "span"),
                         ChromeRule("crumb", re.compile(r"^首页/", re.M), "line"),
                         ChromeRule("footer", re.compile(r"^联系客服", re.M), "tail")])
    result = rules("标题 - 站\n首页/研究/\n正文\n联系客服\n热线\n")
    assert result.text == "标题\n正文\n"
    assert result.rules == ("suffix", "crumb", "footer")


def test_repeated_lines_keep_the_first_copy():
    assert RepeatedLines(min_repeats=3)("标题\n正文一\n标题\n正文二\n标题\n").text == "标题\n正文一\n正文二\n"
    assert RepeatedLines(min_repeats=3)("标题\n正文\n标题\n").text == "标题\n正文\n标题\n"
