"""difflib's alignment of two titles, compiled: the titles rule aligns tens of thousands of short pairs
in a large batch, and `SequenceMatcher` spends a quarter of verification's time doing it in Python.

`opcodes` returns what `SequenceMatcher(None, left, right, autojunk=False).get_opcodes()` returns for two
arrays of window hashes: the same recursion over the same longest matches (longest block, then earliest in
`left`, then earliest in `right`), without junk or popular elements, as difflib has them with
`isjunk=None` and `autojunk=False`. A property test holds the two equal.
"""

from __future__ import annotations

import numba
import numpy as np

EQUAL, REPLACE, DELETE, INSERT = range(4)
TAGS = ("equal", "replace", "delete", "insert")
"""difflib's tag of each opcode code."""


@numba.njit(cache=True, nogil=True)
def opcodes(left, right):  # pragma: no cover - compiled
    """(n, 5) int64 rows (tag code, i1, i2, j1, j2): difflib's opcodes turning `left` into `right`."""
    blocks = _matching_blocks(left, right)
    codes = np.empty((2 * len(blocks), 5), dtype=np.int64)
    count = 0
    i = j = 0
    for block in range(len(blocks)):
        ai, bj, size = blocks[block, 0], blocks[block, 1], blocks[block, 2]
        tag = -1
        if i < ai and j < bj:
            tag = REPLACE
        elif i < ai:
            tag = DELETE
        elif j < bj:
            tag = INSERT
        if tag >= 0:
            codes[count, 0], codes[count, 1], codes[count, 2], codes[count, 3], codes[count, 4] = tag, i, ai, j, bj
            count += 1
        i, j = ai + size, bj + size
        if size:
            codes[count, 0], codes[count, 1], codes[count, 2], codes[count, 3], codes[count, 4] = EQUAL, ai, i, bj, j
            count += 1
    return codes[:count]


@numba.njit(cache=True, nogil=True)
def _matching_blocks(a, b):  # pragma: no cover - compiled
    """difflib's `get_matching_blocks`: (i, j, size) rows, adjacent blocks joined, (len(a), len(b), 0) last."""
    la, lb = len(a), len(b)
    # b2j: the positions of each value in b, increasing, as runs of `by_value`
    by_value = np.argsort(b, kind="mergesort")
    sorted_b = b[by_value]
    starts = np.searchsorted(sorted_b, a, side="left")
    ends = np.searchsorted(sorted_b, a, side="right")
    lengths = np.zeros((2, lb + 1), dtype=np.int64)  # j2len of the previous and of this row (by parity)
    stamps = np.full((2, lb + 1), -1, dtype=np.int64)  # the row number that wrote each entry
    row = 0
    queue = np.empty((la + lb + 2, 4), dtype=np.int64)
    queue[0, 0], queue[0, 1], queue[0, 2], queue[0, 3] = 0, la, 0, lb
    queued = 1
    found = np.empty((min(la, lb) + 1, 3), dtype=np.int64)
    count = 0
    while queued:
        queued -= 1
        alo, ahi, blo, bhi = queue[queued, 0], queue[queued, 1], queue[queued, 2], queue[queued, 3]
        besti, bestj, bestsize = alo, blo, 0
        for i in range(alo, ahi):
            row += 1
            this, last = row & 1, (row - 1) & 1
            for at in range(starts[i], ends[i]):
                j = by_value[at]
                if j < blo:
                    continue
                if j >= bhi:
                    break
                k = 1
                if j > 0 and stamps[last, j - 1] == row - 1:
                    k = lengths[last, j - 1] + 1
                lengths[this, j] = k
                stamps[this, j] = row
                if k > bestsize:
                    besti, bestj, bestsize = i - k + 1, j - k + 1, k
        row += 1  # the next call starts with an empty j2len
        while besti > alo and bestj > blo and a[besti - 1] == b[bestj - 1]:
            besti, bestj, bestsize = besti - 1, bestj - 1, bestsize + 1
        while besti + bestsize < ahi and bestj + bestsize < bhi and a[besti + bestsize] == b[bestj + bestsize]:
            bestsize += 1
        if bestsize:
            found[count, 0], found[count, 1], found[count, 2] = besti, bestj, bestsize
            count += 1
            if alo < besti and blo < bestj:
                queue[queued, 0], queue[queued, 1], queue[queued, 2], queue[queued, 3] = alo, besti, blo, bestj
                queued += 1
            if besti + bestsize < ahi and bestj + bestsize < bhi:
                queue[queued, 0], queue[queued, 1] = besti + bestsize, ahi
                queue[queued, 2], queue[queued, 3] = bestj + bestsize, bhi
                queued += 1
    found = found[:count]
    found = found[np.argsort(found[:, 0])]  # blocks cover disjoint stretches of a: sorted by i is sorted
    blocks = np.empty((count + 1, 3), dtype=np.int64)
    joined = 0
    i1 = j1 = k1 = 0
    for block in range(count):
        i2, j2, k2 = found[block, 0], found[block, 1], found[block, 2]
        if i1 + k1 == i2 and j1 + k1 == j2:
            k1 += k2
        else:
            if k1:
                blocks[joined, 0], blocks[joined, 1], blocks[joined, 2] = i1, j1, k1
                joined += 1
            i1, j1, k1 = i2, j2, k2
    if k1:
        blocks[joined, 0], blocks[joined, 1], blocks[joined, 2] = i1, j1, k1
        joined += 1
    blocks[joined, 0], blocks[joined, 1], blocks[joined, 2] = la, lb, 0
    return blocks[:joined + 1]


@numba.njit(cache=True, nogil=True)
def title_alignment(left, right, shingle_size):  # pragma: no cover - compiled
    """(inner edits, whether an end of the alignment replaces windows on both sides) from the opcodes of
    two titles' window hashes: `verify.title_alignment`."""
    codes = opcodes(left, right)
    edits = 0
    for block in range(1, len(codes) - 1):
        if codes[block, 0] != EQUAL:
            span = max(codes[block, 2] - codes[block, 1], codes[block, 4] - codes[block, 3])
            edits += max(1, span - (shingle_size - 1))
    ends = len(codes) > 1 and (codes[0, 0] == REPLACE or codes[len(codes) - 1, 0] == REPLACE)
    return edits, ends
