"""One document as verification sees it, packed in four arrays, and the compiled measures of a pair.

A measured document is `words` (uint64), `marks` (uint8), `first` and `table` (int32), so that a pair is
measured by one compiled call and a thread keeps a few hundred documents without a Python object per field:

    words: header (_HEADER) | window hashes (n, text order) | figure contexts (f) | figure keys (f)
    marks: per window: 1 first occurrence of its hash, 2 masked (boilerplate or legal pages), and the flags
           of its hash in the document shifted by 2: 4 any shingle, 8 informative, 16 body (before the legal
           pages)
    first: per window, the position of the first window with its hash
    table: open addressing on the low bits of the window hash (already spread by splitmix64's finaliser):
           1 + the position of the hash's first window, 0 for a free slot

About 25 bytes per character of fingerprint. A pair is measured by walking the shorter document's windows
along the longer's, looking a hash up in the longer's table only where a run of shared windows breaks (two
near-duplicates share long runs), and noting at each shared hash's first window in the longer what the
shorter has of it; the longer's windows then read those notes, without a lookup.
"""

from __future__ import annotations

import numba
import numpy as np

from fincorpus.dedup.codepoints import figure_keys_into, window_hashes_of

_WINDOWS, _ALL, _INFORMATIVE, _BODY, _MASKED, _LEGAL, _MOSTLY, _FIGURES = range(8)
_HEADER = 8
"""Header words: window count, distinct shingles (all, informative, body), masked windows, legal start + 1
(0: none), mostly boilerplate (0/1), kept figures."""
ANY, INFORMATIVE, BODY = 1, 2, 4  # flags of a shingle in a document
_FIRST, _MASK, _FLAGS = 1, 2, 2  # marks of a window: bits, then the shift of its hash's flags
_BOILERPLATE, _KEY_FLAGS = 8, ANY | INFORMATIVE | BODY  # a hash's flags while measuring: also boilerplate


def window_count(words: np.ndarray) -> int:
    return int(words[_WINDOWS])


def windows_of(words: np.ndarray) -> np.ndarray:
    """Hash of the 5-gram at each position of the fingerprint, in text order."""
    return words[_HEADER:_HEADER + window_count(words)]


def mostly_boilerplate(words: np.ndarray) -> bool:
    return bool(words[_MOSTLY])


def key_table(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Membership table of 64-bit hashes for `member`: (keys, whether 0 is one of them)."""
    capacity = 16
    while capacity < 2 * len(values):
        capacity *= 2
    keys = np.zeros(capacity, dtype=np.uint64)
    values = np.asarray(values, dtype=np.uint64)
    _insert_all(values, keys)
    return keys, bool((values == 0).any())


@numba.njit(cache=True, nogil=True)
def _insert_all(values, keys):  # pragma: no cover - compiled
    mask = np.uint64(len(keys) - 1)
    for value in values:
        if value == 0:
            continue
        slot = np.int64(value & mask)
        while keys[slot] != 0 and keys[slot] != value:
            slot = (slot + 1) & np.int64(mask)
        keys[slot] = value


@numba.njit(cache=True, nogil=True, inline="always")
def member(keys, has_zero, value):  # pragma: no cover - compiled
    if value == 0:
        return has_zero
    mask = np.uint64(len(keys) - 1)
    slot = np.int64(value & mask)
    while keys[slot] != 0:
        if keys[slot] == value:
            return True
        slot = (slot + 1) & np.int64(mask)
    return False


@numba.njit(cache=True, nogil=True)
def heap_sort(values):  # pragma: no cover - compiled
    """Sort `values` in place (a document's figure keys: tens to thousands). np.sort inside a kernel compiles
    numba's quicksort, ~2 s of a first build; this compiles in a fraction of that, in O(n log n) for any n."""
    count = len(values)
    for root in range(count // 2 - 1, -1, -1):
        _sift_down(values, root, count)
    for end in range(count - 1, 0, -1):
        values[0], values[end] = values[end], values[0]
        _sift_down(values, 0, end)


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_down(values, root, end):  # pragma: no cover - compiled
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and values[child + 1] > values[child]:
            child += 1
        if values[root] >= values[child]:
            return
        values[root], values[child] = values[child], values[root]
        root = child


@numba.njit(cache=True, nogil=True)
def measure_document(codes, legal, size, boilerplate, boilerplate_zero, any_boilerplate, digit, figure_table,
                     figure_zero, context_size, min_chars):  # pragma: no cover - compiled
    """(words, marks, first, table) of a fingerprint (`codes`, legal pages from fingerprint offset `legal`, -1:
    none): its windows, each flagged with what its hash is in the document (a window is masked when it is
    a `boilerplate` hash or lies in the legal pages), and its figures not in `figure_table`, sorted."""
    contexts = np.empty(len(codes) + 1, dtype=np.uint64)
    figures = np.empty(len(codes) + 1, dtype=np.uint64)
    found = figure_keys_into(codes, digit, context_size, contexts, figures)
    kept = 0
    for index in range(found):
        if not member(figure_table, figure_zero, figures[index]):
            contexts[kept] = contexts[index]
            figures[kept] = figures[index]
            kept += 1
    width = min(size, len(codes))
    n = len(codes) - width + 1 if len(codes) > 0 else 0
    capacity = 16
    while capacity < 2 * n:
        capacity *= 2
    words = np.empty(_HEADER + n + 2 * kept, dtype=np.uint64)
    marks = np.empty(n, dtype=np.uint8)
    table = np.zeros(capacity, dtype=np.int32)
    first = np.empty(n, dtype=np.int32)
    flags_at = np.zeros(n, dtype=np.uint8)  # a hash's flags, at its first window
    windows = words[_HEADER:_HEADER + n]
    window_hashes_of(codes, size, windows)
    body_end = n if legal < 0 else legal
    mask = np.uint64(capacity - 1)
    all_count = informative_count = body_count = masked_count = 0
    for position in range(n):
        value = windows[position]
        slot = np.int64(value & mask)
        while table[slot] != 0 and windows[table[slot] - 1] != value:
            slot = (slot + 1) & np.int64(mask)
        if table[slot] == 0:
            table[slot] = position + 1
        at = table[slot] - 1
        first[position] = at
        old = flags_at[at]
        in_body = position < body_end
        if old == 0 and in_body and any_boilerplate and member(boilerplate, boilerplate_zero, value):
            old = _BOILERPLATE  # looked up at the hash's first window: its later ones are past it
        is_masked = not in_body or (old & _BOILERPLATE) != 0
        new = ANY | (0 if is_masked else INFORMATIVE) | (BODY if in_body else 0)
        flags_at[at] = old | new
        all_count += (old & ANY) == 0
        informative_count += not is_masked and (old & INFORMATIVE) == 0
        body_count += in_body and (old & BODY) == 0
        marks[position] = (_FIRST if (old & ANY) == 0 else 0) | (_MASK if is_masked else 0)
        masked_count += is_masked
    counts = (all_count, informative_count, body_count)
    for position in range(n):
        marks[position] |= np.uint8((flags_at[first[position]] & _KEY_FLAGS) << _FLAGS)
    start = _HEADER + n
    for index in range(kept):  # loops, not slice assignments: those compile numba's general setitem (~2 s)
        words[start + index] = contexts[index]
        words[start + kept + index] = figures[index]
    heap_sort(words[start:start + kept])
    heap_sort(words[start + kept:start + 2 * kept])
    words[_WINDOWS] = n
    words[_ALL] = counts[0]
    words[_INFORMATIVE] = counts[1]
    words[_BODY] = counts[2]
    words[_MASKED] = masked_count
    words[_LEGAL] = 0 if legal < 0 else legal + 1
    words[_MOSTLY] = 1 if counts[1] < min_chars else 0
    words[_FIGURES] = kept
    return words, marks, first, table


@numba.njit(cache=True, nogil=True, inline="always")
def _position_of(words, table, value):  # pragma: no cover - compiled
    """Position of the first window of `value` in a document, -1 when it has none."""
    mask = np.uint64(len(table) - 1)
    slot = np.int64(value & mask)
    while table[slot] != 0:
        if words[_HEADER + table[slot] - 1] == value:
            return np.int64(table[slot] - 1)
        slot = (slot + 1) & np.int64(mask)
    return np.int64(-1)


@numba.njit(cache=True, nogil=True)
def _look_up(words, marks, other_words, other_marks, other_first, other_table, found, other_found
             ):  # pragma: no cover - compiled
    """For each window of the document, the flags its hash has in `other` (`found`, 0: none); at the first
    window of each hash `other` shares, the flags the document gives it (`other_found`, zeroed before).
    Follows a run of windows both share along `other` before looking a hash up."""
    n = np.int64(words[_WINDOWS])
    other_n = np.int64(other_words[_WINDOWS])
    there = np.int64(-1)  # the other's window equal to the previous window, -1: none
    for position in range(n):
        value = words[_HEADER + position]
        if there >= 0 and there + 1 < other_n and other_words[_HEADER + there + 1] == value:
            there += 1
        else:
            there = _position_of(other_words, other_table, value)
        if there < 0:
            found[position] = 0
        else:
            found[position] = other_marks[there] >> _FLAGS
            other_found[other_first[there]] = marks[position] >> _FLAGS


@numba.njit(cache=True, nogil=True)
def _covered(words, marks, found, flag, use_mask, legal, size):  # pragma: no cover - compiled
    """(distinct hashes of the document that `other` holds at all, characters inside a window whose hash
    `other` holds with `flag` and counted, characters counted), from what `other` holds of each window
    (`found`). Window i covers characters i .. i+width-1. Counted: with `use_mask`, characters no masked
    window covers; else characters before `legal` (all with legal < 0)."""
    n = np.int64(words[_WINDOWS])
    width = min(size, max(n, 1))
    chars = n + width - 1
    shared_until = 0
    masked_until = 0
    shared_distinct = 0
    shared_counted = 0
    counted = 0
    for char in range(chars):
        if char < n:
            here = found[char]
            window = marks[char]
            if here != 0 and window & _FIRST:
                shared_distinct += 1
            if here & flag:
                shared_until = char + width
            if use_mask and window & _MASK:
                masked_until = char + width
        if use_mask:
            is_counted = char >= masked_until
        else:
            is_counted = legal < 0 or char < legal
        if is_counted:
            counted += 1
            if char < shared_until:
                shared_counted += 1
    return shared_distinct, shared_counted, counted


@numba.njit(cache=True, nogil=True)
def _covered_share(words, marks, found, other_words, flag, on_all, size):  # pragma: no cover - compiled
    """(How many of the document's shingles `other` holds, share of its characters that lie in a window
    shared with `other`'s `flag` shingles, counting only characters that no boilerplate window covers)."""
    use_mask = not on_all and words[_MASKED] > 0
    legal = -1 if use_mask or words[_LEGAL] == 0 else np.int64(words[_LEGAL]) - 1
    shared, covered, counted = _covered(words, marks, found, flag, use_mask, legal, size)
    other_count = other_words[_BODY] if flag == BODY else other_words[_INFORMATIVE]
    if words[_WINDOWS] == 0 or other_count == 0:
        return shared, 0.0
    return shared, covered / counted if counted else 0.0


@numba.njit(cache=True, nogil=True)
def measure_pair(left_words, left_marks, left_first, left_table, right_words, right_marks, right_first,
                 right_table, size, index, shares, counts):  # pragma: no cover - compiled
    """Measure a pair on informative shingles, or on body shingles when both sides are mostly boilerplate,
    into row `index` of `shares` (similarity, left in right, right in left) and `counts` (left windows,
    right windows, figures compared, figures differing)."""
    on_all = left_words[_MOSTLY] != 0 and right_words[_MOSTLY] != 0
    flag = BODY if on_all else INFORMATIVE
    left_found = np.zeros(left_words[_WINDOWS], dtype=np.uint8)
    right_found = np.zeros(right_words[_WINDOWS], dtype=np.uint8)
    if left_words[_WINDOWS] <= right_words[_WINDOWS]:
        _look_up(left_words, left_marks, right_words, right_marks, right_first, right_table, left_found,
                 right_found)
        _spread(right_first, right_found)
    else:
        _look_up(right_words, right_marks, left_words, left_marks, left_first, left_table, right_found,
                 left_found)
        _spread(left_first, left_found)
    shared, left_in_right = _covered_share(left_words, left_marks, left_found, right_words, flag, on_all, size)
    _, right_in_left = _covered_share(right_words, right_marks, right_found, left_words, flag, on_all, size)
    union = np.int64(left_words[_ALL]) + np.int64(right_words[_ALL]) - shared
    shares[index, 0] = shared / union if union else 0.0
    shares[index, 1] = left_in_right
    shares[index, 2] = right_in_left
    left_contexts, left_keys = figures_of(left_words)
    right_contexts, right_keys = figures_of(right_words)
    compared = shared_minimum(left_contexts, right_contexts)
    counts[index, 0] = left_words[_WINDOWS]
    counts[index, 1] = right_words[_WINDOWS]
    counts[index, 2] = compared
    counts[index, 3] = compared - shared_minimum(left_keys, right_keys)


@numba.njit(cache=True, nogil=True, inline="always")
def _spread(first, found):  # pragma: no cover - compiled
    """What was noted at each hash's first window, at every window of that hash."""
    for position in range(len(first)):
        found[position] = found[first[position]]


@numba.njit(cache=True, nogil=True, inline="always")
def figures_of(words):  # pragma: no cover - compiled
    """(sorted figure contexts, sorted figure keys) of a measured document."""
    start = _HEADER + np.int64(words[_WINDOWS])
    kept = np.int64(words[_FIGURES])
    return words[start:start + kept], words[start + kept:start + 2 * kept]


@numba.njit(cache=True, nogil=True)
def shared_minimum(left, right):  # pragma: no cover - compiled
    """Sum over the values in both sorted arrays of the smaller number of repeats."""
    total = 0
    i = 0
    j = 0
    while i < len(left) and j < len(right):
        if left[i] < right[j]:
            i += 1
        elif right[j] < left[i]:
            j += 1
        else:
            value = left[i]
            mine = 0
            while i < len(left) and left[i] == value:
                mine += 1
                i += 1
            theirs = 0
            while j < len(right) and right[j] == value:
                theirs += 1
                j += 1
            total += min(mine, theirs)
    return total
