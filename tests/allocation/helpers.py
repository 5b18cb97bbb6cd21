"""Random small instances and an independent exact reference model (scipy.optimize.milp)."""

from __future__ import annotations

import random

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from eventapp.allocation import Delegate, Objective, Problem, Workshop


def random_problem(seed: int) -> Problem:
    """A small instance exercising every rule: empty choices, zero seats, limits, pins, current."""
    rng = random.Random(seed)
    n_rounds = rng.randint(1, 3)
    n_topics = rng.randint(1, 5)
    topics = [f"t{i}" for i in range(n_topics)]
    workshops = []
    tight = rng.random() < 0.5
    for r in range(1, n_rounds + 1):
        for _ in range(rng.randint(0 if r > 1 else 1, 4)):
            cap = rng.choice([0, 1, 1, 2, 2, 3] if tight else [0, 2, 3, 4, 6])
            workshops.append(Workshop(f"w{len(workshops)}", str(r), rng.choice(topics), cap))
    n_orgs = rng.randint(1, 4)
    limit = rng.choice([None, None, 1, 2, 3])
    delegates = []
    seats = {w.id: w.capacity for w in workshops}
    org_seats: dict[tuple[str, str], int] = {}
    for i in range(rng.randint(0, 9)):
        org = f"o{rng.randrange(n_orgs)}"
        k = rng.choice([0, 1, 2, 3, 4])
        pool = topics + ["ghost"] if rng.random() < 0.1 else topics
        choices = tuple(rng.sample(pool, min(k, len(pool))))
        pinned: list[str] = []
        if rng.random() < 0.25:
            for w in rng.sample(workshops, min(len(workshops), rng.randint(1, 2))):
                taken = {x.round for x in workshops if x.id in pinned}
                ttaken = {x.topic for x in workshops if x.id in pinned}
                key = (w.id, org)
                if (
                    w.round not in taken
                    and w.topic not in ttaken
                    and seats[w.id] > 0
                    and (limit is None or org_seats.get(key, 0) < limit)
                ):
                    pinned.append(w.id)
                    seats[w.id] -= 1
                    org_seats[key] = org_seats.get(key, 0) + 1
        current: tuple[str, ...] = ()
        if rng.random() < 0.4 and workshops:
            current = tuple(w.id for w in rng.sample(workshops, rng.randint(1, min(3, len(workshops)))))
        delegates.append(
            Delegate(f"d{i}", org, choices, tuple(pinned), current, rng.choice(["police", "nhs", None]))
        )
    if rng.random() < 0.3:
        rng.shuffle(delegates)
    return Problem(tuple(workshops), tuple(delegates), limit)


def reference_objective(problem: Problem) -> Objective:
    """Exact optimum by three lexicographic scipy.optimize.milp solves over every x[d, w]."""
    ws, ds = problem.workshops, problem.delegates
    nd, nw = len(ds), len(ws)
    n = nd * nw
    if n == 0:
        return Objective(0, sum(len(d.current) for d in ds), 0)
    k = max([1] + [len(d.choices) for d in ds])
    var = lambda i, j: i * nw + j  # noqa: E731
    rows, cols, ub = [], [], []

    def add_row(members, bound):
        r = len(ub)
        for c in members:
            rows.append(r)
            cols.append(c)
        ub.append(bound)

    for i, d in enumerate(ds):
        for key in ("round", "topic"):
            groups: dict[str, list[int]] = {}
            for j, w in enumerate(ws):
                groups.setdefault(getattr(w, key), []).append(var(i, j))
            for members in groups.values():
                add_row(members, 1)
    for j, w in enumerate(ws):
        add_row([var(i, j) for i in range(nd)], w.capacity)
        if problem.max_per_organisation is not None:
            orgs: dict[str, list[int]] = {}
            for i, d in enumerate(ds):
                orgs.setdefault(d.organisation, []).append(var(i, j))
            for members in orgs.values():
                add_row(members, problem.max_per_organisation)
    a = coo_array((np.ones(len(rows)), (rows, cols)), shape=(len(ub), n)).tocsr()
    lb = np.zeros(n)
    wno = {w.id: j for j, w in enumerate(ws)}
    for i, d in enumerate(ds):
        for wid in d.pinned:
            lb[var(i, wno[wid])] = 1
    bounds = Bounds(lb, np.ones(n))
    cost = np.zeros(n)
    cur = np.zeros(n)
    for i, d in enumerate(ds):
        for j, w in enumerate(ws):
            rank = d.choices.index(w.topic) + 1 if w.topic in d.choices else k + 1
            cost[var(i, j)] = rank * rank
        for wid in d.current:
            cur[var(i, wno[wid])] = 1
    constraints = [LinearConstraint(a, -np.inf, np.array(ub, dtype=float))]
    opts = {"mip_rel_gap": 0}
    integrality = np.ones(n)

    def run(c):
        res = milp(c, constraints=constraints, integrality=integrality, bounds=bounds, options=opts)
        assert res.status == 0, res.message
        return int(round(res.fun)), res.x

    neg_placed, _ = run(-np.ones(n))
    constraints.append(LinearConstraint(np.ones((1, n)), -neg_placed, np.inf))
    neg_kept, _ = run(-cur)
    constraints.append(LinearConstraint(cur.reshape(1, -1), -neg_kept, np.inf))
    total_cost, _ = run(cost)
    moves = sum(len(d.current) for d in ds) + neg_kept
    return Objective(-neg_placed, moves, total_cost)
