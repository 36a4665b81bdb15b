"""Exact and near-duplicate clusters with a canonical document each, as a chain of table stages:

1. `fingerprint_batch`: fingerprints and exact hashes; exact duplicates (after folding) collapse onto one
   representative, the smallest doc_id of each exact group;
2. `shingle_batch`: 5-gram shingles of the representatives long enough to compare, boilerplate shingles
   (found in many documents of the batch) set aside, figures extracted for the finance guard;
3. `Signer.sign_all`: MinHash signatures of the informative shingles (datasketch-compatible);
4. `candidate_pairs`: the LSH Ensemble containment index proposes pairs;
5. `verify_pairs`: every candidate is measured on its shingles; only pairs that pass a test are edges;
6. `cluster.settle`: components of the edges, split until every member passes a test against its
   canonical, chosen by the `dedup.canonical` policy.

Each stage takes and returns plain arrays or frames, so an incremental run can load the stored
representatives' stages and run 3-6 over old and new documents together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
import xxhash

from fincorpus.config import DedupConfig
from fincorpus.dedup.boilerplate import boilerplate_figures, boilerplate_shingles, informative, legal_section_start
from fincorpus.dedup.canonical import choose_canonical
from fincorpus.dedup.cluster import settle_components
from fincorpus.dedup.index import candidate_pairs
from fincorpus.dedup.shingles import exact_hash, figures, fingerprint_text, sorted_unique, window_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.dedup.verify import PairScore, Shingled, score_pair
from fincorpus.documents import Reason, Status

DEDUP_SCHEMA = {
    "doc_id": pl.String,
    "cluster_id": pl.String,
    "canonical_id": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "similarity": pl.Float64,
    "containment": pl.Float64,
    "fingerprint_chars": pl.Int64,  # letters and digits after folding: under `min_chars`, exact matching only
}

PAIRS_SCHEMA = {
    "left_id": pl.String,
    "right_id": pl.String,
    "similarity": pl.Float64,
    "left_in_right": pl.Float64,
    "right_in_left": pl.Float64,
    "number_difference": pl.Float64,
    "test": pl.String,
}
"""One row per verified candidate pair; `test` is null for a pair that failed every test."""


@dataclass(frozen=True, slots=True)
class DedupResult:
    assignments: pl.DataFrame
    """One row per document given: DEDUP_SCHEMA."""
    pairs: pl.DataFrame
    """Every candidate pair with its scores: PAIRS_SCHEMA."""
    candidate_pairs: int
    verified_pairs: int
    """Candidate pairs that passed a test and became edges."""
    split_clusters: int
    """Clusters formed by members that left a component because they did not match its canonical."""
    boilerplate_shingles: int


@dataclass(frozen=True, slots=True)
class FingerprintBatch:
    doc_ids: list[str]
    fingerprints: list[str]
    exact: np.ndarray
    """xxh3-64 of each fingerprint (uint64)."""
    representative: np.ndarray
    """Row of the document that stands for each row's exact group (itself for a representative)."""


def cluster_id_of(canonical_id: str) -> str:
    return "c" + xxhash.xxh3_64_hexdigest(canonical_id.encode("utf-8"))


def fingerprint_batch(doc_ids: Sequence[str], texts: Sequence[str]) -> FingerprintBatch:
    fingerprints = [fingerprint_text(text) for text in texts]
    exact = np.array([exact_hash(fingerprint) for fingerprint in fingerprints], dtype=np.uint64)
    first: dict[int, int] = {}
    for row in sorted(range(len(doc_ids)), key=lambda row: doc_ids[row]):
        first.setdefault(int(exact[row]), row)
    representative = np.array([first[int(value)] for value in exact], dtype=np.int64)
    return FingerprintBatch(list(doc_ids), fingerprints, exact, representative)


def shingle_batch(rows: Sequence[int], fingerprints: Sequence[str], texts: Sequence[str],
                  config: DedupConfig) -> tuple[list[Shingled], int]:
    """Shingled documents for `rows`, and the number of boilerplate shingles found among them."""
    windows = [window_hashes(fingerprints[row], config.shingle_size) for row in rows]
    shingles = [sorted_unique(window) for window in windows]
    boilerplate = boilerplate_shingles(shingles, config)
    found = [figures(fingerprints[row]) for row in rows]
    common_figures = boilerplate_figures(found, config)
    shingled = []
    for row, window, unique, doc_figures in zip(rows, windows, shingles, found):
        legal = legal_section_start(texts[row], fingerprints[row], config.legal_headings)
        kept, masked = informative(window, unique, boilerplate, legal)
        by_context: dict[str, Counter[str]] = defaultdict(Counter)
        for (context, number), count in doc_figures.items():
            if (context, number) not in common_figures:
                by_context[context][number] += count
        body = unique if legal is None else sorted_unique(window[:legal])
        shingled.append(Shingled(window, unique, body, legal, kept, masked, len(kept) < config.min_chars,
                                 dict(by_context)))
    return shingled, len(boilerplate)


def verify_pairs(pairs: np.ndarray, shingled: Sequence[Shingled], config: DedupConfig) -> list[PairScore]:
    return [score_pair(shingled[left], shingled[right], config.shingle_size, config.min_numbers)
            for left, right in pairs]


def deduplicate(doc_ids: Sequence[str], texts: Sequence[str], config: DedupConfig,
                progress: Callable[[str], None] | None = None) -> DedupResult:
    """Cluster documents (already cleaned) and choose a canonical per cluster. `progress` is told when each
    stage starts (`shingles`, `signatures`, `lsh+verify`), as `pipeline.build` tells its own."""
    say = progress or (lambda stage: None)
    say("shingles")
    batch = fingerprint_batch(doc_ids, texts)
    representatives = sorted({int(row) for row in batch.representative}, key=lambda row: doc_ids[row])
    compared = [row for row in representatives if len(batch.fingerprints[row]) >= config.min_chars]

    shingled, boilerplate_count = shingle_batch(compared, batch.fingerprints, texts, config)
    say("signatures")
    signer = Signer(config.num_perm, config.seed)
    effective = [doc.shingles if doc.mostly_boilerplate else doc.informative for doc in shingled]
    signatures = signer.sign_all(effective)
    say("lsh+verify")
    pairs = candidate_pairs(signatures, [len(shingles) for shingles in effective], signer,
                            config.candidate_threshold)
    scores = verify_pairs(pairs, shingled, config)
    tests = [pair.test(config) for pair in scores]
    edges = pairs[np.array([test is not None for test in tests], dtype=bool)] if len(pairs) else pairs

    lengths = [len(batch.fingerprints[row]) for row in compared]
    names = [doc_ids[row] for row in compared]
    known = {(int(a), int(b)): pair for (a, b), pair in zip(pairs, scores)}

    def measured(member: int, canonical: int) -> PairScore:
        key = (min(member, canonical), max(member, canonical))
        pair = known.get(key) or score_pair(shingled[key[0]], shingled[key[1]], config.shingle_size,
                                            config.min_numbers)
        known[key] = pair
        return pair if key[0] == member else _swapped(pair)

    matches = np.bincount(edges.reshape(-1), minlength=len(compared))
    settled, component_count = settle_components(
        len(compared), edges,
        choose=lambda members: choose_canonical(members, lengths, names, config.canonical, matches),
        test=lambda member, canonical: measured(member, canonical).test(config))

    rows = _assignment_rows(batch, compared, settled, measured)
    return DedupResult(
        assignments=pl.DataFrame(rows, schema=DEDUP_SCHEMA, orient="row").sort("doc_id"),
        pairs=_pairs_frame(pairs, scores, tests, names),
        candidate_pairs=len(pairs),
        verified_pairs=len(edges),
        split_clusters=len(settled) - component_count,
        boilerplate_shingles=boilerplate_count,
    )


def _swapped(pair: PairScore) -> PairScore:
    return replace(pair, left_in_right=pair.right_in_left, right_in_left=pair.left_in_right)


def _assignment_rows(batch: FingerprintBatch, compared: list[int], settled: list, measured) -> list[tuple]:
    """One row per document: compared representatives from `settled`, the rest alone or with their exact
    group's representative."""
    canonical_row = {}  # batch row -> (canonical batch row, reason, score)
    for part in settled:
        canonical = compared[part.canonical]
        for member, reason in part.members.items():
            pair = None if reason is None else measured(member, part.canonical)
            canonical_row[compared[member]] = (canonical, reason, pair)
    rows = []
    for row, doc_id in enumerate(batch.doc_ids):
        chars = len(batch.fingerprints[row])
        representative = int(batch.representative[row])
        canonical, reason, pair = canonical_row.get(representative, (representative, None, None))
        canonical_id = batch.doc_ids[canonical]
        cluster_id = cluster_id_of(canonical_id)
        if row == canonical:
            rows.append((doc_id, cluster_id, canonical_id, Status.CANONICAL.value, None, 1.0, 1.0, chars))
        elif batch.exact[row] == batch.exact[canonical]:
            rows.append((doc_id, cluster_id, canonical_id, Status.DUPLICATE.value, Reason.EXACT_DUPLICATE.value,
                         1.0, 1.0, chars))
        else:
            rows.append((doc_id, cluster_id, canonical_id, Status.DUPLICATE.value, reason.value,
                         round(pair.similarity, 4), round(pair.left_in_right, 4), chars))
    return rows


def _pairs_frame(pairs: np.ndarray, scores: list[PairScore], tests: list, names: list[str]) -> pl.DataFrame:
    rows = [(names[left], names[right], round(pair.similarity, 4), round(pair.left_in_right, 4),
             round(pair.right_in_left, 4),
             None if pair.number_difference is None else round(pair.number_difference, 4),
             None if test is None else test.value)
            for (left, right), pair, test in zip(pairs.tolist(), scores, tests)]
    return pl.DataFrame(rows, schema=PAIRS_SCHEMA, orient="row")
