"""Invariants of cleaning, on generated text: edits replay, spans account for every character, and cleaning
a cleaned text changes nothing."""

from hypothesis import given, settings
from hypothesis import strategies as st

from cleaners import CleaningChain, Edit, apply_edits, build_chain, clean_batch
from cleaners.rewrites import EmojiRewrites
from cleaners.templates import TemplateLines
from cleaners.mojibake import MojibakeRepair
from cleaners.unicode import ChineseConversion, InvisibleCharacters, WidthFold
from cleaners.whitespace import BlankLines
from fincorpus.config import CleaningConfig

DEFAULT = CleaningConfig()
CHAIN = build_chain(DEFAULT)
REMOVALS_ONLY = CleaningConfig(ftfy="never", fold_width=False, opencc=None, template_min_docs=2)
REMOVAL_CHAIN = CleaningChain([cleaner for cleaner in build_chain(REMOVALS_ONLY).cleaners
                               if not getattr(cleaner, "rewrites", False)])

CHARACTERS = st.text(st.sampled_from(list("华泰研究报告，。：:（）() \n\t\u200bＡＢ１２AB12🚀❶發現報告-當前位置")), max_size=200)
# Whole lines: report prose, headings, chrome of every family, emoji rewrites, blank and repeated lines.
LINE = st.sampled_from([
    "华泰研究", "风险提示", "背景:发源于OpenAI,成名于生成式语言",
    "我们认为,ChatGPT的成功离不开AI大模型的加持,强大的算法训练模型使得ChatGPT在迭代中获得表达能力。",
    "业绩超预期🚀,维持买入评级。", "资料来源: CSDN、华泰研究", "图表1: OpenAI 产品", "",  " ", "\u3000",
    "您的浏览器禁用了JavaScript(一种计算机语言),请解除该禁用,或者联系我们。标题 - 发现报告",
    "当前位置:首页/行业研究/", "AI智能总结", "查看更多", "2页", "1MB", "2023-12-18", "报告.pdf",
    "联系烽火研报客服", "  • 服务热线", "工作日8:30-18:00", "风险与机遇 2年前 (2023) lida", "50 0 0",
    "文章主题:ChatGPT", "加入知识星球", "扫码右边公众号,驾驭AI生产力!", "相关文章", "京ICP备12345678号",
    "🌟【ChatGPT引领AI革命】🚀🔥国产厂商蓄势待发💡", "❶模型层:百度", "记得关注我们!🚀",
    "ＡＩ＋传媒，２０２３年", "華泰證券研究報告", "研\u200b究\u00a0报告",
])
LINES = st.lists(LINE, max_size=40).map("\n".join)
TEXT = st.one_of(CHARACTERS, LINES)
ALL_CLEANERS = [MojibakeRepair("always"), InvisibleCharacters(), WidthFold(), WidthFold(fold_punctuation=False),
                ChineseConversion("t2s"), EmojiRewrites(), BlankLines(), TemplateLines(frozenset({"风险提示"})),
                *CHAIN.cleaners]


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_every_cleaner_reports_sorted_disjoint_edits_that_replay_to_its_output(text):
    for cleaner in ALL_CLEANERS:
        result = cleaner(text)
        assert apply_edits(text, result.edits) == result.text, cleaner.name
        assert all(a.end <= b.start for a, b in zip(result.edits, result.edits[1:])), cleaner.name
        assert not result.rules or len(result.rules) == len(result.edits), cleaner.name


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_removed_spans_never_overlap_never_exceed_the_text_and_quote_it(text):
    result = CHAIN(text)
    for span in result.removed:
        assert 0 <= span.start < span.end <= len(text)
        assert text[span.start:span.end] == span.text
    assert all(a.end <= b.start for a, b in zip(result.removed, result.removed[1:]))


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_cleaning_a_cleaned_text_changes_nothing(text):
    once = CHAIN(text).text
    again = CHAIN(once)
    assert again.text == once
    assert again.removed == []


@settings(max_examples=80, deadline=None)
@given(TEXT)
def test_kept_text_plus_removed_spans_is_every_character_of_the_input(text):
    result = REMOVAL_CHAIN(text)
    assert apply_edits(text, [Edit(span.start, span.end) for span in result.removed]) == result.text
    assert len(result.text) + sum(span.end - span.start for span in result.removed) == len(text)


@settings(max_examples=40, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=6))
def test_batch_template_lines_keep_the_accounting_exact(texts):
    # The only rewriter left (invisible characters: NBSP → space) keeps lengths, so lengths still add up.
    for text, result in zip(texts, clean_batch(texts, [""] * len(texts), REMOVALS_ONLY)):
        assert all(text[span.start:span.end] == span.text for span in result.removed)
        assert all(a.end <= b.start for a, b in zip(result.removed, result.removed[1:]))
        assert len(result.text) + sum(span.end - span.start for span in result.removed) == len(text)


def _every_line_every_rule(rules, text: str) -> str:
    """The chrome rules the slow, obvious way: every rule on every line of its window, to a fixpoint. The
    oracle for ChromeRules, which only looks at candidate lines."""
    while True:
        lines, start = [], 0
        for piece in text.split("\n"):
            lines.append((start, start + len(piece)))
            start += len(piece) + 1
        filled = [line for line in lines if text[line[0]:line[1]].strip()]
        spans = []
        for rule in rules:
            window = filled[:rule.first_lines] if rule.first_lines else filled[-rule.last_lines:] if rule.last_lines else lines
            for start, end in window:
                for match in rule.pattern.finditer(text, start, end):
                    if rule.kind == "tail":
                        spans.append((start, len(text)))
                    elif rule.kind == "line":
                        spans.append((start, min(end + 1, len(text))))
                    elif match.end() > match.start():
                        spans.append(match.span())
        cleaned = apply_edits(text, [Edit(start, end) for start, end in _merged(spans)])
        if cleaned == text:
            return text
        text = cleaned


def _merged(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


@settings(max_examples=150, deadline=None)
@given(LINES)
def test_chrome_on_candidate_lines_removes_what_every_rule_on_every_line_would(text):
    chrome = next(cleaner for cleaner in CHAIN.cleaners if cleaner.name.startswith("chrome"))
    assert chrome(text).text == _every_line_every_rule(chrome.rules, text)


@settings(max_examples=150, deadline=None)
@given(LINES.map(lambda text: text.replace("报告", "风险提示\n")), st.booleans())
def test_template_lines_remove_each_line_whose_stripped_text_is_a_template_with_its_newline(text, newline_at_end):
    text += "\n" if newline_at_end else ""
    lines = frozenset({"风险提示", "查看更多", "2页"})
    pieces = text.split("\n")
    with_newlines = [piece + "\n" for piece in pieces[:-1]] + [pieces[-1]]
    expected = "".join(line for line in with_newlines if line.strip() not in lines)
    result = TemplateLines(lines)(text)
    assert result.text == expected and apply_edits(text, result.edits) == expected
