"""`deduplicate` over a batch held in partitions, for a cluster: the same clusters, canonicals and scores.

The engine's passes (`fincorpus.dedup.passes`) run per partition, where the texts are, and their sketches
and exact counts add up; the stages that look at the whole batch merge small tables on the driver or are
cut so that no task sees more than its share:

    scan_part (pass 1) ─┐ exact_keys → plan_batch; merge_sketches           (driver: 30 bytes a document)
    sign_part (pass 2, the part's compared documents) → boilerplate (one task: candidate counts add up)
    → finish_part: each document's signature and size
    → band_width_pairs: LSH banding, all bands of one width `r` in one task, widths dealt to the tasks
    → unique candidate pairs (driver) → verify_chunk per partition of the left document
    → settle on the driver over the verified scores (pairs a split needs are verified by more chunks)
    → assignment rows (driver)

What moves to the driver is a few numbers per document and the scored pairs; texts stay in their
partition (a verification task reads the texts of its pairs). Scores are the engine's `Verifier`'s, so the
result equals `deduplicate` on the concatenated batch (tests hold the two equal on the seeds and on
generated corpora).

`run` drives the stages through an `Executor`: `submit(function, *args)` returns a handle that later
`submit`s take as arguments and `result(handle)` resolves. `LocalExecutor` calls the functions in turn (the
tests, and the reference); `flows/build.py` passes one that submits Prefect tasks to the Dask task runner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import polars as pl

from fincorpus.config import DedupConfig
from fincorpus.dedup import DedupResult
from fincorpus.dedup.boilerplate import ExactCounts, FrequencySketch, boilerplate_cutoff
from fincorpus.dedup.canonical import choose_canonical
from fincorpus.dedup.cluster import settle_components
from fincorpus.dedup.engine import DEDUP_SCHEMA, cluster_id_of, pairs_frame, swapped
from fincorpus.dedup.index import band_pairs, query_parameters, size_step
from fincorpus.dedup.passes import Scanned, Signed, finish_signatures, scan_partition, sign_partition
from fincorpus.dedup.signatures import Signer
from fincorpus.dedup.verify import PairScore, Verifier, verify_pairs
from fincorpus.documents import Reason, Status


class Executor(Protocol):
    def submit(self, function: Callable, *args: Any) -> Any: ...
    def result(self, handle: Any) -> Any: ...


class LocalExecutor:
    """Runs each stage at once, in this process."""

    def submit(self, function: Callable, *args: Any) -> Any:
        return function(*args)

    def result(self, handle: Any) -> Any:
        return handle


def document_count(documents: pl.DataFrame) -> int:
    return documents.height


def scan_part(documents: pl.DataFrame, config: DedupConfig, expected: int) -> Scanned:
    """Pass 1 over a part's documents (doc_id, text: cleaned, with content); `expected`: the batch's count,
    so that the parts' sketches have one width and add up."""
    return scan_partition(documents["text"].to_list(), config, expected)


def exact_keys(documents: pl.DataFrame, scanned: Scanned) -> pl.DataFrame:
    """What the driver needs of each document: doc_id, exact hash, fingerprint length."""
    return pl.DataFrame({"doc_id": documents["doc_id"], "exact": scanned.exact, "chars": scanned.chars},
                        schema={"doc_id": pl.String, "exact": pl.UInt64, "chars": pl.Int64})


def merge_sketches(scanned: Sequence[Scanned], expected: int) -> FrequencySketch:
    sketch = FrequencySketch(expected)
    for part in scanned:
        sketch.merge(part.sketch)
    return sketch


@dataclass(frozen=True, slots=True)
class BatchPlan:
    keys: pl.DataFrame
    """Every document: doc_id, exact, chars, part, local (its row in the part), representative (doc_id of the
    smallest doc_id with its exact hash), row (its number among the compared documents, or null)."""
    compared: int
    """Representatives long enough to compare, numbered 0.. in doc_id order, as `deduplicate` numbers them."""
    local_rows: list[np.ndarray]
    """For each part: its compared documents' rows in the part ..."""
    global_rows: list[np.ndarray]
    """... and their numbers among all compared documents."""


def plan_batch(keys: Sequence[pl.DataFrame], config: DedupConfig) -> BatchPlan:
    """Exact groups and the documents to compare (`passes.compared_rows` over the parts' `exact_keys`)."""
    frames = [frame.with_columns(pl.lit(number, pl.Int64).alias("part"),
                                 pl.int_range(pl.len(), dtype=pl.Int64).alias("local"))
              for number, frame in enumerate(keys)]
    table = pl.concat(frames) if frames else pl.DataFrame(schema={"doc_id": pl.String, "exact": pl.UInt64,
                                                                  "chars": pl.Int64, "part": pl.Int64,
                                                                  "local": pl.Int64})
    table = table.with_columns(pl.col("doc_id").min().over("exact").alias("representative"))
    compared = (table.filter((pl.col("doc_id") == pl.col("representative")) & (pl.col("chars") >= config.min_chars))
                .sort("doc_id").with_row_index("row").select("doc_id", pl.col("row").cast(pl.Int64)))
    table = table.join(compared, on="doc_id", how="left", maintain_order="left")
    local_rows, global_rows = [], []
    for number in range(len(keys)):
        mine = table.filter((pl.col("part") == number) & pl.col("row").is_not_null()).sort("local")
        local_rows.append(mine["local"].to_numpy().astype(np.int64))
        global_rows.append(mine["row"].to_numpy().astype(np.int64))
    return BatchPlan(table, compared.height, local_rows, global_rows)


def compared_texts(documents: pl.DataFrame, local_rows: np.ndarray, global_rows: np.ndarray) -> dict[int, str]:
    """The part's compared documents' texts by their number among all compared documents."""
    texts = documents["text"]
    return {int(row): texts[int(local)] for local, row in zip(local_rows, global_rows)}


def sign_part(texts: dict[int, str], sketch: FrequencySketch, cutoff: int, config: DedupConfig) -> Signed:
    """Pass 2 over the part's compared documents, in the order of `texts`."""
    return sign_partition(list(texts.values()), sketch, cutoff, config, Signer(config.num_perm, config.seed))


def boilerplate(signed: Sequence[Signed], cutoff: int) -> tuple[np.ndarray, np.ndarray]:
    """Boilerplate shingles and figures: the parts' candidate counts added up (`engine.boilerplate_of`)."""
    shingles, figures = ExactCounts(), ExactCounts()
    for part in signed:
        shingles.merge(part.shingle_counts)
        figures.merge(part.figure_counts)
    return shingles.at_least(cutoff), figures.at_least(cutoff)


def finish_part(texts: dict[int, str], signed: Signed, found: tuple[np.ndarray, np.ndarray], config: DedupConfig
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, signatures, sizes) of the part's compared documents: what banding reads (512 bytes each)."""
    signatures, sizes = finish_signatures(signed, found[0], Signer(config.num_perm, config.seed), config)
    return np.fromiter(texts.keys(), dtype=np.int64, count=len(texts)), signatures, sizes


@dataclass(frozen=True, slots=True)
class LshPlan:
    rows: np.ndarray
    """Compared rows with shingles, in order: position i in the banding is row rows[i]."""
    bands: np.ndarray
    widths: np.ndarray
    partition: np.ndarray
    """`fincorpus.dedup.index.query_parameters` for those rows."""
    groups: list[list[int]]
    """Band widths `r` each banding task handles: every band of a width in one task."""


def lsh_plan(tables: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], compared: int, threshold: float,
             num_perm: int, tasks: int) -> LshPlan:
    """The ensemble's size partitions and band parameters, from every compared document's set size."""
    size = np.zeros(compared, dtype=np.int64)
    for rows, _, sizes in tables:
        size[rows] = sizes
    rows = np.flatnonzero(size > 0)
    if len(rows) < 2:
        return LshPlan(rows, np.empty((0, 0), np.int64), np.empty((0, 0), np.int64), np.empty(0, np.int64), [])
    stepped = np.array([size_step(int(value)) for value in size[rows]], dtype=np.int64)
    bands, widths, partition = query_parameters(stepped, threshold, num_perm)
    widths_used = [int(r) for r in np.unique(widths)]
    groups = [widths_used[start::tasks] for start in range(min(tasks, len(widths_used)))]
    return LshPlan(rows, bands.astype(np.int64), widths.astype(np.int64), partition, groups)


def band_width_pairs(tables: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], plan: LshPlan,
                     widths: Sequence[int]) -> np.ndarray:
    """Pairs of compared rows (i < j) sharing a band of one of `widths` that the ensemble's query parameters
    probe: `candidate_pairs`' answer restricted to these bands."""
    num_perm = next((signatures.shape[1] for _, signatures, _ in tables if signatures.ndim == 2), 0)
    matrix = np.zeros((len(plan.rows), num_perm), dtype=np.uint32)
    for rows, signatures, sizes in tables:
        kept = sizes > 0
        matrix[np.searchsorted(plan.rows, rows[kept])] = signatures[kept]
    found = [np.empty((0, 2), dtype=np.int64)]
    found += [band_pairs(matrix, plan.bands, plan.widths, plan.partition, r) for r in widths]
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(plan.rows[pairs].reshape(-1, 2), axis=0)


def unique_pairs(found: Sequence[np.ndarray]) -> np.ndarray:
    """Every task's pairs once, sorted: the candidate pairs of the batch."""
    return np.unique(np.concatenate([np.empty((0, 2), dtype=np.int64), *found]), axis=0).reshape(-1, 2)


def verify_chunk(texts: Sequence[dict[int, str]], pairs: np.ndarray, found: tuple[np.ndarray, np.ndarray],
                 config: DedupConfig) -> list[PairScore]:
    """Scores of `pairs` (compared rows), in order, from the texts of the parts that hold them."""
    merged = {row: text for part in texts for row, text in part.items()}
    return verify_pairs(pairs, Verifier(merged, found[0], found[1], config))


def verification_chunks(pairs: np.ndarray, part_of: np.ndarray) -> list[tuple[list[int], np.ndarray]]:
    """Pairs cut by the part of their left row: (the parts they need, left part first; the pairs)."""
    chunks = []
    left_parts = part_of[pairs[:, 0]] if len(pairs) else np.empty(0, dtype=np.int64)
    for part in np.unique(left_parts).tolist():
        mine = pairs[left_parts == part]
        chunks.append(([part, *sorted(set(part_of[mine[:, 1]].tolist()) - {part})], mine))
    return chunks


def run(parts: Sequence[Any], config: DedupConfig, executor: Executor, tasks: int = 4) -> DedupResult:
    """`deduplicate` over the parts of a batch (frames of doc_id and cleaned text with content, or the
    executor's handles to them), its stages submitted to `executor`; `tasks`: how many tasks LSH banding
    is cut into (by band width)."""
    submit, result = executor.submit, executor.result
    expected = sum(result(submit(document_count, part)) for part in parts)
    scanned = [submit(scan_part, part, config, expected) for part in parts]
    plan = plan_batch([result(submit(exact_keys, part, scan)) for part, scan in zip(parts, scanned)], config)
    sketch = submit(merge_sketches, scanned, expected)
    cutoff = boilerplate_cutoff(plan.compared, config)
    texts = [submit(compared_texts, part, local, rows)
             for part, local, rows in zip(parts, plan.local_rows, plan.global_rows)]
    signed = [submit(sign_part, part_texts, sketch, cutoff, config) for part_texts in texts]
    found = submit(boilerplate, signed, cutoff)
    tables = [submit(finish_part, part_texts, part, found, config) for part_texts, part in zip(texts, signed)]
    boilerplate_count = len(result(found)[0])
    lsh = lsh_plan([result(table) for table in tables], plan.compared, config.candidate_threshold,
                   config.num_perm, tasks)
    pairs = unique_pairs([result(submit(band_width_pairs, tables, lsh, group)) for group in lsh.groups])

    part_of = np.empty(plan.compared, dtype=np.int64)
    for number, rows in enumerate(plan.global_rows):
        part_of[rows] = number

    def verified(wanted: np.ndarray) -> dict[tuple[int, int], PairScore]:
        chunks = [(mine, submit(verify_chunk, [texts[part] for part in needed], mine, found, config))
                  for needed, mine in verification_chunks(wanted, part_of)]
        return {(int(a), int(b)): score for mine, handle in chunks for (a, b), score in zip(mine, result(handle))}

    known = verified(pairs)
    scores = [known[(int(a), int(b))] for a, b in pairs]
    tests = [score.test(config) for score in scores]
    edges = pairs[np.array([test is not None for test in tests], dtype=bool)] if len(pairs) else pairs
    names = plan.keys.filter(pl.col("row").is_not_null()).sort("row")
    lengths, doc_names = names["chars"].to_list(), names["doc_id"].to_list()
    matches = np.bincount(edges.reshape(-1), minlength=plan.compared)
    while True:  # settle with the scores at hand; verify the pairs it asked for and lacked, and settle again
        missing: set[tuple[int, int]] = set()

        def test(member: int, canonical: int) -> Reason | None:
            key = (min(member, canonical), max(member, canonical))
            if key not in known:
                missing.add(key)
                return None
            return known[key].test(config)

        settled, component_count = settle_components(
            plan.compared, edges,
            choose=lambda members: choose_canonical(members, lengths, doc_names, config.canonical, matches),
            test=test)
        if not missing:
            break
        known.update(verified(np.array(sorted(missing), dtype=np.int64).reshape(-1, 2)))

    def measured(member: int, canonical: int) -> PairScore:
        key = (min(member, canonical), max(member, canonical))
        return known[key] if key[0] == member else swapped(known[key])

    return DedupResult(
        assignments=assignment_rows(plan, settled, measured),
        pairs=pairs_frame(pairs, scores, tests, doc_names),
        candidate_pairs=len(pairs),
        verified_pairs=len(edges),
        split_clusters=len(settled) - component_count,
        boilerplate_shingles=boilerplate_count,
    )


def assignment_rows(plan: BatchPlan, settled: list, measured: Callable[[int, int], PairScore]) -> pl.DataFrame:
    """One row per document (DEDUP_SCHEMA): compared representatives as settled, every other document with
    its exact group's representative."""
    compared = plan.keys.filter(pl.col("row").is_not_null()).sort("row")
    name_of, exact_of = compared["doc_id"].to_list(), dict(zip(plan.keys["doc_id"], plan.keys["exact"]))
    outcome = {}  # compared doc_id -> (canonical doc_id, reason, score)
    for part in settled:
        for member, reason in part.members.items():
            pair = None if reason is None else measured(member, part.canonical)
            outcome[name_of[member]] = (name_of[part.canonical], reason, pair)
    rows = []
    for doc_id, representative, chars in plan.keys.select("doc_id", "representative", "chars").iter_rows():
        canonical, reason, pair = outcome.get(representative, (representative, None, None))
        cluster_id = cluster_id_of(canonical)
        if doc_id == canonical:
            rows.append((doc_id, cluster_id, canonical, Status.CANONICAL.value, None, 1.0, 1.0, chars))
        elif exact_of[doc_id] == exact_of[canonical]:
            rows.append((doc_id, cluster_id, canonical, Status.DUPLICATE.value, Reason.EXACT_DUPLICATE.value,
                         1.0, 1.0, chars))
        else:
            rows.append((doc_id, cluster_id, canonical, Status.DUPLICATE.value, reason.value,
                         round(pair.similarity, 4), round(pair.left_in_right, 4), chars))
    return pl.DataFrame(rows, schema=DEDUP_SCHEMA, orient="row").sort("doc_id")

