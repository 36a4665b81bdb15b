"""MinHash signatures compatible with datasketch's `MinHash` (scheme "affine32"), computed in batches.

Equal to `datasketch.MinHash(num_perm, seed, scheme="affine32", hashfunc=<low 32 bits of our shingle
hash>)` after `update_batch` over the shingles, so the signatures go straight into datasketch's
`MinHashLSH` / `MinHashLSHEnsemble`. A test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from datasketch import MinHash

_BATCH = 512  # documents whose hashes are concatenated for one call of the compiled loop


class Signer:
    """Holds the permutations; one per process. The signing loop is compiled with numba: no per-shingle
    Python objects and no (num_perm x shingles) temporary, one pass over the hashes per document."""

    def __init__(self, num_perm: int, seed: int) -> None:
        self.num_perm = num_perm
        self.seed = seed
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._a = np.ascontiguousarray(a, dtype=np.uint64)
        self._b = np.ascontiguousarray(b, dtype=np.uint64)
        self.low_a = (self._a & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        """Low 32 bits of the permutations: all that reaches a value (`lower_with`)."""
        self.low_b = (self._b & np.uint64(0xFFFFFFFF)).astype(np.uint32)

    def sign(self, shingles: np.ndarray) -> np.ndarray:
        """Signature (uint32, length num_perm) of a set of 64-bit shingle hashes."""
        return self.sign_all([shingles])[0]

    def sign_all(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many sets as one (len(shingle_sets), num_perm) uint32 matrix: a table stage."""
        signatures = np.empty((len(shingle_sets), self.num_perm), dtype=np.uint32)
        for begin in range(0, len(shingle_sets), _BATCH):
            batch = shingle_sets[begin:begin + _BATCH]
            offsets = np.zeros(len(batch) + 1, dtype=np.int64)
            np.cumsum([len(shingles) for shingles in batch], out=offsets[1:])
            hashes = np.concatenate([np.asarray(shingles, dtype=np.uint64) for shingles in batch]) if len(batch) else \
                np.empty(0, dtype=np.uint64)
            _sign_rows(hashes, offsets, self._a, self._b, signatures[begin:begin + len(batch)])
        return signatures

    def to_minhash(self, signature: np.ndarray) -> MinHash:
        return MinHash(seed=self.seed, hashvalues=signature, scheme="affine32")


@numba.njit(cache=True, nogil=True)
def _sign_rows(hashes, offsets, a, b, out):  # pragma: no cover - compiled
    """out[row] = min over the row's hashes h of (a * fmix32(low 32 bits of h) + b) mod 2**32, per permutation:
    datasketch's affine32 scheme, which mixes each 32-bit hash with MurmurHash3's finaliser first."""
    mask = np.uint64(0xFFFFFFFF)
    low_a = (a & mask).astype(np.uint32)
    low_b = (b & mask).astype(np.uint32)
    longest = 0
    for row in range(len(offsets) - 1):
        longest = max(longest, offsets[row + 1] - offsets[row])
    mixed = np.empty(longest, dtype=np.uint32)
    for row in range(len(offsets) - 1):
        count = offsets[row + 1] - offsets[row]
        for position in range(count):
            mixed[position] = mix32(hashes[offsets[row] + position])
        out[row, :] = np.uint32(0xFFFFFFFF)
        lower_with(mixed[:count], low_a, low_b, out[row])


@numba.njit(cache=True, nogil=True, inline="always")
def mix32(value):  # pragma: no cover - compiled
    """MurmurHash3's 32-bit finaliser of the low 32 bits of `value`: what datasketch's affine32 permutes."""
    mask = np.uint64(0xFFFFFFFF)
    value = value & mask
    value ^= value >> np.uint64(16)
    value = (value * np.uint64(0x85EBCA6B)) & mask
    value ^= value >> np.uint64(13)
    value = (value * np.uint64(0xC2B2AE35)) & mask
    value ^= value >> np.uint64(16)
    return np.uint32(value)


@numba.njit(cache=True, nogil=True)
def lower_with(mixed, low_a, low_b, minimum):  # pragma: no cover - compiled
    """Lower `minimum` (one signature) with the `mixed` hashes (`mix32`). Only the low 32 bits of a and b
    reach the result; the loop over hashes inside the loop over permutations is a min-reduction of
    contiguous 32-bit lanes, which LLVM vectorises (8x the speed of one permutation loop per hash)."""
    for perm in range(len(low_a)):
        factor, offset = low_a[perm], low_b[perm]
        lowest = minimum[perm]
        for position in range(len(mixed)):
            lowest = min(lowest, np.uint32(factor * mixed[position] + offset))
        minimum[perm] = lowest
