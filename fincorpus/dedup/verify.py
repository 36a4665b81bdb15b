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
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from cachetools import LRUCache
import numba
import numpy as np

from fincorpus.config import MAX_TITLE_CHARS, DedupConfig
from fincorpus.dedup.boilerplate import HashSet
from fincorpus.dedup.cluster import components
from fincorpus.dedup.passes import Shingler, ordered_map
from fincorpus.documents import Reason


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
    ends_replaced: bool = False
    """Both fingerprints have characters of their own at the same end (an issue number "第30期" against
    "第31期"), not one text running on past the other (a suffix, a cut); measured with `inner_edits`."""

    def test(self, config: DedupConfig) -> Reason | None:
        """Which test the pair passes, or None: not duplicates.

        `near_duplicate`: one lies in the other at >= `containment_threshold` and they are of about the
        same length; `contained`: the shorter is under `contained_length_ratio` of the longer (a preview).
        Two titles (both under `title_chars`) are different items when they differ inside by more than
        `title_max_inner_edits` characters, or when a figure differs and they differ inside or both end
        differently ("（第30期）" / "（第31期）"; a title cut inside a figure still matches).
        """
        if self.longer_chars < config.title_chars and self.inner_edits is not None:
            if self.inner_edits > (0 if self.figures_differing else config.title_max_inner_edits):
                return None
            if self.figures_differing and self.ends_replaced:
                return None
        if self.number_difference is not None and self.number_difference > config.max_number_difference:
            return None
        threshold = config.containment_threshold
        if self.shorter_chars < config.short_chars:
            threshold = max(threshold, config.short_containment_threshold)
        if max(self.left_in_right, self.right_in_left) < threshold:
            return None
        return Reason.CONTAINED if self.length_ratio < config.contained_length_ratio else Reason.NEAR_DUPLICATE


_ALL, _INFORMATIVE, _BODY = 1, 2, 4  # flags of a shingle in a document's table


@dataclass(frozen=True, slots=True)
class Shingled:
    """One document as verification sees it."""

    windows: np.ndarray
    """Hash of the 5-gram at each position of the fingerprint, in text order."""
    first: np.ndarray
    """Which windows hold the first occurrence of their hash."""
    legal_start: int | None
    """Window where its legal pages begin (`boilerplate.legal_section_start`)."""
    boilerplate_windows: np.ndarray | None
    """Which windows are boilerplate or legal pages (None: none is)."""
    keys: np.ndarray
    """Its distinct shingles in an open-addressing table (`flags` 0: free slot) ..."""
    flags: np.ndarray
    """... each flagged: 1 any shingle, 2 informative (in a window that is not boilerplate), 4 body (before
    the legal pages; all of them when it has none)."""
    all_count: int
    informative_count: int
    body_count: int
    mostly_boilerplate: bool
    """Fewer than `min_chars` informative shingles: a page that is all boilerplate, such as a news item
    reposted by many sites. Two such documents are compared on all of their body shingles."""
    figure_contexts: np.ndarray
    """Sorted hashes of the words before each of its figures (boilerplate figures left out) ..."""
    figure_keys: np.ndarray
    """... and of (words, figure)."""


def shingle_document(text: str, shingler: Shingler, boilerplate: HashSet, boilerplate_figures: HashSet,
                     config: DedupConfig) -> Shingled:
    """Measure one document for verification."""
    codes, legal = shingler.fingerprint(text)
    windows = shingler.windows(codes).copy()
    capacity = 1 << int(np.ceil(np.log2(max(2 * len(windows), 16))))
    keys = np.zeros(capacity, dtype=np.uint64)
    flags = np.zeros(capacity, dtype=np.uint8)
    first = np.empty(len(windows), dtype=np.bool_)
    masked = np.empty(len(windows), dtype=np.bool_)
    counts = _shingle(windows, boilerplate.keys, boilerplate.counts, len(boilerplate) > 0,
                      len(windows) if legal is None else legal, keys, flags, first, masked)
    contexts, figure_keys = shingler.figures(codes)
    kept = ~boilerplate_figures.contains(figure_keys)
    return Shingled(windows, first, legal, masked if counts[3] else None, keys, flags, counts[0], counts[1],
                    counts[2], counts[1] < config.min_chars, np.sort(contexts[kept]), np.sort(figure_keys[kept]))


def score_pair(left: Shingled, right: Shingled, shingle_size: int, min_numbers: int,
               title_chars: int = MAX_TITLE_CHARS) -> PairScore:
    """Measure a pair on informative shingles, or on body shingles when both sides are mostly boilerplate.
    `inner_edits` (an alignment, the costly measure) only when the longer has under `title_chars`
    characters: the only pairs whose test reads it."""
    on_all = left.mostly_boilerplate and right.mostly_boilerplate
    flag = _BODY if on_all else _INFORMATIVE
    shared, left_in_right = _covered_share(left, right, flag, on_all, shingle_size)
    _, right_in_left = _covered_share(right, left, flag, on_all, shingle_size)
    union = left.all_count + right.all_count - shared
    compared, differing = hashed_figure_counts(left, right)
    shorter, longer = sorted((len(left.windows), len(right.windows)))
    aligned = (title_alignment(left.windows, right.windows, shingle_size)
               if longer + shingle_size - 1 < min(title_chars, MAX_TITLE_CHARS + 1) else None)
    return PairScore(
        similarity=shared / union if union else 0.0,
        left_in_right=left_in_right,
        right_in_left=right_in_left,
        number_difference=differing / compared if compared >= min_numbers else None,
        length_ratio=shorter / max(longer, 1),
        shorter_chars=shorter + shingle_size - 1,
        longer_chars=longer + shingle_size - 1,
        figures_differing=differing,
        inner_edits=None if aligned is None else aligned[0],
        ends_replaced=aligned is not None and aligned[1],
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
    return title_alignment(left, right, shingle_size)[0]


def title_alignment(left: np.ndarray, right: np.ndarray, shingle_size: int) -> tuple[int, bool]:
    """(`inner_edits`, whether an end of the alignment replaces windows on both sides): one alignment for
    both measures of the titles rule."""
    blocks = SequenceMatcher(None, left.tolist(), right.tolist(), autojunk=False).get_opcodes()
    inner = [block for block in blocks[1:-1] if block[0] != "equal"]
    edits = sum(max(1, max(i2 - i1, j2 - j1) - (shingle_size - 1)) for _, i1, i2, j1, j2 in inner)
    return edits, len(blocks) > 1 and (blocks[0][0] == "replace" or blocks[-1][0] == "replace")


def hashed_figure_counts(left: Shingled, right: Shingled) -> tuple[int, int]:
    """`figure_counts` on the hashed figures of two measured documents."""
    compared = _shared_minimum(left.figure_contexts, right.figure_contexts)
    return compared, compared - _shared_minimum(left.figure_keys, right.figure_keys)


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


def _covered_share(doc: Shingled, other: Shingled, flag: int, on_all: bool, size: int) -> tuple[int, float]:
    """(How many of `doc`'s shingles `other` holds, share of `doc`'s characters that lie in a window shared
    with `other`'s `flag` shingles, counting only characters that no boilerplate window covers)."""
    use_mask = not on_all and doc.boilerplate_windows is not None
    mask = doc.boilerplate_windows if use_mask else np.zeros(0, dtype=np.bool_)
    legal = -1 if use_mask or doc.legal_start is None else doc.legal_start
    shared, covered, counted = _covered(doc.windows, doc.first, mask, legal, min(size, max(len(doc.windows), 1)),
                                        other.keys, other.flags, flag)
    other_count = other.body_count if flag == _BODY else other.informative_count
    if len(doc.windows) == 0 or other_count == 0:
        return shared, 0.0
    return shared, covered / counted if counted else 0.0


class Verifier:
    """Shingles documents on demand, keeping the last `cache_size` (pairs come sorted by their first row,
    so each first document is shingled once)."""

    def __init__(self, texts: Sequence[str], boilerplate: np.ndarray, boilerplate_figures: np.ndarray,
                 config: DedupConfig, cache_size: int = 256) -> None:
        """`boilerplate`, `boilerplate_figures`: hashes (`engine.boilerplate_of`)."""
        self.texts, self.config, self.cache_size = texts, config, cache_size
        self.boilerplate, self.boilerplate_figures = HashSet(boilerplate), HashSet(boilerplate_figures)
        self.shingler = Shingler(config)
        self._cache: LRUCache[int, Shingled] = LRUCache(cache_size)

    def sibling(self) -> Verifier:
        """A verifier with the same boilerplate and an empty cache of its own (for another thread)."""
        other = object.__new__(Verifier)
        other.texts, other.config, other.cache_size = self.texts, self.config, self.cache_size
        other.boilerplate, other.boilerplate_figures = self.boilerplate, self.boilerplate_figures
        other.shingler, other._cache = Shingler(self.config), LRUCache(self.cache_size)
        return other

    def shingled(self, row: int) -> Shingled:
        found = self._cache.get(row)
        if found is None:
            found = self._cache[row] = shingle_document(self.texts[row], self.shingler, self.boilerplate,
                                                        self.boilerplate_figures, self.config)
        return found

    def score(self, left: int, right: int) -> PairScore:
        return score_pair(self.shingled(left), self.shingled(right), self.config.shingle_size,
                          self.config.min_numbers, self.config.title_chars)


def verify_pairs(pairs: np.ndarray, verifier: Verifier, threads: int = 1, block_docs: int = 2048
                 ) -> list[PairScore]:
    """Scores of every candidate pair ((n, 2) rows into the verifier's texts), in the order given.

    Pairs are measured one component of the candidate graph after another, so that a document is
    shingled once while its component fits a verifier's cache. They are taken in blocks that hold at most
    about `block_docs` documents, whose texts are read first (in this thread, in row order, so that a lazy
    sequence reads each of its pieces once per block), then measured in chunks in `threads` threads, each
    with its own cache."""
    if len(pairs) == 0:
        return []
    rows, local = np.unique(pairs, return_inverse=True)
    groups = components(len(rows), local.reshape(-1, 2))
    component_of = np.empty(len(rows), dtype=np.int64)
    for number, group in enumerate(groups):
        component_of[group] = number
    pair_component = component_of[local.reshape(-1, 2)[:, 0]]
    order = np.argsort(pair_component, kind="stable")
    workers = _PerThreadVerifier(verifier)

    def score_chunk(chunk: tuple[list[int], dict[int, str]]) -> tuple[list[int], list[PairScore]]:
        indexes, texts = chunk
        own = workers.get()
        own.texts = texts
        return indexes, [own.score(int(pairs[index, 0]), int(pairs[index, 1])) for index in indexes]

    def fetched_chunks():
        for block in _blocks(order, pairs, block_docs):
            texts = {int(row): verifier.texts[int(row)] for row in np.unique(pairs[np.concatenate(block)])}
            for indexes in block:
                yield indexes, texts

    scores: list[PairScore | None] = [None] * len(pairs)
    for indexes, chunk_scores in ordered_map(score_chunk, fetched_chunks(), threads):
        for index, score in zip(indexes, chunk_scores):
            scores[index] = score
    return scores


def _blocks(order: np.ndarray, pairs: np.ndarray, block_docs: int, chunk_pairs: int = 256):
    """`order` cut into chunks of `chunk_pairs` pairs, grouped in blocks of consecutive chunks whose pairs
    hold at most about `block_docs` documents (a chunk more than that makes a block of its own)."""
    block: list[list[int]] = []
    rows: set[int] = set()
    for start in range(0, len(order), chunk_pairs):
        chunk = order[start:start + chunk_pairs].tolist()
        chunk_rows = set(pairs[chunk].reshape(-1).tolist())
        if block and len(rows | chunk_rows) > block_docs:
            yield block
            block, rows = [], set()
        block.append(chunk)
        rows |= chunk_rows
    if block:
        yield block


class _PerThreadVerifier:
    def __init__(self, verifier: Verifier) -> None:
        self.verifier, self._local = verifier, threading.local()

    def get(self) -> Verifier:
        own = getattr(self._local, "verifier", None)
        if own is None:
            own = self._local.verifier = self.verifier.sibling()
        return own


@numba.njit(cache=True, nogil=True)
def _find(keys, flags, value):  # pragma: no cover - compiled
    mask = len(keys) - 1
    slot = np.int64((value * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
    while flags[slot] != 0:
        if keys[slot] == value:
            return flags[slot]
        slot = (slot + 1) & mask
    return 0


@numba.njit(cache=True, nogil=True)
def _shingle(windows, boilerplate_keys, boilerplate_counts, any_boilerplate, body_end, keys, flags, first, masked
             ):  # pragma: no cover - compiled
    """Fill `keys`/`flags` with the distinct windows, `first` and `masked` (boilerplate or legal pages) per
    window; returns (all, informative, body, masked) counts."""
    mask = len(keys) - 1
    bp_mask = len(boilerplate_keys) - 1
    counts = np.zeros(4, dtype=np.int64)
    for position in range(len(windows)):
        value = windows[position]
        is_masked = position >= body_end
        if not is_masked and any_boilerplate:
            slot = np.int64((value * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & bp_mask
            while boilerplate_counts[slot] != 0:
                if boilerplate_keys[slot] == value:
                    is_masked = True
                    break
                slot = (slot + 1) & bp_mask
        masked[position] = is_masked
        counts[3] += is_masked
        slot = np.int64((value * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
        while flags[slot] != 0 and keys[slot] != value:
            slot = (slot + 1) & mask
        old = flags[slot]
        first[position] = old == 0
        new = old | 1
        if not is_masked:
            new |= 2
        if position < body_end:
            new |= 4
        keys[slot] = value
        flags[slot] = new
        for bit in range(3):
            if (new >> bit) & 1 and not (old >> bit) & 1:
                counts[bit] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def _shared_minimum(left, right):  # pragma: no cover - compiled
    """Sum over the values in both sorted arrays of the smaller number of repeats."""
    total = 0
    i = 0
    j = 0
    while i < len(left) and j < len(right):
        if left[i] < right[j]:
            i += 1
        elif right[j] < left[i]:
            j += 1
        else:
            value = left[i]
            mine = 0
            while i < len(left) and left[i] == value:
                mine += 1
                i += 1
            theirs = 0
            while j < len(right) and right[j] == value:
                theirs += 1
                j += 1
            total += min(mine, theirs)
    return total


@numba.njit(cache=True, nogil=True)
def _covered(windows, first, mask, legal, width, other_keys, other_flags, flag):  # pragma: no cover - compiled
    """(distinct hashes of `windows` that `other` holds at all, characters inside a window whose hash
    `other` holds with `flag` and counted, characters counted). Window i covers characters i .. i+width-1.
    Counted: with a `mask`, characters no masked window covers; else characters before `legal` (all with
    legal < 0)."""
    chars = len(windows) + width - 1
    shared_until = 0
    masked_until = 0
    shared_distinct = 0
    shared_counted = 0
    counted = 0
    for char in range(chars):
        if char < len(windows):
            found = _find(other_keys, other_flags, windows[char])
            if found and first[char]:
                shared_distinct += 1
            if found & flag:
                shared_until = char + width
            if len(mask) and mask[char]:
                masked_until = char + width
        if len(mask):
            is_counted = char >= masked_until
        else:
            is_counted = legal < 0 or char < legal
        if is_counted:
            counted += 1
            if char < shared_until:
                shared_counted += 1
    return shared_distinct, shared_counted, counted
