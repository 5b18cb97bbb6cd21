"""Plain data types of the allocation problem, and parsing of its JSON form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "ProblemError",
    "Workshop",
    "Delegate",
    "Problem",
    "Objective",
    "Result",
    "parse_problem",
    "check_problem",
    "round_key",
]


class ProblemError(ValueError):
    """The problem is malformed or its pins break a hard rule (message is one line)."""


@dataclass(frozen=True)
class Workshop:
    """One breakout session: runs in ``round`` on ``topic`` with ``capacity`` seats."""

    id: str
    round: str
    topic: str
    capacity: int


@dataclass(frozen=True)
class Delegate:
    """A delegate with ranked topic choices, organiser pins and the published allocation."""

    id: str
    organisation: str
    choices: tuple[str, ...] = ()
    pinned: tuple[str, ...] = ()
    current: tuple[str, ...] = ()
    sector: str | None = None


@dataclass(frozen=True)
class Problem:
    """Workshops, delegates and the per-organisation limit (None = no limit)."""

    workshops: tuple[Workshop, ...]
    delegates: tuple[Delegate, ...]
    max_per_organisation: int | None = None

    @property
    def rounds(self) -> tuple[str, ...]:
        """Rounds that have at least one workshop, in natural order."""
        return tuple(sorted({w.round for w in self.workshops}, key=round_key))

    @property
    def max_choices(self) -> int:
        """K: the longest choices list among all delegates, at least 1."""
        return max([1] + [len(d.choices) for d in self.delegates])


@dataclass(frozen=True)
class Objective:
    """The lexicographic objective: max ``placed``, then min ``moves``, then min ``cost``."""

    placed: int
    moves: int
    cost: int

    def key(self) -> tuple[int, int, int]:
        """Sort key where smaller is better."""
        return (-self.placed, self.moves, self.cost)

    def as_dict(self) -> dict[str, int]:
        """JSON form."""
        return {"placed": self.placed, "moves": self.moves, "cost": self.cost}


@dataclass
class Result:
    """An allocation: workshop ids per delegate (in round order) and the unplaced slots."""

    status: str
    assignments: dict[str, tuple[str, ...]]
    unplaced: list[tuple[str, str]]
    objective: Objective
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form printed by the CLI."""
        return {
            "status": self.status,
            "assignments": {d: list(ws) for d, ws in self.assignments.items()},
            "unplaced": [[d, r] for d, r in self.unplaced],
            "objective": self.objective.as_dict(),
            "stats": self.stats,
        }


_INT_RE = re.compile(r"-?\d+\Z")


def round_key(value: str) -> tuple[int, int, str]:
    """Natural order for round labels: integers numerically, then other labels."""
    if _INT_RE.match(value):
        return (0, int(value), value)
    return (1, 0, value)


def _ident(value: Any, what: str) -> str:
    # JSON ids may be strings or ints; bools and floats are almost always a mistake.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ProblemError(f"{what} must be a string or an integer, got {_short(value)}")
    text = str(value)
    if text == "":
        raise ProblemError(f"{what} must not be empty")
    return text


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _nonneg_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(f"{what} must be an integer, got {_short(value)}")
    if value < 0:
        raise ProblemError(f"{what} must not be negative, got {value}")
    return value


def _id_list(raw: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProblemError(f"{what} {key} must be a list, got {_short(value)}")
    return tuple(_ident(v, f"{what} {key} entry") for v in value)


def parse_problem(data: Any) -> Problem:
    """Build a checked Problem from its JSON form; raise ProblemError naming the fault."""
    if not isinstance(data, Mapping):
        raise ProblemError("problem must be a JSON object")
    for key in ("workshops", "delegates"):
        if key not in data:
            raise ProblemError(f"missing field {key!r}")
        if not isinstance(data[key], list):
            raise ProblemError(f"field {key!r} must be a list")
    workshops = []
    for i, raw in enumerate(data["workshops"]):
        if not isinstance(raw, Mapping):
            raise ProblemError(f"workshop #{i + 1} must be an object")
        for key in ("id", "round", "topic", "capacity"):
            if key not in raw:
                raise ProblemError(f"workshop #{i + 1} is missing field {key!r}")
        wid = _ident(raw["id"], f"workshop #{i + 1} id")
        workshops.append(
            Workshop(
                id=wid,
                round=_ident(raw["round"], f"workshop {wid} round"),
                topic=_ident(raw["topic"], f"workshop {wid} topic"),
                capacity=_nonneg_int(raw["capacity"], f"workshop {wid} capacity"),
            )
        )
    delegates = []
    for i, raw in enumerate(data["delegates"]):
        if not isinstance(raw, Mapping):
            raise ProblemError(f"delegate #{i + 1} must be an object")
        for key in ("id", "organisation"):
            if key not in raw:
                raise ProblemError(f"delegate #{i + 1} is missing field {key!r}")
        did = _ident(raw["id"], f"delegate #{i + 1} id")
        what = f"delegate {did}"
        if "choices" not in raw:
            raise ProblemError(f"{what} is missing field 'choices'")
        if not isinstance(raw["choices"], list):
            raise ProblemError(f"{what} choices must be a list, got {_short(raw['choices'])}")
        sector = raw.get("sector")
        if sector is not None:
            sector = _ident(sector, f"{what} sector")
        delegates.append(
            Delegate(
                id=did,
                organisation=_ident(raw["organisation"], f"{what} organisation"),
                choices=tuple(_ident(t, f"{what} choice") for t in raw["choices"]),
                pinned=_id_list(raw, "pinned", what),
                current=_id_list(raw, "current", what),
                sector=sector,
            )
        )
    limit = data.get("max_per_organisation")
    if limit is not None:
        limit = _nonneg_int(limit, "max_per_organisation")
    problem = Problem(tuple(workshops), tuple(delegates), limit)
    check_problem(problem)
    return problem


def check_problem(problem: Problem) -> None:
    """Raise ProblemError if ids clash, references dangle or pins break a hard rule."""
    by_id: dict[str, Workshop] = {}
    for w in problem.workshops:
        if w.id in by_id:
            raise ProblemError(f"duplicate workshop id {w.id!r}")
        if isinstance(w.capacity, bool) or not isinstance(w.capacity, int) or w.capacity < 0:
            raise ProblemError(f"workshop {w.id} capacity must be a non-negative integer")
        by_id[w.id] = w
    limit = problem.max_per_organisation
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ProblemError("max_per_organisation must be a non-negative integer or null")
    seen: set[str] = set()
    pinned_count: dict[str, int] = {}
    pinned_org: dict[tuple[str, str], int] = {}
    for d in problem.delegates:
        if d.id in seen:
            raise ProblemError(f"duplicate delegate id {d.id!r}")
        seen.add(d.id)
        if len(set(d.choices)) != len(d.choices):
            raise ProblemError(f"delegate {d.id} ranks a topic twice")
        for key in ("pinned", "current"):
            ids = getattr(d, key)
            if len(set(ids)) != len(ids):
                raise ProblemError(f"delegate {d.id} lists a workshop twice in {key}")
            for wid in ids:
                if wid not in by_id:
                    raise ProblemError(f"delegate {d.id} {key} names unknown workshop {wid!r}")
        rounds: set[str] = set()
        topics: set[str] = set()
        for wid in d.pinned:
            w = by_id[wid]
            if w.round in rounds:
                raise ProblemError(f"delegate {d.id} has two pinned workshops in round {w.round}")
            if w.topic in topics:
                raise ProblemError(f"delegate {d.id} has two pinned workshops on topic {w.topic!r}")
            rounds.add(w.round)
            topics.add(w.topic)
            pinned_count[wid] = pinned_count.get(wid, 0) + 1
            key2 = (wid, d.organisation)
            pinned_org[key2] = pinned_org.get(key2, 0) + 1
    for wid, n in pinned_count.items():
        if n > by_id[wid].capacity:
            raise ProblemError(
                f"workshop {wid} has {n} pinned delegates but capacity {by_id[wid].capacity}"
            )
    if limit is not None:
        for (wid, org), n in sorted(pinned_org.items()):
            if n > limit:
                raise ProblemError(
                    f"workshop {wid} has {n} pinned delegates of organisation {org!r}, "
                    f"over the limit of {limit}"
                )
