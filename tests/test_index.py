"""The signature check between the LSH Ensemble's proposals and verification (`index.plausible_pairs`):
it drops pairs whose signatures rule out a containment of `candidate_threshold`, and keeps every pair whose
signatures cannot tell (a short preview of a long report)."""

import numpy as np

from fincorpus.config import DedupConfig
from fincorpus.dedup.index import plausible_pairs
from fincorpus.dedup.signatures import Signer

SIGNER = Signer(128, 1)
DEDUP = DedupConfig()


def _check(sets: list[np.ndarray], pairs: list[tuple[int, int]], p_value: float = DEDUP.candidate_p_value,
           whole_body: tuple[int, ...] = ()):
    signatures = SIGNER.sign_all(sets)
    signed_on_body = np.isin(np.arange(len(sets)), whole_body)
    kept = plausible_pairs(np.array(pairs, dtype=np.int64).reshape(-1, 2), signatures, [len(s) for s in sets],
                           signed_on_body, DEDUP.candidate_threshold, p_value)
    return [tuple(pair) for pair in kept.tolist()]


def _shingles(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**63, size=count, dtype=np.uint64)


def test_a_short_preview_of_a_long_report_stays_a_candidate_though_few_signature_values_agree():
    report = _shingles(np.random.default_rng(1), 3000)
    preview = report[:60]  # all of it in the report: a Jaccard of 0.02, two or three equal values of 128
    signatures = SIGNER.sign_all([report, preview])
    assert (signatures[0] == signatures[1]).sum() <= 6
    assert _check([report, preview], [(0, 1)]) == [(0, 1)]


def test_reports_of_like_size_that_share_a_few_shingles_are_dropped_before_verification():
    rng = np.random.default_rng(2)
    common = _shingles(rng, 12)  # a few 5-grams of a sentence both quote
    first = np.concatenate([common, _shingles(rng, 400)])
    second = np.concatenate([common, _shingles(rng, 380)])
    edited = np.concatenate([first[:200], _shingles(rng, 200)])  # half of the first report's shingles kept
    assert _check([first, second, edited], [(0, 1), (0, 2), (1, 2)]) == [(0, 2)]


def test_a_document_signed_on_its_whole_body_stays_a_candidate_of_one_signed_on_informative_shingles():
    """A short templated preview is mostly boilerplate, so it is signed on its whole body, while verification
    compares it with the full report on the few informative shingles it has: its signature cannot judge."""
    rng = np.random.default_rng(5)
    template = _shingles(rng, 200)  # boilerplate: in every report of the series
    report = _shingles(rng, 200)  # its informative shingles
    preview = np.concatenate([template, report[:5]])
    assert _check([preview, report], [(0, 1)]) == []
    assert _check([preview, report], [(0, 1)], whole_body=(0,)) == [(0, 1)]
    assert _check([preview, _shingles(rng, 200)], [(0, 1)], whole_body=(0, 1)) == []


def test_pairs_contained_at_the_candidate_threshold_are_kept_at_every_size():
    rng = np.random.default_rng(3)
    sets, pairs = [], []
    for _ in range(300):
        smaller, larger = sorted(rng.integers(20, 4000, size=2).tolist())
        inside = _shingles(rng, larger)
        shared = int(np.ceil(DEDUP.candidate_threshold * smaller))
        sets += [np.concatenate([inside[:shared], _shingles(rng, smaller - shared)]), inside]
        pairs.append((len(sets) - 2, len(sets) - 1))
    assert _check(sets, pairs) == pairs


def test_a_p_value_of_zero_keeps_every_proposed_pair():
    rng = np.random.default_rng(4)
    sets = [_shingles(rng, 500), _shingles(rng, 500)]
    assert _check(sets, [(0, 1)]) == []
    assert _check(sets, [(0, 1)], p_value=0) == [(0, 1)]
