"""Dedup on the seeds and its building blocks."""

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash

from fincorpus.config import CanonicalConfig, Config, DedupConfig
from fincorpus.dedup import deduplicate
from fincorpus.dedup.canonical import choose_canonical
from fincorpus.dedup.cluster import components, settle
from fincorpus.dedup.shingles import exact_hash, figures, fingerprint_text, shingle_hashes, window_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.documents import Reason
from fincorpus.pipeline import clean_documents, read_documents

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, seed_text


@pytest.fixture(scope="module")
def cleaned_seeds(seeds_dir):
    batch = clean_documents(read_documents([seeds_dir], Config()), Config())
    return dict(zip(batch.documents["doc_id"], batch.documents["text"]))


def rows_of(result):
    return {row["doc_id"]: row for row in result.assignments.iter_rows(named=True)}


def clusters_of(result):
    clusters = {}
    for row in result.assignments.iter_rows(named=True):
        clusters.setdefault(row["cluster_id"], set()).add(row["doc_id"])
    return sorted(map(sorted, clusters.values()))


def test_fingerprint_folds_width_punctuation_and_whitespace():
    assert fingerprint_text("“AI＋传媒”的效力，取决于\n适配") == fingerprint_text('"AI+传媒"的效力,取决于 适配')


def test_shingles_are_character_ngrams_of_the_fingerprint():
    assert len(shingle_hashes("abcdefg", 5)) == 3
    assert len(shingle_hashes("abcabcabc", 3)) == 3
    assert len(shingle_hashes("abc", 5)) == 1
    assert len(shingle_hashes("", 5)) == 0
    assert np.array_equal(np.unique(window_hashes("abcabcabc", 3)), shingle_hashes("abcabcabc", 3))


def test_figures_keep_the_words_before_each_number():
    found = figures(fingerprint_text("沪指收于3,021.5点，成交额8,000亿元"))
    assert found == {("沪指收于", "30215"): 1, ("点成交额", "8000"): 1}


def test_signatures_equal_datasketch_minhash_over_the_same_hashes():
    shingles = shingle_hashes(fingerprint_text(seed_text(SEED_001)), 5)
    reference = MinHash(num_perm=128, seed=7, scheme="affine32", hashfunc=lambda value: value)
    reference.update_batch([int(value) & 0xFFFFFFFF for value in shingles])
    assert np.array_equal(Signer(128, 7).sign(shingles), reference.hashvalues)
    assert np.array_equal(Signer(128, 7).sign_all([shingles, shingles])[1], reference.hashvalues)


def test_seeds_cluster_into_the_two_reports_and_the_loner(cleaned_seeds):
    ids = sorted(cleaned_seeds)
    result = deduplicate(ids, [cleaned_seeds[name] for name in ids], DedupConfig())
    rows = rows_of(result)
    assert clusters_of(result) == [[SEED_000, SEED_001], [SEED_002], [SEED_003, SEED_004]]
    assert rows[SEED_001]["status"] == "canonical" and rows[SEED_004]["status"] == "canonical"
    assert rows[SEED_000]["canonical_id"] == SEED_001 and rows[SEED_000]["reason"] == "contained"
    assert rows[SEED_003]["canonical_id"] == SEED_004 and rows[SEED_003]["status"] == "duplicate"
    assert rows[SEED_002]["status"] == "canonical"
    assert result.verified_pairs == 2
    assert rows[SEED_000]["containment"] > 0.9 and rows[SEED_000]["similarity"] < 0.7


def test_every_candidate_pair_is_reported_with_its_scores(cleaned_seeds):
    ids = sorted(cleaned_seeds)
    result = deduplicate(ids, [cleaned_seeds[name] for name in ids], DedupConfig())
    assert result.pairs.height == result.candidate_pairs
    assert result.pairs.filter(result.pairs["test"].is_not_null()).height == result.verified_pairs
    rejected = result.pairs.filter(result.pairs["test"].is_null())
    assert (rejected["left_in_right"] < 0.6).all() or rejected.height == 0


def test_exact_duplicates_up_to_folding_collapse(cleaned_seeds):
    text = cleaned_seeds[SEED_002]
    variant = text.replace(",", "，").replace(" ", "")
    assert exact_hash(fingerprint_text(text)) == exact_hash(fingerprint_text(variant))
    result = deduplicate(["a", "b"], [text, variant], DedupConfig())
    rows = rows_of(result)
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


# ---- canonical policy ----

def test_canonical_is_the_complete_form_then_the_preferred_source_then_doc_id():
    policy = CanonicalConfig()
    names = ["b.txt", "a.txt", "c.md", "d.md"]
    assert choose_canonical([0, 1], [1000, 1000, 0, 0], names, policy) == 1  # tie: smallest doc_id
    assert choose_canonical([0, 2], [1000, 0, 950, 0], names, policy) == 2  # within 10%: markdown preferred
    assert choose_canonical([0, 2], [1000, 0, 500, 0], names, policy) == 0  # a short .md preview never wins
    assert choose_canonical([0, 1], [1000, 1040], names, policy, matches=[3, 1]) == 0  # the central form
    assert choose_canonical([0, 1], [1000, 1040], names, CanonicalConfig(prefer_central=False), [3, 1]) == 1


def test_canonical_choice_does_not_depend_on_input_order():
    names = ["x.txt", "y.txt", "z.txt"]
    lengths = [900, 1000, 1000]
    assert {choose_canonical(order, lengths, names, CanonicalConfig()) for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0])} == {1}


# ---- clusters ----

def test_components_are_the_connected_parts_of_the_edges():
    groups = components(5, np.array([[0, 1], [1, 2]]))
    assert sorted(groups) == [[0, 1, 2], [3], [4]]


def test_a_chain_is_split_where_members_do_not_match_the_canonical():
    # 0-1 and 1-2 verified, but 2 shares nothing with 0, the canonical
    matching = {(0, 1), (1, 2)}
    test = lambda member, canonical: Reason.CONTAINED if tuple(sorted((member, canonical))) in matching else None
    settled = settle([0, 1, 2], matching, lambda members: min(members), test)
    assert sorted(sorted(part.members) for part in settled) == [[0, 1], [2]]
    assert all(reason is not None for part in settled for member, reason in part.members.items()
               if member != part.canonical)


SERIES_TITLES = [  # successive issues of one weekly series (../shared/corpus, eastmoney report titles)
    "燃气Ⅱ行业跟踪周报：地缘冲突叠加需求偏弱，美气价格回落、欧洲气价高位回落、国内气价上涨；关注资源价值首华燃气+长协成本优势新奥股份",
    "燃气Ⅱ行业跟踪周报：欧美周环比基本持平，亚洲现货及中国进口到岸价格下降；关注资源价值首华燃气+长协成本优势新奥股份、新奥能源",
    "燃气Ⅱ行业跟踪周报：美国气价上涨，欧洲亚洲下跌，国内气价周环比略降；关注资源价值首华燃气+长协成本优势新奥股份、新奥能源",
    "房地产行业2026年7月70个大中城市房价数据点评：7月70城房价环比跌幅持平；一线城市二手房房价环比5个月正增长",
    "房地产行业2026年5月70个大中城市房价数据点评：70城新房房价环比跌幅持平、二手房房价跌幅扩大；一线城市房价环比持续",
]


def test_issues_of_one_title_series_stay_apart_but_a_retitled_copy_still_merges():
    copy = SERIES_TITLES[0].replace("，", " ").replace("+", "与")  # punctuation-only edits of issue 1
    ids = [f"t{index}" for index in range(len(SERIES_TITLES))] + ["copy"]
    result = deduplicate(ids, [*SERIES_TITLES, copy], DedupConfig())
    cluster = dict(zip(result.assignments["doc_id"], result.assignments["cluster_id"]))
    assert len({cluster[f"t{index}"] for index in range(len(SERIES_TITLES))}) == len(SERIES_TITLES)
    assert cluster["copy"] == cluster["t0"]
    # the rule that keeps them apart is the short-text threshold, not chance
    loose = deduplicate(ids, [*SERIES_TITLES, copy], DedupConfig(short_containment_threshold=0.6))
    assert set(loose.assignments["status"]) == {"canonical", "duplicate"}
    assert loose.assignments.filter(pl.col("status") == "duplicate").height > 1
