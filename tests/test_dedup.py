"""Dedup on the seeds and its building blocks."""

import numpy as np
import pytest
from datasketch import MinHash

from fincorpus.config import Config, DedupConfig
from fincorpus.dedup import deduplicate
from fincorpus.dedup.engine import score
from fincorpus.dedup.shingles import exact_hash, fingerprint_text, shingle_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.pipeline import clean_documents, read_documents

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, seed_text


@pytest.fixture(scope="module")
def cleaned_seeds(seeds_dir):
    batch = clean_documents(read_documents([seeds_dir], Config()), Config())
    return dict(zip(batch.documents["doc_id"], batch.documents["text"]))


def test_fingerprint_folds_width_punctuation_and_whitespace():
    assert fingerprint_text("“AI＋传媒”的效力，取决于\n适配") == fingerprint_text('"AI+传媒"的效力,取决于 适配')


def test_shingles_are_character_ngrams_of_the_fingerprint():
    assert len(shingle_hashes("abcdefg", 5)) == 3
    assert len(shingle_hashes("abcabcabc", 3)) == 3
    assert len(shingle_hashes("abc", 5)) == 1
    assert len(shingle_hashes("", 5)) == 0


def test_signatures_equal_datasketch_minhash_over_the_same_hashes():
    shingles = shingle_hashes(fingerprint_text(seed_text(SEED_001)), 5)
    reference = MinHash(num_perm=128, seed=7, scheme="affine32", hashfunc=lambda value: value)
    reference.update_batch([int(value) & 0xFFFFFFFF for value in shingles])
    assert np.array_equal(Signer(128, 7).sign(shingles), reference.hashvalues)


def test_seed_preview_is_contained_in_the_full_report(cleaned_seeds):
    preview, full = (shingle_hashes(fingerprint_text(cleaned_seeds[name]), 5) for name in (SEED_000, SEED_001))
    pair = score(preview, full)
    assert pair.jaccard < 0.6  # far below the usual 0.8: plain LSH at 0.8 would miss it
    assert pair.containment > 0.9


def test_seeds_cluster_into_the_two_reports_and_the_loner(cleaned_seeds):
    ids = sorted(cleaned_seeds)
    result = deduplicate(ids, [cleaned_seeds[name] for name in ids], DedupConfig())
    rows = {row["doc_id"]: row for row in result.assignments.iter_rows(named=True)}
    clusters = {}
    for row in rows.values():
        clusters.setdefault(row["cluster_id"], set()).add(row["doc_id"])
    assert sorted(map(sorted, clusters.values())) == [[SEED_000, SEED_001], [SEED_002], [SEED_003, SEED_004]]
    assert rows[SEED_000]["canonical_id"] == SEED_001 and rows[SEED_000]["reason"] == "contained"
    assert rows[SEED_003]["canonical_id"] == SEED_004
    assert rows[SEED_002]["status"] == "canonical"
    assert result.verified_pairs == 2


def test_exact_duplicates_up_to_folding_collapse(cleaned_seeds):
    text = cleaned_seeds[SEED_002]
    variant = text.replace(",", "，").replace(" ", "")
    assert exact_hash(fingerprint_text(text)) == exact_hash(fingerprint_text(variant))
    result = deduplicate(["a", "b"], [text, variant], DedupConfig())
    rows = {row["doc_id"]: row for row in result.assignments.iter_rows(named=True)}
    assert rows["b"]["reason"] == "exact_duplicate" and rows["b"]["canonical_id"] == "a"


def test_short_documents_match_exactly_only():
    config = DedupConfig(min_chars=50)
    result = deduplicate(["a", "b", "c"], ["华泰证券发布研报", "华泰证券发布研报。", "华泰证券发布研报了"], config)
    statuses = dict(zip(result.assignments["doc_id"], result.assignments["status"]))
    assert statuses == {"a": "canonical", "b": "duplicate", "c": "canonical"}
    assert result.candidate_pairs == 0


def test_unrelated_headlines_do_not_merge():
    headlines = ["沪深两市成交额突破万亿元大关，北向资金净流入超百亿元", "央行宣布下调存款准备金率零点五个百分点释放长期资金",
                 "新能源汽车销量同比增长三成，动力电池产业链景气回升"]
    result = deduplicate(["a", "b", "c"], headlines, DedupConfig(min_chars=10))
    assert set(result.assignments["status"]) == {"canonical"}
