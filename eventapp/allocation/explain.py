"""Human-readable reasons for unplaced delegates and per-round choice statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .model import Problem, Result

__all__ = ["RoundSummary", "Explanation", "explain"]


@dataclass(frozen=True)
class RoundSummary:
    """How delegates fared in one round; shares are fractions of all delegates."""

    round: str
    delegates: int
    placed: int
    first: int
    second: int
    third: int
    unranked: int

    @property
    def first_share(self) -> float:
        """Share of delegates given their 1st choice in this round."""
        return self.first / self.delegates if self.delegates else 0.0

    @property
    def second_share(self) -> float:
        """Share of delegates given their 2nd choice in this round."""
        return self.second / self.delegates if self.delegates else 0.0

    @property
    def third_share(self) -> float:
        """Share of delegates given their 3rd choice in this round."""
        return self.third / self.delegates if self.delegates else 0.0


@dataclass(frozen=True)
class Explanation:
    """Reasons per unplaced (delegate id, round) and the per-round summaries."""

    reasons: dict[tuple[str, str], str]
    rounds: tuple[RoundSummary, ...]
    delegates_with_first_choice: int


def explain(problem: Problem, result: Result) -> Explanation:
    """Say why each unplaced (delegate, round) got nothing, and summarise choices per round."""
    by_id = {w.id: w for w in problem.workshops}
    limit = problem.max_per_organisation
    seats: Counter[str] = Counter()
    org_seats: Counter[tuple[str, str]] = Counter()
    delegates = {d.id: d for d in problem.delegates}
    for d in problem.delegates:
        for wid in result.assignments.get(d.id, ()):
            seats[wid] += 1
            org_seats[(wid, d.organisation)] += 1
    reasons: dict[tuple[str, str], str] = {}
    for did, rnd in result.unplaced:
        d = delegates[did]
        mine = {by_id[w].topic for w in result.assignments.get(did, ())}
        in_round = [w for w in problem.workshops if w.round == rnd]
        with_space = [w for w in in_round if seats[w.id] < w.capacity]
        org_ok = [w for w in with_space if limit is None or org_seats[(w.id, d.organisation)] < limit]
        fresh = [w for w in org_ok if w.topic not in mine]
        if not in_round:
            reason = f"no workshops in round {rnd}"
        elif not with_space:
            reason = f"all workshops in round {rnd} full"
        elif not org_ok:
            reason = f"organisation limit reached in every workshop with space in round {rnd}"
        elif not fresh:
            reason = f"only remaining workshops in round {rnd} repeat a topic already allocated"
        else:
            reason = f"a workshop in round {rnd} still has space (allocation is not complete)"
        reasons[(did, rnd)] = reason
    summaries = []
    first_anywhere = 0
    ranks_by_round: dict[str, Counter[int]] = {r: Counter() for r in problem.rounds}
    for d in problem.delegates:
        got_first = False
        for wid in result.assignments.get(d.id, ()):
            w = by_id[wid]
            rank = d.choices.index(w.topic) + 1 if w.topic in d.choices else 0
            ranks_by_round[w.round][rank] += 1
            got_first |= rank == 1
        first_anywhere += got_first
    n = len(problem.delegates)
    for r in problem.rounds:
        c = ranks_by_round[r]
        summaries.append(RoundSummary(r, n, sum(c.values()), c[1], c[2], c[3], c[0]))
    return Explanation(reasons, tuple(summaries), first_anywhere)
