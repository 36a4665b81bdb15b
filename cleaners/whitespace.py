"""Blank lines left behind by removed lines, squeezed as ordinary recorded removals.

Removing a chrome line leaves the blank lines that framed it; three or more line breaks with only
whitespace between them become one blank line, and blank lines at the start and end of a document go.
Spaces inside a line are never touched: they may be table alignment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from cleaners.base import CleanResult, labelled_removals

_BLANK_RUN = re.compile(r"\n(?:[ \t\u3000]*\n){2,}")
_LEADING = re.compile(r"\A(?:[ \t\u3000]*\n)+")
_TRAILING = re.compile(r"\n\s*\Z")


@dataclass(frozen=True, slots=True)
class BlankLines:
    """Keep at most one blank line between paragraphs; none before the first or after the last line.

    >>> BlankLines()("\\n\\n标题\\n\\n\\n \\n正文\\n\\n").text
    '标题\\n\\n正文\\n'
    """

    name: str = "blank_lines_v1"
    layout_only: ClassVar[bool] = True
    """Removes blank lines only, which no other rule counts: the chain need not look again after it."""

    def __call__(self, text: str) -> CleanResult:
        if "\n" not in text:
            return CleanResult(text)
        spans = [(match.start() + 1, match.end() - 1, "blank_run") for match in _BLANK_RUN.finditer(text)]
        leading = _LEADING.match(text)
        if leading:
            spans.append((0, leading.end(), "leading"))
        trailing = _TRAILING.search(text)
        if trailing:
            spans.append((trailing.start() + 1, trailing.end(), "trailing"))
        return labelled_removals(text, spans)
