"""Fast paths give exactly what the plain definition gives: speed never changes an output."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaners.base import apply_edits
from cleaners.unicode import WidthFold, fold_table

MIXED = st.text(st.one_of(st.sampled_from(list("ＡＢ１２，。：（）　～＄华泰ｶﾞ㍻①ﬁ\u3000\u00a0")), st.characters()), max_size=300)


@settings(max_examples=200, deadline=None)
@given(MIXED, st.booleans())
def test_width_fold_equals_translating_every_character_with_its_table(text, fold_punctuation):
    table = fold_table(fold_punctuation)
    result = WidthFold(fold_punctuation=fold_punctuation)(text)
    assert result.text == text.translate(table)
    assert apply_edits(text, result.edits) == result.text  # coarse same-length edits plus exact expansions
    assert (result.changed or 0) == sum(1 for char in text if ord(char) in table)


def _ensemble_reference(signatures, sizes, signer, threshold):
    """Index and query every row in datasketch's own `MinHashLSHEnsemble`, one document at a time."""
    from datasketch import MinHashLSHEnsemble

    from fincorpus.dedup.index import size_step

    entries = [(row, signer.to_minhash(signatures[row]), size_step(size)) for row, size in enumerate(sizes) if size]
    index = MinHashLSHEnsemble(threshold=threshold, num_perm=signer.num_perm)
    index.index(entries)
    found = {(min(key, other), max(key, other)) for key, minhash, size in entries
             for other in index.query(minhash, size) if other != key}
    return sorted(found)


def _related_sets(seed: int, count: int) -> list[np.ndarray]:
    """Shingle sets of many sizes: originals, their prefixes (previews), edited copies, and strangers."""
    rng = np.random.default_rng(seed)
    sets = []
    while len(sets) < count:
        base = rng.integers(0, 2**63, size=int(rng.integers(20, 3000)), dtype=np.uint64)
        sets.append(base)
        for _ in range(int(rng.integers(0, 4))):
            kind = rng.integers(0, 3)
            if kind == 0:
                sets.append(base[:max(1, int(len(base) * rng.uniform(0.1, 0.9)))])
            elif kind == 1:
                edited = base.copy()
                changed = rng.random(len(base)) < rng.uniform(0.05, 0.6)
                edited[changed] = rng.integers(0, 2**63, size=int(changed.sum()), dtype=np.uint64)
                sets.append(edited)
            else:
                sets.append(np.empty(0, dtype=np.uint64))
    return [np.unique(shingles) for shingles in sets[:count]]


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 160), st.sampled_from([0.3, 0.5, 0.8]))
def test_batch_lsh_ensemble_proposes_exactly_the_pairs_of_datasketchs_ensemble(seed, count, threshold):
    from fincorpus.dedup.index import candidate_pairs
    from fincorpus.dedup.signatures import Signer

    signer = Signer(128, 1)
    sets = _related_sets(seed, count)
    signatures = signer.sign_all(sets)
    sizes = [len(shingles) for shingles in sets]
    pairs = candidate_pairs(signatures, sizes, signer, threshold)
    assert pairs.tolist() == [list(pair) for pair in _ensemble_reference(signatures, sizes, signer, threshold)]


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 160), st.floats(0.0, 1.0))
def test_lsh_with_fresh_rows_proposes_exactly_the_pairs_that_hold_one(seed, count, share):
    """An update's banding: only pairs holding a new document, the same as banding all and filtering."""
    from fincorpus.dedup.index import candidate_pairs
    from fincorpus.dedup.signatures import Signer

    signer = Signer(128, 1)
    sets = _related_sets(seed, count)
    signatures = signer.sign_all(sets)
    sizes = [len(shingles) for shingles in sets]
    fresh = np.random.default_rng(seed).random(count) < share
    every = candidate_pairs(signatures, sizes, signer, 0.3)
    expected = every[fresh[every[:, 0]] | fresh[every[:, 1]]] if len(every) else every
    assert candidate_pairs(signatures, sizes, signer, 0.3, fresh=fresh).tolist() == expected.tolist()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=300), min_size=1, max_size=6), st.integers(0, 2**31))
def test_compiled_signatures_equal_datasketch_minhash_for_every_set_including_empty(sets, seed):
    from datasketch import MinHash

    from fincorpus.dedup.signatures import Signer

    arrays = [np.unique(np.array(values, dtype=np.uint64)) for values in sets]
    signatures = Signer(64, seed).sign_all(arrays)
    for shingles, signature in zip(arrays, signatures):
        reference = MinHash(num_perm=64, seed=seed, scheme="affine32", hashfunc=lambda value: value)
        reference.update_batch([int(value) & 0xFFFFFFFF for value in shingles])
        assert np.array_equal(signature, reference.hashvalues)


@given(st.lists(st.integers(0, 2**64 - 1), max_size=200))
def test_sorted_unique_equals_numpy_unique_with_and_without_counts(values):
    from fincorpus.dedup.shingles import sorted_unique

    array = np.array(values, dtype=np.uint64)
    assert np.array_equal(sorted_unique(array), np.unique(array))
    hashes, counts = sorted_unique(array, return_counts=True)
    expected_hashes, expected_counts = np.unique(array, return_counts=True)
    assert np.array_equal(hashes, expected_hashes) and np.array_equal(counts, expected_counts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 2**32 - 1, 2**32, 2**63, 2**64 - 1]), max_size=300))
def test_radix_sort_of_the_bands_orders_by_the_high_32_bits_keeping_ties_in_order(values):
    from fincorpus.dedup.index import _radix_sort_high

    array = np.array(values, dtype=np.uint64)
    _radix_sort_high(array, np.empty_like(array))
    assert array.tolist() == sorted(values, key=lambda value: value >> 32)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**63, 2**64 - 1]), max_size=400))
def test_the_figure_keys_heap_sort_sorts_like_numpy(values):
    from fincorpus.dedup.shingled import heap_sort

    array = np.array(values, dtype=np.uint64)
    heap_sort(array)
    assert array.tolist() == sorted(values)
