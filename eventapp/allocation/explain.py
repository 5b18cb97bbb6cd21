"""Human-readable reasons for unplaced delegates and per-round choice statistics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from .model import Problem, Result, Workshop

__all__ = ["REASONS", "RoundSummary", "Explanation", "explain", "unplaced_reason"]


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


# Why a delegate has no workshop in a round, by code (see unplaced_reason), in the solver's words.
REASONS = {
    "no_workshops": "no workshops in round {round}",
    "full": "all workshops in round {round} full",
    "org_limit": "organisation limit reached in every workshop with space in round {round}",
    "topic": "only remaining workshops in round {round} repeat a topic already allocated",
    "space": "a workshop in round {round} still has space (allocation is not complete)",
}


def unplaced_reason(in_round: Sequence[Workshop], seats: Mapping[str, int],
                    org_seats: Mapping[tuple[str, str], int], limit: int | None, organisation: str,
                    topics_taken: Collection[str]) -> str:
    """The REASONS code for a delegate of ``organisation`` attending ``topics_taken`` finding no seat among
    ``in_round`` (one round's workshops), given the seats and (workshop, organisation) seats taken."""
    with_space = [w for w in in_round if seats.get(w.id, 0) < w.capacity]
    org_ok = [w for w in with_space if limit is None or org_seats.get((w.id, organisation), 0) < limit]
    if not in_round:
        return "no_workshops"
    if not with_space:
        return "full"
    if not org_ok:
        return "org_limit"
    if all(w.topic in topics_taken for w in org_ok):
        return "topic"
    return "space"


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
        why = unplaced_reason(in_round, seats, org_seats, limit, d.organisation, mine)
        reasons[(did, rnd)] = REASONS[why].format(round=rnd)
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
