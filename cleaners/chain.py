"""Compose cleaners and map every removal back to offsets in the text as read.

Each cleaner reports edits in offsets of *its own* input. The chain keeps, per step, the edits' input and
output coordinates, so a removal made by the fifth cleaner can be walked back through the four before it
to the as-read text. Rewrites (ftfy, width folding, OpenCC) are counted per rule, not listed as spans.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from itertools import accumulate
from collections.abc import Sequence
from dataclasses import dataclass, field

from cleaners.base import Cleaner, Edit


class _OffsetMap:
    """Maps offsets in a cleaner's output back to its input, from that cleaner's sorted edits."""

    __slots__ = ("_out_starts", "_out_ends", "_in_starts", "_in_ends")

    def __init__(self, edits: Sequence[Edit]) -> None:
        self._in_starts = [edit.start for edit in edits]
        self._in_ends = [edit.end for edit in edits]
        lengths = [len(edit.replacement) for edit in edits]
        # Each edit's output starts where its input did, moved by what the edits before it added or removed.
        shifts = accumulate((length - end + start for length, start, end in zip(lengths, self._in_starts, self._in_ends)),
                            initial=0)
        self._out_starts = [start + shift for start, shift in zip(self._in_starts, shifts)]
        self._out_ends = [start + length for start, length in zip(self._out_starts, lengths)]

    def _same_length(self, index: int) -> bool:
        return self._out_ends[index] - self._out_starts[index] == self._in_ends[index] - self._in_starts[index]

    def back(self, position: int, *, is_end: bool) -> int:
        if is_end:
            # A span ending at `position` ends before any edit that starts there.
            index = bisect_left(self._out_starts, position) - 1
            if index < 0:
                return position
            if position < self._out_ends[index]:
                if self._same_length(index):
                    return position - self._out_starts[index] + self._in_starts[index]
                return self._in_ends[index]  # ends inside a replacement: take all of its source
        else:
            # The character at `position` is the first of a replacement starting there, or follows removals.
            index = bisect_right(self._out_starts, position) - 1
            if index < 0:
                return position
            if position < self._out_ends[index]:
                if self._same_length(index):  # characters replaced one for one keep their offsets
                    return position - self._out_starts[index] + self._in_starts[index]
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
    """One per step that moved offsets, to map later removals back (see `CleaningChain.resume`)."""
    taken: list[tuple[int, int]] = field(default_factory=list, repr=False)
    """The removed spans' (start, end), kept sorted, to find what a new removal overlaps."""


MAX_ROUNDS = 4
"""Rounds of the removing cleaners at most; in practice the second round finds nothing."""


class CleaningChain:
    """Run cleaners in order; `name` lists theirs so lineage can say which chain cleaned a document."""

    def __init__(self, cleaners: Sequence[Cleaner]) -> None:
        self.cleaners = tuple(cleaners)
        self.name = "+".join(cleaner.name for cleaner in self.cleaners)

    def __call__(self, text: str) -> ChainResult:
        """Run every cleaner once, then again the removing cleaners that a later one may have given more to do.

        Rules that look at a line's position (a header's first lines, a footer's last lines) or at runs of
        lines see other lines move when something is removed. Each cleaner is idempotent on its own, so one
        needs another look only when a cleaner after it removed text that is not mere layout (`layout_only`:
        blank lines, which no rule counts). Rewriters (`rewrites = True`: ftfy, width folding, OpenCC) run
        once. This makes the chain idempotent: cleaning a cleaned text changes nothing.
        """
        return self.clean_all([text])[0]

    def clean_all(self, texts: Sequence[str]) -> list[ChainResult]:
        """`[self(text) for text in texts]`, one cleaner at a time over all the texts: a cleaner's tables and
        patterns stay in the processor's caches while it goes through the batch, which makes the first round
        about a third faster than taking each text through the whole chain. Further rounds, which few texts
        need, run text by text."""
        results = [ChainResult(text, original=text) for text in texts]
        removed = [[self._step(result, cleaner) for result in results] for cleaner in self.cleaners]
        for index, result in enumerate(results):
            cleaners = list(self.cleaners)
            removed_now = [flags[index] for flags in removed]
            for _ in range(MAX_ROUNDS - 1):
                last = max((position for position, flag in enumerate(removed_now) if flag), default=0)
                stale = [cleaner for cleaner in cleaners[:last] if not getattr(cleaner, "rewrites", False)]
                if not stale:
                    break
                cleaners = [cleaner for cleaner in cleaners[cleaners.index(stale[0]):]
                            if not getattr(cleaner, "rewrites", False)]
                removed_now = self._run(result, cleaners)
            result.removed.sort(key=lambda span: (span.start, span.end, span.rule))
        return results

    @classmethod
    def resume(cls, result: ChainResult, cleaners: Sequence[Cleaner]) -> ChainResult:
        """Run more `cleaners` on a chain's result, still mapping removals to the text as read.

        This is how a cross-document rule, frozen after a first pass over the whole batch, joins in.
        """
        cls._run(result, cleaners)
        result.removed.sort(key=lambda span: (span.start, span.end, span.rule))
        return result

    @classmethod
    def _run(cls, result: ChainResult, cleaners: Sequence[Cleaner]) -> list[bool]:
        """Run `cleaners` once, in order; for each, whether it removed text other than layout."""
        return [cls._step(result, cleaner) for cleaner in cleaners]

    @staticmethod
    def _step(result: ChainResult, cleaner: Cleaner) -> bool:
        """Run one cleaner on `result` (in place); whether it removed text other than layout."""
        step = cleaner(result.text)
        if not step.edits:
            return False
        removed = rewrote = moved = False  # moved: some edit changes the length
        replaced = 0  # characters that replacements (not removals) cover
        for index, edit in enumerate(step.edits):
            if edit.replacement:
                rewrote = True
                replaced += edit.end - edit.start
                moved = moved or len(edit.replacement) != edit.end - edit.start
            else:
                moved = moved or edit.end != edit.start
                removed = not getattr(cleaner, "layout_only", False)
                start, end = _to_original(result.offset_maps, edit.start, edit.end)
                rule = f"{cleaner.name}:{step.rules[index]}" if step.rules else cleaner.name
                # A removal that closes over text an earlier step removed (blank lines around a dropped
                # line) keeps only what is new, so that spans never overlap.
                for piece_start, piece_end in _not_yet_removed(result.taken, start, end):
                    result.removed.append(RemovedSpan(rule, piece_start, piece_end,
                                                      result.original[piece_start:piece_end]))
                    insort(result.taken, (piece_start, piece_end))
        if step.changed is not None or rewrote:
            changed = replaced if step.changed is None else step.changed
            result.rewritten[cleaner.name] = result.rewritten.get(cleaner.name, 0) + changed
        if moved:
            result.offset_maps.append(_OffsetMap(step.edits))  # same-length edits keep every offset
        result.text = step.text
        return removed


def _not_yet_removed(taken: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of `[start, end)` outside the sorted, disjoint spans `taken`."""
    index = max(bisect_right(taken, (start, start)) - 1, 0)
    pieces: list[tuple[int, int]] = []
    while index < len(taken) and taken[index][0] < end:
        taken_start, taken_end = taken[index]
        if taken_end > start:
            if taken_start > start:
                pieces.append((start, taken_start))
            start = max(start, taken_end)
        index += 1
    if start < end:
        pieces.append((start, end))
    return pieces


def _to_original(maps: list[_OffsetMap], start: int, end: int) -> tuple[int, int]:
    for offset_map in reversed(maps):
        start = offset_map.back(start, is_end=False)
        end = offset_map.back(end, is_end=True)
    return start, end
