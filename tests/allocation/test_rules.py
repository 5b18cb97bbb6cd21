"""One test per hard rule and objective term, on hand-made instances."""

import pytest

from eventapp.allocation import (
    AllocationError,
    Delegate,
    Objective,
    Problem,
    Result,
    Workshop,
    allocation_errors,
    objective_of,
    solve,
    validate,
)


def W(i, r, t, c):
    return Workshop(str(i), str(r), t, c)


def D(i, org="o", choices=(), pinned=(), current=()):
    return Delegate(str(i), org, tuple(choices), tuple(pinned), tuple(current))


def test_everyone_placed_in_every_round_when_seats_allow():
    p = Problem((W(1, 1, "a", 2), W(2, 2, "b", 2)), (D("x", choices=["a"]), D("y")))
    r = solve(p)
    assert r.assignments == {"x": ("1", "2"), "y": ("1", "2")}
    assert r.unplaced == []
    assert r.objective == Objective(4, 0, 1 + 4 + 4 + 4)


def test_one_workshop_per_round_and_capacity():
    p = Problem((W(1, 1, "a", 1), W(2, 1, "b", 1)), (D("x", choices=["a", "b"]), D("y", choices=["a", "b"]), D("z")))
    r = solve(p)
    assert sorted(len(v) for v in r.assignments.values()) == [0, 1, 1]
    assert r.objective.placed == 2 and r.objective.cost == 1 + 4
    assert len(r.unplaced) == 1


def test_same_topic_never_twice():
    p = Problem((W(1, 1, "a", 5), W(2, 2, "a", 5)), (D("x", choices=["a"]),))
    r = solve(p)
    assert r.objective.placed == 1
    assert r.unplaced == [("x", "2")]


def test_topic_twice_in_one_round():
    p = Problem((W(1, 1, "a", 1), W(2, 1, "a", 1)), (D("x", choices=["a"]), D("y", choices=["a"])))
    assert solve(p).objective == Objective(2, 0, 2)


def test_organisation_limit():
    ds = tuple(D(i, org="police", choices=["a"]) for i in range(3))
    p = Problem((W(1, 1, "a", 10), W(2, 1, "b", 10)), ds, max_per_organisation=2)
    r = solve(p)
    assert r.objective == Objective(3, 0, 1 + 1 + 4)
    p0 = Problem(p.workshops, ds, max_per_organisation=0)
    assert solve(p0).objective.placed == 0


def test_pins_kept_and_count_toward_capacity():
    p = Problem((W(1, 1, "a", 1), W(2, 1, "b", 1)), (D("x", choices=["a"]), D("y", choices=["b"], pinned=["1"])))
    r = solve(p)
    assert r.assignments == {"x": ("2",), "y": ("1",)}
    assert r.objective == Objective(2, 0, 4 + 4)


def test_moves_beat_cost_but_not_places():
    ws = (W(1, 1, "a", 1), W(2, 1, "b", 1))
    # Keeping the published workshop costs more but avoids a move.
    p = Problem(ws, (D("x", choices=["a", "b"], current=["2"]),))
    assert solve(p).assignments == {"x": ("2",)}
    # A place outranks a move: x must leave workshop 1 so that y gets a seat in round 1.
    p2 = Problem((W(1, 1, "a", 1), W(2, 2, "a", 1), W(3, 2, "b", 1)),
                 (D("x", choices=["a"], current=["1"]), D("y", choices=["a"], pinned=["3"])))
    r2 = solve(p2)
    assert r2.objective == Objective(3, 1, 1 + 1 + 4)
    assert r2.assignments == {"x": ("2",), "y": ("1", "3")}
    p3 = Problem((W(1, 1, "a", 1), W(2, 2, "a", 1)),
                 (D("x", choices=["a"], current=["1"]), D("y", choices=["a"], current=["1"])))
    r3 = solve(p3)
    assert r3.objective == Objective(2, 1, 2)


def test_unranked_rank_is_longest_list_plus_one():
    p = Problem((W(1, 1, "a", 2), W(2, 2, "z", 2)), (D("x", choices=["a", "b", "c"]), D("y", choices=["q"])))
    r = solve(p)
    assert objective_of(p, r.assignments) == r.objective
    # K = 3, so an unranked place costs 16.
    assert r.objective.placed == 4
    assert r.objective.cost == 1 + 16 + 16 + 16


def test_empty_problem_and_no_workshops():
    assert solve(Problem((), (), None)).objective == Objective(0, 0, 0)
    r = solve(Problem((), (D("x"),), None))
    assert r.assignments == {"x": ()} and r.unplaced == []


def test_deterministic():
    from .helpers import random_problem

    for seed in (3, 17, 101):
        p = random_problem(seed)
        assert solve(p).assignments == solve(p).assignments


def test_validator_catches_every_rule():
    ws = (W(1, 1, "a", 1), W(2, 2, "a", 5), W(3, 1, "b", 5))
    p = Problem(ws, (D("x", org="o", pinned=["3"]), D("y", org="o")), max_per_organisation=1)
    cases = {
        "round": {"x": ("3", "1"), "y": ()},
        "topic": {"x": ("3",), "y": ("1", "2")},
        "seats": {"x": ("3", "1"), "y": ("1",)},
        "org": {"x": ("3",), "y": ("3",)},
        "pin": {"x": (), "y": ()},
        "missing": {"x": ("3",)},
        "unknown": {"x": ("3", "99"), "y": ()},
    }
    for name, assignment in cases.items():
        assert allocation_errors(p, assignment), name
    good = {"x": ("3",), "y": ("1",)}
    assert allocation_errors(p, good) == []
    obj = objective_of(p, good)
    with pytest.raises(AllocationError):
        validate(p, Result("optimal", good, [("x", "2"), ("y", "2")], Objective(obj.placed, 0, obj.cost + 1)))
    with pytest.raises(AllocationError):
        validate(p, Result("optimal", good, [], obj))
    assert validate(p, Result("optimal", good, [("x", "2"), ("y", "2")], obj)) == obj
