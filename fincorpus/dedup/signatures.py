"""MinHash signatures compatible with datasketch's `MinHash` (scheme "affine32"), computed in batches.

Equal to `datasketch.MinHash(num_perm, seed, scheme="affine32", hashfunc=<low 32 bits of our shingle
hash>)` after `update_batch` over the shingles, so the signatures go straight into datasketch's
`MinHashLSH` / `MinHashLSHEnsemble`. A test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

_CHUNK = 2048  # shingles per step: bounds the (num_perm x chunk) temporary to 1 MB at 128 permutations
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_MAX32 = np.uint32(0xFFFFFFFF)


class Signer:
    """Holds the permutations and a reusable work buffer; one per process."""

    def __init__(self, num_perm: int, seed: int) -> None:
        self.num_perm = num_perm
        self.seed = seed
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self._a = a.astype(np.uint32).reshape(-1, 1)
        self._b = b.astype(np.uint32).reshape(-1, 1)
        self._work = np.empty((num_perm, _CHUNK), dtype=np.uint32)

    def sign(self, shingles: np.ndarray) -> np.ndarray:
        """Signature (uint32, length num_perm) of a set of 64-bit shingle hashes."""
        signature = np.full(self.num_perm, _MAX32, dtype=np.uint32)
        low = shingles.astype(np.uint32)  # the low 32 bits, as datasketch's 32-bit hashfunc would give
        s1, m1, s2, m2, s3 = _FMIX32
        for begin in range(0, len(low), _CHUNK):
            chunk = low[begin:begin + _CHUNK]
            chunk = chunk ^ (chunk >> s1)
            chunk = chunk * m1
            chunk = chunk ^ (chunk >> s2)
            chunk = chunk * m2
            chunk = chunk ^ (chunk >> s3)
            work = self._work[:, :len(chunk)]
            np.multiply(self._a, chunk, out=work)
            np.add(work, self._b, out=work)
            np.minimum(signature, work.min(axis=1), out=signature)
        return signature

    def sign_all(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many sets as one (len(shingle_sets), num_perm) uint32 matrix: a table stage."""
        signatures = np.empty((len(shingle_sets), self.num_perm), dtype=np.uint32)
        for row, shingles in enumerate(shingle_sets):
            signatures[row] = self.sign(shingles)
        return signatures

    def to_minhash(self, signature: np.ndarray) -> MinHash:
        return MinHash(seed=self.seed, hashvalues=signature, scheme="affine32")
