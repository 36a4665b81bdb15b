"""Fingerprint text and character n-gram shingles, hashed straight from code points (no n-gram strings).

Chinese has no spaces, so shingles are character n-grams of the text after NFKC folding, case folding and
removal of everything that is not a letter or a digit: a half-width preview and a full-width PDF
extraction of one report then compare on their content.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numpy as np
import xxhash

_NOT_WORD = re.compile(r"[\W_]+")
_DIGITS = re.compile(r"\d+")


def fingerprint_text(text: str) -> str:
    """What dedup compares: folded, lower-cased, letters and digits only.

    >>> fingerprint_text("“AI＋传媒”的效力，取决于 适配与迭代。")
    'ai传媒的效力取决于适配与迭代'
    """
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def exact_hash(fingerprint: str) -> int:
    """xxh3-64 of the fingerprint text: equal for exact duplicates up to folding."""
    return xxhash.xxh3_64_intdigest(fingerprint.encode("utf-8", "surrogatepass"))


def shingle_hashes(fingerprint: str, size: int) -> np.ndarray:
    """Sorted unique 64-bit hashes of the character `size`-grams (one shingle for shorter texts)."""
    return sorted_unique(window_hashes(fingerprint, size))


def sorted_unique(hashes: np.ndarray, return_counts: bool = False):
    """`np.unique` of a 1-d integer array, by a sort and a mask: numpy 2's hash-table `unique` is about 3x
    slower on arrays of a few thousand 64-bit hashes, the size of one document's shingles."""
    ordered = np.sort(hashes)
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    if not return_counts:
        return ordered[first]
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(starts, append=len(ordered))


def window_hashes(fingerprint: str, size: int) -> np.ndarray:
    """The hash of the `size`-gram starting at each position, in text order (window i covers characters
    i .. i+size-1): what verification uses to measure how much of a text a shared shingle covers. A
    polynomial over the code points (FNV-1a's prime as multiplier) spread over 64 bits by splitmix64's
    finaliser, computed by `codepoints.window_hashes_of`."""
    from fincorpus.dedup.codepoints import code_points, window_hashes_of

    codes = code_points(fingerprint)
    out = np.empty(len(codes), dtype=np.uint64)
    return out[:window_hashes_of(codes, size, out)]


def figures(fingerprint: str, context: int = 4) -> Counter[tuple[str, str]]:
    """The figures of a fingerprint, each with the `context` characters before it, as a multiset.

    Templated reports share their text and differ in their figures, so the finance guard compares the
    numbers that follow the same words in both documents. Punctuation is gone from the fingerprint, so
    "12.50%" reads "1250"; both documents are read the same way.

    >>> sorted(figures(fingerprint_text("沪指收于3,021.5点，成交额8,000亿元")))
    [('沪指收于', '30215'), ('点成交额', '8000')]
    """
    return Counter((fingerprint[max(0, match.start() - context):match.start()], match.group())
                   for match in _DIGITS.finditer(fingerprint))
