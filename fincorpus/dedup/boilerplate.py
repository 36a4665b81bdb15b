"""Boilerplate: shingles that occur in a large share of the documents do not count towards similarity.

A broker's legal pages (分析师声明, 免责声明, rating definitions) are the same in every one of its reports,
often longer than a short report's body: two different 华泰研究 reports would otherwise look like copies.
Document frequencies are counted over one table of shingle sets (the batch, and for incremental runs the
stored index as well: pass both to `document_frequency` and add the counts).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from collections import Counter
from collections.abc import Sequence

import numpy as np

from fincorpus.config import DedupConfig
from fincorpus.dedup.shingles import fingerprint_text, sorted_unique


def document_frequency(shingle_sets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every shingle hash found in the sets (sorted) and the number of sets holding it."""
    if not shingle_sets:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    return sorted_unique(np.concatenate(shingle_sets), return_counts=True)


def boilerplate_cutoff(documents: int, config: DedupConfig) -> int:
    """Document count from which a shingle is boilerplate."""
    return max(config.boilerplate_min_docs, math.ceil(config.boilerplate_share * documents))


def boilerplate_shingles(shingle_sets: Sequence[np.ndarray], config: DedupConfig) -> np.ndarray:
    """Sorted hashes of the shingles found in at least `boilerplate_cutoff` of the sets."""
    hashes, counts = document_frequency(shingle_sets)
    return hashes[counts >= boilerplate_cutoff(len(shingle_sets), config)]


def boilerplate_figures(figure_sets: Sequence[Counter], config: DedupConfig) -> set:
    """Figures (with their context) found in at least `boilerplate_cutoff` documents: phone numbers and
    addresses in legal pages, the fixed numbers of a template."""
    frequency: Counter = Counter()
    for found in figure_sets:
        frequency.update(found.keys())
    cutoff = boilerplate_cutoff(len(figure_sets), config)
    return {figure for figure, count in frequency.items() if count >= cutoff}


def contains_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Boolean mask: which of `values` occur in `sorted_set` (sorted, unique)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    where = np.searchsorted(sorted_set, values)
    where[where == len(sorted_set)] = 0
    return sorted_set[where] == values


def legal_section_start(text: str, fingerprint: str, headings: Sequence[str]) -> int | None:
    """Fingerprint offset where the document's legal pages begin: the first line that starts with one of
    `headings` (免责声明, 分析师声明, ...). They run to the end of a broker report, so everything from there
    on is boilerplate even in a batch too small to count it (two 华泰 reports and nothing else).

    >>> text = "深度拆解" + chr(10) + "正文。" + chr(10) + "免责声明" + chr(10) + "本报告…"
    >>> legal_section_start(text, fingerprint_text(text), ["免责声明"])
    6
    """
    if not headings:
        return None
    pattern = _heading_pattern(tuple(headings))
    match = pattern.search(text)
    if match is None:
        return None
    return len(fingerprint_text(text[:match.start()]))


@lru_cache(maxsize=8)
def _heading_pattern(headings: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"^[ \t#*>]*(?:" + "|".join(map(re.escape, headings)) + ")", re.MULTILINE)


def informative(windows: np.ndarray, shingles: np.ndarray, boilerplate: np.ndarray, legal_start: int | None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """The informative shingles (sorted, unique) and the mask of boilerplate windows (None: no window is
    boilerplate, and the informative shingles are all of them)."""
    masked = contains_sorted(windows, boilerplate)
    if legal_start is not None:
        masked[legal_start:] = True
    if not masked.any():
        return shingles, None
    return sorted_unique(windows[~masked]), masked
