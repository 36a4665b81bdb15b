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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

from cachetools import LRUCache
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import reverse_cuthill_mckee

from fincorpus.config import MAX_TITLE_CHARS, DedupConfig
from fincorpus.dedup.boilerplate import HashSet
from fincorpus.dedup.codepoints import fold_table
from fincorpus.dedup.passes import FIGURE_CONTEXT, Shingler, ordered_map
from fincorpus.dedup import alignment, shingled as packed
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


class PairScores(Sequence):
    """The scores of many pairs as columns (`PairScore`'s fields; NaN and -1 stand for None), read as a
    sequence of `PairScore`."""

    __slots__ = ("similarity", "left_in_right", "right_in_left", "number_difference", "length_ratio",
                 "shorter_chars", "longer_chars", "figures_differing", "inner_edits", "ends_replaced")
    TESTS = (Reason.CONTAINED, Reason.NEAR_DUPLICATE)
    """What the codes of `tests` stand for (-1: no test passed)."""

    def __init__(self, *columns: np.ndarray) -> None:
        for name, column in zip(self.__slots__, columns, strict=True):
            setattr(self, name, column)

    @classmethod
    def measured(cls, shares: np.ndarray, counts: np.ndarray, aligned: np.ndarray, shingle_size: int,
                 min_numbers: int) -> PairScores:
        """From `shingled.measure_pair`'s `shares` and `counts` and the titles' (inner edits, ends
        replaced), -1 where not aligned."""
        shorter, longer = np.minimum(counts[:, 0], counts[:, 1]), np.maximum(counts[:, 0], counts[:, 1])
        compared, differing = counts[:, 2], counts[:, 3]
        return cls(shares[:, 0], shares[:, 1], shares[:, 2],
                   np.where(compared >= min_numbers, differing / np.maximum(compared, 1), np.nan),
                   shorter / np.maximum(longer, 1), shorter + shingle_size - 1, longer + shingle_size - 1, differing,
                   aligned[:, 0], aligned[:, 1] == 1)

    @classmethod
    def of(cls, scores: Sequence[PairScore]) -> PairScores:
        """Columns of `PairScore`s."""
        def column(name: str, dtype, none=None) -> np.ndarray:
            return np.array([none if getattr(score, name) is None else getattr(score, name) for score in scores],
                            dtype=dtype).reshape(-1)

        return cls(column("similarity", np.float64), column("left_in_right", np.float64),
                   column("right_in_left", np.float64), column("number_difference", np.float64, np.nan),
                   column("length_ratio", np.float64), column("shorter_chars", np.int64),
                   column("longer_chars", np.int64), column("figures_differing", np.int64),
                   column("inner_edits", np.int64, -1), column("ends_replaced", np.bool_))

    @classmethod
    def concat(cls, parts: Sequence[PairScores]) -> PairScores:
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in cls.__slots__))

    def take(self, index: np.ndarray) -> PairScores:
        return type(self)(*(getattr(self, name)[index] for name in self.__slots__))

    def tests(self, config: DedupConfig) -> np.ndarray:
        """`PairScore.test` of every pair at once, as codes: positions in `TESTS`, -1 for None."""
        titles = (self.longer_chars < config.title_chars) & (self.inner_edits >= 0)
        differing = self.figures_differing > 0
        apart = titles & ((self.inner_edits > np.where(differing, 0, config.title_max_inner_edits))
                          | (differing & self.ends_replaced))
        apart |= self.number_difference > config.max_number_difference  # NaN (no guard) compares False
        threshold = np.where(self.shorter_chars < config.short_chars,
                             max(config.containment_threshold, config.short_containment_threshold),
                             config.containment_threshold)
        apart |= np.maximum(self.left_in_right, self.right_in_left) < threshold
        return np.where(apart, -1, np.where(self.length_ratio < config.contained_length_ratio, 0, 1))

    def __len__(self) -> int:
        return len(self.similarity)

    def __getitem__(self, index: int) -> PairScore:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._make(self.similarity[index], *(column[index].item() for column in self._columns()[1:]))

    def __iter__(self) -> Iterator[PairScore]:
        return map(self._make, iter(self.similarity), *(column.tolist() for column in self._columns()[1:]))

    def _columns(self) -> tuple[np.ndarray, ...]:
        """The fields' columns; `similarity` is read as numpy floats (so `round` rounds it as numpy does, as
        it always has), the rest as Python numbers."""
        return tuple(getattr(self, name) for name in self.__slots__)

    @staticmethod
    def _make(similarity, left_in_right, right_in_left, number_difference, length_ratio, shorter_chars,
              longer_chars, figures_differing, inner_edits, ends_replaced) -> PairScore:
        return PairScore(similarity, left_in_right, right_in_left,
                         None if number_difference != number_difference else number_difference, length_ratio,
                         shorter_chars, longer_chars, figures_differing, None if inner_edits < 0 else inner_edits,
                         ends_replaced)


@dataclass(frozen=True, slots=True)
class Shingled:
    """One document as verification sees it (`shingled` module: its windows, their distinct hashes
    flagged any / informative / body in a table, and its figures not boilerplate)."""

    words: np.ndarray
    marks: np.ndarray
    first: np.ndarray
    table: np.ndarray

    @property
    def windows(self) -> np.ndarray:
        """Hash of the 5-gram at each position of the fingerprint, in text order."""
        return packed.windows_of(self.words)

    @property
    def figure_contexts(self) -> np.ndarray:
        """Sorted hashes of the words before each of its figures (boilerplate figures left out)."""
        return packed.figures_of(self.words)[0]

    @property
    def figure_keys(self) -> np.ndarray:
        """Sorted hashes of (words, figure) of the same figures."""
        return packed.figures_of(self.words)[1]

    @property
    def mostly_boilerplate(self) -> bool:
        """Fewer than `min_chars` informative shingles: a page that is all boilerplate, such as a news item
        reposted by many sites. Two such documents are compared on all of their body shingles."""
        return packed.mostly_boilerplate(self.words)


class Boilerplate:
    """The boilerplate shingles and figures as membership tables for `shingled.measure_document`."""

    def __init__(self, shingles: np.ndarray, figures: np.ndarray) -> None:
        """Hashes (`engine.boilerplate_of`)."""
        self.shingles, self.any_shingle = np.asarray(shingles, dtype=np.uint64), len(shingles) > 0
        self.shingle_table, self.shingle_zero = packed.key_table(self.shingles)
        self.figure_table, self.figure_zero = packed.key_table(np.asarray(figures, dtype=np.uint64))


def shingle_document(text: str, shingler: Shingler, boilerplate: HashSet | Boilerplate,
                     boilerplate_figures: HashSet | None, config: DedupConfig) -> Shingled:
    """Measure one document for verification (boilerplate as a `Boilerplate`, or two `HashSet`s)."""
    if not isinstance(boilerplate, Boilerplate):
        boilerplate = Boilerplate(boilerplate.values, boilerplate_figures.values)
    codes, legal = shingler.fingerprint(text)
    return Shingled(*packed.measure_document(
        codes, -1 if legal is None else legal, config.shingle_size, boilerplate.shingle_table,
        boilerplate.shingle_zero, boilerplate.any_shingle, fold_table().digit, boilerplate.figure_table,
        boilerplate.figure_zero, FIGURE_CONTEXT, config.min_chars))


def score_pair(left: Shingled, right: Shingled, shingle_size: int, min_numbers: int,
               title_chars: int = MAX_TITLE_CHARS) -> PairScore:
    """Measure a pair on informative shingles, or on body shingles when both sides are mostly boilerplate.
    `inner_edits` (an alignment, the costly measure) only when the longer has under `title_chars`
    characters: the only pairs whose test reads it."""
    shares, counts, aligned = np.empty((1, 3)), np.empty((1, 4), dtype=np.int64), np.full((1, 2), -1)
    packed.measure_pair(left.words, left.marks, left.first, left.table, right.words, right.marks, right.first,
                        right.table, shingle_size, 0, shares, counts)
    if _aligns(left, right, shingle_size, title_chars):
        aligned[0] = title_alignment(left.windows, right.windows, shingle_size)
    return PairScores.measured(shares, counts, aligned, shingle_size, min_numbers)[0]


def _aligns(left: Shingled, right: Shingled, shingle_size: int, title_chars: int) -> bool:
    longer = max(packed.window_count(left.words), packed.window_count(right.words))
    return longer + shingle_size - 1 < min(title_chars, MAX_TITLE_CHARS + 1)


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
    both measures of the titles rule, on difflib's opcodes (`alignment.opcodes`, compiled)."""
    edits, ends_replaced = alignment.title_alignment(np.asarray(left, dtype=np.uint64),
                                                     np.asarray(right, dtype=np.uint64), shingle_size)
    return int(edits), bool(ends_replaced)


def hashed_figure_counts(left: Shingled, right: Shingled) -> tuple[int, int]:
    """`figure_counts` on the hashed figures of two measured documents."""
    compared = packed.shared_minimum(left.figure_contexts, right.figure_contexts)
    return compared, compared - packed.shared_minimum(left.figure_keys, right.figure_keys)


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


class Verifier:
    """Shingles documents on demand, keeping the last `cache_size`; `verify_pairs` shares among its threads
    the documents their pairs need again, within `cache_bytes` per thread (see `_Kept`)."""

    def __init__(self, texts: Sequence[str], boilerplate: np.ndarray, boilerplate_figures: np.ndarray,
                 config: DedupConfig, cache_size: int = 256, cache_bytes: int = 64 << 20) -> None:
        """`boilerplate`, `boilerplate_figures`: hashes (`engine.boilerplate_of`)."""
        self.texts, self.config, self.cache_size, self.cache_bytes = texts, config, cache_size, cache_bytes
        self.boilerplate = Boilerplate(boilerplate, boilerplate_figures)
        self.shingler = Shingler(config)
        self._cache: LRUCache[int, Shingled] = LRUCache(cache_size)

    def sibling(self) -> Verifier:
        """A verifier with the same boilerplate and an empty cache of its own (for another thread)."""
        other = object.__new__(Verifier)
        other.texts, other.config, other.cache_size = self.texts, self.config, self.cache_size
        other.cache_bytes, other.boilerplate, other.shingler = self.cache_bytes, self.boilerplate, Shingler(self.config)
        other._cache = LRUCache(self.cache_size)
        return other

    def shingled(self, row: int) -> Shingled:
        found = self._cache.get(row)
        if found is None:
            found = self._cache[row] = self._shingle(row)
        return found

    def _shingle(self, row: int) -> Shingled:
        return shingle_document(self.texts[row], self.shingler, self.boilerplate, None, self.config)

    def score(self, left: int, right: int) -> PairScore:
        return score_pair(self.shingled(left), self.shingled(right), self.config.shingle_size,
                          self.config.min_numbers, self.config.title_chars)

    def score_into(self, indexes: list[int], lefts: list[int], rights: list[int], left_next: list[int],
                   right_next: list[int], kept: _Kept, shares: np.ndarray, counts: np.ndarray,
                   aligned: np.ndarray) -> None:
        """Measure pair (lefts[k], rights[k]) into row indexes[k] of `measure_pair`'s arrays (and `aligned`),
        keeping each document in `kept` for the next pair that needs it (`left_next[k]`, `right_next[k]`: its
        step in the measuring order, -1 for none)."""
        size, title_chars = self.config.shingle_size, self.config.title_chars
        for index, left_row, right_row, left_step, right_step in zip(indexes, lefts, rights, left_next, right_next):
            left = kept.get(left_row) or self._shingle(left_row)
            right = kept.get(right_row) or self._shingle(right_row)
            packed.measure_pair(left.words, left.marks, left.first, left.table, right.words, right.marks,
                                right.first, right.table, size, index, shares, counts)
            if _aligns(left, right, size, title_chars):
                aligned[index] = title_alignment(left.windows, right.windows, size)
            kept.keep(left_row, left, left_step, right_row, right, right_step)


class _Kept:
    """Shingled documents that later pairs need, within `budget` bytes, shared by the measuring threads.
    Over the budget, the document whose next pair comes last is dropped (Belady's rule: for an order known
    in advance, the fewest documents shingled again); in a wide candidate family a recency rule drops
    documents needed soon. A thread that finds a document dropped shingles it again: the scores do not
    depend on what is kept."""

    def __init__(self, budget: int) -> None:
        self.budget, self.used, self._lock = budget, 0, threading.Lock()
        self.documents: dict[int, tuple[Shingled, int]] = {}  # row -> (document, its bytes)
        self.next_step: dict[int, int] = {}
        self.heap: list[tuple[int, int]] = []  # (-next step, row); an entry whose step has passed is stale

    def get(self, row: int) -> Shingled | None:
        found = self.documents.get(row)
        return None if found is None else found[0]

    def keep(self, left_row: int, left: Shingled, left_step: int, right_row: int, right: Shingled,
             right_step: int) -> None:
        """Keep a measured pair's documents until their next steps (-1: never again), then trim."""
        with self._lock:
            self._keep(left_row, left, left_step)
            self._keep(right_row, right, right_step)
            while self.used > self.budget:
                negative, row = heappop(self.heap)
                if self.next_step.get(row) == -negative:
                    self._drop(row)
            if len(self.heap) > 4 * len(self.next_step) + 1024:
                self.heap = [(-step, row) for row, step in self.next_step.items()]
                heapify(self.heap)

    def _keep(self, row: int, document: Shingled, next_step: int) -> None:
        if next_step < 0:
            self._drop(row)
            return
        if row not in self.documents:
            size = document.words.nbytes + document.marks.nbytes + document.first.nbytes + document.table.nbytes
            self.documents[row] = (document, size)
            self.used += size
        self.next_step[row] = next_step
        heappush(self.heap, (-next_step, row))

    def _drop(self, row: int) -> None:
        found = self.documents.pop(row, None)
        if found is not None:
            self.used -= found[1]
            del self.next_step[row]


def verify_pairs(pairs: np.ndarray, verifier: Verifier, threads: int = 1, block_docs: int = 2048) -> PairScores:
    """Scores of every candidate pair ((n, 2) rows into the verifier's texts), in the order given.

    Pairs are measured in an order that shingles each document once while the documents that still have
    pairs to come fit the cache (`_Kept`, `cache_bytes` per thread): the documents are numbered by reverse
    Cuthill-McKee over the candidate graph (scipy: each component's documents together, neighbours close),
    the pairs taken by their earlier document, and a document is forgotten after its last pair. That order
    is cut into chunks of pairs holding at most `block_docs` documents over the chunks measured at once,
    whose texts are read first (in this thread, in row order, so that a lazy sequence reads each of its
    pieces once per chunk); `threads` threads take the chunks in order as they come free, sharing the cache,
    so that a thread given costly documents (long ones, or ones shingled again) holds no other back."""
    shares, counts = np.zeros((len(pairs), 3)), np.zeros((len(pairs), 4), dtype=np.int64)
    aligned = np.full((len(pairs), 2), -1, dtype=np.int64)
    size, min_numbers = verifier.config.shingle_size, verifier.config.min_numbers
    if len(pairs) == 0:
        return PairScores.measured(shares, counts, aligned, size, min_numbers)
    threads = max(1, threads)
    order = _schedule(pairs)
    kept = _Kept(verifier.cache_bytes * threads)
    chunk_pairs = max(1, block_docs // (2 * threads))  # a pair brings two documents at most
    cuts = range(chunk_pairs, len(order), chunk_pairs)
    chunks = zip(np.split(order, cuts), np.split(_next_use(pairs[order]), cuts))
    workers = threading.local()

    def measure(indexes: np.ndarray, next_use: np.ndarray, texts: dict[int, str]) -> None:
        worker = getattr(workers, "verifier", None)
        if worker is None:
            worker = workers.verifier = verifier.sibling()
        worker.texts = texts
        chunk = pairs[indexes]
        worker.score_into(indexes.tolist(), chunk[:, 0].tolist(), chunk[:, 1].tolist(), next_use[:, 0].tolist(),
                          next_use[:, 1].tolist(), kept, shares, counts, aligned)

    def texts_of(indexes: np.ndarray) -> dict[int, str]:
        return {row: verifier.texts[row] for row in np.unique(pairs[indexes]).tolist()}

    for _ in ordered_map(lambda chunk: measure(*chunk),
                         ((indexes, next_use, texts_of(indexes)) for indexes, next_use in chunks), threads):
        pass
    return PairScores.measured(shares, counts, aligned, size, min_numbers)


def _schedule(pairs: np.ndarray) -> np.ndarray:
    """Pair indexes in measuring order."""
    rows, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(local), dtype=np.int8), (local[:, 0], local[:, 1])),
                       shape=(len(rows), len(rows))).tocsr()
    position = np.empty(len(rows), dtype=np.int64)
    position[reverse_cuthill_mckee(graph + graph.T, symmetric_mode=True)] = np.arange(len(rows))
    placed = position[local]
    earlier, later = placed.min(axis=1), placed.max(axis=1)
    return np.lexsort((later, earlier))


def _next_use(chunk: np.ndarray) -> np.ndarray:
    """For each pair of the measuring order and each side: the position in that order of the next pair holding
    its document, -1 when none does."""
    flat = chunk.reshape(-1)
    order = np.argsort(flat, kind="stable")
    following = np.full(len(flat), -1, dtype=np.int64)
    again = flat[order[1:]] == flat[order[:-1]]
    following[order[:-1][again]] = order[1:][again] // 2
    return following.reshape(-1, 2)
