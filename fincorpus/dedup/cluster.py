"""Clusters: connected components of verified edges, then every member checked against its canonical.

Components alone chain: A contains a paragraph of B, B is a preview of C, and A, B, C end up one cluster
although A and C have nothing in common. So each component is settled: its canonical is chosen, members
that do not themselves pass a test against the canonical leave it, and the leavers form components of
their own edges and are settled in turn. Every duplicate in the output matches its canonical directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fincorpus.documents import Reason


@dataclass(frozen=True, slots=True)
class Settled:
    canonical: int
    members: dict[int, Reason | None]
    """Every member (the canonical included, with None) and the test it passed against the canonical."""


def components(rows: int, edges: np.ndarray) -> list[list[int]]:
    """Connected components of `edges` ((n, 2) row pairs) over rows 0..rows-1, each sorted."""
    if rows == 0:
        return []
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(rows, rows))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = [0, *(np.flatnonzero(np.diff(labels[order])) + 1).tolist(), rows]
    rows_in_order = order.tolist()
    return [rows_in_order[start:end] for start, end in zip(bounds, bounds[1:])]


def settle_components(rows: int, edges: np.ndarray, choose: Callable[[Sequence[int]], int],
                      test: Callable[[int, int], Reason | None]) -> tuple[list[Settled], int]:
    """Settle every component of `edges` over rows 0..rows-1; also returns the number of components."""
    groups = components(rows, edges)
    component_of = np.empty(rows, dtype=np.int64)
    for number, group in enumerate(groups):
        component_of[group] = number
    edges_of: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for left, right in edges.tolist():
        edges_of[int(component_of[left])].add((left, right))
    settled = [part for number, group in enumerate(groups)
               for part in (settle(group, edges_of[number], choose, test) if len(group) > 1
                            else [Settled(group[0], {group[0]: None})])]
    return settled, len(groups)


def settle(group: Sequence[int], edges: set[tuple[int, int]], choose: Callable[[Sequence[int]], int],
           test: Callable[[int, int], Reason | None]) -> list[Settled]:
    """Split `group` until every member passes `test(member, canonical)` against its cluster's canonical."""
    settled: list[Settled] = []
    pending = [list(group)]
    while pending:
        members = pending.pop()
        canonical = choose(members)
        kept: dict[int, Reason | None] = {canonical: None}
        left: list[int] = []
        for member in members:
            if member == canonical:
                continue
            reason = test(member, canonical)
            if reason is None:
                left.append(member)
            else:
                kept[member] = reason
        settled.append(Settled(canonical, kept))
        pending.extend(_subgroups(left, edges))
    return settled


def _subgroups(rows: list[int], edges: set[tuple[int, int]]) -> list[list[int]]:
    """Components of `rows` over the edges among them."""
    if not rows:
        return []
    local = {row: position for position, row in enumerate(rows)}
    kept = [(local[a], local[b]) for a, b in edges if a in local and b in local]
    pairs = np.array(kept, dtype=np.int64).reshape(-1, 2)
    return [[rows[position] for position in group] for group in components(len(rows), pairs)]
