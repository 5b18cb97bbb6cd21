"""The solver's optimum equals an independent scipy.optimize.milp model on 300 random instances."""

import pytest

from eventapp.allocation import fcfs, solve, validate

from .helpers import random_problem, reference_objective

SEEDS = range(300)


@pytest.mark.parametrize("chunk", range(10))
def test_optimal_against_reference_and_not_worse_than_fcfs(chunk):
    for seed in SEEDS[chunk::10]:
        problem = random_problem(seed)
        result = solve(problem)
        assert result.status == "optimal"
        assert validate(problem, result) == result.objective
        assert result.objective == reference_objective(problem), f"seed {seed}"
        base = fcfs(problem)
        validate(problem, base)
        assert result.objective.key() <= base.objective.key(), f"seed {seed}"


def test_instances_cover_the_awkward_cases():
    problems = [random_problem(s) for s in SEEDS]
    assert any(not d.choices for p in problems for d in p.delegates)
    assert any(w.capacity == 0 for p in problems for w in p.workshops)
    assert any(p.max_per_organisation is not None for p in problems)
    assert any(d.pinned for p in problems for d in p.delegates)
    assert any(d.current for p in problems for d in p.delegates)
    assert any(len({w.topic for w in p.workshops if w.round == r}) < len([w for w in p.workshops if w.round == r])
               for p in problems for r in p.rounds)
    assert any(len({w.round for w in p.workshops if w.topic == t}) > 1
               for p in problems for t in {w.topic for w in p.workshops})
    assert any(not p.delegates for p in problems)
