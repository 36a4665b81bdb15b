"""Matching a batch against stored signatures: banded keys, estimated containment, candidate pairs."""

import numpy as np
import pytest
from datasketch import MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from fincorpus.config import Config
from fincorpus.dedup.incremental import (
    band_keys, band_shape, estimated_containment, index_shingles, stored_candidates,
)
from fincorpus.dedup.boilerplate import legal_section_start
from fincorpus.dedup.passes import Shingler
from fincorpus.dedup.shingles import exact_hash, fingerprint_text, shingle_hashes, window_hashes
from fincorpus.dedup.signatures import Signer
from fincorpus.pipeline import clean_documents, read_documents
from fincorpus.store.update import sign_documents

from conftest import SEED_000, SEED_001, SEED_002, SEED_003, SEED_004, seed_text


@pytest.fixture(scope="module")
def signed_seeds(seeds_dir):
    """Signatures and shingle counts of the cleaned seeds, by doc_id."""
    batch = clean_documents(read_documents([seeds_dir], Config()), Config())
    signer = Signer(128, 1)
    signed = {}
    for doc_id, text in zip(batch.documents["doc_id"], batch.documents["text"]):
        shingles = body_shingles(text, Config().dedup)
        signed[doc_id] = (signer.sign(shingles), len(shingles))
    return signed


def body_shingles(text: str, config) -> np.ndarray:
    """`index_shingles` of a text as `sign_documents` takes them."""
    shingler = Shingler(config)
    codes, legal = shingler.fingerprint(text)
    return index_shingles(shingler.windows(codes), legal, config)


def stack(signed, names):
    return (np.stack([signed[name][0] for name in names]), np.array([signed[name][1] for name in names]))


def test_the_index_signs_a_report_without_its_legal_pages():
    body = "华泰研究认为大模型将带来范式革命，国产厂商蓄势待发，算力与应用两端均有机会。" * 3
    legal = "免责声明\n本报告仅供华泰证券股份有限公司客户使用，本公司不因接收人收到本报告而视其为客户。" * 2
    config = Config().dedup
    with_legal = body_shingles(body + "\n" + legal, config)
    legal_shingles = set(shingle_hashes(fingerprint_text(legal), 5).tolist())
    assert set(shingle_hashes(fingerprint_text(body), 5).tolist()) <= set(with_legal.tolist())
    assert not legal_shingles & set(with_legal.tolist())
    only_legal = body_shingles(legal, config)
    assert only_legal.tolist() == shingle_hashes(fingerprint_text(legal), 5).tolist()


def test_band_shape_takes_datasketchs_rows_for_the_threshold_and_bands_over_the_whole_signature():
    lsh = MinHashLSH(threshold=0.2, num_perm=128)
    assert lsh.b * lsh.r < 128  # datasketch leaves values unused
    assert band_shape(0.2, 128) == (128 // lsh.r, lsh.r)


def test_signatures_share_a_band_key_exactly_where_they_agree_on_the_band():
    left = np.arange(16, dtype=np.uint32).reshape(1, 16)
    right = left.copy()
    right[0, 5] += 1  # band 2 of 4-value bands differs
    keys = band_keys(np.vstack([left, right]), bands=4, rows=4)
    assert (keys[0] == keys[1]).tolist() == [True, False, True, True]


def test_estimated_containment_of_a_subset_is_near_one():
    rng = np.random.default_rng(0)
    full = np.unique(rng.integers(0, 2**63, 4000, dtype=np.uint64))
    part = full[:1000]
    signer = Signer(128, 1)
    estimate = estimated_containment(np.vstack([signer.sign(part), signer.sign(full)]), np.array([[0, 1]]),
                                     np.array([len(part), len(full)]))
    assert estimate[0] > 0.85


def test_a_new_preview_finds_its_stored_report_and_a_new_report_finds_its_stored_preview(signed_seeds):
    stored, stored_sizes = stack(signed_seeds, [SEED_001, SEED_002, SEED_003])
    new, new_sizes = stack(signed_seeds, [SEED_000, SEED_004])
    pairs = stored_candidates(new, new_sizes, stored, stored_sizes, threshold=0.2, min_containment=0.3)
    assert pairs.tolist() == [[0, 0], [1, 2]]  # 000 → 001 (preview after report), 004 → 003 (report after repost)


def test_unrelated_documents_are_not_proposed(signed_seeds):
    stored, stored_sizes = stack(signed_seeds, [SEED_001, SEED_004])
    new, new_sizes = stack(signed_seeds, [SEED_002])
    assert stored_candidates(new, new_sizes, stored, stored_sizes, 0.2, 0.3).shape == (0, 2)


def _signatures_equal_in(columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Two signatures of 128 values that agree in `columns` only."""
    new = np.arange(128, dtype=np.uint32)[None]
    stored = new + np.uint32(1000)
    stored[0, columns] = new[0, columns]
    return new, stored


def test_a_pair_sharing_only_a_band_past_datasketchs_band_count_is_proposed():
    """A preview of 200 shingles in a report of 700 (Jaccard ~0.29) whose values agree in every other column
    of the first 56 (no band of datasketch's 28 fully equal) and in the band of columns 100-101: before,
    only the first 28 bands were keyed and the pair was lost."""
    new, stored = _signatures_equal_in(list(range(0, 56, 2)) + [100, 101])
    sizes = np.array([200]), np.array([700])
    assert stored_candidates(new, sizes[0], stored, sizes[1], 0.2, 0.3).tolist() == [[0, 0]]
    rows = band_shape(0.2, 128)[1]
    assert not (band_keys(new, 28, rows) == band_keys(stored, 28, rows)).any()


def _signed_as_written_before(text: str, config) -> tuple[int, int, int, list[int] | None]:
    """What `sign_documents` stored for a text before it took the compiled path: the stored signatures of
    older generations must stay comparable with new ones."""
    fingerprint = fingerprint_text(text)
    shingles = None
    if len(fingerprint) >= config.min_chars:
        windows = window_hashes(fingerprint, config.shingle_size)
        legal_start = legal_section_start(text, fingerprint, config.legal_headings)
        shingles = np.unique(windows[:legal_start] if legal_start is not None and legal_start >= config.min_chars
                             else windows)
    signature = None if shingles is None else Signer(config.num_perm, config.seed).sign(shingles).tolist()
    return exact_hash(fingerprint), len(fingerprint), 0 if shingles is None else len(shingles), signature


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["深度拆解：银行业净息差企稳。", "\n免责声明\n本报告仅供参考。", "ｶﾞｷﾞ", "ﬁ㍻",
                                 "２０２４年Ｑ３", "\n分析师声明 ", "A股", "\ud800", " 。！", "1.25%"]),
                max_size=40).map("".join))
def test_sign_documents_stores_what_the_reference_functions_give(text):
    """The compiled fingerprint, legal offset and windows (`passes.Shingler`) sign a text exactly as
    `fingerprint_text`, `legal_section_start` and `window_hashes` do: NFKC's contextual characters
    (halfwidth kana with a voiced mark), expansions, full-width digits, lone surrogates, legal pages."""
    config = Config()
    row = sign_documents(["d"], [text * 3], config).row(0)
    assert row[1:] == _signed_as_written_before(text * 3, config.dedup)


def test_sign_documents_on_the_seeds_matches_the_reference_functions():
    texts = [seed_text(name) for name in (SEED_000, SEED_001, SEED_002, SEED_003, SEED_004)]
    frame = sign_documents(["a", "b", "c", "d", "e"], texts, Config())
    assert [row[1:] for row in frame.rows()] == [_signed_as_written_before(text, Config().dedup) for text in texts]
