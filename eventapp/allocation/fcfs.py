"""First-come-first-served baseline the organiser compares the optimiser against."""

from __future__ import annotations

import time

import numpy as np

from ._index import Index
from .model import Problem, Result

__all__ = ["fcfs"]


def fcfs(problem: Problem) -> Result:
    """Delegates in input order each take their best-ranked open workshop in every round."""
    start = time.perf_counter()
    ix = Index(problem)
    seats = ix.w_cap.copy()
    org_seats = np.zeros((max(ix.norg, 1), ix.nw), dtype=np.int64)
    limit = ix.limit
    for i, pins in enumerate(ix.pinned):
        for w in pins:
            seats[w] -= 1
            org_seats[ix.d_org[i], w] += 1
    chosen: list[list[int]] = []
    for i in range(ix.nd):
        mine = list(ix.pinned[i])
        rounds_taken = {int(ix.w_round[w]) for w in mine}
        topics_taken = {int(ix.w_topic[w]) for w in mine}
        org = ix.d_org[i]
        # Lower is better: rank first, then keep the published workshop, then input order.
        is_current = np.zeros(ix.nw, dtype=np.int64)
        is_current[ix.current[i]] = 1
        open_ = seats > 0
        if limit is not None:
            open_ &= org_seats[org] < limit
        for r in range(ix.nr):
            if r in rounds_taken:
                continue
            ok = open_ & (ix.w_round == r)
            if topics_taken:
                ok &= ~np.isin(ix.w_topic, list(topics_taken))
            cand = np.flatnonzero(ok)
            if cand.size == 0:
                continue
            order = np.lexsort((cand, -is_current[cand], ix.rank[i, cand]))
            w = int(cand[order[0]])
            mine.append(w)
            topics_taken.add(int(ix.w_topic[w]))
            seats[w] -= 1
            org_seats[org, w] += 1
            open_[w] = seats[w] > 0 and (limit is None or org_seats[org, w] < limit)
        chosen.append(mine)
    stats = {"solver": "fcfs", "seconds": round(time.perf_counter() - start, 4)}
    return ix.result(chosen, "feasible", stats)
