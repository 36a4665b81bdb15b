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
holds the two equal) at a fraction of the cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from datasketch import MinHashLSHEnsemble
from datasketch.lshensemble_partition import optimal_partitions

from fincorpus.dedup.signatures import Signer

_BAND_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def candidate_pairs(signatures: np.ndarray, sizes: Sequence[int], signer: Signer, threshold: float,
                    keys: Sequence[int] | None = None) -> np.ndarray:
    """Pairs (i, j), i < j, of rows whose sets may contain one another at >= `threshold`, as an (n, 2)
    int64 array sorted by rows. `keys` names the rows (default 0..n-1); rows with an empty set are skipped.

    Every row is indexed and queried: a query returns the indexed sets that contain it, so each pair is
    found from its smaller side, and pairs of similar size from both.
    """
    keys = np.arange(len(signatures)) if keys is None else np.asarray(keys, dtype=np.int64)
    rows = np.flatnonzero(np.asarray(sizes, dtype=np.int64).reshape(-1) > 0)
    if len(rows) < 2:
        return np.empty((0, 2), dtype=np.int64)
    stepped = np.array([_size_step(int(sizes[row])) for row in rows], dtype=np.int64)
    matrix = np.ascontiguousarray(signatures[rows])
    bands, widths, partition = _query_parameters(stepped, threshold, signer.num_perm)
    found = [_band_pairs(matrix, bands, widths, partition, int(r)) for r in np.unique(widths)]
    pairs = np.concatenate([np.empty((0, 2), dtype=np.int64), *found])
    pairs = np.unique(np.sort(pairs, axis=1), axis=0)
    named = keys[rows][pairs]
    return named[np.lexsort((named[:, 1], named[:, 0]))].reshape(-1, 2)


def _query_parameters(sizes: np.ndarray, threshold: float, num_perm: int
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


def _band_pairs(matrix: np.ndarray, bands: np.ndarray, widths: np.ndarray, partition: np.ndarray,
                r: int) -> np.ndarray:
    """Ordered pairs (query, indexed) that share one of the first `b` bands of width `r`, for the queries
    that probe the indexed row's partition with width `r`."""
    probed = bands[widths == r]
    out = []
    for band in range(int(probed.max()) if len(probed) else 0):
        columns = matrix[:, band * r:(band + 1) * r].astype(np.uint64)
        key = columns[:, 0].copy()
        with np.errstate(over="ignore"):
            for column in range(1, r):
                key = key * _BAND_MULTIPLIER + columns[:, column]
        for query, indexed in _same_key_pairs(key):
            where = partition[indexed]
            keep = (widths[query, where] == r) & (bands[query, where] > band)
            query, indexed = query[keep], indexed[keep]
            # the key is a hash of the band: equal bands always collide, a rare false collision is dropped
            same = (columns[query] == columns[indexed]).all(axis=1)
            out.append(np.stack([query[same], indexed[same]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def _same_key_pairs(key: np.ndarray):
    """Every ordered pair of distinct rows with equal keys, in slices: (rows, rows) arrays per step."""
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    shared = np.flatnonzero(ordered[1:] == ordered[:-1])
    if not len(shared):
        return
    # positions that belong to a group of two or more, compressed
    members = np.unique(np.concatenate([shared, shared + 1]))
    group = np.cumsum(np.r_[True, ordered[members[1:]] != ordered[members[:-1]]] |
                      np.r_[True, members[1:] != members[:-1] + 1])
    rows = order[members]
    for distance in range(1, len(members)):
        left = np.flatnonzero(group[:-distance] == group[distance:])
        if not len(left):
            return
        yield rows[left], rows[left + distance]
        yield rows[left + distance], rows[left]


@lru_cache(maxsize=8)
def _ensemble_parameters(threshold: float, num_perm: int) -> tuple[np.ndarray, np.ndarray, int]:
    ensemble = MinHashLSHEnsemble(threshold=threshold, num_perm=num_perm)
    return ensemble.xqs, ensemble.params, len(ensemble.indexes)


def _size_step(size: int) -> int:
    """The set size rounded to a 5% geometric step. The ensemble only uses sizes to partition the index
    and pick band parameters, and its partitioning costs the square of the number of distinct sizes
    (17 s for 2,000 documents with exact sizes, well under a second with these steps)."""
    return max(1, round(math.exp(round(math.log(size) * 20) / 20)))
