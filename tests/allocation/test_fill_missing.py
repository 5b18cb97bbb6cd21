"""Placing delegates left without a workshop in a published allocation, nobody else moving."""

from eventapp.allocation import Delegate, Problem, Workshop, allocation_errors, fill_missing


def W(i, r, t, c):
    return Workshop(str(i), str(r), t, c)


def D(i, org="o", choices=()):
    return Delegate(str(i), org, tuple(choices))


def test_each_missing_delegate_gets_their_best_ranked_topic_with_a_free_seat():
    p = Problem((W(1, 1, "a", 1), W(2, 1, "b", 1), W(3, 1, "c", 1)),
                (D("x", choices=["a"]), D("y", choices=["a", "b", "c"])))
    fill = fill_missing(p, {"x": ["1"]}, [("y", "1")])
    # a is full (x has its only seat): y's next choice, b.
    assert fill.placed == [("y", "1", "2")]
    assert fill.left == []


def test_a_topic_they_did_not_rank_comes_after_every_ranked_one():
    p = Problem((W(1, 1, "z", 5), W(2, 1, "b", 1)), (D("x"), D("y", choices=["a", "b"])))
    assert fill_missing(p, {"x": ["2"]}, [("y", "1")]).placed == [("y", "1", "1")]


def test_full_workshops_are_skipped_and_a_delegate_with_no_seat_left_is_left_with_the_reason():
    p = Problem((W(1, 1, "a", 1),), (D("x", choices=["a"]), D("y", choices=["a"])))
    fill = fill_missing(p, {"x": ["1"]}, [("y", "1")])
    assert fill.placed == [] and fill.left == [("y", "1", "full")]


def test_the_same_topic_is_never_given_twice():
    p = Problem((W(1, 1, "a", 5), W(2, 2, "a", 5), W(3, 2, "b", 5)), (D("y", choices=["a", "b"]),))
    fill = fill_missing(p, {"y": ["1"]}, [("y", "2")])
    assert fill.placed == [("y", "2", "3")]
    # Within one fill too: round 1 takes a, so round 2 cannot.
    only_a = Problem((W(1, 1, "a", 5), W(2, 2, "a", 5)), (D("y", choices=["a"]),))
    fill = fill_missing(only_a, {}, [("y", "1"), ("y", "2")])
    assert fill.placed == [("y", "1", "1")] and fill.left == [("y", "2", "topic")]


def test_the_organisation_limit_is_respected():
    p = Problem((W(1, 1, "a", 5), W(2, 1, "b", 5)),
                (D("x", org="p", choices=["a"]), D("y", org="p", choices=["a", "b"]), D("z", org="q", choices=["a"])),
                max_per_organisation=1)
    fill = fill_missing(p, {"x": ["1"]}, [("y", "1"), ("z", "1")])
    assert fill.placed == [("y", "1", "2"), ("z", "1", "1")]
    p2 = Problem((W(1, 1, "a", 5),), (D("x", org="p"), D("y", org="p")), max_per_organisation=1)
    assert fill_missing(p2, {"x": ["1"]}, [("y", "1")]).left == [("y", "1", "org_limit")]


def test_delegates_are_placed_in_the_order_given_first_come_first_served():
    p = Problem((W(1, 1, "a", 1), W(2, 1, "b", 1)),
                (D("early", choices=["a", "b"]), D("late", choices=["a", "b"])))
    assert fill_missing(p, {}, [("late", "1"), ("early", "1")]).placed == [("late", "1", "1"), ("early", "1", "2")]
    assert fill_missing(p, {}, [("early", "1"), ("late", "1")]).placed == [("early", "1", "1"), ("late", "1", "2")]


def test_nobody_placed_already_is_moved_and_the_result_keeps_every_rule():
    p = Problem((W(1, 1, "a", 2), W(2, 1, "b", 2), W(3, 2, "b", 2), W(4, 2, "c", 2)),
                tuple(D(i, org="p" if i % 2 else "q", choices=["b", "a", "c"]) for i in range(5)),
                max_per_organisation=2)
    before = {"0": ["2", "4"], "1": ["1", "3"], "2": ["2", "4"]}
    fill = fill_missing(p, before, [("3", "1"), ("3", "2"), ("4", "1"), ("4", "2")])
    after = {k: list(v) for k, v in before.items()}
    for d, _, w in fill.placed:
        after.setdefault(d, []).append(w)
    assert {k: after[k] for k in before} == before
    assert allocation_errors(p, {d.id: after.get(d.id, []) for d in p.delegates}) == []
    assert len(fill.placed) + len(fill.left) == 4
