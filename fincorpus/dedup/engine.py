"""Exact and near-duplicate clusters with a canonical document each.

Stages, each over plain arrays/frames:
1. fingerprint and exact hash: exact duplicates (after folding) collapse to one representative;
2. shingles and MinHash signatures of the representatives long enough for near-dup matching;
3. LSH (datasketch `MinHashLSH`) proposes candidate pairs at a deliberately low threshold;
4. every candidate is verified on the exact shingle sets: Jaccard ≥ `jaccard_threshold`, or the shorter
   document's shingles lie in the longer one at ≥ `containment_threshold` (a truncated preview);
5. clusters are connected components of verified edges; the canonical is the most complete member
   (most fingerprint characters, then the smallest doc_id), and each member is measured against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import xxhash
from datasketch import MinHashLSH

from fincorpus.config import DedupConfig
from fincorpus.dedup.shingles import exact_hash, fingerprint_text, shingle_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.documents import Reason, Status

DEDUP_SCHEMA = {
    "doc_id": pl.String,
    "cluster_id": pl.String,
    "canonical_id": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "similarity": pl.Float64,
    "containment": pl.Float64,
}


@dataclass(frozen=True, slots=True)
class DedupResult:
    assignments: pl.DataFrame
    """One row per document given: DEDUP_SCHEMA."""
    candidate_pairs: int
    verified_pairs: int


@dataclass(frozen=True, slots=True)
class PairScore:
    jaccard: float
    containment: float
    """Share of the smaller set inside the larger one."""


def score(left: np.ndarray, right: np.ndarray) -> PairScore:
    """Exact Jaccard and containment of two sorted unique shingle-hash arrays."""
    if len(left) == 0 or len(right) == 0:
        return PairScore(0.0, 0.0)
    shared = len(np.intersect1d(left, right, assume_unique=True))
    return PairScore(shared / (len(left) + len(right) - shared), shared / min(len(left), len(right)))


def contained_share(member: np.ndarray, canonical: np.ndarray) -> float:
    """Share of `member`'s shingles that occur in `canonical`."""
    if len(member) == 0:
        return 0.0
    return len(np.intersect1d(member, canonical, assume_unique=True)) / len(member)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, left: int, right: int) -> None:
        left, right = self.find(left), self.find(right)
        if left != right:
            self.parent[max(left, right)] = min(left, right)


def cluster_id_of(canonical_id: str) -> str:
    return "c" + xxhash.xxh3_64_hexdigest(canonical_id.encode("utf-8"))


def deduplicate(doc_ids: Sequence[str], texts: Sequence[str], config: DedupConfig) -> DedupResult:
    """Cluster documents (already cleaned) and choose a canonical per cluster."""
    count = len(doc_ids)
    fingerprints = [fingerprint_text(text) for text in texts]
    exact = [exact_hash(fingerprint) for fingerprint in fingerprints]

    # 1. exact duplicates: the smallest doc_id of each exact group represents it
    order = sorted(range(count), key=lambda index: doc_ids[index])
    representative_of: dict[int, int] = {}
    for index in order:
        representative_of.setdefault(exact[index], index)
    representatives = sorted(set(representative_of.values()), key=lambda index: doc_ids[index])
    union = _UnionFind(count)
    for index in range(count):
        union.union(index, representative_of[exact[index]])

    # 2-4. near duplicates among representatives long enough to compare
    shingles: dict[int, np.ndarray] = {}
    minhashes = {}
    signer = Signer(config.num_perm, config.seed)
    lsh = MinHashLSH(threshold=config.lsh_threshold, num_perm=config.num_perm)
    for index in representatives:
        if len(fingerprints[index]) < config.min_chars:
            continue
        shingles[index] = shingle_hashes(fingerprints[index], config.shingle_size)
        minhashes[index] = signer.to_minhash(signer.sign(shingles[index]))
        lsh.insert(index, minhashes[index], check_duplication=False)
    candidates: set[tuple[int, int]] = set()
    for index, minhash in minhashes.items():
        candidates.update((min(index, other), max(index, other)) for other in lsh.query(minhash) if other != index)
    verified = 0
    for left, right in sorted(candidates):
        pair = score(shingles[left], shingles[right])
        if pair.jaccard >= config.jaccard_threshold or pair.containment >= config.containment_threshold:
            union.union(left, right)
            verified += 1

    # 5. clusters, canonical, each member measured against its canonical
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(count):
        members[union.find(index)].append(index)
    rows: list[dict] = []
    for group in members.values():
        canonical = min(group, key=lambda index: (-len(fingerprints[index]), doc_ids[index]))
        cluster_id = cluster_id_of(doc_ids[canonical])
        canonical_shingles = shingles.get(canonical)
        for index in group:
            rows.append(_assignment(index, canonical, cluster_id, doc_ids, exact, fingerprints, shingles,
                                    canonical_shingles, config))
    assignments = pl.DataFrame(rows, schema=DEDUP_SCHEMA).sort("doc_id")
    return DedupResult(assignments, len(candidates), verified)


def _assignment(index, canonical, cluster_id, doc_ids, exact, fingerprints, shingles, canonical_shingles,
                config: DedupConfig) -> dict:
    row = {"doc_id": doc_ids[index], "cluster_id": cluster_id, "canonical_id": doc_ids[canonical]}
    if index == canonical:
        return row | {"status": Status.CANONICAL.value, "reason": None, "similarity": 1.0, "containment": 1.0}
    if exact[index] == exact[canonical]:
        return row | {"status": Status.DUPLICATE.value, "reason": Reason.EXACT_DUPLICATE.value,
                      "similarity": 1.0, "containment": 1.0}
    member_shingles = shingles.get(index)
    if member_shingles is None:  # an exact copy of another member, represented by it
        member_shingles = shingle_hashes(fingerprints[index], config.shingle_size)
    pair = score(member_shingles, canonical_shingles)
    containment = contained_share(member_shingles, canonical_shingles)
    reason = Reason.NEAR_DUPLICATE if pair.jaccard >= config.jaccard_threshold else Reason.CONTAINED
    return row | {"status": Status.DUPLICATE.value, "reason": reason.value,
                  "similarity": round(pair.jaccard, 4), "containment": round(containment, 4)}
