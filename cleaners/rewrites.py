"""Social-media rewrites of a report ("🌟【ChatGPT引领AI革命,国产厂商蓄势待发】🚀🔥…") removed as whole paragraphs.

A line is a paragraph here: scraped pages rarely keep blank lines between paragraphs, and a block of lines
could be a whole page. Each line is one of:

- *dense*: at least `min_emoji` emoji and at least `min_density` emoji per 100 characters. That is a rewrite
  by itself: report prose does not decorate every other sentence.
- *marked*: one emoji or more, or a list marker of the `rewrite_markers` patterns (❶❷❸, used by the same
  posts). Not enough alone: "业绩超预期🚀" in a real sentence must stay.
- *plain*: anything else.

A rewrite is a run of dense and marked lines, where up to `max_gap` plain lines of at most `gap_chars`
characters (the report's own headings, which the rewrite interleaves) may sit between two of them. In a run
that holds a dense line, every dense and marked line goes and the plain headings stay; a run without one is
left alone. So the rewrite's quieter paragraphs ("…SEO优化的词汇让它更容易被搜索引擎找到。🚀", the ❶…❹ list)
go with it, while a lone emoji anywhere else keeps its sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import emoji

from cleaners.base import CharacterClass, CleanResult, labelled_removals

# Cheap prefilter: a text without any of these has no emoji and no list marker, so nothing is parsed.
_CANDIDATE = CharacterClass("[\u2300-\u2bff\u3030\u303d\u3297\u3299\ufe0f\u20e3\U0001f000-\U0001faff]")
_LINE = re.compile(r"[^\n]*\n?")
DENSE, MARKED, PLAIN = "rewrite_paragraph", "rewrite_neighbour", ""


def count_emoji(line: str) -> int:
    """Pictographic emoji in `line`, counted per code point (a keycap counts once); ©, ® and ™ (emoji by
    Unicode, but ordinary text here) do not count. A lookup per candidate character, not a tokenizer pass.

    >>> count_emoji("🌟【OpenAI历程】🚀成立于2015年。©2023 1️⃣")
    3
    """
    return sum(1 for match in _CANDIDATE.pattern.finditer(line)
               if match.group() == "\u20e3" or emoji.is_emoji(match.group()))


@dataclass(frozen=True)
class EmojiRewrites:
    """Remove the paragraphs of an emoji rewrite; see the module docstring for the rule.

    >>> rewrite = "🌟【大模型】🚀🔥算力先行!💡\\n风险提示\\n记得关注我们!🚀\\n"
    >>> report = "公司发布全年业绩预告,营业收入同比增长三成,主要受益于海外订单放量与产品结构持续优化。\\n"
    >>> EmojiRewrites()(rewrite + report + "业绩超预期🚀,维持买入评级。\\n").text
    '风险提示\\n公司发布全年业绩预告,营业收入同比增长三成,主要受益于海外订单放量与产品结构持续优化。\\n业绩超预期🚀,维持买入评级。\\n'
    """

    min_emoji: int = 3
    min_density: float = 1.0
    markers: tuple[re.Pattern[str], ...] = ()
    """Patterns of list markers that make a line *marked* (the rule files' `rewrite_markers`)."""
    max_gap: int = 1
    gap_chars: int = 30
    name: str = "emoji_rewrite_v1"

    def __call__(self, text: str) -> CleanResult:
        if not _CANDIDATE.search(text):
            return CleanResult(text)
        lines = [(match.start(), match.end(), self._kind(match.group().strip()))
                 for match in _LINE.finditer(text) if match.group().strip()]
        if all(kind != DENSE for _, _, kind in lines):
            return CleanResult(text)
        runs = [run for run in self._runs(lines) if any(kind == DENSE for _, _, kind in run)]
        return labelled_removals(text, (line for run in runs for line in run))

    def _kind(self, line: str) -> str:
        found = count_emoji(line) if _CANDIDATE.pattern.search(line) else 0
        if found >= self.min_emoji and found * 100 >= self.min_density * len(line):
            return DENSE
        if found or any(marker.search(line) for marker in self.markers):
            return MARKED
        return PLAIN

    def _runs(self, lines: list[tuple[int, int, str]]):
        """Runs of dense/marked lines (plain lines dropped), split where the gap of plain lines is too big."""
        run: list[tuple[int, int, str]] = []
        gap = 0
        for start, end, kind in lines:
            if kind != PLAIN:
                run.append((start, end, kind))
                gap = 0
            elif run and gap < self.max_gap and end - start <= self.gap_chars + 1:
                gap += 1
            else:
                if run:
                    yield run
                run, gap = [], 0
        if run:
            yield run
