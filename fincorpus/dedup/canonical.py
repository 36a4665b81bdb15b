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

from collections.abc import Sequence
from fnmatch import fnmatch

from fincorpus.config import CanonicalConfig


def choose_canonical(members: Sequence[int], lengths: Sequence[int], names: Sequence[str],
                     policy: CanonicalConfig, matches: Sequence[int] | None = None) -> int:
    """The canonical of `members` (row numbers into `lengths`, `names` and `matches`, the number of
    verified matches of each row)."""
    longest = max(lengths[row] for row in members)
    floor = longest * (1 - policy.length_tolerance)
    central = matches is not None and policy.prefer_central
    return min(members, key=lambda row: (lengths[row] < floor, source_rank(names[row], policy),
                                         -matches[row] if central else 0, -lengths[row], names[row]))


def source_rank(name: str, policy: CanonicalConfig) -> int:
    """Position of the first `prefer_sources` pattern `name` matches; len(patterns) when none does."""
    lowered = name.lower()
    for rank, pattern in enumerate(policy.prefer_sources):
        if fnmatch(lowered, pattern.lower()):
            return rank
    return len(policy.prefer_sources)
