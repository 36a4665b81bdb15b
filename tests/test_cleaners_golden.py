"""Golden cleaning of the five seeds, reviewed by hand line by line.

`tests/golden/<seed>` is the expected cleaned text under the default config: any change in cleaning shows up
as a diff there. The tests below say the same thing as line sets, so a failure names the line: every chrome and
ad line listed in SEEDS.md is removed, and every other line of the seed (the report) is kept, folded but whole.
Regenerate a golden file only after reviewing its diff: `python3 -m fincorpus clean SEED > tests/golden/SEED`.
"""

from pathlib import Path

import pytest

from cleaners import CleaningChain, build_chain
from cleaners.unicode import ChineseConversion, InvisibleCharacters, WidthFold
from fincorpus.config import CleaningConfig

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, seed_text

GOLDEN = Path(__file__).parent / "golden"
CHAIN = build_chain(CleaningConfig())
FOLD = CleaningChain([InvisibleCharacters(), WidthFold(), ChineseConversion("t2s")])  # what cleaning does to kept text
TITLE_003 = "ChatGPT引领革命,国产AI厂商能否迎景气?大模型、算力与创新路径解析"

# Whole lines (as read, stripped) that cleaning removes, with how many times; a long line by its start.
REMOVED_LINES = {
    SEED_000: {"当前位置:首页/行业研究/报告详情/": 1, "文化传媒2023-03-29上海证券李***": 1, "AI智能总结": 1, "查看更多": 1},
    SEED_001: {},
    SEED_002: {"2023-12-18": 1, "2页": 1, "1MB": 1,
               "(本文仅供参考,不代表我们的任何投资建议。如需使用相关信息,请参阅报告原文。)": 1,
               "【东吴证券】互联网传媒行业深度报告:多模态技术加速,AI商业宏图正启.pdf-第一页": 1,
               "联系烽火研报客服烽火研报客服头像": 1, "• 服务热线": 1, "• 4000832158": 1, "• 客服微信": 1,
               "• 烽火研报客服二维码": 1, "• 客服咨询时间": 1, "• 工作日8:30-18:00": 1},
    SEED_003: {
        # blog header
        "风险与机遇 2年前 (2023) lida": 1, "50 0 0": 1, "文章主题:ChatGPT, AI产业革命, GPT模型, 监督学习": 1,
        "666ChatGPT办公新姿势,助力做AI时代先行者!": 1,
        # the emoji rewrite of the summary: its dense paragraphs, the ❶…❹ list and the one-emoji paragraph
        # inside it; the report headings it interleaves stay (they are the report's own, see 004)
        "🌟【ChatGPT引领AI革命,国产厂商蓄势待发】": 1, "❶模型层:百度": 1, "❷算力层:景嘉微、寒武纪、海光信息": 1,
        "❸应用层:科大讯飞、金山办公、同花顺": 1, "❹工具层:海天瑞声": 1, "🌟【OpenAI历程】": 1,
        "🌟ChatGPT的语言魔术揭秘": 1, "ChatGPT的崛起,AI大模型功不可没!": 1, "🌟ChatGPT引领AI新时代!": 1,
        # the post title where the images were (kept once) and the ads at the end
        TITLE_003: 22, "加入知识星球": 1, "即时获取各大券商非公开调研纪要": 1,
        "AI时代,掌握AI大模型第一手资讯!AI时代不落人后!": 1, "免费ChatGPT问答,办公、写作、生活好得力助手!": 1,
        "扫码右边公众号,驾驭AI生产力!": 1, "相关文章": 1,
    },
    SEED_004: {},
}
# Parts of lines that cleaning removes while the rest of the line stays.
REMOVED_PARTS = {
    SEED_000: ["您的浏览器禁用了JavaScript(一种计算机语言,用以实现您与网页的交互),请解除该禁用,或者联系我们。",
               " - 发现报告"],
    SEED_002: [".pdf"],
}
SEEDS = [SEED_000, SEED_001, SEED_002, SEED_003, SEED_004]


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, stripped line) of each non-blank line."""
    found, start = [], 0
    for line in text.split("\n"):
        if line.strip():
            found.append((start, start + len(line), line.strip()))
        start += len(line) + 1
    return found


def _removed_and_kept(seed: str):
    text = seed_text(seed)
    result = CHAIN(text)
    removed_chars = set()
    for span in result.removed:
        removed_chars.update(range(span.start, span.end))
    removed, kept = [], []
    for start, end, line in _lines(text):
        gone = [position in removed_chars for position in range(start, end) if not text[position].isspace()]
        (removed if all(gone) else kept).append(line)
    return text, result, removed, kept


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_cleans_to_its_reviewed_golden_text(seed):
    assert CHAIN(seed_text(seed)).text == (GOLDEN / seed).read_text(encoding="utf-8")


@pytest.mark.parametrize("seed", SEEDS)
def test_exactly_the_chrome_lines_are_removed(seed):
    _, _, removed, _ = _removed_and_kept(seed)
    expected = REMOVED_LINES[seed]
    counted: dict[str, int] = {}
    for line in removed:
        key = next((prefix for prefix in expected if line.startswith(prefix)), line)
        counted[key] = counted.get(key, 0) + 1
    assert counted == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_every_other_line_is_kept_whole(seed):
    _, result, _, kept = _removed_and_kept(seed)
    parts = [FOLD(part).text.strip() for part in REMOVED_PARTS.get(seed, [])]
    cleaned_lines = {line.strip() for line in result.text.split("\n")}
    for line in kept:
        folded = FOLD(line).text.strip()
        for part in parts:
            folded = folded.replace(part, "").strip()
        assert folded in cleaned_lines, line


@pytest.mark.parametrize("seed", SEEDS)
def test_partly_removed_lines_lose_only_their_chrome(seed):
    text, result, _, _ = _removed_and_kept(seed)
    partial = [span.text for span in result.removed if span.text.strip()
               and not (text[span.start - 1:span.start] in ("", "\n")
                        and (span.end == len(text) or text[span.end - 1] == "\n"))]
    assert sorted(partial) == sorted(REMOVED_PARTS.get(seed, []))


def test_legal_pages_figure_captions_and_sources_stay():
    report_001 = CHAIN(seed_text(SEED_001)).text
    for heading in ("### 分析师声明", "### 免责声明", "### 投资评级体系与评级定义", "市场有风险,投资需谨慎"):
        assert heading in report_001
    report_004 = CHAIN(seed_text(SEED_004)).text
    assert report_004.count("资料来源") == seed_text(SEED_004).count("资料来源") == 19
    assert all(f"图表{number}:" in report_004 for number in range(1, 19))
    for heading in ("免责声明", "分析师声明", "一般声明及披露", "评级说明", "法律实体披露", "©版权所有2023年华泰证券股份有限公司"):
        assert heading in report_004


def test_report_headings_inside_the_emoji_rewrite_stay():
    cleaned = CHAIN(seed_text(SEED_003)).text
    for heading in ("ChatGPT引发范式革命,AI产业发展前景可期", "原理:AI大模型里程碑式的胜利",
                    "应用:打开AIGC应用新局面", "风险提示:宏观经济波动;下游需求不及预期。"):
        assert heading in cleaned
    assert cleaned.count(TITLE_003) == 1 and "🚀" not in cleaned and "❶" not in cleaned
