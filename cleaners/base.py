"""The cleaner contract: text in, text out plus the edits that turn one into the other."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `[start, end)` of the cleaner's input with `replacement`; "" means a removal."""

    start: int
    end: int
    replacement: str = ""

    @property
    def is_removal(self) -> bool:
        return not self.replacement


@dataclass(frozen=True, slots=True)
class CleanResult:
    text: str
    edits: tuple[Edit, ...] = ()
    rules: tuple[str, ...] = ()
    """For a cleaner with several named rules: the rule id behind each edit (same length as `edits`)."""
    changed: int | None = None
    """Characters a rewriter changed, when its edits are coarser than its changes: one same-length edit may
    cover a whole stretch of text in which only some characters changed (see `substitution`)."""


class Cleaner(Protocol):
    name: str
    """Versioned, e.g. "chrome_v1": the value lineage records. Bump it when the output changes."""
    # Optional class attributes: `rewrites = True`, the cleaner changes characters in place and is
    # idempotent, so the chain runs it once; `layout_only = True`, it removes only blank lines, which no other
    # cleaner counts, so its removals never make the chain look again. Every cleaner must be idempotent.

    def __call__(self, text: str) -> CleanResult: ...


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Replay sorted, non-overlapping `edits` on `text`.

    >>> apply_edits("华泰研究 - 发现报告", [Edit(4, 11)])
    '华泰研究'
    """
    pieces: list[str] = []
    position = 0
    for edit in edits:
        pieces.append(text[position:edit.start])
        pieces.append(edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def removals(text: str, spans: Iterable[tuple[int, int]]) -> CleanResult:
    """Remove `spans` (possibly overlapping or unsorted) from `text`."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged:
        return CleanResult(text)
    edits = tuple(Edit(start, end) for start, end in merged)
    return CleanResult(apply_edits(text, edits), edits)


def labelled_removals(text: str, spans: Iterable[tuple[int, int, str]]) -> CleanResult:
    """Remove `(start, end, rule)` spans. Overlapping spans merge into one edit, owned by the earliest (then
    longest) of them; spans that only touch stay separate, so each keeps its own rule.

    >>> labelled_removals("标题 - 站\\n正文", [(2, 6, "suffix"), (6, 7, "newline"), (0, 0, "empty")]).rules
    ('suffix', 'newline')
    """
    merged: list[list] = []
    for start, negative_end, rule in sorted((start, -end, rule) for start, end, rule in spans if end > start):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], -negative_end)
        else:
            merged.append([start, -negative_end, rule])
    if not merged:
        return CleanResult(text)
    edits = tuple(Edit(start, end) for start, end, _ in merged)
    return CleanResult(apply_edits(text, edits), edits, tuple(rule for _, _, rule in merged))


def substitution(before: str, after: str) -> CleanResult:
    """`after` has the length of `before` and differs in some characters: one edit from the first to the last
    changed character, and the count of changed characters. Offsets inside a same-length edit map one to one
    (see `cleaners.chain`), so the coarse edit loses nothing, and it costs no Python work per character.

    >>> substitution("華泰證券", "华泰证券")
    CleanResult(text='华泰证券', edits=(Edit(start=0, end=3, replacement='华泰证'),), rules=(), changed=2)
    """
    changed = np.flatnonzero(code_points(before) != code_points(after))
    if not len(changed):
        return CleanResult(before)
    first, last = int(changed[0]), int(changed[-1]) + 1
    return CleanResult(after, (Edit(first, last, after[first:last]),), changed=len(changed))


def rewrite(before: str, after: str) -> CleanResult:
    """Edits that turn `before` into `after`, for rewriters (ftfy, OpenCC) that do not report their own."""
    if before == after:
        return CleanResult(before)
    if len(before) == len(after):
        return substitution(before, after)
    else:
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        edits = tuple(Edit(i1, i2, after[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")
    return CleanResult(after, edits)


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as uint32 (read-only; lone surrogates kept)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@lru_cache(maxsize=1)
def utf16_units(text: str) -> np.ndarray:
    """The UTF-16 code units of `text` (read-only; a supplementary character is two surrogates). Kept for the
    last text: a cleaner that changes nothing hands the next one the same text, which then costs nothing."""
    return np.frombuffer(text.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)


_BMP = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x10000)))


class CharacterClass:
    """A regular expression of one character class, with a quicker `search` for texts that hold none of its
    characters (most texts, for the classes cleaners look for): one table lookup per character of the text.

    >>> CharacterClass("[\u200b\ufeff]").search("研\u200b究").start(), CharacterClass("[\u200b]").search("研究")
    (1, None)
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.table = np.zeros(0x10000, dtype=bool)
        self.table[[ord(char) for char in self.pattern.findall(_BMP)]] = True
        self.table[0xD800:0xE000] = True  # a supplementary character: the pattern decides

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        if pos == 0 and not self.table.take(utf16_units(text)).any():
            return None
        return self.pattern.search(text, pos)
