"""Matching a new batch against stored representatives without rebuilding any index.

A store keeps, per document, its exact hash, its shingle count and its MinHash signature (`Signer`,
datasketch-compatible). A datasketch index would have to be rebuilt from those signatures on every run
(building `MinHashLSHEnsemble` over 100k documents costs far more than the update itself), so the stored
signatures are treated as a table instead:

1. `band_keys`: each signature cut into `bands` bands of `rows` values (the banding of datasketch's
   `MinHashLSH`, with its own `_optimal_param` choosing (bands, rows) for a Jaccard threshold), one 64-bit
   key per band;
2. `stored_candidates`: one join of the new documents' band keys with the stored ones proposes pairs;
3. the pairs whose signatures estimate a containment (of the smaller set in the larger) below
   `dedup.candidate_threshold` are dropped. Banding at a low Jaccard threshold keeps a preview of a quarter of a report (Jaccard ~0.25)
   within reach in both directions (a preview arriving after its report, or a report after its preview);
   the estimate removes most of what that low threshold lets in.

Signatures are taken over a document's body (`index_shingles`: its legal pages left out, as the engine
leaves them out), so that two reports of one broker do not look alike for their disclaimers. The pairs left
only propose; the engine verifies them on the shingles of the stored text.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl
from datasketch.lsh import _optimal_param

from fincorpus.config import DedupConfig
from fincorpus.dedup.index import agreeing_values

_MIX = np.uint64(0x9E3779B97F4A7C15)


def index_shingles(windows: np.ndarray, legal: int | None, config: DedupConfig) -> np.ndarray:
    """Sorted unique shingles of a document's body from its window hashes (`passes.Shingler.windows`): those
    before its legal pages (`legal`, their fingerprint offset: `Shingler.fingerprint`), or all of them when
    the body is shorter than `min_chars` (a page that is nothing but a disclaimer)."""
    if legal is not None and legal >= config.min_chars:
        windows = windows[:legal]
    return np.unique(windows)


@lru_cache(maxsize=16)
def band_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band): the rows datasketch's `MinHashLSH` would use at this Jaccard threshold, and
    as many bands of them as the signature holds. datasketch leaves the values past its own band count
    unused (28 bands of 2 of 128 values at 0.2), and a preview in a report three times its size (a Jaccard
    near 0.3, lower for a larger report) shares none of those 28 bands often enough that updates lost about
    one edge in a hundred that a build verifies (bench/synth.py, 1,000 documents in 10 updates). Bands of
    the first values are the same either way, so band tables written with fewer bands stay valid and only
    propose less. (Cached: datasketch integrates the false positive and negative rates of every shape.)"""
    _, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return num_perm // int(rows), int(rows)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 keys; two signatures share a key exactly when (up to hash collisions, which only
    add candidates) they agree on every value of that band."""
    cut = signatures[:, :bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    keys = np.zeros((len(signatures), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for row in range(rows):
            keys = (keys ^ cut[:, :, row]) * _MIX
            keys ^= keys >> np.uint64(29)
    return keys


def estimated_containment(signatures: np.ndarray, pairs: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Containment of the smaller set in the larger for each pair (rows into `signatures` and `sizes`), from
    the share of equal MinHash values (an estimate of Jaccard J) and the set sizes:
    |A ∩ B| = J (|A| + |B|) / (1 + J)."""
    jaccard = agreeing_values(signatures, pairs) / signatures.shape[1]
    sizes = np.asarray(sizes, dtype=np.float64)
    left, right = sizes[pairs[:, 0]], sizes[pairs[:, 1]]
    shared = jaccard * (left + right) / (1 + jaccard)
    return shared / np.maximum(np.minimum(left, right), 1)


def stored_candidates(new_signatures: np.ndarray, new_sizes: np.ndarray, stored_signatures: np.ndarray,
                      stored_sizes: np.ndarray, threshold: float, min_containment: float) -> np.ndarray:
    """Pairs (new row, stored row) as an (n, 2) int64 array, sorted: stored sets that may contain a new one,
    or lie in it, at `min_containment` or more (estimated), proposed by bands at Jaccard `threshold`."""
    if len(new_signatures) == 0 or len(stored_signatures) == 0:
        return np.empty((0, 2), dtype=np.int64)
    bands, rows = band_shape(threshold, new_signatures.shape[1])

    def table(signatures: np.ndarray, name: str) -> pl.DataFrame:
        keys = band_keys(signatures, bands, rows)
        return pl.DataFrame({name: np.repeat(np.arange(len(signatures), dtype=np.int64), bands),
                             "band": np.tile(np.arange(bands, dtype=np.int16), len(signatures)),
                             "key": keys.reshape(-1)})

    pairs = (table(new_signatures, "new").join(table(stored_signatures, "stored"), on=["band", "key"])
             .select("new", "stored").unique().sort("new", "stored"))
    new_rows, stored_rows = pairs["new"].to_numpy(), pairs["stored"].to_numpy()
    if len(new_rows) == 0:
        return np.empty((0, 2), dtype=np.int64)
    estimate = estimated_containment(np.concatenate([new_signatures, stored_signatures]),
                                     np.column_stack([new_rows, len(new_signatures) + stored_rows]),
                                     np.concatenate([new_sizes, stored_sizes]))
    kept = estimate >= min_containment
    return np.column_stack([new_rows[kept], stored_rows[kept]]).astype(np.int64)
