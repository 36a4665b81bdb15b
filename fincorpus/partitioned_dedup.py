"""`deduplicate` over a batch held in partitions, for a cluster: the same clusters, canonicals and scores.

The engine's passes (`fincorpus.dedup.passes`) run per partition, where the texts are, and their sketches
and exact counts add up; the stages that look at the whole batch merge small tables on the driver or are
cut so that no task sees more than its share:

    scan_part (pass 1) ─┐ exact_keys → plan_batch; merge_sketches           (driver: 30 bytes a document)
    sign_part (pass 2, the part's compared documents) → boilerplate (one task: candidate counts add up)
    → finish_part: each document's signature and size; set_sizes → lsh_plan (driver: 16 bytes a document)
    → band_entries per part and banding task: the part's probed bands whose hash falls to that task
    → bucket_pairs: LSH banding, each band value's bucket in one task (its hash modulo the tasks)
    → unique proposed pairs (driver) → plausible_chunk per partition of the left document: the candidates
    → verify_chunk per partition of the left document
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

import numba
import numpy as np
import polars as pl

from fincorpus.config import DedupConfig
from fincorpus.dedup import DedupResult
from fincorpus.dedup.boilerplate import ExactCounts, FrequencySketch, boilerplate_cutoff
from fincorpus.dedup.canonical import choose_canonical
from fincorpus.dedup.cluster import settle_components
from fincorpus.dedup.engine import DEDUP_SCHEMA, cluster_id_of, pairs_frame, swapped
from fincorpus.dedup.index import plausible_pairs, query_parameters, size_step
from fincorpus.dedup.passes import Scanned, Signed, finish_signatures, scan_partition, sign_partition
from fincorpus.dedup.signatures import Signer
from fincorpus.dedup.verify import PairScore, PairScores, Verifier, verify_pairs
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
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, signatures, sizes, signed on the whole body) of the part's compared documents: what banding and
    the signature check read (512 bytes each)."""
    signatures, sizes, whole_body = finish_signatures(signed, found[0], Signer(config.num_perm, config.seed), config)
    return np.fromiter(texts.keys(), dtype=np.int64, count=len(texts)), signatures, sizes, whole_body


@dataclass(frozen=True, slots=True)
class LshPlan:
    rows: np.ndarray
    """Compared rows with shingles, in order: position i in the banding is row rows[i]."""
    bands: np.ndarray
    widths: np.ndarray
    partition: np.ndarray
    """`fincorpus.dedup.index.query_parameters` for those rows (as int16: what every banding task holds)."""
    probed: dict[int, int]
    """For each band width `r` in use, how many of its bands some query probes (its first bands)."""
    shares: int
    """Banding tasks: the bucket of a band value goes to the task its hash falls to (hash % shares)."""


def set_sizes(table: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, set sizes) of a part's `finish_part` table: what the driver needs of it (16 bytes a document)."""
    rows, _, sizes, _ = table
    return rows, sizes


def lsh_plan(sizes_of_parts: Sequence[tuple[np.ndarray, np.ndarray]], compared: int, threshold: float,
             num_perm: int, tasks: int) -> LshPlan:
    """The ensemble's size partitions and band parameters, from every compared document's set size (the
    parts' `set_sizes`); the banding cut into `tasks`."""
    size = np.zeros(compared, dtype=np.int64)
    for rows, sizes in sizes_of_parts:
        size[rows] = sizes
    rows = np.flatnonzero(size > 0)
    if len(rows) < 2:
        return LshPlan(rows, np.empty((0, 0), np.int16), np.empty((0, 0), np.int16), np.empty(0, np.int16), {}, 0)
    stepped = np.array([size_step(int(value)) for value in size[rows]], dtype=np.int64)
    bands, widths, partition = query_parameters(stepped, threshold, num_perm)
    probed = {int(r): int(bands[widths == r].max()) for r in np.unique(widths)}
    return LshPlan(rows, bands.astype(np.int16), widths.astype(np.int16), partition.astype(np.int16),
                   {r: count for r, count in probed.items() if count > 0}, tasks)


_BAND_HASH = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class BandEntries:
    """One (row, band) per entry, of one band width `r`: what a banding task needs to find the rows that share
    a band's values."""

    band: np.ndarray
    """The band's number among those of width `r` (int16)."""
    key: np.ndarray
    """A hash of the band's `r` values (uint64): equal values, equal keys."""
    position: np.ndarray
    """The row's position in the banding (`LshPlan.rows`; int32)."""
    values: np.ndarray
    """The band's values, (entries, r) uint32: equal keys are checked value by value."""


def band_entries(table: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray,
                 probed: dict[int, int], share: int, shares: int) -> dict[int, BandEntries]:
    """A part's probed bands whose hash falls to banding task `share` of `shares`, by band width (the hash is
    recomputed by each of the part's `shares` tasks: a few multiplications per band, less than moving it)."""
    part_rows, signatures, sizes, _ = table
    kept = sizes > 0
    position = np.searchsorted(rows, part_rows[kept]).astype(np.int32)
    if not len(position):
        return {r: BandEntries(np.empty(0, np.int16), np.empty(0, np.uint64), position, np.empty((0, r), np.uint32))
                for r in probed}
    signatures = signatures[kept]
    found = {}
    for r, count in probed.items():
        values = signatures[:, :count * r].reshape(len(position), count, r)
        key = values[:, :, 0].astype(np.uint64)
        for column in range(1, r):
            key = key * _BAND_HASH + values[:, :, column].astype(np.uint64)
        mine, band = np.nonzero(key % np.uint64(shares) == np.uint64(share))
        found[r] = BandEntries(band.astype(np.int16), key[mine, band], position[mine], values[mine, band])
    return found


def bucket_pairs(parts: Sequence[dict[int, BandEntries]], plan: LshPlan) -> np.ndarray:
    """Pairs of compared rows (i < j) that share the values of a band in this task's buckets, where the
    query parameters of one row probe that band in the other's size partition: with every task's share,
    `candidate_pairs`' answer (each band value's bucket is in exactly one task)."""
    found = [np.empty(0, dtype=np.int64)]
    for r in plan.probed:
        entries = [part[r] for part in parts if r in part]
        band = np.concatenate([entry.band for entry in entries])
        key = np.concatenate([entry.key for entry in entries])
        position = np.concatenate([entry.position for entry in entries])
        values = np.concatenate([entry.values for entry in entries]).reshape(-1, r)
        order = np.lexsort((key, band))
        found.append(_bucket_codes(band[order], key[order], position[order], values[order], r, plan.bands,
                                   plan.widths, plan.partition))
    codes = np.unique(np.concatenate(found))
    count = len(plan.rows)
    return np.column_stack([plan.rows[codes // count], plan.rows[codes % count]]).reshape(-1, 2)


@numba.njit(cache=True, nogil=True)
def _bucket_codes(band, key, position, values, r, bands, widths, partition):  # pragma: no cover - compiled
    """Each pair (a, b), a < b, as a * rows + b, once: entries sorted by band and key, every ordered pair of
    entries with the same band, key and values checked as `index.band_pairs` checks a bucket."""
    rows = bands.shape[0]
    out = np.empty(1024, dtype=np.int64)
    found = 0
    start = 0
    while start < len(key):
        end = start + 1
        while end < len(key) and key[end] == key[start] and band[end] == band[start]:
            end += 1
        for a in range(start, end):
            query = position[a]
            for b in range(start, end):
                indexed = position[b]
                if query == indexed:
                    continue
                where = partition[indexed]
                if widths[query, where] != r or bands[query, where] <= band[a]:
                    continue
                same = True
                for column in range(r):
                    if values[a, column] != values[b, column]:
                        same = False
                        break
                if not same:
                    continue
                if found == len(out):  # keep each pair once, then grow if still half full
                    unique = np.unique(out[:found])
                    found = len(unique)
                    if 2 * found > len(out):
                        out = np.empty(2 * len(out), dtype=np.int64)
                    out[:found] = unique
                out[found] = min(query, indexed) * rows + max(query, indexed)
                found += 1
        start = end
    return np.unique(out[:found])


def unique_pairs(found: Sequence[np.ndarray]) -> np.ndarray:
    """Every task's pairs once, sorted: the candidate pairs of the batch."""
    return np.unique(np.concatenate([np.empty((0, 2), dtype=np.int64), *found]), axis=0).reshape(-1, 2)


def plausible_chunk(tables: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], pairs: np.ndarray,
                    config: DedupConfig) -> np.ndarray:
    """`index.plausible_pairs` of `pairs` (compared rows), from the `finish_part` tables of the parts that
    hold them."""
    rows = np.concatenate([table[0] for table in tables])
    order = np.argsort(rows)
    position = order[np.searchsorted(rows, pairs, sorter=order)]
    kept = plausible_pairs(position, np.concatenate([table[1] for table in tables]),
                           np.concatenate([table[2] for table in tables]),
                           np.concatenate([table[3] for table in tables]), config.candidate_threshold,
                           config.candidate_p_value)
    return rows[kept].reshape(-1, 2)


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
    is cut into (by the hash of a band's values)."""
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
    lsh = lsh_plan([result(submit(set_sizes, table)) for table in tables], plan.compared,
                   config.candidate_threshold, config.num_perm, tasks)
    entries = [[submit(band_entries, table, lsh.rows, lsh.probed, share, lsh.shares) for table in tables]
               for share in range(lsh.shares)]
    proposed = unique_pairs([result(submit(bucket_pairs, share, lsh)) for share in entries])

    part_of = np.empty(plan.compared, dtype=np.int64)
    for number, rows in enumerate(plan.global_rows):
        part_of[rows] = number
    pairs = unique_pairs([result(submit(plausible_chunk, [tables[part] for part in needed], mine, config))
                          for needed, mine in verification_chunks(proposed, part_of)])

    def verified(wanted: np.ndarray) -> dict[tuple[int, int], PairScore]:
        chunks = [(mine, submit(verify_chunk, [texts[part] for part in needed], mine, found, config))
                  for needed, mine in verification_chunks(wanted, part_of)]
        return {(int(a), int(b)): score for mine, handle in chunks for (a, b), score in zip(mine, result(handle))}

    known = verified(pairs)
    scores = PairScores.of([known[(int(a), int(b))] for a, b in pairs])
    tests = scores.tests(config)
    edges = pairs[tests >= 0]
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

