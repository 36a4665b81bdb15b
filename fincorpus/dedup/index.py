"""Candidate pairs from a containment index: datasketch's `MinHashLSHEnsemble` (LSH Ensemble, Zhu et al.).

A truncated preview holds a fraction of the full report's shingles, so its Jaccard similarity is low
(0.53 for seeds 000/001, about 0.25 for a quarter-length preview) while its containment stays near 1:
a Jaccard index misses it, a containment index does not. Sets of similar size that share most shingles
have high containment both ways, so one index serves both tests. The index only proposes; `verify`
decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from datasketch import MinHashLSHEnsemble

from fincorpus.dedup.signatures import Signer


def candidate_pairs(signatures: np.ndarray, sizes: Sequence[int], signer: Signer, threshold: float,
                    keys: Sequence[int] | None = None) -> np.ndarray:
    """Pairs (i, j), i < j, of rows whose sets may contain one another at >= `threshold`, as an (n, 2)
    int64 array sorted by rows. `keys` names the rows (default 0..n-1); rows with an empty set are skipped.

    Every row is indexed and queried: a query returns the indexed sets that contain it, so each pair is
    found from its smaller side, and pairs of similar size from both.
    """
    keys = list(range(len(signatures))) if keys is None else list(keys)
    entries = [(key, signer.to_minhash(signatures[row]), _size_step(sizes[row]))
               for row, key in enumerate(keys) if sizes[row] > 0]
    if len(entries) < 2:
        return np.empty((0, 2), dtype=np.int64)
    index = MinHashLSHEnsemble(threshold=threshold, num_perm=signer.num_perm)
    index.index(entries)
    found: set[tuple[int, int]] = set()
    for key, minhash, size in entries:
        for other in index.query(minhash, size):
            if other != key:
                found.add((min(key, other), max(key, other)))
    return np.array(sorted(found), dtype=np.int64).reshape(-1, 2)


def _size_step(size: int) -> int:
    """The set size rounded to a 5% geometric step. The ensemble only uses sizes to partition the index
    and pick band parameters, and its partitioning costs the square of the number of distinct sizes
    (17 s for 2,000 documents with exact sizes, well under a second with these steps)."""
    return max(1, round(math.exp(round(math.log(size) * 20) / 20)))
