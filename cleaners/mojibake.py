"""Mojibake repair: ftfy, run only on the lines a cheap check flags (ftfy costs ~2 MB/s).

Chinese text that went through UTF-8 → Windows-1252 shows a UTF-8 lead byte read as a Latin letter
(à…ï for the three-byte CJK range) followed by a continuation byte read as Latin-1 or cp1252 punctuation:
"å\\x8d\\x8eæ³°" for "华泰". A line without such a pair has nothing ftfy could undo, so only flagged lines,
and only those ftfy's own badness test agrees on, are repaired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal

import ftfy
import ftfy.bad_codecs  # noqa: F401  registers the "sloppy-windows-1252" codec used below
from ftfy.badness import is_bad

from cleaners.base import CharacterClass, CleanResult, Edit, rewrite

_CONTINUATION = ("\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
                 "\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122")
_MOJIBAKE_HINT = re.compile(f"[\u00c2-\u00f4][{_CONTINUATION}]")
_LEAD = CharacterClass("[\u00c2-\u00f4]")
_LINE = re.compile(r"[^\n]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_FTFY_CONFIG = ftfy.TextFixerConfig(
    uncurl_quotes=False,  # “” are the Chinese quotation marks, not damage
    fix_character_width=False,  # width folding is WidthFold's job and configurable
    fix_latin_ligatures=False,
    normalization=None,
    explain=False,
)


@dataclass(frozen=True, slots=True)
class MojibakeRepair:
    """`mode="auto"` repairs the flagged lines; `"always"` runs ftfy on every line.

    >>> MojibakeRepair()("华泰研究\\nå\\x8d\\x8eæ³°ç\\xa0\\x94ç©¶").text
    '华泰研究\\n华泰研究'
    """

    mode: Literal["auto", "always"] = "auto"
    name: str = "ftfy_v1"
    rewrites: ClassVar[bool] = True

    def __call__(self, text: str) -> CleanResult:
        if self.mode == "auto" and not (_LEAD.search(text) and _MOJIBAKE_HINT.search(text)):
            return CleanResult(text)
        edits: list[Edit] = []
        for line in _LINE.finditer(text):
            if self.mode == "always" or (_MOJIBAKE_HINT.search(line.group()) and is_bad(line.group())):
                edits += _repair(line.group(), line.start())
        if not edits:
            return CleanResult(text)
        pieces, position = [], 0
        for edit in edits:
            pieces += (text[position:edit.start], edit.replacement)
            position = edit.end
        pieces.append(text[position:])
        return CleanResult("".join(pieces), tuple(edits))


def _repair(line: str, offset: int) -> list[Edit]:
    """Edits that repair one line found at `offset`. A line that is all mojibake decodes back in one step, and
    each repaired character replaces exactly the characters of its own UTF-8 bytes; anything else goes through
    ftfy."""
    try:
        repaired = line.encode("sloppy-windows-1252").decode("utf-8")
    except UnicodeError:
        return [Edit(edit.start + offset, edit.end + offset, edit.replacement)
                for edit in rewrite(line, ftfy.fix_text(line, _FTFY_CONFIG)).edits]
    # Each input character is one byte; a repaired run of non-ASCII characters replaces its UTF-8 bytes.
    edits: list[Edit] = []
    shift = offset
    for run in _NON_ASCII.finditer(repaired):
        characters = run.group()
        start = run.start() + shift
        width = len(characters.encode("utf-8"))
        edits.append(Edit(start, start + width, characters))
        shift += width - len(characters)
    return edits
