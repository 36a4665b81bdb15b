"""Which member of a cluster is kept: a documented, configurable policy (`dedup.canonical`).

1. Completeness: members whose fingerprint is within `length_tolerance` of the cluster's longest are
   complete forms; shorter ones (previews, excerpts) are never chosen over them.
2. Among complete forms, the earliest matching `prefer_sources` pattern wins (PDF and Markdown extractions
   over reposts by default); a member matching no pattern comes after every match.
3. With `prefer_central` (default), the member with the most verified matches in its component: the
   original matches every other form, while an edited or wrapped copy, often a little longer, matches
   fewer.
4. Then the longest fingerprint, then the smallest doc_id: a stable rule, independent of input order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from fnmatch import translate
from functools import lru_cache

from fincorpus.config import CanonicalConfig


def choose_canonical(members: Sequence[int], lengths: Sequence[int], names: Sequence[str],
                     policy: CanonicalConfig, matches: Sequence[int] | None = None) -> int:
    """The canonical of `members` (row numbers into `lengths`, `names` and `matches`, the number of
    verified matches of each row)."""
    longest = max(lengths[row] for row in members)
    floor = longest * (1 - policy.length_tolerance)
    complete = [row for row in members if lengths[row] >= floor]  # the longest always is
    if len(complete) == 1:
        return complete[0]
    central = matches is not None and policy.prefer_central
    return min(complete, key=lambda row: (source_rank(names[row], policy), -matches[row] if central else 0,
                                          -lengths[row], names[row]))


def source_rank(name: str, policy: CanonicalConfig) -> int:
    """Position of the first `prefer_sources` pattern `name` matches (`fnmatch`, ignoring case);
    len(patterns) when none does."""
    lowered = os.path.normcase(name.lower())
    patterns = _compiled(tuple(policy.prefer_sources))
    for rank, pattern in enumerate(patterns):
        if pattern(lowered):
            return rank
    return len(patterns)


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple:
    """What `fnmatch.fnmatch` matches each lower-cased pattern with."""
    return tuple(re.compile(translate(os.path.normcase(pattern.lower()))).match for pattern in patterns)
