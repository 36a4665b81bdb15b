"""Boilerplate: shingles that occur in a large share of the documents do not count towards similarity.

A broker's legal pages (分析师声明, 免责声明, rating definitions) are the same in every one of its reports,
often longer than a short report's body: two different 华泰研究 reports would otherwise look like copies.
Document frequencies are counted over one table of shingle sets (the batch, and for incremental runs the
stored index as well: pass both to `document_frequency` and add the counts).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from collections.abc import Sequence

import numba
import numpy as np

from fincorpus.config import DedupConfig
from fincorpus.dedup.shingles import fingerprint_text


def boilerplate_cutoff(documents: int, config: DedupConfig) -> int:
    """Document count from which a shingle is boilerplate."""
    return max(config.boilerplate_min_docs, math.ceil(config.boilerplate_share * documents))


class FrequencySketch:
    """Upper bounds of document frequencies in fixed memory: one row of 16-bit counters (a count-min sketch
    of depth one) indexed by the top bits of each hash, from 2**16 counters for a handful of documents to
    2**25 (64 MB) from 16,384 documents on. A counter is never below the frequency of any hash it holds,
    so the hashes whose counter reaches the cutoff include every boilerplate hash: they are the candidates
    that `ExactCounts` then counts exactly. Sketches of partitions add up (`merge`)."""

    def __init__(self, expected_documents: int, bits: int | None = None) -> None:
        """`bits` (default: from `expected_documents`) sets the width, 2**bits counters."""
        if bits is None:
            bits = min(25, max(16, math.ceil(math.log2(max(expected_documents, 1) * 2048))))
        self.counters = np.zeros(1 << bits, dtype=np.uint16)
        self.shift = np.uint64(64 - bits)
        self.documents = 0

    def add(self, distinct: np.ndarray) -> None:
        """Count one document's distinct hashes (shingles and figure keys together)."""
        sketch_add(distinct, self.counters, self.shift)

    def merge(self, other: FrequencySketch) -> FrequencySketch:
        if len(other.counters) != len(self.counters):
            raise ValueError("sketches of different widths do not add up: give both the same expected_documents")
        _saturating_add(self.counters, other.counters)
        self.documents += other.documents
        return self


@numba.njit(cache=True, nogil=True)
def _saturating_add(counters, others):  # pragma: no cover - compiled
    for index in range(len(counters)):
        counters[index] = min(np.int64(counters[index]) + np.int64(others[index]), 65535)


@numba.njit(cache=True, nogil=True)
def sketch_add(distinct, counters, shift):  # pragma: no cover - compiled
    """Count each of `distinct` once (saturating). No branch, and no iteration waits on another, so the
    processor overlaps the cache misses of a sketch far larger than its caches."""
    for index in range(len(distinct)):
        where = distinct[index] >> shift
        count = counters[where]
        counters[where] = count + (count < 65535)


class ExactCounts:
    """Exact document frequencies of the candidate hashes: an open-addressing table that grows as needed.
    Holds only what the sketch lets through, so its size follows the boilerplate, not the corpus. A slot
    is a (key, count) row, so that a probe reads one cache line (the table outgrows the L2 cache)."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self.slots = np.zeros((capacity, 2), dtype=np.uint64)
        self.used = 0

    def add(self, distinct: np.ndarray, times: np.ndarray | None = None) -> None:
        """Count each of `distinct` once (or `times` times)."""
        if (self.used + len(distinct)) * 2 > len(self.slots):
            self._grow(max(len(self.slots) * 2, 1 << math.ceil(math.log2((self.used + len(distinct)) * 4))))
        if times is None:
            self.used += _slots_add_once(distinct, self.slots)
        else:
            self.used += _slots_add(distinct, times.astype(np.uint64), self.slots)

    def merge(self, other: ExactCounts) -> ExactCounts:
        occupied = other.slots[:, 1] > 0
        self.add(other.slots[occupied, 0], other.slots[occupied, 1])
        return self

    def at_least(self, cutoff: int) -> np.ndarray:
        """Sorted hashes counted `cutoff` times or more."""
        return np.sort(self.slots[self.slots[:, 1] >= max(cutoff, 1), 0])

    def _grow(self, capacity: int) -> None:
        occupied = self.slots[:, 1] > 0
        keys, counts = self.slots[occupied, 0], self.slots[occupied, 1]
        self.slots = np.zeros((capacity, 2), dtype=np.uint64)
        self.used = _slots_add(keys, counts, self.slots)


@numba.njit(cache=True, nogil=True)
def _slots_add(items, times, slots):  # pragma: no cover - compiled
    """Add `times` to each item's count in `ExactCounts.slots` (a zero count marks a free slot); returns the
    new keys' number."""
    added = 0
    for index in range(len(items)):
        added += _slot_add(items[index], times[index], slots)
    return added


@numba.njit(cache=True, nogil=True)
def _slots_add_once(items, slots):  # pragma: no cover - compiled
    """`_slots_add` with every time 1 (no array of ones per call)."""
    added = 0
    for index in range(len(items)):
        added += _slot_add(items[index], np.uint64(1), slots)
    return added


@numba.njit(cache=True, nogil=True, inline="always")
def _slot_add(value, times, slots):  # pragma: no cover - compiled
    mask = len(slots) - 1
    slot = np.int64((value * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
    while slots[slot, 1] != 0 and slots[slot, 0] != value:
        slot = (slot + 1) & mask
    added = 0
    if slots[slot, 1] == 0:
        slots[slot, 0] = value
        added = 1
    slots[slot, 1] += times
    return added


class HashSet:
    """Membership of 64-bit hashes (boilerplate shingles or figures), a compiled lookup per array."""

    def __init__(self, values: np.ndarray) -> None:
        capacity = 1 << max(4, math.ceil(math.log2(max(len(values), 1) * 2 + 1)))
        self.slots = np.zeros((capacity, 2), dtype=np.uint64)  # `ExactCounts`' table
        self.values = np.asarray(values, dtype=np.uint64)
        _slots_add_once(self.values, self.slots)

    def __len__(self) -> int:
        return len(self.values)

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask: which of `values` are in the set."""
        found = np.zeros(len(values), dtype=np.bool_)
        if len(self.values):
            _slots_member(values, self.slots, found)
        return found


@numba.njit(cache=True, nogil=True)
def _slots_member(values, slots, found):  # pragma: no cover - compiled
    mask = len(slots) - 1
    for index in range(len(values)):
        value = values[index]
        slot = np.int64((value * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
        while slots[slot, 1] != 0:
            if slots[slot, 0] == value:
                found[index] = True
                break
            slot = (slot + 1) & mask


def contains_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which of `values` occur in `sorted_set` (sorted, unique)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    where = np.searchsorted(sorted_set, values)
    where[where == len(sorted_set)] = 0
    return sorted_set[where] == values


def legal_section_start(text: str, fingerprint: str, headings: Sequence[str]) -> int | None:
    """Fingerprint offset where the document's legal pages begin: the first line that starts with one of
    `headings` (免责声明, 分析师声明, ...). They run to the end of a broker report, so everything from there
    on is boilerplate even in a batch too small to count it (two 华泰 reports and nothing else).

    >>> text = "深度拆解" + chr(10) + "正文。" + chr(10) + "免责声明" + chr(10) + "本报告…"
    >>> legal_section_start(text, fingerprint_text(text), ["免责声明"])
    6
    """
    if not headings:
        return None
    match = _heading_pattern(tuple(headings)).search(text)
    if match is None:
        return None
    return len(fingerprint_text(text[:match.start()]))


@lru_cache(maxsize=8)
def _heading_pattern(headings: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"^[ \t#*>]*(?:" + "|".join(map(re.escape, headings)) + ")", re.MULTILINE)
