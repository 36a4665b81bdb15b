"""Candidate pairs from a containment index: LSH Ensemble (Zhu et al.) with datasketch's parameters.

A truncated preview holds a fraction of the full report's shingles, so its Jaccard similarity is low
(0.53 for seeds 000/001, about 0.25 for a quarter-length preview) while its containment stays near 1:
a Jaccard index misses it, a containment index does not. Sets of similar size that share most shingles
have high containment both ways, so one index serves both tests. The index only proposes; `verify`
decides.

The partitions by set size and the band parameters (b, r) of each query against each partition are
datasketch's `MinHashLSHEnsemble`'s own (`optimal_partitions`, `params`); the buckets are built and
probed for the whole batch at once with numpy (a sort per band) instead of one Python query per document,
which returns the same pairs as indexing and querying every document in datasketch's index (a test
holds the two equal) at a fraction of the cost; the band loop is compiled with numba (per band a radix sort
of 32-bit band hashes, the pairs kept in a hash set).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numba
import numpy as np
from datasketch import MinHashLSHEnsemble
from datasketch.lshensemble_partition import optimal_partitions
from scipy.special import bdtr

from fincorpus.dedup.signatures import Signer

_BAND_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_LOW32 = np.uint64(0xFFFFFFFF)


def candidate_pairs(signatures: np.ndarray, sizes: Sequence[int], signer: Signer, threshold: float,
                    keys: Sequence[int] | None = None, threads: int = 1, fresh: np.ndarray | None = None
                    ) -> np.ndarray:
    """Pairs (i, j), i < j, of rows whose sets may contain one another at >= `threshold`, as an (n, 2)
    int64 array sorted by rows. `keys` names the rows (default 0..n-1); rows with an empty set are skipped.
    Each band width is banded in one of `threads` threads (compiled, without the GIL). With `fresh` (a
    boolean per row), only pairs holding a fresh row are proposed: a bucket costs its fresh rows times its
    size, not its size squared (an update's stored clusters propose one another no more).

    Every row is indexed and queried: a query returns the indexed sets that contain it, so each pair is
    found from its smaller side, and pairs of similar size from both.
    """
    keys = np.arange(len(signatures)) if keys is None else np.asarray(keys, dtype=np.int64)
    rows = np.flatnonzero(np.asarray(sizes, dtype=np.int64).reshape(-1) > 0)
    if len(rows) < 2:
        return np.empty((0, 2), dtype=np.int64)
    stepped = np.array([size_step(int(sizes[row])) for row in rows], dtype=np.int64)
    matrix = np.ascontiguousarray(signatures[rows])
    bands, widths, partition = query_parameters(stepped, threshold, signer.num_perm)
    bands, widths = bands.astype(np.int64), widths.astype(np.int64)
    fresh_rows = np.ones(len(rows), dtype=np.bool_) if fresh is None else np.asarray(fresh, dtype=np.bool_)[rows]
    with ThreadPoolExecutor(max(1, threads)) as pool:
        found = list(pool.map(lambda r: band_pairs(matrix, bands, widths, partition, r, fresh_rows),
                              np.unique(widths).tolist()))
    pairs = np.concatenate([np.empty((0, 2), dtype=np.int64), *found])
    codes = np.unique(pairs[:, 0] * len(rows) + pairs[:, 1])  # each pair once, as one integer
    pairs = np.column_stack([codes // len(rows), codes % len(rows)])
    named = keys[rows][pairs]
    return named[np.lexsort((named[:, 1], named[:, 0]))].reshape(-1, 2)


def plausible_pairs(pairs: np.ndarray, signatures: np.ndarray, sizes: Sequence[int], whole_body: np.ndarray,
                    threshold: float, p_value: float) -> np.ndarray:
    """The pairs (rows into `signatures`) whose signatures leave it plausible that the smaller set lies in
    the other at `threshold`: a pair is dropped when, were it contained at `threshold` (a Jaccard of
    t·q / (q + x − t·q) for set sizes q <= x), as few of its MinHash values or fewer would agree with a
    probability under `p_value` (the binomial tail); a `p_value` of 0 keeps every pair.

    The ensemble probes the bands sized for a partition's largest set, so the smaller sets of a partition
    are proposed on one or two equal values: most candidates of a large batch share a few common 5-grams
    and nothing else. Where the sizes are so unequal that a contained set would show one or two equal
    values (a short preview of a long report), no count is improbable and the pair stays. So does a pair
    of which one document only was signed on its `whole_body` (`passes.finish_signatures`): verification
    compares it on informative shingles its signature does not describe."""
    if p_value <= 0 or len(pairs) == 0:
        return pairs
    matches = agreeing_values(signatures, pairs)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1)
    smaller = np.minimum(sizes[pairs[:, 0]], sizes[pairs[:, 1]])
    larger = np.maximum(sizes[pairs[:, 0]], sizes[pairs[:, 1]])
    jaccard = threshold * smaller / (smaller + larger - threshold * smaller)
    whole_body = np.asarray(whole_body, dtype=bool)
    undecided = whole_body[pairs[:, 0]] != whole_body[pairs[:, 1]]
    return pairs[undecided | (bdtr(matches, signatures.shape[1], jaccard) >= p_value)]


@numba.njit(cache=True, nogil=True)
def agreeing_values(signatures, pairs):  # pragma: no cover - compiled
    """For each pair, how many of the two signatures' values are equal."""
    matches = np.zeros(len(pairs), dtype=np.int64)
    for index in range(len(pairs)):
        left, right = signatures[pairs[index, 0]], signatures[pairs[index, 1]]
        for column in range(len(left)):
            matches[index] += left[column] == right[column]
    return matches


def query_parameters(sizes: np.ndarray, threshold: float, num_perm: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query row and each partition: the number of bands `b` the query probes in that partition
    and their width `r`, as datasketch's `MinHashLSHEnsemble.query` chooses them; and each row's partition."""
    xqs, params, num_part = _ensemble_parameters(threshold, num_perm)
    distinct, counts = np.unique(sizes, return_counts=True)
    uppers = np.array([upper for _, upper in optimal_partitions(distinct, counts, num_part)], dtype=np.float64)
    partition = np.empty(len(sizes), dtype=np.int64)
    current = 0
    for row in np.argsort(sizes, kind="stable").tolist():  # datasketch's `index` walks the sizes the same way
        if sizes[row] > uppers[current]:
            current += 1
        partition[row] = current
    # params[i] is (b, r) for the ratio upper / query size; one lookup per (query, partition)
    choice = np.searchsorted(xqs, uppers[None, :] / sizes[:, None].astype(np.float64), side="left")
    choice = np.minimum(choice, len(params) - 1)
    return params[choice, 0], params[choice, 1], partition


@numba.njit(cache=True, nogil=True)
def band_pairs(matrix, bands, widths, partition, r, fresh):  # pragma: no cover - compiled
    """Pairs (i, j), i < j, without repeats (in no order), of rows that share one of the first `b` bands of width
    `r`, for the queries that probe the other row's partition with width `r`, and that hold a `fresh` row:
    per band, the rows sorted by a 32-bit hash of the band (the row number in the low bits), every ordered
    pair within a run of equal hashes (a fresh query with every row, any query with the fresh rows) checked
    on the band itself (a collision of the hash is dropped); pairs are kept once, as i * rows + j, in an
    open-addressing set."""
    rows = matrix.shape[0]
    probed = 0
    for query in range(rows):
        for where in range(bands.shape[1]):
            if widths[query, where] == r and bands[query, where] > probed:
                probed = bands[query, where]
    found = np.full(1024, -1, dtype=np.int64)  # the set of pairs: -1 marks a free slot
    count = 0
    keyed = np.empty(rows, dtype=np.uint64)  # band hash << 32 | row
    spare = np.empty(rows, dtype=np.uint64)
    fresh_in_run = np.empty(rows, dtype=np.int64)  # positions of a run's fresh rows
    for band in range(probed):
        first = band * r
        for row in range(rows):
            key = np.uint64(matrix[row, first])
            for column in range(1, r):
                key = key * _BAND_MULTIPLIER + np.uint64(matrix[row, first + column])
            keyed[row] = (((key >> np.uint64(32)) ^ key) << np.uint64(32)) | np.uint64(row)
        _radix_sort_high(keyed, spare)
        start = 0
        while start < rows:
            end = start + 1
            while end < rows and (keyed[end] >> np.uint64(32)) == (keyed[start] >> np.uint64(32)):
                end += 1
            fresh_count = 0
            for a in range(start, end):
                if fresh[np.int64(keyed[a] & _LOW32)]:
                    fresh_in_run[fresh_count] = a
                    fresh_count += 1
            for a in range(start, end):
                query = np.int64(keyed[a] & _LOW32)
                others = end - start if fresh[query] else fresh_count
                for other in range(others):
                    b = start + other if fresh[query] else fresh_in_run[other]
                    if a == b:
                        continue
                    indexed = np.int64(keyed[b] & _LOW32)
                    where = partition[indexed]
                    if widths[query, where] != r or bands[query, where] <= band:
                        continue
                    same = True
                    for column in range(first, first + r):
                        if matrix[query, column] != matrix[indexed, column]:
                            same = False
                            break
                    if not same:
                        continue
                    if 2 * (count + 1) > len(found):
                        found = _grown(found)
                    count += _add(found, min(query, indexed) * rows + max(query, indexed))
            start = end
    # In no order (the caller sorts), by a loop: a sort or a boolean mask here compiles numba's quicksort or
    # its fancy indexing, seconds of a first build.
    pairs = np.empty((count, 2), dtype=np.int64)
    index = 0
    for code in found:
        if code >= 0:
            pairs[index, 0] = code // rows
            pairs[index, 1] = code % rows
            index += 1
    return pairs


@numba.njit(cache=True, nogil=True, inline="always")
def _add(table, code):  # pragma: no cover - compiled
    """Put `code` (>= 0) in the set; 1 when it was not there."""
    mask = len(table) - 1
    slot = np.int64((np.uint64(code) * _BAND_MULTIPLIER) >> np.uint64(32)) & mask
    while table[slot] >= 0:
        if table[slot] == code:
            return 0
        slot = (slot + 1) & mask
    table[slot] = code
    return 1


@numba.njit(cache=True, nogil=True)
def _grown(table):  # pragma: no cover - compiled
    bigger = np.full(2 * len(table), -1, dtype=np.int64)
    for code in table:
        if code >= 0:
            _add(bigger, code)
    return bigger


@numba.njit(cache=True, nogil=True)
def _radix_sort_high(values, spare):  # pragma: no cover - compiled
    """Sort `values` by their high 32 bits, stably (least significant digit first, 11 bits a pass): rows
    written in order stay in order within a run. (Loops over positions and a pass number: a loop over a
    tuple of shifts with the two arrays swapped took numba 2.3 s more to compile.)"""
    source, target = values, spare
    counts = np.empty(2049, dtype=np.int64)
    for step in range(3):
        shift = np.uint64(32 + 11 * step)
        counts[:] = 0
        for index in range(len(source)):
            counts[np.int64((source[index] >> shift) & np.uint64(2047)) + 1] += 1
        for digit in range(2048):
            counts[digit + 1] += counts[digit]
        for index in range(len(source)):
            value = source[index]
            digit = np.int64((value >> shift) & np.uint64(2047))
            target[counts[digit]] = value
            counts[digit] += 1
        source, target = target, source
    for index in range(len(values)):
        values[index] = source[index]


@lru_cache(maxsize=8)
def _ensemble_parameters(threshold: float, num_perm: int) -> tuple[np.ndarray, np.ndarray, int]:
    ensemble = MinHashLSHEnsemble(threshold=threshold, num_perm=num_perm)
    return ensemble.xqs, ensemble.params, len(ensemble.indexes)


def size_step(size: int) -> int:
    """The set size rounded to a 5% geometric step. The ensemble only uses sizes to partition the index
    and pick band parameters, and its partitioning costs the square of the number of distinct sizes
    (17 s for 2,000 documents with exact sizes, well under a second with these steps)."""
    return max(1, round(math.exp(round(math.log(size) * 20) / 20)))
