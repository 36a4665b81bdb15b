"""Fingerprints and shingles as arrays of code points, without building a string per document.

`shingles.fingerprint_text` is NFKC, then case folding, then removal of everything that is not a letter or
a digit. For almost every character those three steps depend on that character alone, so a table maps each
code point to its (possibly empty) fingerprint characters and a compiled loop applies it:

    华泰证券：２０２４年ＡＩ  ->  华泰证券2024年ai

The table is filled lazily, one code point the first time it is seen (a corpus uses a few thousand). A
character is looked up only when NFKC cannot join it with a neighbour: its compatibility decomposition
holds only starters (combining class 0) that never compose with what precedes them (not the second half of
any canonical composition, not a Hangul vowel or trailing consonant). A text with any other character
(a combining accent, a loose Hangul jamo) is fingerprinted by `fingerprint_text` itself, so the result is
always exactly `fingerprint_text`'s (a property test holds the two equal).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import numba
import numpy as np

_NOT_WORD = re.compile(r"[\W_]+")
_DIGIT = re.compile(r"\d")
_UNKNOWN, _CONTEXTUAL = 0xFFFFFFFF, 0xFFFFFFFE  # `FoldTable.entry` values that are no mapping
_RUN = 0x80000000  # an entry at or above this (below _CONTEXTUAL) is a run of the pool: _RUN | length << 24 | start
_CODE_POINTS = 0x110000
_POOL = 1 << 18  # every code point's fingerprint characters together: 135,766 (Unicode 15), so never full
_MULTIPLIER = np.uint64(0x100000001B3)  # the hash of `shingles.window_hashes`, which this reproduces
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


class FoldTable:
    """Code point -> fingerprint characters, filled as characters are met. One per process."""

    def __init__(self) -> None:
        self.entry = np.full(_CODE_POINTS, _UNKNOWN, dtype=np.uint32)
        """Per code point, one word (one load per character): its fingerprint character when it maps to
        exactly one, else its run of `pool` (`_RUN`), or `_UNKNOWN` / `_CONTEXTUAL`."""
        self.digit = np.zeros(_CODE_POINTS, dtype=np.bool_)
        """Which fingerprint characters are decimal digits (`\\d`), for `figures`."""
        self.pool = np.zeros(_POOL, dtype=np.uint32)
        """Fingerprint characters of every mapped code point. Never reallocated, so that a compiled loop in
        another thread reading an older view of the table stays right while a character is learned."""
        self.used = 0
        self.lock = threading.Lock()

    def learn(self, code_points: np.ndarray) -> None:
        """Fill the entries of `code_points` still unknown (one thread at a time; an entry is one word written
        after its pool run and digits, so readers see a character either unknown or complete)."""
        with self.lock:
            self._learn(code_points)

    def _learn(self, code_points: np.ndarray) -> None:
        for code in np.unique(code_points[self.entry[code_points] == _UNKNOWN]).tolist():
            char = chr(code)
            if not _independent(char):
                self.entry[code] = _CONTEXTUAL
                continue
            folded = [ord(out) for out in _NOT_WORD.sub("", unicodedata.normalize("NFKC", char).casefold())]
            for out in folded:
                self.digit[out] = _DIGIT.match(chr(out)) is not None
            if len(folded) == 1:
                self.entry[code] = folded[0]
                continue
            self.pool[self.used:self.used + len(folded)] = folded
            self.entry[code] = _RUN | len(folded) << 24 | self.used  # NFKC expands a character to 18 at most
            self.used += len(folded)


def _independent(char: str) -> bool:
    """NFKC maps `char` the same whatever surrounds it (see the module docstring)."""
    return all(unicodedata.combining(part) == 0 and ord(part) not in _second_halves()
               for part in unicodedata.normalize("NFKD", char))


@lru_cache(maxsize=1)
def _second_halves() -> frozenset[int]:
    """Code points that may compose with the character before them: the second half of every two-character
    canonical decomposition, and the Hangul vowels and trailing consonants (composed by rule)."""
    found = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
    for code in range(0x30000):  # no canonical decomposition above the CJK compatibility supplement
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            found.add(int(parts[1], 16))
    return frozenset(found)


_TABLE: FoldTable | None = None
_TABLE_LOCK = threading.Lock()


def fold_table() -> FoldTable:
    global _TABLE
    with _TABLE_LOCK:
        if _TABLE is None:
            _TABLE = FoldTable()
    return _TABLE


def code_points(text: str) -> np.ndarray:
    """The text as a uint32 array of code points (lone surrogates kept)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def fingerprint_codes(text: str, mark: int = -1) -> tuple[np.ndarray, int] | None:
    """`fingerprint_text(text)` as code points, and how many of them come from `text[:mark]`; None when
    the text holds a character NFKC may join with a neighbour (fingerprint it with `fingerprint_text`)."""
    table = fold_table()
    codes = code_points(text)
    out = np.empty(len(codes) + 16, dtype=np.uint32)
    while True:
        written, marked = _fold(codes, table.entry, table.pool, out, mark)
        if written >= 0:
            return out[:written], marked
        if written == -2:
            return None
        if written == -3:  # expansions (ligatures, ㍻) outgrew the buffer
            out = np.empty(len(out) * 4, dtype=np.uint32)
        else:
            table.learn(codes)


@numba.njit(cache=True, nogil=True)
def _fold(codes, entry, pool, out, mark):  # pragma: no cover - compiled
    """Write the fingerprint of `codes` into `out`; returns (characters written, characters written before
    position `mark`), or (-1, 0) at an unknown code point, (-2, 0) at one that needs context, (-3, 0) when `out` is
    too short."""
    written = 0
    marked = 0
    for position in range(len(codes)):
        if position == mark:
            marked = written
        word = entry[codes[position]]
        if word < np.uint32(_RUN):  # one character: most of them
            if written == len(out):
                return -3, 0
            out[written] = word
            written += 1
            continue
        if word >= np.uint32(_CONTEXTUAL):
            return (-1 if word == np.uint32(_UNKNOWN) else -2), 0
        length = (word >> np.uint32(24)) & np.uint32(0x7F)
        begin = word & np.uint32(0xFFFFFF)
        if written + length > len(out):
            return -3, 0
        for offset in range(length):
            out[written] = pool[begin + offset]
            written += 1
    if mark >= len(codes):
        marked = written
    return written, marked


@numba.njit(cache=True, nogil=True)
def window_hashes_of(codes, size, out):  # pragma: no cover - compiled
    """`shingles.window_hashes` over a code-point array, written into `out`; returns the window count."""
    if len(codes) == 0:
        return 0
    width = min(size, len(codes))
    windows = len(codes) - width + 1
    for position in range(windows):
        out[position] = window_hash(codes, position, width)
    return windows


@numba.njit(cache=True, nogil=True, inline="always")
def window_hash(codes, position, width):  # pragma: no cover - compiled
    """Hash of codes[position:position + width]: a polynomial (FNV-1a's prime as multiplier) spread over
    64 bits by splitmix64's finaliser."""
    value = np.uint64(codes[position])
    for offset in range(1, width):
        value = value * _MULTIPLIER + np.uint64(codes[position + offset])
    return _mix(value)


@numba.njit(cache=True, nogil=True)
def _mix(value):  # pragma: no cover - compiled
    """splitmix64's finaliser."""
    value ^= value >> np.uint64(30)
    value *= _MIX1
    value ^= value >> np.uint64(27)
    value *= _MIX2
    value ^= value >> np.uint64(31)
    return value


@numba.njit(cache=True, nogil=True)
def _hash_run(codes, begin, end):  # pragma: no cover - compiled
    value = np.uint64(end - begin) * _MIX2
    for position in range(begin, end):
        value = _mix(value * _MULTIPLIER + np.uint64(codes[position]) + np.uint64(1))
    return value


@numba.njit(cache=True, nogil=True)
def figure_keys_into(codes, digit, context_size, contexts, keys):  # pragma: no cover - compiled
    """`shingles.figures` as hashes: for every run of decimal digits, a hash of the `context_size` code
    points before it (`contexts`) and a hash of (those, the digits) (`keys`); returns the figure count."""
    found = 0
    position = 0
    while position < len(codes):
        if not digit[codes[position]]:
            position += 1
            continue
        begin = position
        while position < len(codes) and digit[codes[position]]:
            position += 1
        context = _hash_run(codes, max(0, begin - context_size), begin)
        contexts[found] = context
        keys[found] = _mix(context ^ (_hash_run(codes, begin, position) * _MULTIPLIER))
        found += 1
    return found
