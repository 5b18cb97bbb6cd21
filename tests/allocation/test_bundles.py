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


def test_sampled_warm_start_capped_rounds_and_widened_integer_step_stay_optimal(monkeypatch):
    # At this size none of these paths would run: shrink their thresholds to reach them.
    monkeypatch.setattr(_dw, "SAMPLE_FROM", 2)
    monkeypatch.setattr(_dw, "SAMPLE_SIZE", 2)
    monkeypatch.setattr(_dw, "MIN_NEW", 1)
    monkeypatch.setattr(_dw, "WIDEN_SHARE", 1)
    monkeypatch.setattr(_dw, "FORCE_WIDENING", True)
    sampled = widened = 0
    original = _dw.Stage._sample_prices

    def counting(self, start):
        nonlocal sampled
        sampled += 1
        return original(self, start)

    monkeypatch.setattr(_dw.Stage, "_sample_prices", counting)
    for seed in range(0, 300, 5):
        problem = random_problem(seed)
        result = solve(problem)
        validate(problem, result)
        assert result.objective == reference_objective(problem), seed
        widened += result.stats.get("milp_widened", 0)
    assert sampled > 0 and widened > 0


def _after_each_master_solve(monkeypatch, look) -> list:
    """What look(highs) says after each master LP solve, in a list that fills as solves run."""
    seen = []
    original = _dw._Master.run

    def observed(self):
        out = original(self)
        seen.append(look(self.h))
        return out

    monkeypatch.setattr(_dw._Master, "run", observed)
    return seen


def test_interior_point_solves_of_the_places_and_moves_stages_stay_optimal(monkeypatch):
    # Only big re-runs add enough columns at once: lower the threshold so every master solve
    # with many new columns of a 0/-1 stage goes through the interior point method.
    monkeypatch.setattr(_dw, "IPM_FROM", 1)
    monkeypatch.setattr(_dw, "MIN_NEW", 1)
    masters = _after_each_master_solve(monkeypatch, lambda h: h.getInfo().ipm_iteration_count > 0)
    for seed in range(0, 300, 5):
        problem = random_problem(seed)
        result = solve(problem)
        assert validate(problem, result) == result.objective
        assert result.objective == reference_objective(problem), seed
    assert sum(masters) >= 20


def test_parallel_dual_simplex_on_two_threads_stays_optimal_and_repeatable(monkeypatch):
    # Only instances of thousands of delegates take this path: lower the threshold so these
    # small ones do, interleaved with one-thread solves (HiGHS's scheduler is restarted between).
    monkeypatch.setattr(_dw, "THREADS", 2)
    monkeypatch.setattr(_dw, "PARALLEL_FROM", 1)
    monkeypatch.setattr(_dw, "MIN_NEW", 1)
    strategies = _after_each_master_solve(monkeypatch, lambda h: h.getOptionValue("simplex_strategy")[1])
    for seed in range(0, 300, 5):
        problem = random_problem(seed)
        first = solve(problem)
        assert validate(problem, first) == first.objective
        assert first.objective == reference_objective(problem), seed
        # A one-thread solve in between, then the same answer again on two threads.
        monkeypatch.setattr(_dw, "PARALLEL_FROM", 10**9)
        solve(random_problem(seed + 1))
        monkeypatch.setattr(_dw, "PARALLEL_FROM", 1)
        assert solve(problem).assignments == first.assignments, seed
    assert 3 in strategies


def _lp_columns(h):
    import highspy

    lp = h.getLp()
    a = lp.a_matrix_
    start, index, value = list(a.start_), list(a.index_), list(a.value_)
    cols = [{} for _ in range(lp.num_col_)]
    colwise = a.format_ == highspy.MatrixFormat.kColwise
    for k in range(lp.num_col_ if colwise else lp.num_row_):
        for i, v in zip(index[start[k]:start[k + 1]], value[start[k]:start[k + 1]]):
            if colwise:
                cols[k][i] = v
            else:
                cols[i][k] = v
    return list(lp.col_cost_), cols


@pytest.mark.parametrize("seed", range(1, 120, 7))
def test_master_columns_hold_each_bundles_entries(seed):
    # The master builds all its columns' entries at once; they must be Stage.entries' ones.
    from eventapp.allocation.solver import _highs

    problem = random_problem(seed)
    ix = Index(problem)
    res = residual(ix)
    if not ix.nd or not ix.nw:
        return
    cur = current_matrix(ix).astype(float)
    c = np.where(res.allowed, ix.cost.astype(float), np.inf)
    stage = Stage(ix, res, c, cur, 1, 1 if cur.any() else None, lambda: _highs(None))
    cols = [(d, b) for d in range(ix.nd) for b in all_bundles(ix, res.allowed[d]) if b]
    if not cols:
        return
    rng = np.random.default_rng(seed)
    rng.shuffle(cols)
    half = len(cols) // 2
    master = _dw._Master(stage, cols[:half])
    master.add(cols[half:])
    costs, columns = _lp_columns(master.h)
    assert len(columns) == len(cols)
    for j, (d, b) in enumerate(cols):
        cost, idx, val = stage.entries(d, b)
        assert costs[j] == pytest.approx(cost)
        expected = {d: 1.0} | {int(master.lp_row[r]): v for r, v in zip(idx, val) if master.lp_row[r] >= 0}
        assert columns[j] == pytest.approx(expected)
        for r, v in zip(idx, val):
            if master.lp_row[r] < 0:
                left = {int(jj): vv for js, vs in master.row_cols[r] for jj, vv in zip(js, vs)}
                assert left[j] == v
