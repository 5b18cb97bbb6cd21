"""The column-generation engine's exact pieces, checked against brute force."""

import itertools

import numpy as np
import pytest

from eventapp.allocation import _dw, solve, validate
from eventapp.allocation._dw import Stage
from eventapp.allocation._index import Index
from eventapp.allocation._milp import current_matrix, residual

from .helpers import random_problem, reference_objective


def all_bundles(ix, allowed):
    rounds = [[None] + [w for w in range(ix.nw) if ix.w_round[w] == r] for r in range(ix.nr)]
    for combo in itertools.product(*rounds):
        ws = [w for w in combo if w is not None]
        if all(allowed[w] for w in ws) and len({ix.w_topic[w] for w in ws}) == len(ws):
            yield tuple(sorted(ws))


def stage_for(seed):
    problem = random_problem(seed)
    ix = Index(problem)
    res = residual(ix)
    c = np.where(res.allowed, ix.cost.astype(float), np.inf)
    return ix, res, Stage(ix, res, c, current_matrix(ix).astype(float), None, None, lambda: None)


@pytest.mark.parametrize("seed", range(0, 120, 3))
def test_pricing_and_gap_enumeration_match_brute_force(seed):
    ix, res, stage = stage_for(seed)
    if not ix.nd or not ix.nw:
        return
    rng = np.random.default_rng(seed)
    a = np.where(res.allowed, rng.integers(-6, 4, size=(ix.nd, ix.nw)).astype(float), np.inf)
    best, bundles = stage.best_bundles(a)
    within = stage._bundles_within(a, best, 2.5)
    for d in range(ix.nd):
        costs = {b: sum(a[d, w] for w in b) for b in all_bundles(ix, res.allowed[d])}
        assert best[d] == min(costs.values())
        assert costs[bundles[d]] == best[d]
        expect = {b for b, v in costs.items() if v <= best[d] + 2.5}
        assert set(within[d]) == expect


def test_forced_gap_closing_still_optimal(monkeypatch):
    monkeypatch.setattr(_dw, "FORCE_GAP_CLOSING", True)
    for seed in range(0, 300, 10):
        problem = random_problem(seed)
        result = solve(problem)
        validate(problem, result)
        assert result.objective == reference_objective(problem), seed


def test_plain_milp_method_agrees():
    for seed in range(0, 300, 15):
        problem = random_problem(seed)
        assert solve(problem, method="milp").objective == solve(problem).objective
