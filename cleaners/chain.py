"""Compose cleaners and map every removal back to offsets in the text as read.

Each cleaner reports edits in offsets of *its own* input. The chain keeps, per step, the edits' input and
output coordinates, so a removal made by the fifth cleaner can be walked back through the four before it
to the as-read text. Rewrites (ftfy, width folding, OpenCC) are counted per rule, not listed as spans.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from cleaners.base import Cleaner, Edit


class _OffsetMap:
    """Maps offsets in a cleaner's output back to its input, from that cleaner's sorted edits."""

    __slots__ = ("_out_starts", "_out_ends", "_in_starts", "_in_ends")

    def __init__(self, edits: Sequence[Edit]) -> None:
        self._out_starts: list[int] = []
        self._out_ends: list[int] = []
        self._in_starts: list[int] = []
        self._in_ends: list[int] = []
        shift = 0
        for edit in edits:
            out_start = edit.start + shift
            self._out_starts.append(out_start)
            self._out_ends.append(out_start + len(edit.replacement))
            self._in_starts.append(edit.start)
            self._in_ends.append(edit.end)
            shift += len(edit.replacement) - (edit.end - edit.start)

    def back(self, position: int, *, is_end: bool) -> int:
        if is_end:
            # A span ending at `position` ends before any edit that starts there.
            index = bisect_left(self._out_starts, position) - 1
            if index < 0:
                return position
            if position < self._out_ends[index]:
                return self._in_ends[index]  # ends inside a replacement: take all of its source
        else:
            # The character at `position` is the first of a replacement starting there, or follows removals.
            index = bisect_right(self._out_starts, position) - 1
            if index < 0:
                return position
            if position < self._out_ends[index]:
                return self._in_starts[index]
        return position - self._out_ends[index] + self._in_ends[index]


@dataclass(frozen=True, slots=True)
class RemovedSpan:
    rule: str
    start: int
    """Offset in the text as read (after decoding), inclusive."""
    end: int
    """Offset in the text as read, exclusive."""
    text: str


@dataclass(slots=True)
class ChainResult:
    text: str
    removed: list[RemovedSpan] = field(default_factory=list)
    rewritten: dict[str, int] = field(default_factory=dict)
    """Characters changed (not removed) per rewriting rule."""
    original: str = ""
    """The text as read, which `removed` quotes."""
    offset_maps: list[_OffsetMap] = field(default_factory=list, repr=False)
    """One per step that changed the text, to map later removals back (see `CleaningChain.resume`)."""


MAX_ROUNDS = 4
"""Rounds of the removing cleaners at most; in practice the second round finds nothing."""


class CleaningChain:
    """Run cleaners in order; `name` lists theirs so lineage can say which chain cleaned a document."""

    def __init__(self, cleaners: Sequence[Cleaner]) -> None:
        self.cleaners = tuple(cleaners)
        self.name = "+".join(cleaner.name for cleaner in self.cleaners)

    def __call__(self, text: str) -> ChainResult:
        """Run every cleaner once, then the removing ones again until a round removes nothing.

        Rules that look at a line's position (a header's first lines, a footer's last lines) see other lines
        move when something is removed; repeating makes cleaning idempotent. Rewriters (`rewrites = True`:
        ftfy, width folding, OpenCC) are idempotent already and run once.
        """
        result = self.resume(ChainResult(text, original=text), self.cleaners)
        removers = [cleaner for cleaner in self.cleaners if not getattr(cleaner, "rewrites", False)]
        previous = text
        for _ in range(MAX_ROUNDS - 1):
            if result.text == previous:
                break
            previous = result.text
            self.resume(result, removers)
        return result

    @staticmethod
    def resume(result: ChainResult, cleaners: Sequence[Cleaner]) -> ChainResult:
        """Run more `cleaners` on a chain's result, still mapping removals to the text as read.

        This is how a cross-document rule, frozen after a first pass over the whole batch, joins in.
        """
        text = result.text
        for cleaner in cleaners:
            step = cleaner(text)
            if not step.edits:
                continue
            for index, edit in enumerate(step.edits):
                if edit.is_removal:
                    start, end = _to_original(result.offset_maps, edit.start, edit.end)
                    rule = f"{cleaner.name}:{step.rules[index]}" if step.rules else cleaner.name
                    # A removal that closes over text an earlier step removed (blank lines around a dropped
                    # line) keeps only what is new, so that spans never overlap.
                    for piece_start, piece_end in _not_yet_removed(result.removed, start, end):
                        result.removed.append(RemovedSpan(rule, piece_start, piece_end,
                                                          result.original[piece_start:piece_end]))
                else:
                    result.rewritten[cleaner.name] = result.rewritten.get(cleaner.name, 0) + edit.end - edit.start
            result.offset_maps.append(_OffsetMap(step.edits))
            text = step.text
        result.text = text
        result.removed.sort(key=lambda span: (span.start, span.end, span.rule))
        return result


def _not_yet_removed(removed: list[RemovedSpan], start: int, end: int) -> list[tuple[int, int]]:
    inside = sorted((span.start, span.end) for span in removed if span.start < end and span.end > start)
    pieces: list[tuple[int, int]] = []
    for taken_start, taken_end in inside:
        if taken_start > start:
            pieces.append((start, taken_start))
        start = max(start, taken_end)
    if start < end:
        pieces.append((start, end))
    return pieces


def _to_original(maps: list[_OffsetMap], start: int, end: int) -> tuple[int, int]:
    for offset_map in reversed(maps):
        start = offset_map.back(start, is_end=False)
        end = offset_map.back(end, is_end=True)
    return start, end
