"""FCFS baseline, explain reasons and per-round choice shares."""

from eventapp.allocation import Delegate, Problem, Workshop, explain, fcfs, solve, validate


def W(i, r, t, c):
    return Workshop(str(i), str(r), t, c)


def D(i, org="o", choices=(), pinned=(), current=()):
    return Delegate(str(i), org, tuple(choices), tuple(pinned), tuple(current))


def test_fcfs_is_first_come_first_served():
    p = Problem((W(1, 1, "a", 1), W(2, 1, "b", 1), W(3, 2, "a", 1), W(4, 2, "c", 1)),
                (D("x", choices=["a", "b"]), D("y", choices=["a", "b"])))
    r = fcfs(p)
    validate(p, r)
    assert r.status == "feasible"
    assert r.assignments["x"] == ("1", "4")  # best in round 1, then 'a' is used up for x
    assert r.assignments["y"] == ("2", "3")
    opt = solve(p)
    assert opt.objective.key() <= r.objective.key()


def test_fcfs_respects_pins_limits_and_prefers_current_on_ties():
    p = Problem((W(1, 1, "a", 2), W(2, 1, "b", 2), W(3, 1, "c", 2)),
                (D("x", org="p", choices=["a"]), D("y", org="p", choices=["a"], current=["3"]), D("z", org="q", pinned=["1"])),
                max_per_organisation=1)
    r = fcfs(p)
    validate(p, r)
    assert r.assignments == {"x": ("1",), "y": ("3",), "z": ("1",)}


def test_explain_reasons():
    full = Problem((W(1, 1, "a", 1), W(2, 2, "a", 5)), (D("x", choices=["a"]), D("y", choices=["a"])))
    r = solve(full)
    e = explain(full, r)
    assert set(e.reasons) == set(r.unplaced)
    texts = set(e.reasons.values())
    assert any("full" in t for t in texts) or any("repeat a topic" in t for t in texts)
    org = Problem((W(1, 1, "a", 5),), (D("x", org="p"), D("y", org="p")), max_per_organisation=1)
    e2 = explain(org, solve(org))
    assert list(e2.reasons.values()) == ["organisation limit reached in every workshop with space in round 1"]
    topic = Problem((W(1, 1, "a", 5), W(2, 2, "a", 5)), (D("x"),))
    e3 = explain(topic, solve(topic))
    assert list(e3.reasons.values()) == ["only remaining workshops in round 2 repeat a topic already allocated"]
    seats = Problem((W(1, 1, "a", 0),), (D("x"),))
    assert list(explain(seats, solve(seats)).reasons.values()) == ["all workshops in round 1 full"]


def test_round_shares():
    p = Problem((W(1, 1, "a", 2), W(2, 1, "b", 2), W(3, 2, "b", 2), W(4, 2, "c", 2)),
                (D("x", choices=["a", "b", "c"]), D("y", choices=["b", "a"])))
    e = explain(p, solve(p))
    r1, r2 = e.rounds
    assert (r1.round, r1.delegates, r1.placed) == ("1", 2, 2)
    assert r1.first + r2.first == 2 and e.delegates_with_first_choice == 2
    assert 0.0 <= r1.first_share <= 1.0 and r1.second_share + r2.second_share >= 0.5
