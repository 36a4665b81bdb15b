"""Dedup over a batch in partitions (`fincorpus.partitioned_dedup`) equals `deduplicate` over the whole batch:
clusters, canonicals, scores, candidate pairs, and the counts. Plain functions, no Prefect: the stages run
in turn through `LocalExecutor`, which is what the Dask flow's tasks compute (tests/test_engine_dask.py runs
the flow itself, on the same 10k documents (`generated_10k` in conftest.py); here the partitioned functions
also meet cuts that fall anywhere, and their stage calls are counted)."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synth import generate
from fincorpus import partitioned_dedup
from fincorpus.config import Config
from fincorpus.dedup import deduplicate
from fincorpus.dedup.index import candidate_pairs, plausible_pairs
from fincorpus.dedup.signatures import Signer
from fincorpus.partitioned_dedup import (BandEntries, LocalExecutor, LshPlan, band_entries, bucket_pairs, lsh_plan,
                                         plausible_chunk, run, unique_pairs, verification_chunks)
from fincorpus.pipeline import clean_documents, read_documents, with_content

DEDUP = Config().dedup


class CountingExecutor(LocalExecutor):
    """Runs the stages at once and counts them by name."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def submit(self, function, *args):
        self.calls[function.__name__] += 1
        return function(*args)


def _cut(frame: pl.DataFrame, cuts: list[int]) -> list[pl.DataFrame]:
    edges = [0, *sorted(cut % (frame.height + 1) for cut in cuts), frame.height]
    return [frame.slice(start, end - start) for start, end in zip(edges, edges[1:])]


def _assert_same(result, expected) -> None:
    assert result.assignments.equals(expected.assignments)
    assert result.pairs.equals(expected.pairs)
    assert (result.candidate_pairs, result.verified_pairs, result.split_clusters, result.boilerplate_shingles) == \
        (expected.candidate_pairs, expected.verified_pairs, expected.split_clusters, expected.boilerplate_shingles)


def _whole(frame: pl.DataFrame):
    return deduplicate(frame["doc_id"].to_list(), frame["text"].to_list(), DEDUP)


@pytest.fixture(scope="module")
def seed_texts(seeds_dir) -> pl.DataFrame:
    """The cleaned seeds with content, and exact copies of two of them under other ids."""
    kept = with_content(clean_documents(read_documents([seeds_dir], Config()), Config())).select("doc_id", "text")
    copies = kept.head(2).with_columns(pl.format("copy-of-{}", "doc_id").alias("doc_id"))
    return pl.concat([copies, kept])


def test_the_seeds_in_partitions_settle_as_the_whole_batch(seed_texts):
    expected = _whole(seed_texts)
    assert (expected.assignments["status"] == "duplicate").sum() == 4
    for cuts in ([], [1], [1, 3], [2, 4, 5]):
        _assert_same(run(_cut(seed_texts, cuts), DEDUP, LocalExecutor(), tasks=3), expected)


def test_a_generated_10k_corpus_in_partitions_settles_as_the_whole_batch(generated_10k):
    batch = generated_10k.select("doc_id", "text")
    expected = _whole(batch)
    executor = CountingExecutor()
    result = run(_cut(batch, [1200, 2500, 4000, 5100, 6666, 8000, 9100]), DEDUP, executor, tasks=4)
    _assert_same(result, expected)
    assert expected.split_clusters > 0 and (expected.assignments["status"] == "duplicate").sum() > 2000
    assert executor.calls["scan_part"] == executor.calls["sign_part"] == executor.calls["finish_part"] == 8
    assert executor.calls["bucket_pairs"] == 4 and executor.calls["band_entries"] == 8 * 4


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=5), tasks=st.integers(1, 5),
       order=st.randoms(use_true_random=False))
def test_any_cut_of_a_batch_into_partitions_gives_the_whole_batchs_clusters(cuts, tasks, order):
    frame = _small_corpus()
    rows = list(range(frame.height))
    order.shuffle(rows)  # partitions need not be in doc_id order
    shuffled = frame[rows]
    _assert_same(run(_cut(shuffled, cuts), DEDUP, LocalExecutor(), tasks=tasks), _whole(frame))


_SMALL: list[pl.DataFrame] = []


def _small_corpus() -> pl.DataFrame:
    """400 generated documents with exact copies (under other ids) and an empty-ish one: built once."""
    if not _SMALL:
        frame = generate(380, seed=3).select("doc_id", "text")
        copies = frame.sample(18, seed=1).with_columns(pl.format("dup-{}", "doc_id").alias("doc_id"))
        short = pl.DataFrame({"doc_id": ["short-a", "short-b"], "text": ["研报摘要", "研报摘要"]})
        _SMALL.append(pl.concat([frame, copies, short]))
    return _SMALL[0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 80), max_size=3), shares=st.integers(1, 5))
def test_banding_split_by_band_hash_finds_the_candidate_pairs_of_the_whole_batch(seed, cuts, shares):
    """Every (row, band) goes to exactly one banding task, by the hash of the band's values, whichever part
    holds the row: the tasks' pairs together are `candidate_pairs`' (the local engine's banding). Values
    from a small alphabet make many bands collide; some documents have no shingles."""
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 6, size=(80, 128)).astype(np.uint32)
    sizes = rng.integers(0, 4000, size=80) * (rng.random(80) > 0.1)
    expected = candidate_pairs(signatures, sizes, Signer(128, 1), DEDUP.candidate_threshold)
    edges = [0, *sorted(cuts), 80]
    tables = [(np.arange(start, end), signatures[start:end], sizes[start:end], np.zeros(end - start, dtype=bool))
              for start, end in zip(edges, edges[1:])]
    plan = lsh_plan([(rows, part_sizes) for rows, _, part_sizes, _ in tables], 80, DEDUP.candidate_threshold, 128,
                    shares)
    entries = [[band_entries(table, plan.rows, plan.probed, share, shares) for table in tables]
               for share in range(shares)]
    assert np.array_equal(unique_pairs([bucket_pairs(share, plan) for share in entries]), expected)
    assert len(expected) > 0 and len(plan.probed) > 1
    dealt = sum(len(part[r].key) for share in entries for part in share for r in part)
    assert dealt == len(plan.rows) * sum(plan.probed.values())


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 80), max_size=3))
def test_the_signature_check_per_partition_keeps_the_pairs_the_whole_batch_keeps(seed, cuts):
    """`plausible_chunk` over the pairs of each partition, with the signatures of the parts that hold
    them, keeps what `plausible_pairs` keeps over the whole batch (some pairs dropped, some kept)."""
    rng = np.random.default_rng(seed)
    alphabets = rng.choice([3, 30], size=(80, 1))  # rows that agree often with one another, and rows that do not
    signatures = (rng.random((80, 128)) * alphabets).astype(np.uint32)
    sizes = rng.integers(1, 4000, size=80)
    whole_body = rng.random(80) < 0.2
    proposed = candidate_pairs(signatures, sizes, Signer(128, 1), DEDUP.candidate_threshold)
    expected = plausible_pairs(proposed, signatures, sizes, whole_body, DEDUP.candidate_threshold,
                               DEDUP.candidate_p_value)
    assert 0 < len(expected) < len(proposed)
    edges = [0, *sorted(cuts), 80]
    tables = [(np.arange(start, end), signatures[start:end], sizes[start:end], whole_body[start:end])
              for start, end in zip(edges, edges[1:])]
    part_of = np.concatenate([np.full(end - start, part) for part, (start, end) in enumerate(zip(edges, edges[1:]))])
    kept = unique_pairs([plausible_chunk([tables[part] for part in needed], mine, DEDUP)
                         for needed, mine in verification_chunks(proposed, part_of)])
    assert np.array_equal(kept, expected)


def test_rows_whose_band_hashes_collide_pair_only_where_the_band_values_are_equal():
    """A bucket is a band's values, not their 64-bit hash: entries with the same band and key but other values
    are no candidates, as `index.band_pairs` drops a false collision."""
    plan = LshPlan(np.arange(3), np.full((3, 1), 2, np.int16), np.full((3, 1), 3, np.int16), np.zeros(3, np.int16),
                   {3: 2}, 1)
    entries = BandEntries(np.array([1, 1, 1], np.int16), np.full(3, 77, np.uint64), np.arange(3, dtype=np.int32),
                          np.array([[5, 6, 7], [5, 6, 8], [5, 6, 7]], np.uint32))
    assert bucket_pairs([{3: entries}], plan).tolist() == [[0, 2]]


def test_what_moves_between_workers_survives_pickling(seed_texts):
    expected = seed_texts.height
    scanned = partitioned_dedup.scan_part(seed_texts, DEDUP, expected)
    plan = partitioned_dedup.plan_batch([partitioned_dedup.exact_keys(seed_texts, scanned)], DEDUP)
    texts = partitioned_dedup.compared_texts(seed_texts, plan.local_rows[0], plan.global_rows[0])
    signed = partitioned_dedup.sign_part(texts, scanned.sketch, 10, DEDUP)
    copied = pickle.loads(pickle.dumps((scanned, signed)))
    assert np.array_equal(copied[0].sketch.counters, scanned.sketch.counters)
    assert np.array_equal(copied[1].signatures, signed.signatures)
