"""Verification: every candidate pair is measured on its shingles before it may become an edge.

Two measures, both on the documents' informative shingles (boilerplate removed, see `boilerplate`):
- `similarity`: the Jaccard similarity of the two shingle sets (recorded in lineage);
- `containment` of A in B: the share of A's characters that lie inside at least one 5-gram A shares with B.
  Counting characters instead of shingles keeps a copy with scattered edits close to its original: 10% of
  characters changed destroys 41% of the 5-grams but leaves most characters inside an intact one, while a
  document that merely reuses a paragraph of B stays at that paragraph's share.

A pair is a duplicate when one document is contained in the other at >= `containment_threshold`
(`contained` when it is much shorter, else `near_duplicate`), and never when the finance guard finds the
figures that follow the same words in both documents different beyond `max_number_difference`.

Two titles or headlines (both under `title_chars`) are held to more: containment is blind to words one of
them inserts, and a title series ("燃气Ⅱ行业跟踪周报：欧洲亚洲气价下跌…" one week, "…欧洲亚洲美国气价下跌…"
the next) differs in a few words inside a shared template. A republished title differs only at its ends (a
site suffix, a source tag, a cut), so two titles that differ inside (`inner_edits`) are different items.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from fincorpus.config import MAX_TITLE_CHARS, DedupConfig
from fincorpus.dedup.boilerplate import contains_sorted
from fincorpus.documents import Reason


@dataclass(frozen=True, slots=True)
class Shingled:
    """One document as verification sees it."""

    windows: np.ndarray
    """Hash of the 5-gram at each position of the fingerprint, in text order."""
    all_shingles: np.ndarray
    """Sorted unique hashes of all its 5-grams."""
    shingles: np.ndarray
    """Sorted unique hashes of its 5-grams before its legal pages (all of them when it has none)."""
    legal_start: int | None
    """Window where its legal pages begin (`boilerplate.legal_section_start`)."""
    informative: np.ndarray
    """Sorted unique hashes without boilerplate."""
    boilerplate_windows: np.ndarray | None
    """Which windows are boilerplate (None: none is)."""
    mostly_boilerplate: bool
    """Fewer than `min_chars` informative shingles: a page that is all boilerplate, such as a news item
    reposted by many sites. Two such documents are compared on all of their shingles."""
    figures: dict[str, Counter[str]]
    """Figures by the characters before them (`shingles.figures`), boilerplate figures left out."""


@dataclass(frozen=True, slots=True)
class PairScore:
    similarity: float
    """Jaccard similarity of the two documents' 5-gram sets (all of them: the usual figure, recorded in
    lineage; the tests use the measures below)."""
    left_in_right: float
    """Share of the left document's characters inside 5-grams shared with the right one."""
    right_in_left: float
    number_difference: float | None
    """Share of the figures found after the same words in both documents that differ; None when fewer
    than `min_numbers` such figures exist."""
    length_ratio: float
    """Characters of the shorter fingerprint over those of the longer."""
    shorter_chars: int
    """Characters of the shorter fingerprint."""
    longer_chars: int
    """Characters of the longer fingerprint."""
    figures_differing: int = 0
    """Figures found after the same words in both documents that differ (see `number_difference`)."""
    inner_edits: int | None = None
    """Characters edited between the two fingerprints away from their ends (`inner_edits`); measured only
    when both have at most MAX_TITLE_CHARS characters."""

    def test(self, config: DedupConfig) -> Reason | None:
        """Which test the pair passes, or None: not duplicates.

        `near_duplicate`: one lies in the other at >= `containment_threshold` and they are of about the
        same length; `contained`: the shorter is under `contained_length_ratio` of the longer (a preview).
        Two titles (both under `title_chars`) are different items when they differ inside by more than
        `title_max_inner_edits` characters, or at all when a figure differs.
        """
        if self.longer_chars < config.title_chars and self.inner_edits is not None:
            if self.inner_edits > (0 if self.figures_differing else config.title_max_inner_edits):
                return None
        if self.number_difference is not None and self.number_difference > config.max_number_difference:
            return None
        threshold = config.containment_threshold
        if self.shorter_chars < config.short_chars:
            threshold = max(threshold, config.short_containment_threshold)
        if max(self.left_in_right, self.right_in_left) < threshold:
            return None
        return Reason.CONTAINED if self.length_ratio < config.contained_length_ratio else Reason.NEAR_DUPLICATE


def score_pair(left: Shingled, right: Shingled, shingle_size: int, min_numbers: int) -> PairScore:
    """Measure a pair on informative shingles, or on all shingles when both sides are mostly boilerplate."""
    on_all = left.mostly_boilerplate and right.mostly_boilerplate
    left_set = left.shingles if on_all else left.informative
    right_set = right.shingles if on_all else right.informative
    compared, differing = figure_counts(left.figures, right.figures)
    shorter, longer = sorted((len(left.windows), len(right.windows)))
    return PairScore(
        similarity=jaccard(left.all_shingles, right.all_shingles),
        left_in_right=_covered_share(left, right_set, on_all, shingle_size),
        right_in_left=_covered_share(right, left_set, on_all, shingle_size),
        number_difference=differing / compared if compared >= min_numbers else None,
        length_ratio=shorter / max(longer, 1),
        shorter_chars=shorter + shingle_size - 1,
        longer_chars=longer + shingle_size - 1,
        figures_differing=differing,
        inner_edits=(inner_edits(left.windows, right.windows, shingle_size)
                     if longer + shingle_size - 1 <= MAX_TITLE_CHARS else None),
    )


def inner_edits(left: np.ndarray, right: np.ndarray, shingle_size: int) -> int:
    """Characters edited between two texts away from their ends, from their window hashes in text order.

    Aligned on windows (difflib), an edit of k characters inside the text replaces k + shingle_size - 1
    windows on one side at most; a prefix or suffix one text has and the other lacks is not counted (a site
    suffix, a source tag, a truncated title).

    >>> from fincorpus.dedup.shingles import fingerprint_text, window_hashes
    >>> def edits(a, b):
    ...     return inner_edits(window_hashes(fingerprint_text(a), 5), window_hashes(fingerprint_text(b), 5), 5)
    >>> edits("燃气行业跟踪周报：欧洲亚洲气价下跌，国内周环比略升", "燃气行业跟踪周报：欧洲亚洲美国气价下跌，国内周环比略升")
    2
    >>> edits("燃气行业跟踪周报：欧洲亚洲气价下跌，国内周环比略升", "【东吴证券】燃气行业跟踪周报：欧洲亚洲气价下跌，国内周环比略升 - 东方财富网")
    0
    """
    blocks = SequenceMatcher(None, left.tolist(), right.tolist(), autojunk=False).get_opcodes()
    inner = [block for block in blocks[1:-1] if block[0] != "equal"]
    return sum(max(1, max(i2 - i1, j2 - j1) - (shingle_size - 1)) for _, i1, i2, j1, j2 in inner)


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Jaccard similarity of two sorted unique hash arrays."""
    shared = int(contains_sorted(left, right).sum()) if len(left) and len(right) else 0
    union = len(left) + len(right) - shared
    return shared / union if union else 0.0


def figure_counts(left: dict[str, Counter[str]], right: dict[str, Counter[str]]) -> tuple[int, int]:
    """How many figures follow the same words in both documents, and how many of them differ: the finance
    guard's `number_difference` is their ratio.

    A figure whose words the other document lacks (a view counter in a repost's chrome, the part a
    preview cut off) is not compared.

    >>> figure_counts({"收于": Counter(["3021"]), "成交额": Counter(["8000"])},
    ...               {"收于": Counter(["3105"]), "成交额": Counter(["8000"]), "阅读": Counter(["12"])})
    (2, 1)
    """
    compared = matched = 0
    for context in left.keys() & right.keys():
        mine, theirs = left[context], right[context]
        compared += min(mine.total(), theirs.total())
        matched += (mine & theirs).total()
    return compared, compared - matched


def _covered_share(doc: Shingled, other: np.ndarray, on_all: bool, size: int) -> float:
    """Share of `doc`'s characters that lie in a window shared with `other`, counting only characters
    that no boilerplate window covers."""
    if len(doc.windows) == 0 or len(other) == 0:
        return 0.0
    kernel = np.ones(min(size, len(doc.windows)), dtype=np.int32)
    shared = np.convolve(contains_sorted(doc.windows, other), kernel) > 0
    if on_all or doc.boilerplate_windows is None:
        counted = np.ones(len(shared), dtype=bool)
        if doc.legal_start is not None:
            counted[doc.legal_start:] = False
    else:  # characters that no boilerplate window covers
        counted = np.convolve(doc.boilerplate_windows, kernel) == 0
    counted_chars = np.count_nonzero(counted)
    return np.count_nonzero(shared & counted) / counted_chars if counted_chars else 0.0
