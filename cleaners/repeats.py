"""Lines repeated many times inside one document: image placeholders, running headers, a post title
pasted where every figure was. The first occurrence stays (it is usually the real title); the rest go.

Lines that repeat for a reason, such as figure sources ("资料来源: CSDN、华泰研究"), are kept by the
`keep_repeated` patterns of the rule files.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from cleaners.base import CleanResult, removals



@dataclass(frozen=True)
class RepeatedLines:
    """Remove the 2nd and later copies of a short line that occurs at least `min_repeats` times.

    >>> text = "标题\\n正文一\\n标题\\n正文二\\n标题\\n"
    >>> RepeatedLines(min_repeats=3)(text).text
    '标题\\n正文一\\n正文二\\n'
    """

    min_repeats: int = 4
    max_line_chars: int = 200
    keep: tuple[re.Pattern[str], ...] = ()
    name: str = "repeated_lines_v1"

    def __call__(self, text: str) -> CleanResult:
        lines = text.split("\n")
        repeated = {key for key, count in Counter(map(str.strip, lines)).items()
                    if count >= self.min_repeats and key and len(key) <= self.max_line_chars and not self._kept(key)}
        if not repeated:
            return CleanResult(text)
        seen: set[str] = set()
        spans: list[tuple[int, int]] = []
        start = 0
        for line in lines:
            key = line.strip()
            if key in repeated:
                if key in seen:
                    spans.append((start, min(start + len(line) + 1, len(text))))
                seen.add(key)
            start += len(line) + 1
        return removals(text, spans)

    def _kept(self, line: str) -> bool:
        return any(pattern.search(line) for pattern in self.keep)

