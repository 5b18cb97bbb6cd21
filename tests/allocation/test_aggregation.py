"""The aggregated relaxation's repair paths: a cut when a round cannot seat its fillers, the joint MILP."""

from eventapp.allocation import Delegate, Objective, Problem, Workshop, solve, validate

from .helpers import reference_objective


def W(i, r, t, c):
    return Workshop(str(i), str(r), t, c)


def D(i, org, choices=(), pinned=()):
    return Delegate(str(i), org, tuple(choices), tuple(pinned))


def test_round_that_cannot_seat_its_fillers_gets_a_cut_and_stays_optimal():
    # y's only unranked workshop is Y, which x (who ranked it) fills; X has a seat left but the
    # organisation limit keeps y out. The relaxation gives y a filler in round 1 anyway.
    problem = Problem(
        (W("X", 1, "x", 2), W("Y", 1, "y", 1)),
        (D("w", "A", ["y"]), D("v", "B", ["x"]), D("y", "B", ["x"])),
        max_per_organisation=1,
    )
    result = solve(problem)
    assert result.stats["method"] == "bundles"
    assert result.stats["aggregated"] is True
    assert result.stats["cuts"] >= 1
    # The cost stage's master was resumed with the cut's row, not rebuilt.
    assert result.stats["resumed"] >= 1
    assert validate(problem, result) == result.objective
    assert result.objective == reference_objective(problem) == Objective(3, 0, 4 + 1 + 4)


def test_stages_resumed_with_a_new_cut_stay_optimal():
    # Seeds of the random generator whose relaxation needed a cut (found by solving 400 of them):
    # the second pass resumes each stage's master with the cut's row added.
    from .helpers import random_problem

    for seed in (20, 300, 302):
        problem = random_problem(seed)
        result = solve(problem)
        assert result.stats["cuts"] >= 1 and result.stats["resumed"] >= 1, seed
        assert validate(problem, result) == result.objective
        assert result.objective == reference_objective(problem), seed


def _topic_trap(n: int) -> Problem:
    """Round 1's seats must go one way round for round 2 to work.

    Delegates a_i and b_i rank nothing (every seat is a filler). Round 1 has n seats on topic p
    and n on q; round 2 n on p and n left on r, where each a_i's organisation is already at its
    limit (a pinned colleague c_i). So every a_i must take q in round 1 and p in round 2, and
    round 1 taken on its own can hand p to any n of the 2n delegates. The a's and b's are
    interleaved so that no fixed order of the round-1 flow gets them right.
    """
    workshops = (W("P1", 1, "p", n), W("Q1", 1, "q", n), W("S1", 1, "s", n), W("P2", 2, "p", n), W("R2", 2, "r", 2 * n))
    delegates = []
    for i in range(n):
        pair = [D(f"a{i}", f"A{i}"), D(f"b{i}", f"B{i}")]
        delegates += pair if i % 2 == 0 else pair[::-1]
    delegates += [D(f"c{i}", f"A{i}", pinned=["S1", "R2"]) for i in range(n)]
    return Problem(workshops, tuple(delegates), max_per_organisation=1)


def test_rounds_that_interfere_through_the_topic_rule_are_seated_jointly():
    n = 6
    problem = _topic_trap(n)
    result = solve(problem)
    assert result.stats["method"] == "bundles"
    assert result.stats["aggregated"] is True
    assert result.stats.get("joint_assignments", 0) >= 1
    assert validate(problem, result) == result.objective
    assert result.objective == reference_objective(problem)
    assert result.objective.placed == 2 * 3 * n
    for i in range(n):
        assert result.assignments[f"a{i}"] == ("Q1", "P2")
        assert result.assignments[f"b{i}"] == ("P1", "R2")


def test_a_held_workshop_keeps_its_topic_out_of_the_delegates_fillers():
    # A re-run: d holds H1 (topic h, unranked by d). In round 2 the seat left for a filler is
    # on topic h, which d may not take twice; the relaxation must see H2 as d's real option
    # (one with topic h), not as a filler, or no completion exists and it gives up.
    problem = Problem(
        (W("H1", 1, "h", 1), W("H2", 2, "h", 1), W("Y2", 2, "y", 1)),
        (Delegate("d", "A", (), (), ("H1",)), D("e", "B", ["y"])),
        max_per_organisation=None,
    )
    result = solve(problem)
    assert result.stats["method"] == "bundles"
    assert result.stats["aggregated"] is True
    assert validate(problem, result) == result.objective
    assert result.objective == reference_objective(problem) == Objective(3, 0, 4 + 4 + 4)
    assert result.assignments["d"] == ("H1", "Y2")
    assert result.assignments["e"] == ("H2",)


def test_fillers_that_compete_for_one_topic_across_rounds_fall_back_to_the_real_view():
    # x ranks nothing: the relaxation gives x a filler in both rounds, but the only seats left
    # for them are P1 and P2 (y, pinned to S1 in round 1, ranked Q2), both on topic p, which
    # x may take once. No cut explains that, so the real problem is solved instead, and y
    # gives Q2 up for P2.
    problem = Problem(
        (W("P1", 1, "p", 1), W("S1", 1, "s", 1), W("P2", 2, "p", 1), W("Q2", 2, "q", 1)),
        (D("x", "A"), D("y", "B", ["q"], pinned=["S1"])),
        max_per_organisation=None,
    )
    result = solve(problem)
    assert result.stats["method"] == "bundles"
    assert result.stats["aggregated"] == "fillers could not be seated (0 cuts)"
    assert result.stats["joint_assignments"] == 1
    assert validate(problem, result) == result.objective
    assert result.objective == reference_objective(problem) == Objective(4, 0, 4 + 4 + 4 + 4)
    assert result.assignments == {"x": ("P1", "Q2"), "y": ("S1", "P2")}


def test_places_reached_with_fillers_need_no_first_stage_and_stay_optimal():
    # Where seats run short, the first stage (most places) is settled by topping up the greedy
    # start with fillers when that reaches the seats-per-round bound; the rest must still be
    # the exact optimum.
    from .helpers import random_problem

    shortcut = 0
    for seed in range(60):
        problem = random_problem(seed)
        result = solve(problem)
        assert validate(problem, result) == result.objective
        assert result.objective == reference_objective(problem), seed
        shortcut += bool(result.stats.get("places_by_fillers"))
    assert shortcut >= 10
