"""The two passes over the text that leave each document nothing but a signature and a few numbers.

1. `scan_partition` (every document, in order): fingerprint length and exact hash; the shingles and
   figures of each distinct fingerprint long enough to compare go into a `FrequencySketch`.
   `scan_hashes` does the same for a few documents but hands the hashes back, so that threads share one
   sketch, counted by the thread that takes their results.
2. `sign_partition` (the compared documents, in order): the body shingles (before the legal pages) that
   the sketch cannot rule out as boilerplate are set aside as candidates and counted exactly
   (`ExactCounts`); the rest are signed at once. `finish_signatures` then knows the boilerplate (candidates
   counted in `boilerplate_cutoff` documents or more) and adds each document's non-boilerplate candidates
   to its signature.

Nothing per character outlives a document: memory holds the sketch (fixed), the signatures, and the
candidates (a few per document that carries boilerplate). Partitions can run apart and merge: sketches
and exact counts add up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
import xxhash

from fincorpus.config import DedupConfig
from fincorpus.dedup.boilerplate import ExactCounts, FrequencySketch, HashSet, _heading_pattern, legal_section_start
from fincorpus.dedup.codepoints import (code_points, figure_keys_into, fingerprint_codes, fold_table, window_hash,
                                        window_hashes_of)
from fincorpus.dedup.shingles import fingerprint_text
from fincorpus.dedup.signatures import Signer, lower_with, mix32

FIGURE_CONTEXT = 4  # characters before a figure that name it (`shingles.figures`)


class Shingler:
    """Fingerprints, windows, distinct hashes and figures of one document at a time, into buffers reused
    from one document to the next. Views it returns are valid until its next call."""

    def __init__(self, config: DedupConfig) -> None:
        self.size = config.shingle_size
        self.headings = tuple(config.legal_headings)
        self.pattern = _heading_pattern(self.headings) if self.headings else None
        self._windows = np.empty(1 << 14, dtype=np.uint64)
        self._distinct = np.empty(1 << 14, dtype=np.uint64)
        self._table = np.empty(1 << 15, dtype=np.uint64)
        self._contexts = np.empty(1 << 12, dtype=np.uint64)
        self._figures = np.empty(1 << 12, dtype=np.uint64)
        self._mixed = np.empty(1 << 14, dtype=np.uint32)
        self._counts = np.empty(1 << 14, dtype=np.uint16)
        self._candidates = np.empty(1 << 14, dtype=np.uint64)
        self._in_body = np.empty(1 << 14, dtype=np.bool_)

    def fingerprint(self, text: str, legal: bool = True) -> tuple[np.ndarray, int | None]:
        """`fingerprint_text(text)` as code points and, with `legal`, `legal_section_start`'s offset."""
        match = self.pattern.search(text) if legal and self.pattern is not None else None
        line = None if match is None else match.start()
        fast = fingerprint_codes(text, -1 if line is None else line)
        if fast is not None:
            codes, marked = fast
            return codes, None if line is None else marked
        fingerprint = fingerprint_text(text)
        legal_start = legal_section_start(text, fingerprint, self.headings) if line is not None else None
        return code_points(fingerprint).astype(np.uint32), legal_start

    def windows(self, codes: np.ndarray) -> np.ndarray:
        if len(codes) > len(self._windows):
            self._windows = np.empty(2 * len(codes), dtype=np.uint64)
        return self._windows[:window_hashes_of(codes, self.size, self._windows)]

    def count(self, codes: np.ndarray, sketch: FrequencySketch) -> None:
        """Add the document's distinct shingles and distinct figures to `sketch` (`hashes_into`)."""
        self._reserve(2 * len(codes) + 1)  # before `hashes_into`, whose own reserve then keeps this buffer
        distinct = self._distinct
        sketch.add(distinct[:self.hashes_into(codes, distinct)])

    def hashes_into(self, codes: np.ndarray, out: np.ndarray) -> int:
        """Write what `count` adds to a sketch (the distinct shingles, then the distinct figures) to `out`
        (room for 2 * len(codes) + 1); returns how many."""
        self._reserve_figures(len(codes))
        return _document_hashes(codes, self.size, self._table, out, fold_table().digit, self._contexts,
                                self._figures)

    def sign(self, codes: np.ndarray, legal: int | None, sketch: FrequencySketch, cutoff: int, signer: Signer
             ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
        """One compiled call over the document's distinct shingles and figures: (MinHash of its body shingles
        the sketch rules out as boilerplate, how many those are, the candidates, which candidates lie in the
        body, the distinct figures the sketch cannot rule out). Views valid until the next call."""
        self._reserve_figures(len(codes))
        if len(codes) > len(self._mixed):
            self._mixed = np.empty(2 * len(codes), dtype=np.uint32)
            self._counts = np.empty(2 * len(codes), dtype=np.uint16)
            self._candidates = np.empty(2 * len(codes), dtype=np.uint64)
            self._in_body = np.empty(2 * len(codes), dtype=np.bool_)
        signature = np.empty(signer.num_perm, dtype=np.uint32)
        body_end = len(codes) if legal is None else legal
        plain_count, candidate_count, figure_count = _sign_document(
            codes, self.size, body_end, sketch.counters, sketch.shift, cutoff, self._table, self._distinct,
            self._counts, self._mixed, self._candidates, self._in_body, signer.low_a, signer.low_b, signature,
            fold_table().digit, self._contexts, self._figures)
        return (signature, plain_count, self._candidates[:candidate_count], self._in_body[:candidate_count],
                self._figures[:figure_count])

    def _reserve_figures(self, count: int) -> None:
        self._reserve(count)
        if count > len(self._figures):
            self._contexts = np.empty(2 * count, dtype=np.uint64)
            self._figures = np.empty(2 * count, dtype=np.uint64)

    def _reserve(self, count: int) -> None:
        if count > len(self._distinct):
            self._distinct = np.empty(2 * count, dtype=np.uint64)
        if 2 * count > len(self._table):
            self._table = np.empty(1 << int(np.ceil(np.log2(4 * count))), dtype=np.uint64)


def exact_of(codes: np.ndarray) -> int:
    """xxh3-64 of the fingerprint's code points: equal for exact duplicates up to folding."""
    return xxhash.xxh3_64_intdigest(memoryview(np.ascontiguousarray(codes)).cast("B"))


@dataclass
class Scanned:
    """Pass 1 over a partition: per document its exact hash and fingerprint length; the sketch of the
    distinct fingerprints' shingles and figures."""

    exact: np.ndarray
    chars: np.ndarray
    sketch: FrequencySketch


def scan_partition(texts: Iterable[str], config: DedupConfig, expected_documents: int,
                   shingler: Shingler | None = None, sketch_bits: int | None = None,
                   sketch: FrequencySketch | None = None) -> Scanned:
    """Pass 1: read `texts` once, in order. `expected_documents` (the whole batch's) sizes the sketch;
    partitions of one batch must pass the same number so that their sketches add up (or the same
    `sketch_bits`), or add to one `sketch` given. A fingerprint met again is counted once per partition
    (the sketch only bounds counts from above: exactness comes later)."""
    shingler = shingler or Shingler(config)
    sketch = sketch if sketch is not None else FrequencySketch(expected_documents, sketch_bits)
    exact, chars = [], []
    for value, length, codes in _scanned(texts, config, shingler):
        exact.append(value)
        chars.append(length)
        if codes is not None:
            shingler.count(codes, sketch)
            sketch.documents += 1
    return Scanned(np.array(exact, dtype=np.uint64), np.array(chars, dtype=np.int64), sketch)


def scan_hashes(texts: Iterable[str], config: DedupConfig, shingler: Shingler
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """`scan_partition` of a few documents that leaves the counting to the caller: (exact hashes,
    fingerprint lengths, what `scan_partition` adds to the sketch, how many documents that comes from).
    Threads that share one sketch (`FrequencySketch.add` in one of them) hold no sketch each: the
    sketch is the largest thing a pass allocates."""
    exact, chars = [], []
    hashes, used, documents = np.empty(1 << 16, dtype=np.uint64), 0, 0
    for value, length, codes in _scanned(texts, config, shingler):
        exact.append(value)
        chars.append(length)
        if codes is not None:
            if used + 2 * len(codes) + 1 > len(hashes):  # shingles <= len(codes), figures <= len(codes) / 2 + 1
                hashes = np.concatenate([hashes[:used], np.empty(len(hashes) + 2 * len(codes) + 1, np.uint64)])
            used += shingler.hashes_into(codes, hashes[used:])
            documents += 1
    return np.array(exact, dtype=np.uint64), np.array(chars, dtype=np.int64), hashes[:used], documents


def _scanned(texts: Iterable[str], config: DedupConfig, shingler: Shingler):
    """(exact hash, fingerprint length, the fingerprint's code points if it is to be counted) per text: long
    enough to compare and not met before in `texts`."""
    seen = set()
    for text in texts:
        codes, _ = shingler.fingerprint(text, legal=False)
        value = exact_of(codes)
        counted = len(codes) >= config.min_chars and value not in seen
        if counted:
            seen.add(value)
        yield value, len(codes), codes if counted else None


@dataclass
class Signed:
    """Pass 2 over the compared documents of a partition."""

    signatures: np.ndarray
    """(documents, num_perm) uint32: MinHash of each document's body shingles that are not candidates."""
    plain_sizes: np.ndarray
    """How many such shingles each has."""
    candidates: dict[int, np.ndarray]
    """Per document (position in this partition) with any: its body shingles that may be boilerplate."""
    shingle_counts: ExactCounts
    """Documents holding each candidate shingle (anywhere in the text)."""
    figure_counts: ExactCounts
    """Documents holding each candidate figure."""
    documents: int = field(default=0)


def sign_partition(texts: Iterable[str], sketch: FrequencySketch, cutoff: int, config: DedupConfig,
                   signer: Signer, shingler: Shingler | None = None,
                   counts: tuple[ExactCounts, ExactCounts] | None = None) -> Signed:
    """Pass 2 over the compared documents (each distinct fingerprint once, as in `scan_partition`), in
    order, with the merged sketch of the whole batch and its `boilerplate_cutoff`. `counts`: (shingle,
    figure) counts to add to instead of new ones."""
    shingler = shingler or Shingler(config)
    rows: list[np.ndarray] = []
    sizes: list[int] = []
    candidates: dict[int, np.ndarray] = {}
    shingle_counts, figure_counts = counts if counts is not None else (ExactCounts(), ExactCounts())
    for position, text in enumerate(texts):
        codes, legal = shingler.fingerprint(text)
        signature, plain_count, candidate, in_body, figures = shingler.sign(codes, legal, sketch, cutoff, signer)
        rows.append(signature)
        sizes.append(plain_count)
        if len(candidate):
            shingle_counts.add(candidate)
            if in_body.any():
                candidates[position] = candidate[in_body]
        if len(figures):
            figure_counts.add(figures)
    signatures = np.array(rows, dtype=np.uint32).reshape(len(rows), signer.num_perm)
    return Signed(signatures, np.array(sizes, dtype=np.int64), candidates, shingle_counts, figure_counts, len(rows))


def merge_signed(parts: Sequence[Signed]) -> Signed:
    """One `Signed` from partitions signed in this order (their counts added up)."""
    parts = list(parts)
    offsets = np.cumsum([0, *(part.documents for part in parts)])
    counts = [ExactCounts(), ExactCounts()]
    for total, name in zip(counts, ("shingle_counts", "figure_counts")):
        for counted in {id(getattr(part, name)): getattr(part, name) for part in parts}.values():
            total.merge(counted)  # partitions may share one accumulator: each distinct one added once
    return Signed(np.concatenate([part.signatures for part in parts]) if parts else np.empty((0, 0), np.uint32),
                  np.concatenate([part.plain_sizes for part in parts]) if parts else np.empty(0, np.int64),
                  {int(offset) + position: candidate for part, offset in zip(parts, offsets)
                   for position, candidate in part.candidates.items()},
                  counts[0], counts[1], int(offsets[-1]))


def finish_signatures(signed: Signed, boilerplate: np.ndarray, signer: Signer, config: DedupConfig
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures and set sizes of what each document is compared on: its informative shingles (body
    shingles that are not `boilerplate`), or its whole body when fewer than `min_chars` are informative;
    and which documents were signed on a whole body that holds boilerplate (their signature says nothing
    of the informative shingles verification compares them on against a document that is not)."""
    signatures, sizes = signed.signatures.copy(), signed.plain_sizes.copy()
    whole_body = np.zeros(len(sizes), dtype=bool)
    positions = np.fromiter(signed.candidates, dtype=np.int64, count=len(signed.candidates))
    offsets = np.zeros(len(positions) + 1, dtype=np.int64)
    np.cumsum([len(candidate) for candidate in signed.candidates.values()], out=offsets[1:])
    hashes = np.concatenate([np.empty(0, np.uint64), *signed.candidates.values()])
    _finish(positions, offsets, hashes, HashSet(boilerplate).contains(hashes), config.min_chars, signer.low_a,
            signer.low_b, signatures, sizes, whole_body)
    return signatures, sizes, whole_body


@numba.njit(cache=True, nogil=True)
def _finish(positions, offsets, hashes, is_boilerplate, min_chars, low_a, low_b, signatures, sizes,
            whole_body):  # pragma: no cover - compiled
    """`finish_signatures` for every document with candidates (`hashes[offsets[i]:offsets[i + 1]]` are the
    candidates of row `positions[i]`) in one call: its informative candidates, or all of them when the
    document is mostly boilerplate, lower its signature and add to its size."""
    longest = 0
    for index in range(len(positions)):
        longest = max(longest, offsets[index + 1] - offsets[index])
    mixed = np.empty(longest, dtype=np.uint32)
    for index in range(len(positions)):
        position, begin, end = positions[index], offsets[index], offsets[index + 1]
        count = 0
        for at in range(begin, end):
            if not is_boilerplate[at]:
                mixed[count] = mix32(hashes[at])
                count += 1
        if sizes[position] + count < min_chars:
            whole_body[position] = count < end - begin
            count = 0
            for at in range(begin, end):
                mixed[count] = mix32(hashes[at])
                count += 1
        lower_with(mixed[:count], low_a, low_b, signatures[position])
        sizes[position] += count


@numba.njit(cache=True, nogil=True, inline="always")
def _cleared(table, count):  # pragma: no cover - compiled
    """The front of `table` as an empty set for `count` values (load under one half), 0 marking a free slot:
    clearing a few kB per document costs less than a stamp beside each key, which doubles the lines a
    probe touches."""
    capacity = 16
    while capacity < 2 * count:
        capacity <<= 1
    table[:capacity] = 0
    return table[:capacity]


@numba.njit(cache=True, nogil=True, inline="always")
def _first_time(value, table):  # pragma: no cover - compiled
    """Insert `value` (not 0: the caller keeps 0 apart) in `_cleared`'s set; whether it was new."""
    mask = len(table) - 1
    slot = np.int64(value >> np.uint64(40)) & mask  # the values are hashes already: their top bits suffice
    while True:
        key = table[slot]
        if key == value:
            return False
        if key == 0:
            table[slot] = value
            return True
        slot = (slot + 1) & mask


@numba.njit(cache=True, nogil=True, inline="always")
def _new_value(value, table, zero_seen):  # pragma: no cover - compiled
    """Whether `value` is seen for the first time in `_cleared`'s set (0, which the set cannot hold, is
    tracked by `zero_seen`), and `zero_seen` after it."""
    if value == 0:
        return not zero_seen, True
    return _first_time(value, table), zero_seen


@numba.njit(cache=True, nogil=True)
def _distinct(values, table, out):  # pragma: no cover - compiled
    """Write the distinct `values` (first occurrences, in order) to `out`; returns their number."""
    table = _cleared(table, len(values))
    found = 0
    zero_seen = False
    for value in values:
        new, zero_seen = _new_value(value, table, zero_seen)
        if not new:
            continue
        out[found] = value
        found += 1
    return found


@numba.njit(cache=True, nogil=True)
def _distinct_windows(codes, size, table, out, body_end):  # pragma: no cover - compiled
    """Write the distinct window hashes of `codes` (first occurrences, in order) to `out`; returns their
    number and how many of them first occur before position `body_end`."""
    if len(codes) == 0:
        return 0, 0
    width = min(size, len(codes))
    table = _cleared(table, len(codes) - width + 1)
    found = 0
    before = 0
    zero_seen = False
    for position in range(len(codes) - width + 1):
        value = window_hash(codes, position, width)
        new, zero_seen = _new_value(value, table, zero_seen)
        if not new:
            continue
        out[found] = value
        found += 1
        if position < body_end:
            before = found
    return found, before


@numba.njit(cache=True, nogil=True)
def _document_hashes(codes, size, table, out, digit, contexts, figures):  # pragma: no cover - compiled
    """The distinct window hashes of `codes`, then its distinct figure keys, written to `out`; returns how many."""
    found, _ = _distinct_windows(codes, size, table, out, len(codes))
    return found + _distinct_figures(codes, digit, table, contexts, figures, out[found:])


@numba.njit(cache=True, nogil=True)
def _distinct_figures(codes, digit, table, contexts, figures, out):  # pragma: no cover - compiled
    """Write the distinct figure keys of `codes` (`codepoints.figure_keys_into`, first occurrences) to `out`;
    returns their number."""
    found = figure_keys_into(codes, digit, FIGURE_CONTEXT, contexts, figures)
    return _distinct(figures[:found], table, out)


@numba.njit(cache=True, nogil=True)
def _sign_document(codes, size, body_end, counters, shift, cutoff, table, distinct, counts, mixed, candidates,
                   in_body, low_a, low_b, signature, digit, contexts, figures):  # pragma: no cover - compiled
    """Distinct window hashes of `codes`: those the sketch counts in `cutoff` documents or more go to
    `candidates`; the others before `body_end` are mixed (`mix32`) and lower `signature` in one vectorised
    pass (`lower_with`). Then the distinct figure keys the sketch counts in `cutoff` documents or more go
    to the front of `figures`. The sketch is read in a loop of independent loads (see `boilerplate.sketch_add`).
    Returns the (signed shingles, candidates, candidate figures) counts."""
    found, before = _distinct_windows(codes, size, table, distinct, body_end)
    for index in range(found):
        counts[index] = counters[distinct[index] >> shift]
    plain_count = 0
    candidate_count = 0
    for index in range(found):
        value = distinct[index]
        if counts[index] >= cutoff:
            candidates[candidate_count] = value
            in_body[candidate_count] = index < before
            candidate_count += 1
        elif index < before:
            mixed[plain_count] = mix32(value)
            plain_count += 1
    signature[:] = np.uint32(0xFFFFFFFF)
    lower_with(mixed[:plain_count], low_a, low_b, signature)
    figure_count = _distinct_figures(codes, digit, table, contexts, figures, distinct)
    kept = 0
    for index in range(figure_count):
        if counters[distinct[index] >> shift] >= cutoff:
            figures[kept] = distinct[index]
            kept += 1
    return plain_count, candidate_count, kept


def ordered_map(function: Callable, items: Iterable, threads: int):
    """`map(function, items)` in `threads` threads, results in order; items are drawn from `items` (in this
    thread) only as results are taken, at most two per thread ahead. On a failure, or when the caller stops
    early, the items not started are cancelled."""
    if threads <= 1:
        yield from map(function, items)
        return
    pool = ThreadPoolExecutor(threads)
    try:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


def compared_rows(doc_ids: Sequence[str], scanned: Scanned, config: DedupConfig) -> tuple[np.ndarray, list[int]]:
    """Each row's representative (the smallest doc_id of its exact group) and the representatives long
    enough to compare, sorted by doc_id."""
    first: dict[int, int] = {}
    for row in sorted(range(len(doc_ids)), key=lambda row: doc_ids[row]):
        first.setdefault(int(scanned.exact[row]), row)
    representative = np.array([first[int(value)] for value in scanned.exact.tolist()], dtype=np.int64)
    compared = sorted((row for row in set(first.values()) if scanned.chars[row] >= config.min_chars),
                      key=lambda row: doc_ids[row])
    return representative, compared
