"""Side-by-side diff of a duplicate against its canonical, shared text elided to its context.

Alignment is rapidfuzz's Indel (LCS) opcodes, computed in C++ in bit-parallel time, so two 20k-character
reports align in milliseconds; google-diff-match-patch's semantic cleanup then merges the scattered
one-character matches that LCS finds between different texts (的, 。, digits) into readable changes.
Both are deterministic: no time budget, so a re-run renders the same page.
"""

from __future__ import annotations

from dataclasses import dataclass

from diff_match_patch import diff_match_patch
from rapidfuzz.distance import Indel

SHARED_CONTEXT = 80
"""Characters of a long shared run shown on each side of its elision."""
SHORT_SHARED = 12
"""A shared run shorter than this between two changes stays inside the change row (greyed), so a reworded
sentence reads as one row rather than a ladder of one-word rows."""

_DELETE, _EQUAL, _INSERT = -1, 0, 1

Piece = tuple[str, bool]
"""(text, shared): one run of a diff cell."""


@dataclass(frozen=True, slots=True)
class DiffRow:
    kind: str
    """`shared` (both sides), `changed` (text on one or both sides only), `space` (a change of whitespace only)
    or `gap` (a run of `elided` shared characters not shown)."""
    member: tuple[Piece, ...] = ()
    canonical: tuple[Piece, ...] = ()
    elided: int = 0

    @property
    def member_text(self) -> str:
        return "".join(text for text, _ in self.member)

    @property
    def canonical_text(self) -> str:
        return "".join(text for text, _ in self.canonical)


@dataclass(frozen=True, slots=True)
class SideBySide:
    rows: list[DiffRow]
    shared_chars: int
    member_only_chars: int
    canonical_only_chars: int
    truncated: bool
    """Either text was longer than the diff's limit and cut to it before aligning."""


def _segments(member: str, canonical: str) -> list[tuple[int, str]]:
    diffs: list[tuple[int, str]] = []
    for op in Indel.opcodes(member, canonical):
        if op.tag == "equal":
            diffs.append((_EQUAL, member[op.src_start:op.src_end]))
            continue
        if op.src_end > op.src_start:
            diffs.append((_DELETE, member[op.src_start:op.src_end]))
        if op.dest_end > op.dest_start:
            diffs.append((_INSERT, canonical[op.dest_start:op.dest_end]))
    diff_match_patch().diff_cleanupSemantic(diffs)
    return diffs


def _shared_rows(text: str, context: int) -> list[DiffRow]:
    if len(text) <= 2 * context + context // 2:
        return [DiffRow("shared", ((text, True),), ((text, True),))]
    head, tail = text[:context], text[-context:]
    return [DiffRow("shared", ((head, True),), ((head, True),)), DiffRow("gap", elided=len(text) - 2 * context),
            DiffRow("shared", ((tail, True),), ((tail, True),))]


class _Rows:
    """Collects rows; a change row stays open across short shared runs until a long one closes it."""

    def __init__(self) -> None:
        self.rows: list[DiffRow] = []
        self.member: list[Piece] = []
        self.canonical: list[Piece] = []

    def change(self, op: int, text: str) -> None:
        (self.member if op == _DELETE else self.canonical).append((text, False))

    def short_shared(self, text: str) -> None:
        self.member.append((text, True))
        self.canonical.append((text, True))

    def close(self) -> None:
        # Shared pieces trailing the last change belong to the next shared row, not to this change.
        trailing = ""
        while self.member and self.member[-1][1] and self.canonical and self.canonical[-1][1]:
            trailing = self.member.pop()[0] + trailing
            self.canonical.pop()
        if self.member or self.canonical:
            changed = [text for text, shared in (*self.member, *self.canonical) if not shared]
            kind = "space" if not "".join(changed).strip() else "changed"
            self.rows.append(DiffRow(kind, tuple(self.member), tuple(self.canonical)))
        self.member, self.canonical = [], []
        if trailing:
            self.rows.append(DiffRow("shared", ((trailing, True),), ((trailing, True),)))


def side_by_side(member: str, canonical: str, max_chars: int, context: int = SHARED_CONTEXT) -> SideBySide:
    """Rows of the member's text against the canonical's, each text cut to `max_chars` first.

    >>> [row.kind for row in side_by_side("上海证券:传媒行业", "上海证券：传媒行业", 100).rows]
    ['shared', 'changed', 'shared']
    """
    truncated = len(member) > max_chars or len(canonical) > max_chars
    rows = _Rows()
    counts = {_DELETE: 0, _EQUAL: 0, _INSERT: 0}
    segments = _segments(member[:max_chars], canonical[:max_chars])
    for index, (op, text) in enumerate(segments):
        counts[op] += len(text)
        if op != _EQUAL:
            rows.change(op, text)
        elif 0 < index < len(segments) - 1 and len(text) < SHORT_SHARED and (rows.member or rows.canonical):
            rows.short_shared(text)
        else:
            rows.close()
            rows.rows.extend(_shared_rows(text, context))
    rows.close()
    return SideBySide(rows.rows, counts[_EQUAL], counts[_DELETE], counts[_INSERT], truncated)
