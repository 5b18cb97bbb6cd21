"""Placing delegates left without a workshop into seats still free, moving nobody already placed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .explain import unplaced_reason
from .model import Problem

__all__ = ["Fill", "fill_missing"]


@dataclass
class Fill:
    """What fill_missing decided, in the order it decided it."""

    placed: list[tuple[str, str, str]] = field(default_factory=list)  # (delegate, round, workshop)
    left: list[tuple[str, str, str]] = field(default_factory=list)  # (delegate, round, explain.REASONS code)


def fill_missing(problem: Problem, assignments: Mapping[str, Sequence[str]],
                 missing: Sequence[tuple[str, str]]) -> Fill:
    """Give each missing (delegate, round), in the order given, the best-ranked workshop of that round still open
    to them (a seat free, their organisation under the limit, a topic they do not attend yet); topics they did not
    rank come last. ``assignments`` (everyone's places now) are kept: only seats still free are handed out."""
    by_id = {w.id: w for w in problem.workshops}
    delegates = {d.id: d for d in problem.delegates}
    in_round: dict[str, list] = {}
    for w in problem.workshops:
        in_round.setdefault(w.round, []).append(w)
    seats: Counter[str] = Counter()
    org_seats: Counter[tuple[str, str]] = Counter()
    topics: dict[str, set[str]] = {}
    rounds: dict[str, set[str]] = {}
    for did, ws in assignments.items():
        d = delegates.get(did)
        for wid in ws:
            w = by_id.get(wid)
            if w is None or d is None:
                continue
            seats[wid] += 1
            org_seats[(wid, d.organisation)] += 1
            topics.setdefault(did, set()).add(w.topic)
            rounds.setdefault(did, set()).add(w.round)
    limit = problem.max_per_organisation
    fill = Fill()
    for did, rnd in missing:
        d = delegates[did]
        mine, taken = topics.setdefault(did, set()), rounds.setdefault(did, set())
        if rnd in taken:
            continue  # placed in this round already: nothing is missing
        rank = {t: i for i, t in enumerate(d.choices)}
        best = None
        for w in sorted(in_round.get(rnd, ()), key=lambda w: rank.get(w.topic, len(rank))):
            if seats[w.id] < w.capacity and (limit is None or org_seats[(w.id, d.organisation)] < limit) \
                    and w.topic not in mine:
                best = w
                break
        if best is None:
            fill.left.append((did, rnd, unplaced_reason(in_round.get(rnd, ()), seats, org_seats, limit,
                                                        d.organisation, mine)))
            continue
        seats[best.id] += 1
        org_seats[(best.id, d.organisation)] += 1
        mine.add(best.topic)
        taken.add(rnd)
        fill.placed.append((did, rnd, best.id))
    return fill
