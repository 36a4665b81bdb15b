"""Exact and near-duplicate clusters with a canonical document each, as a chain of stages:

1. `passes.scan_hashes` (pass 1 over the text, in threads that share one sketch): fingerprint lengths and
   exact hashes, and a sketch of the document frequency of shingles and figures; exact duplicates (after
   folding) collapse onto one representative, the smallest doc_id of each exact group
   (`passes.compared_rows`);
2. `passes.sign_partition` (pass 2, the representatives long enough to compare): MinHash signatures
   (datasketch-compatible) of each body's shingles that cannot be boilerplate, exact counts of those that
   may be; `boilerplate_of` and `passes.finish_signatures` complete the signatures on informative shingles;
3. `index.candidate_pairs`: the LSH Ensemble containment index proposes pairs; `index.plausible_pairs` drops
   those whose signatures rule out a containment of `candidate_threshold`: the rest are the candidates;
4. `verify.verify_pairs`: every candidate is measured on its shingles, recomputed from the two texts;
   only pairs that pass a test are edges;
5. `settle`: components of the edges, split until every member passes a test against its canonical,
   chosen by the `dedup.canonical` policy.

Per document, memory holds a signature and a few numbers; the text is read twice in order and then only
for the documents of candidate pairs. Each stage is a public function over plain arrays, so a
partitioned run (Dask) can run 1-2 per partition and merge: sketches and exact counts add up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
import xxhash

from fincorpus.config import DedupConfig
from fincorpus.dedup.boilerplate import ExactCounts, FrequencySketch, boilerplate_cutoff
from fincorpus.dedup.canonical import choose_canonical
from fincorpus.dedup.cluster import Settled, settle_components
from fincorpus.dedup.index import candidate_pairs, plausible_pairs
from fincorpus.dedup.codepoints import fold_table
from fincorpus.dedup.passes import (Scanned, Shingler, Signed, compared_rows, finish_signatures, merge_signed,
                                    ordered_map, scan_hashes, sign_partition)
from fincorpus.dedup.signatures import Signer
from fincorpus.dedup.verify import PairScore, PairScores, Verifier, verify_pairs
from fincorpus.dedup.warm import wait_for_kernels
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

EDGE_SCHEMA = {"left_id": pl.String, "right_id": pl.String} | {
    name: (pl.Int64 if name in ("shorter_chars", "longer_chars", "figures_differing", "inner_edits")
           else pl.Boolean if name == "ends_replaced" else pl.Float64)
    for name in PairScores.__slots__}
"""A pair that passed a test, with every score at full precision (`PairScores` columns): what `KnownPairs`
gives back to a later run."""


@dataclass(frozen=True, slots=True)
class KnownPairs:
    """What earlier runs settled, for a run over stored and new documents together (`fincorpus update`):
    the pairs among `doc_ids` were all proposed and verified before, so they are not proposed again, and
    `edges` (EDGE_SCHEMA) are the ones that passed, with their scores. Pairs holding a document not in
    `doc_ids` are proposed and verified as usual."""

    doc_ids: Sequence[str]
    edges: pl.DataFrame
    corpus_documents: int = 0
    """The documents a build of the whole corpus (stored and new) would compare: boilerplate is counted
    over the documents given, with the cutoff of `dedup.boilerplate_share` of this many (a shingle in 0.1%
    of the corpus, not in 0.1% of the clusters an update touches, which gather similar documents)."""


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
    edges: pl.DataFrame | None = None
    """With `known`: the pairs verified in this run that passed a test (EDGE_SCHEMA), to be known later."""


def cluster_id_of(canonical_id: str) -> str:
    return "c" + xxhash.xxh3_64_hexdigest(canonical_id.encode("utf-8"))


def boilerplate_of(signed: Signed, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted hashes of the boilerplate shingles and figures: candidates found in `cutoff` documents or more
    (merge the partitions' `Signed.shingle_counts` / `figure_counts` first)."""
    return signed.shingle_counts.at_least(cutoff), signed.figure_counts.at_least(cutoff)


def settle(pairs: np.ndarray, scores: PairScores, verifier: Verifier, compared: Sequence[int],
           doc_ids: Sequence[str], chars: np.ndarray, config: DedupConfig
           ) -> tuple[list[Settled], int, Callable[[int, int], tuple[float, float]], np.ndarray]:
    """Clusters of the verified pairs (rows into `compared`), each split until every member passes a test
    against its canonical; also the component count, the measure of a member against its canonical
    (similarity, containment of the member), scoring pairs that were no candidates on demand, and each
    pair's test (`PairScores.tests`)."""
    tests = scores.tests(config)
    edges = pairs[tests >= 0]
    lengths = chars[np.asarray(compared, dtype=np.int64)].tolist()
    names = [doc_ids[row] for row in compared]
    index_of = dict(zip((pairs[:, 0] * len(compared) + pairs[:, 1]).tolist(), range(len(pairs))))
    scored: dict[tuple[int, int], PairScore] = {}  # pairs a split asks for that were no candidates

    def other(key: tuple[int, int]) -> PairScore:
        pair = scored.get(key)
        if pair is None:
            pair = scored[key] = verifier.score(*key)
        return pair

    def test(member: int, canonical: int) -> Reason | None:
        key = (min(member, canonical), max(member, canonical))
        index = index_of.get(key[0] * len(compared) + key[1])
        if index is None:
            return other(key).test(config)
        return None if tests[index] < 0 else PairScores.TESTS[tests[index]]

    def measured(member: int, canonical: int) -> tuple[float, float]:
        key = (min(member, canonical), max(member, canonical))
        index = index_of.get(key[0] * len(compared) + key[1])
        if index is None:
            pair = other(key)
            return pair.similarity, pair.left_in_right if key[0] == member else pair.right_in_left
        containment = scores.left_in_right if key[0] == member else scores.right_in_left
        return scores.similarity[index], containment[index].item()

    matches = np.bincount(edges.reshape(-1), minlength=len(compared))
    settled, component_count = settle_components(
        len(compared), edges,
        choose=lambda members: choose_canonical(members, lengths, names, config.canonical, matches),
        test=test)
    return settled, component_count, measured, tests


class _Compared(Sequence):
    """The compared documents' texts, by position in `compared`."""

    def __init__(self, texts: Sequence[str], compared: Sequence[int]) -> None:
        self.texts, self.compared = texts, compared

    def __len__(self) -> int:
        return len(self.compared)

    def __getitem__(self, position):
        return self.texts[self.compared[position]]


def _in_order(texts: Sequence[str], rows: Sequence[int]):
    """texts[row] for `rows` in increasing order, reading `texts` front to back."""
    wanted = iter(sorted(rows))
    target = next(wanted, None)
    for row, text in enumerate(texts):
        if row == target:
            yield text
            target = next(wanted, None)
            if target is None:
                return


def deduplicate(doc_ids: Sequence[str], texts: Sequence[str], config: DedupConfig,
                progress: Callable[[str], None] | None = None, threads: int | None = None,
                known: KnownPairs | None = None) -> DedupResult:
    """Cluster documents (already cleaned) and choose a canonical per cluster. `progress` is told when each
    stage starts (`shingles`, `signatures`, `lsh+verify`), as `pipeline.build` tells its own.

    `texts` is read front to back twice (any sequence: a lazy one reading from disk does), then at random
    only for the documents of candidate pairs, always from this thread. The compiled stages run in
    `threads` threads (default: one per core, at most 4) over batches of documents; the result does not
    depend on the number. With `known`, the pairs among its documents are taken from it instead of being
    proposed and verified again (see `KnownPairs`), and the result holds this run's `edges`."""
    wait_for_kernels()  # a first build's kernels, compiled meanwhile by the CLI (`warm`)
    say = progress or (lambda stage: None)
    threads = threads or min(os.cpu_count() or 1, 4)
    fold_table()  # one table for every thread
    say("shingles")
    expected = len(doc_ids)
    scanners = _PerThread(lambda: Shingler(config))
    sketch = FrequencySketch(expected)  # one, counted in this thread: a sketch per thread would be 64 MB each
    exact_parts, chars_parts = [np.empty(0, np.uint64)], [np.empty(0, np.int64)]
    for exact, chars, hashes, documents in ordered_map(
            lambda batch: scan_hashes(batch, config, scanners.get()), _batches(texts), threads):
        sketch.add(hashes)
        sketch.documents += documents
        exact_parts.append(exact)
        chars_parts.append(chars)
    scanned = Scanned(np.concatenate(exact_parts), np.concatenate(chars_parts), sketch)
    del scanners, exact_parts, chars_parts
    representative, compared = compared_rows(doc_ids, scanned, config)
    cutoff = boilerplate_cutoff(max(len(compared), known.corpus_documents if known is not None else 0), config)

    say("signatures")
    signer = Signer(config.num_perm, config.seed)
    signs = _PerThread(lambda: (Shingler(config), (ExactCounts(), ExactCounts())))

    def sign_batch(batch: list[str]) -> Signed:
        shingler, counts = signs.get()
        return sign_partition(batch, sketch, cutoff, config, signer, shingler, counts)

    signed = merge_signed(list(ordered_map(sign_batch, _batches(_in_order(texts, compared)), threads)))
    boilerplate, boilerplate_figures = boilerplate_of(signed, cutoff)
    signatures, sizes, whole_body = finish_signatures(signed, boilerplate, signer, config)
    order = np.empty(len(compared), dtype=np.int64)
    order[np.argsort(np.asarray(compared, dtype=np.int64), kind="stable")] = np.arange(len(compared))
    # signed in row order; the stages below in doc_id order
    signatures, sizes, whole_body = signatures[order], sizes[order], whole_body[order]
    del signed, sketch

    say("lsh+verify")
    names = [doc_ids[row] for row in compared]
    settled_before = None if known is None else _known_positions(known, names)
    proposed = candidate_pairs(signatures, sizes, signer, config.candidate_threshold, threads=threads,
                               fresh=None if settled_before is None else ~settled_before)
    pairs = plausible_pairs(proposed, signatures, sizes, whole_body, config.candidate_threshold,
                            config.candidate_p_value)
    verifier = Verifier(_Compared(texts, compared), boilerplate, boilerplate_figures, config)
    scores = verify_pairs(pairs, verifier, threads)
    edges = None
    if known is not None:
        edges = edges_frame(pairs, scores, scores.tests(config), names)
        pairs, scores = _with_known_edges(pairs, scores, known, doc_ids, representative, compared, settled_before)
    settled, component_count, measured, tests = settle(pairs, scores, verifier, compared, doc_ids, scanned.chars,
                                                       config)
    return DedupResult(
        assignments=_assignments(doc_ids, scanned, representative, compared, settled, measured),
        pairs=pairs_frame(pairs, scores, tests, names),
        candidate_pairs=len(pairs),
        verified_pairs=int((tests >= 0).sum()),
        split_clusters=len(settled) - component_count,
        boilerplate_shingles=len(boilerplate),
        edges=edges,
    )


def _known_positions(known: KnownPairs, names: list[str]) -> np.ndarray:
    """Which compared representatives (by position) are `known` documents."""
    known_ids = pl.Series(list(known.doc_ids), dtype=pl.String)
    return pl.Series(names, dtype=pl.String).is_in(known_ids.implode()).to_numpy()


def _with_known_edges(pairs: np.ndarray, scores: PairScores, known: KnownPairs, doc_ids: Sequence[str],
                      representative: np.ndarray, compared: list[int], settled_before: np.ndarray
                      ) -> tuple[np.ndarray, PairScores]:
    """The verified pairs and the known edges between known representatives together, sorted. A known edge
    names documents; it joins their exact groups' representatives (once per pair of them)."""
    row_of = {doc_id: row for row, doc_id in enumerate(doc_ids)}
    position = np.full(len(doc_ids), -1, dtype=np.int64)
    position[np.asarray(compared, dtype=np.int64)] = np.arange(len(compared))

    def positions(column: str) -> np.ndarray:
        rows = np.array([row_of.get(doc_id, -1) for doc_id in known.edges[column].to_list()], dtype=np.int64)
        return np.where(rows >= 0, position[representative[rows]], -1)

    left, right = positions("left_id"), positions("right_id")
    usable = (left >= 0) & (right >= 0) & (left != right)
    usable[usable] &= settled_before[left[usable]] & settled_before[right[usable]]
    rows = np.flatnonzero(usable)
    left, right = left[rows], right[rows]
    swap = left > right
    edge_pairs = np.column_stack([np.where(swap, right, left), np.where(swap, left, right)])
    columns = {name: known.edges[name].to_numpy()[rows] for name in PairScores.__slots__}
    inside, outside = columns["left_in_right"], columns["right_in_left"]
    columns["left_in_right"] = np.where(swap, outside, inside)
    columns["right_in_left"] = np.where(swap, inside, outside)
    _, first = np.unique(edge_pairs[:, 0] * len(compared) + edge_pairs[:, 1], return_index=True)
    edge_scores = PairScores(*(columns[name][first] for name in PairScores.__slots__))
    return _sorted_pairs(np.concatenate([pairs, edge_pairs[first]]), PairScores.concat([scores, edge_scores]))


def _sorted_pairs(pairs: np.ndarray, scores: PairScores) -> tuple[np.ndarray, PairScores]:
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], scores.take(order)


def edges_frame(pairs: np.ndarray, scores: PairScores, tests: np.ndarray, names: list[str]) -> pl.DataFrame:
    """EDGE_SCHEMA rows of the pairs that passed a test."""
    passed = np.flatnonzero(tests >= 0)
    named = pl.Series(names, dtype=pl.String)
    return pl.DataFrame({"left_id": named.gather(pairs[passed, 0]) if len(passed) else [],
                         "right_id": named.gather(pairs[passed, 1]) if len(passed) else [],
                         **{name: getattr(scores, name)[passed] for name in PairScores.__slots__}},
                        schema=EDGE_SCHEMA)


_BATCH = 64  # documents per unit of work of a thread


def _batches(texts: Iterable[str], size: int = _BATCH):
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _PerThread:
    """One state per worker thread, made on first use; `states` lists them all."""

    def __init__(self, make: Callable) -> None:
        self.make, self.states, self._local, self._lock = make, [], threading.local(), threading.Lock()

    def get(self):
        state = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = self.make()
            with self._lock:
                self.states.append(state)
        return state


def swapped(pair: PairScore) -> PairScore:
    return replace(pair, left_in_right=pair.right_in_left, right_in_left=pair.left_in_right)


def _assignments(doc_ids: Sequence[str], scanned, representative: np.ndarray, compared: list[int],
                 settled: list[Settled], measured: Callable[[int, int], tuple[float, float]]) -> pl.DataFrame:
    """One row per document (DEDUP_SCHEMA): compared representatives from `settled`, the rest alone or with
    their exact group's representative."""
    canonical_of = np.arange(len(doc_ids))  # row -> its canonical row, for the compared representatives
    reason_of: dict[int, str] = {}
    similarity, containment = np.ones(len(doc_ids)), np.ones(len(doc_ids))
    for part in settled:
        canonical = compared[part.canonical]
        for member, reason in part.members.items():
            row = compared[member]
            canonical_of[row] = canonical
            if reason is not None:
                pair_similarity, pair_containment = measured(member, part.canonical)
                reason_of[row] = reason.value
                similarity[row], containment[row] = round(pair_similarity, 4), round(pair_containment, 4)
    canonical = canonical_of[representative]
    rows = np.arange(len(doc_ids))
    is_canonical = rows == canonical
    exact = ~is_canonical & (scanned.exact == scanned.exact[canonical])
    near = ~is_canonical & ~exact
    names = pl.Series(doc_ids, dtype=pl.String)
    cluster_of = {row: cluster_id_of(doc_ids[row]) for row in np.unique(canonical).tolist()}
    reason = np.full(len(doc_ids), None, dtype=object)
    reason[exact] = Reason.EXACT_DUPLICATE.value
    reason[near] = [reason_of[row] for row in representative[near].tolist()]
    return pl.DataFrame({
        "doc_id": names,
        "cluster_id": [cluster_of[row] for row in canonical.tolist()],
        "canonical_id": names.gather(canonical),
        "status": np.where(is_canonical, Status.CANONICAL.value, Status.DUPLICATE.value),
        "reason": reason.tolist(),
        "similarity": np.where(near, similarity[representative], 1.0),
        "containment": np.where(near, containment[representative], 1.0),
        "fingerprint_chars": np.asarray(scanned.chars, dtype=np.int64),
    }, schema=DEDUP_SCHEMA).sort("doc_id")


def pairs_frame(pairs: np.ndarray, scores: PairScores, tests: np.ndarray, names: list[str]) -> pl.DataFrame:
    """PAIRS_SCHEMA from the pairs (rows into `names`), their scores and tests (`PairScores.tests` codes),
    the figures rounded to 4 places as `round` rounds each."""
    named = pl.Series(names, dtype=pl.String)
    passed = np.array([reason.value for reason in PairScores.TESTS] + [None], dtype=object)
    return pl.DataFrame({
        "left_id": named.gather(pairs[:, 0]) if len(pairs) else [],
        "right_id": named.gather(pairs[:, 1]) if len(pairs) else [],
        "similarity": np.round(scores.similarity, 4),  # numpy floats: numpy's rounding, as `round` gives them
        "left_in_right": round_like_python(scores.left_in_right, 4),
        "right_in_left": round_like_python(scores.right_in_left, 4),
        "number_difference": pl.Series(round_like_python(scores.number_difference, 4), nan_to_null=True),
        "test": passed[tests].tolist(),
    }, schema=PAIRS_SCHEMA)


def round_like_python(values: np.ndarray, digits: int) -> np.ndarray:
    """`round(value, digits)` of each value as a Python float, at once. numpy rounds `value * 10**digits` to
    an integer and divides; that integer is Python's (correctly rounded) one unless the scaled value lies
    next to a half, where Python's own `round` decides."""
    values = np.asarray(values, dtype=np.float64)
    rounded = np.round(values, digits)
    scaled = values * 10.0 ** digits
    for index in np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6).tolist():
        rounded[index] = round(float(values[index]), digits)
    return rounded
