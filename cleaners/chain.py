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


class CleaningChain:
    """Run cleaners in order; `name` lists theirs so lineage can say which chain cleaned a document."""

    def __init__(self, cleaners: Sequence[Cleaner]) -> None:
        self.cleaners = tuple(cleaners)
        self.name = "+".join(cleaner.name for cleaner in self.cleaners)

    def __call__(self, text: str) -> ChainResult:
        original = text
        maps: list[_OffsetMap] = []
        result = ChainResult(text)
        for cleaner in self.cleaners:
            step = cleaner(text)
            if not step.edits:
                continue
            for index, edit in enumerate(step.edits):
                if edit.is_removal:
                    start, end = self._to_original(maps, edit.start, edit.end)
                    rule = f"{cleaner.name}:{step.rules[index]}" if step.rules else cleaner.name
                    result.removed.append(RemovedSpan(rule, start, end, original[start:end]))
                else:
                    result.rewritten[cleaner.name] = result.rewritten.get(cleaner.name, 0) + edit.end - edit.start
            maps.append(_OffsetMap(step.edits))
            text = step.text
        result.text = text
        result.removed.sort(key=lambda span: (span.start, span.end, span.rule))
        return result

    @staticmethod
    def _to_original(maps: list[_OffsetMap], start: int, end: int) -> tuple[int, int]:
        for offset_map in reversed(maps):
            start = offset_map.back(start, is_end=False)
            end = offset_map.back(end, is_end=True)
        return start, end

