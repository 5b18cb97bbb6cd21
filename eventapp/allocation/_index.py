"""Integer-indexed arrays of a Problem, shared by the solver, FCFS and explain."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .model import Objective, Problem, Result, check_problem, round_key


class Index:
    """Workshops, delegates, rounds and topics numbered 0..n-1, plus rank and cost tables."""

    def __init__(self, problem: Problem, check: bool = True) -> None:
        if check:
            check_problem(problem)
        self.problem = problem
        ws = problem.workshops
        self.rounds = sorted({w.round for w in ws}, key=round_key)
        round_no = {r: i for i, r in enumerate(self.rounds)}
        self.topics = sorted({w.topic for w in ws})
        topic_no = {t: i for i, t in enumerate(self.topics)}
        self.w_ids = [w.id for w in ws]
        self.w_no = {w.id: i for i, w in enumerate(ws)}
        self.w_round = np.array([round_no[w.round] for w in ws], dtype=np.int64)
        self.w_topic = np.array([topic_no[w.topic] for w in ws], dtype=np.int64)
        self.w_cap = np.array([w.capacity for w in ws], dtype=np.int64)
        ds = problem.delegates
        self.d_ids = [d.id for d in ds]
        orgs = sorted({d.organisation for d in ds})
        org_no = {o: i for i, o in enumerate(orgs)}
        self.orgs = orgs
        self.d_org = np.array([org_no[d.organisation] for d in ds], dtype=np.int64)
        self.limit = problem.max_per_organisation
        self.k = problem.max_choices
        nd, nw, nt = len(ds), len(ws), len(self.topics)
        self.nd, self.nw, self.nr, self.nt, self.norg = nd, nw, len(self.rounds), nt, len(orgs)
        topic_rank = np.full((nd, nt), self.k + 1, dtype=np.int64)
        for i, d in enumerate(ds):
            for pos, t in enumerate(d.choices):
                j = topic_no.get(t)
                if j is not None:
                    topic_rank[i, j] = pos + 1
        self.topic_rank = topic_rank
        self.rank = topic_rank[:, self.w_topic] if nw else np.zeros((nd, 0), dtype=np.int64)
        self.cost = self.rank * self.rank
        self.pinned = [[self.w_no[w] for w in d.pinned] for d in ds]
        self.current = [[self.w_no[w] for w in d.current] for d in ds]

    def result(self, chosen: Sequence[Sequence[int]], status: str, stats: dict[str, Any]) -> Result:
        """Turn per-delegate workshop numbers into a Result with its objective."""
        assignments: dict[str, tuple[str, ...]] = {}
        unplaced: list[tuple[str, str]] = []
        placed = moves = cost = 0
        for i, ws in enumerate(chosen):
            ordered = sorted(ws, key=lambda w: (self.w_round[w], w))
            assignments[self.d_ids[i]] = tuple(self.w_ids[w] for w in ordered)
            have = {int(self.w_round[w]) for w in ordered}
            unplaced += [(self.d_ids[i], self.rounds[r]) for r in range(self.nr) if r not in have]
            placed += len(have)
            keep = set(ordered)
            moves += sum(1 for w in self.current[i] if w not in keep)
            cost += int(sum(self.cost[i, w] for w in ordered))
        return Result(status, assignments, unplaced, Objective(placed, moves, cost), stats)
