"""Independent checker: every hard rule, and the objective recomputed from scratch."""

from __future__ import annotations

from collections import Counter
from typing import Mapping, Sequence

from .model import Objective, Problem, Result

__all__ = ["AllocationError", "allocation_errors", "objective_of", "validate"]


class AllocationError(ValueError):
    """An allocation breaks a hard rule or misreports its objective."""


def allocation_errors(problem: Problem, assignments: Mapping[str, Sequence[str]]) -> list[str]:
    """List every hard-rule violation of ``assignments`` (empty list = valid)."""
    errors: list[str] = []
    by_id = {w.id: w for w in problem.workshops}
    delegates = {d.id: d for d in problem.delegates}
    for did in assignments:
        if did not in delegates:
            errors.append(f"unknown delegate {did!r} in assignments")
    seats: Counter[str] = Counter()
    org_seats: Counter[tuple[str, str]] = Counter()
    for d in problem.delegates:
        if d.id not in assignments:
            errors.append(f"delegate {d.id} missing from assignments")
            continue
        ws = list(assignments[d.id])
        known = [wid for wid in ws if wid in by_id]
        for wid in ws:
            if wid not in by_id:
                errors.append(f"delegate {d.id} has unknown workshop {wid!r}")
        if len(set(known)) != len(known):
            errors.append(f"delegate {d.id} has a workshop twice")
        rounds = Counter(by_id[wid].round for wid in set(known))
        topics = Counter(by_id[wid].topic for wid in set(known))
        errors += [f"delegate {d.id} has {n} workshops in round {r}" for r, n in rounds.items() if n > 1]
        errors += [f"delegate {d.id} has topic {t!r} {n} times" for t, n in topics.items() if n > 1]
        for wid in d.pinned:
            if wid not in known:
                errors.append(f"delegate {d.id} lost pinned workshop {wid}")
        for wid in set(known):
            seats[wid] += 1
            org_seats[(wid, d.organisation)] += 1
    for wid, n in seats.items():
        if n > by_id[wid].capacity:
            errors.append(f"workshop {wid} has {n} delegates for {by_id[wid].capacity} seats")
    limit = problem.max_per_organisation
    if limit is not None:
        for (wid, org), n in org_seats.items():
            if n > limit:
                errors.append(f"workshop {wid} has {n} delegates of {org!r} (limit {limit})")
    return errors


def objective_of(problem: Problem, assignments: Mapping[str, Sequence[str]]) -> Objective:
    """Recompute (placed, moves, cost) of ``assignments`` directly from the rules."""
    by_id = {w.id: w for w in problem.workshops}
    k = max([1] + [len(d.choices) for d in problem.delegates])
    placed = moves = cost = 0
    for d in problem.delegates:
        ws = set(assignments.get(d.id, ()))
        placed += len({by_id[wid].round for wid in ws if wid in by_id})
        moves += sum(1 for wid in d.current if wid not in ws)
        for wid in ws:
            topic = by_id[wid].topic
            rank = d.choices.index(topic) + 1 if topic in d.choices else k + 1
            cost += rank * rank
    return Objective(placed, moves, cost)


def validate(problem: Problem, result: Result) -> Objective:
    """Raise AllocationError unless ``result`` obeys every rule and reports its true objective."""
    errors = allocation_errors(problem, result.assignments)
    by_id = {w.id: w for w in problem.workshops}
    rounds = problem.rounds
    expected_unplaced = sorted(
        (d.id, r)
        for d in problem.delegates
        for r in rounds
        if not any(by_id[w].round == r for w in result.assignments.get(d.id, ()) if w in by_id)
    )
    if sorted(result.unplaced) != expected_unplaced:
        errors.append("unplaced list does not match the assignments")
    objective = objective_of(problem, result.assignments)
    if objective != result.objective:
        errors.append(f"reported objective {result.objective} but recomputed {objective}")
    if errors:
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise AllocationError(errors[0] + more)
    return objective
