"""Each rule family on small, hand-made texts and on the seeds; properties and goldens live beside this."""

import doctest
import importlib
import re

import polars as pl
import pytest

from cleaners import build_chain, clean_batch
from cleaners.chrome import ChromeRule, ChromeRules
from cleaners.repeats import RepeatedLines
from cleaners.templates import count_lines, document_lines, line_tally
from cleaners.rewrites import EmojiRewrites
from cleaners.mojibake import MojibakeRepair
from cleaners.unicode import ChineseConversion, InvisibleCharacters, WidthFold
from cleaners.whitespace import BlankLines
from fincorpus.config import CleaningConfig, Config, load_config
from fincorpus.errors import UserError
from fincorpus.pipeline import build

from conftest import SEED_000, SEED_003, SEED_004, seed_text

SEED_CHAIN = build_chain(CleaningConfig())


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


def test_windowed_rules_only_match_in_the_header_or_footer():
    body = "\n".join(f"第{number}段正文。" for number in range(30))
    header = "标题\n2023-12-18\n2页\n"
    cleaned = SEED_CHAIN(header + body + "\n2023-12-18\n2页\n请拨打服务热线咨询。\n" + body).text
    assert cleaned.count("2023-12-18") == 1 and cleaned.count("2页") == 1  # the body's copies stay
    assert "服务热线" in cleaned  # a footer phrase in the middle never cuts the rest off
    footer = SEED_CHAIN(body + "\n联系客服\n服务热线\n4000832158\n").text
    assert footer.endswith("第29段正文。\n")


def test_a_single_emoji_in_a_real_sentence_keeps_it():
    sentence = "公司四季度营收同比增长35%,超出市场预期🚀,我们维持买入评级并上调目标价。"
    assert EmojiRewrites()(f"标题\n{sentence}\n正文继续。\n").text == f"标题\n{sentence}\n正文继续。\n"


def test_an_emoji_rewrite_goes_with_its_quiet_paragraphs_and_keeps_the_headings():
    text = ("背景:公司概况\n🌟【公司历程】🚀成立于2015年💡注资十亿🔥\n❶模型层:百度\n原理:技术路线\n"
            "模型迭代不断加速,SEO优化的词汇让它更容易被搜索引擎找到。🚀\n应用:新局面\n"
            "📈商业化潜力巨大!🚀✨\n风险提示:宏观经济波动。\n")
    result = EmojiRewrites(markers=(re.compile("^[❶-❿]"),))(text)
    assert result.text == "背景:公司概况\n原理:技术路线\n应用:新局面\n风险提示:宏观经济波动。\n"
    assert result.rules == ("rewrite_paragraph", "rewrite_neighbour", "rewrite_neighbour", "rewrite_paragraph")


def test_blank_lines_are_squeezed_and_recorded():
    result = BlankLines()("\n\n标题\n\n\n\n正文\n \n正文\n\n")
    assert result.text == "标题\n\n正文\n \n正文\n"
    assert result.rules == ("leading", "blank_run", "trailing")


def test_template_lines_need_many_documents_of_one_site():
    nav, footer = "首页 | 研报 | 登录", "返回顶部"
    texts = [f"{nav}\n报告{number}正文。\n风险提示\n资料来源:公司公告\n{footer}\n" for number in range(20)]
    texts += [f"{nav}\n另一份报告。\n", f"{nav}\n第三份报告。\n"]
    results = clean_batch(texts, ["site.example"] * 20 + ["other.example"] * 2, CleaningConfig())
    # the site's navigation and footer go; a section heading and figure sources (keep_repeated) stay
    assert [result.text for result in results[:20]] == [f"报告{number}正文。\n风险提示\n资料来源:公司公告\n"
                                                        for number in range(20)]
    assert {span.rule for span in results[0].removed} == {"template_lines_v1"}
    assert results[20].text == texts[20] and results[21].text == texts[21]  # two documents of a site: no template


def test_template_lines_are_not_counted_on_small_batches():
    texts = ["导航\n正文一\n", "导航\n正文二\n", "导航\n正文三\n"]
    assert [result.text for result in clean_batch(texts, [""] * 3, CleaningConfig())] == texts
    few = clean_batch(texts, [""] * 3, CleaningConfig(template_min_docs=3, template_min_share=1.0))
    assert [result.text for result in few] == ["正文一\n", "正文二\n", "正文三\n"]
    assert few[0].removed[0].text == "导航\n" and few[0].removed[0].start == 0


def test_template_line_counts_take_the_lines_polars_takes():
    """The workers count lines in plain Python; the store's per-document table (`document_lines`) in polars:
    the same lines, whatever whitespace edges them (U+001C-U+001F are whitespace to Python, not to polars)."""
    edges = ["", " ", "\t", "\u3000", "\xa0", "\x1c", "\x1f", "\u2028", "\x85", "\r", "\u200b", "\ufeff"]
    texts = [f"{left}导航{right}\n正文{number}\n{left}{right}\n" + "长" * 60 + "\n导航"
             for number, (left, right) in enumerate((left, right) for left in edges for right in edges)]
    sources = [f"site{number % 3}" for number in range(len(texts))]
    expected = (document_lines(texts, sources, 50).group_by("source", "line").agg(pl.len().cast(pl.Int64).alias("docs"))
                .sort("source", "line"))
    lines, per_source = line_tally(texts, sources, 50)
    assert count_lines(texts, sources, 50).lines.sort("source", "line").equals(expected)
    assert sum(lines.values()) == expected["docs"].sum() and per_source == {"site0": 48, "site1": 48, "site2": 48}


def test_a_bad_rule_file_is_a_one_line_config_error(tmp_path):
    rules = tmp_path / "site.yaml"
    rules.write_text("chrome:\n  - id: broken\n    pattern: '[unclosed'\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"cleaning:\n  rules: [generic, {rules}]\n", encoding="utf-8")
    with pytest.raises(UserError, match="chrome rule 'broken': bad regular expression"):
        load_config(config)
    config.write_text("cleaning:\n  rules: [no_such_rules]\n", encoding="utf-8")
    with pytest.raises(UserError, match="rule file not found"):
        load_config(config)


def test_a_user_rule_file_adds_a_sites_chrome(tmp_path):
    rules = tmp_path / "site.yaml"
    rules.write_text("chrome:\n  - id: my_footer\n    kind: tail\n    last_lines: 3\n    pattern: '^本站声明'\n",
                     encoding="utf-8")
    chain = build_chain(CleaningConfig(rules=("generic", str(rules))))
    result = chain("正文。\n本站声明:转载请注明出处\n版权所有\n")
    assert result.text == "正文。\n"
    assert [span.rule for span in result.removed] == ["chrome_v1:my_footer"]


def test_a_document_of_chrome_only_is_dropped_as_empty_after_cleaning(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "chrome.txt").write_text("当前位置:首页/研报/\nAI智能总结\n查看更多\n", encoding="utf-8")
    (inputs / "report.txt").write_text("华泰研究:公司业绩稳健增长,维持增持评级。\n", encoding="utf-8")
    lineage = build([inputs], tmp_path / "out", Config()).tables.lineage
    row = lineage.filter(lineage["doc_id"] == "chrome.txt").row(0, named=True)
    assert (row["status"], row["reason"], row["chars_out"]) == ("dropped", "empty_after_cleaning", 0)


@pytest.mark.parametrize("module", ["base", "chain", "chrome", "patterns", "rewrites", "repeats", "templates", "unicode",
                                    "whitespace"])
def test_docstring_examples_hold(module):
    results = doctest.testmod(importlib.import_module(f"cleaners.{module}"))
    assert results.failed == 0


def test_template_lines_are_counted_per_site_and_a_malformed_url_does_not_stop_cleaning():
    from fincorpus.documents import RawDocument
    from fincorpus.pipeline import clean_texts

    docs = [RawDocument(f"d{number}", "x.jsonl", "0", f"站点导航\n正文{number}\n", metadata={"url": url})
            for number, url in enumerate(["https://a.example/1"] * 20 + ["http://[::1"] * 2)]
    cleaned = {doc.doc_id: result.text for doc, result in clean_texts(docs, Config())}
    assert cleaned["d0"] == "正文0\n" and cleaned["d20"] == "站点导航\n正文20\n"


def test_a_needle_hidden_by_an_overlapping_one_still_finds_its_line():
    rules = ChromeRules([ChromeRule("found", re.compile("发现报告"), "span"),
                         ChromeRule("source", re.compile("报告原文"), "line")])
    assert rules("正文\n请见发现报告原文\n正文\n").text == "正文\n正文\n"  # one scan sees 发现报告, hiding 报告原文


def test_mojibake_is_repaired_line_by_line_and_later_removals_map_to_the_text_as_read():
    broken = "当前位置:首页/研报/".encode("utf-8").decode("latin-1")
    text = f"华泰研究\n{broken}\n正文。\n"
    result = SEED_CHAIN(text)
    assert result.text == "华泰研究\n正文。\n"
    crumb = next(span for span in result.removed if span.rule == "chrome_v1:breadcrumb")
    assert crumb.text == broken + "\n"
    assert result.rewritten["ftfy_v1"] > 0


def test_width_folding_changes_width_not_meaning():
    assert WidthFold()("①②……㎡™ ⾏业 ＡＩ　２０２３").text == "①②……㎡™ 行业 AI 2023"
