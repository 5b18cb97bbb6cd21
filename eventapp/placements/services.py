"""Allocation use cases: run the solver on an assembly, adjust the proposal, publish it."""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable
from datetime import timedelta

from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload

from .. import allocation as core
from ..assemblies.models import ROUND_ORDER, Assembly, Round, Workshop
from ..audit import services as audit
from ..domain import DomainError
from ..extensions import db
from ..invites.services import sync_calendar
from ..organisations.models import SECTORS, Organisation
from ..registration.models import Preference, Registration
from ..templating import counted
from ..text import isolate
from ..timeutil import utcnow
from ..workers import pause
from .models import AllocationJob, AllocationPin, AllocationRun, Placement

log = logging.getLogger(__name__)

NO_WORKSHOPS = "Add rounds and workshops before allocating."
NO_DELEGATES = "There are no confirmed registrations to allocate yet."


@dataclass
class Snapshot:
    """The allocation problem of an assembly plus the lookups to turn ids back into rows."""

    problem: core.Problem
    workshops: dict[str, Workshop]
    # Each confirmed delegate as a light row: id, full_name, organisation_id, organisation_name, sector.
    registrations: dict[str, Row]
    rounds: list[Round]


@dataclass
class DelegateList:
    """What the delegates list and its CSV need: the rounds and workshops, and each confirmed delegate as a
    light row (id, full_name, email, organisation_id, organisation_name, sector)."""

    rounds: list[Round]
    workshops: dict[str, Workshop]
    people: list


def delegate_list(assembly: Assembly) -> DelegateList:
    """The confirmed delegates with their organisations, as plain rows (10,000 are read in one select)."""
    from ..organisations.models import Organisation

    rounds = list(db.session.scalars(
        select(Round).where(Round.assembly_id == assembly.id)
        .options(selectinload(Round.workshops)).order_by(*ROUND_ORDER)
    ))
    # Columns, not objects: the list shows 50 rows but filters and sorts all of them, and loading
    # every registration with its preferences (as snapshot() does for the solver) took a second.
    people = db.session.execute(
        select(Registration.id, Registration.full_name, Registration.email, Registration.organisation_id,
               Organisation.name.label("organisation_name"), Organisation.sector)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
    ).all()
    return DelegateList(rounds, {str(w.id): w for r in rounds for w in r.workshops}, people)


@dataclass
class MoveChoices:
    """What the form moving one delegate shows: the rounds with their workshops (and topics), and the delegate."""

    rounds: list[Round]
    workshops: dict[str, Workshop]
    registration: Registration | None  # None unless a confirmed delegate of the assembly


def move_choices(assembly: Assembly, registration_id: int) -> MoveChoices:
    """The rounds, workshops and one confirmed delegate (with their choices) for the move form."""
    # Not snapshot(): the form needs one delegate, and reading all 10,000 with their choices took seconds.
    rounds = list(db.session.scalars(
        select(Round).where(Round.assembly_id == assembly.id)
        .options(selectinload(Round.workshops).selectinload(Workshop.topic)).order_by(*ROUND_ORDER)
    ))
    registration = db.session.scalar(
        select(Registration).where(Registration.id == registration_id, Registration.assembly_id == assembly.id,
                                   Registration.status == "confirmed")
        .options(selectinload(Registration.preferences))
    )
    return MoveChoices(rounds, {str(w.id): w for r in rounds for w in r.workshops}, registration)


def _lock_assembly(assembly: Assembly) -> None:
    # Publishing and cancelling both take this lock, so a cancellation cannot
    # slip between reading the confirmed list and writing placements.
    db.session.execute(select(Assembly.id).where(Assembly.id == assembly.id).with_for_update())


def _confirmed(assembly: Assembly):
    return and_(Registration.assembly_id == assembly.id, Registration.status == "confirmed")


def snapshot(assembly: Assembly) -> Snapshot:
    """Build the allocation problem from confirmed registrations, pins and published placements."""
    rounds = list(db.session.scalars(
        select(Round).where(Round.assembly_id == assembly.id)
        .options(selectinload(Round.workshops)).order_by(*ROUND_ORDER)
    ))
    workshops = {str(w.id): w for r in rounds for w in r.workshops}
    # Rows, not objects: a national event's 10,000 registrations with their choices and organisations,
    # and its 30,000 places, built some 70,000 ORM objects here (seconds on every allocation page,
    # publish and run), and nothing below changes them.
    regs = db.session.execute(
        select(Registration.id, Registration.full_name, Registration.organisation_id,
               Organisation.name.label("organisation_name"), Organisation.sector)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(_confirmed(assembly)).order_by(Registration.id)
    ).all()
    choices: dict[int, list[str]] = defaultdict(list)
    for reg_id, topic_id in db.session.execute(
        select(Preference.registration_id, Preference.topic_id)
        .join(Registration, Registration.id == Preference.registration_id)
        .where(_confirmed(assembly)).order_by(Preference.registration_id, Preference.rank)
    ):
        choices[reg_id].append(str(topic_id))
    pins: dict[int, list[str]] = defaultdict(list)
    current: dict[int, list[str]] = defaultdict(list)
    for found, model in ((pins, AllocationPin), (current, Placement)):
        for reg_id, workshop_id in db.session.execute(
            select(model.registration_id, model.workshop_id)
            .join(Registration, Registration.id == model.registration_id)
            .where(_confirmed(assembly)).order_by(model.registration_id, model.id)
        ):
            if str(workshop_id) in workshops:
                found[reg_id].append(str(workshop_id))
    problem = core.Problem(
        workshops=tuple(
            core.Workshop(id=str(w.id), round=str(r.id), topic=str(w.topic_id), capacity=w.capacity)
            for r in rounds for w in r.workshops
        ),
        delegates=tuple(
            core.Delegate(
                id=str(r.id), organisation=str(r.organisation_id), sector=r.sector,
                choices=tuple(choices.get(r.id, ())),
                pinned=tuple(pins.get(r.id, ())), current=tuple(current.get(r.id, ())),
            )
            for r in regs
        ),
        max_per_organisation=assembly.workshop_org_limit,
    )
    return Snapshot(problem, workshops, {str(r.id): r for r in regs}, rounds)


def _ranks(problem: core.Problem, assignments: dict[str, list[str]]) -> dict[str, list[int]]:
    k = problem.max_choices
    topic_of = {w.id: w.topic for w in problem.workshops}
    out = {}
    for d in problem.delegates:
        rank_of = {t: i + 1 for i, t in enumerate(d.choices)}
        out[d.id] = [rank_of.get(topic_of[w], k + 1) for w in assignments.get(d.id, [])]
    return out


def summarise(problem: core.Problem, assignments: dict[str, list[str]], unplaced: list) -> dict:
    """Figures an organiser compares: choice shares per round, worst-off delegate, objective."""
    objective = core.objective_of(problem, assignments)
    result = core.Result("optimal", {d: tuple(w) for d, w in assignments.items()},
                         [tuple(u) for u in unplaced], objective)
    expl = core.explain(problem, result)
    ranks = _ranks(problem, assignments)
    k = problem.max_choices
    worst = max((max(r) for r in ranks.values() if r), default=0)
    n = len(problem.delegates)
    return {
        "objective": objective.as_dict(),
        "rounds": [
            {"round": s.round, "delegates": s.delegates, "placed": s.placed, "first": s.first,
             "second": s.second, "third": s.third, "unranked": s.unranked}
            for s in expl.rounds
        ],
        "first_choice_delegates": expl.delegates_with_first_choice,
        "delegates": n,
        "worst_rank": worst,
        "worst_is_unranked": worst > k,
        "all_ranked": sum(1 for r in ranks.values() if r and max(r) <= k),
        "reasons": {f"{d}|{r}": reason for (d, r), reason in expl.reasons.items()},
    }


def run_allocation(assembly: Assembly, user_id: int | None = None) -> AllocationRun:
    """Solve the assembly's allocation optimally and store it as a proposal (nothing is published)."""
    snap = snapshot(assembly)
    if not snap.problem.workshops:
        raise DomainError(NO_WORKSHOPS)
    if not snap.problem.delegates:
        raise DomainError(NO_DELEGATES)
    problem, assembly_id = snap.problem, assembly.id
    # Two transactions on purpose: the read (with any new organisation limit) ends before the
    # solve, which takes seconds to minutes. Held open, it would keep SQLite's write lock, or on
    # PostgreSQL the assembly row's lock, and every registration and cancellation would wait for
    # it. Changes meanwhile leave the proposal marked out of date on the allocation page.
    db.session.commit()
    try:
        result = core.solve(problem)
        core.validate(problem, result)
    except core.ProblemError as err:
        raise DomainError(f"The pins cannot all be kept: {err}. Remove a pin and run again.") from None
    baseline = core.fcfs(problem)
    assignments = {d: list(ws) for d, ws in result.assignments.items()}
    ours = summarise(problem, assignments, result.unplaced)
    theirs = summarise(problem, {d: list(ws) for d, ws in baseline.assignments.items()}, baseline.unplaced)
    db.session.execute(
        update(AllocationRun).where(AllocationRun.assembly_id == assembly_id, AllocationRun.status == "proposal")
        .values(status="superseded")
    )
    run = AllocationRun(assembly_id=assembly_id, status="proposal", created_by_id=user_id,
                        placed=result.objective.placed, moves=result.objective.moves, cost=result.objective.cost)
    run.result = {
        "assignments": assignments,
        "unplaced": [list(u) for u in result.unplaced],
        "summary": ours,
        "fcfs": theirs,
        "stats": {k: v for k, v in result.stats.items() if isinstance(v, (int, float, str, bool))},
        "warnings": [],
    }
    db.session.add(run)
    db.session.commit()
    return run


# A running job whose worker has said nothing for this long is taken to have died with it
# (killed, machine restarted) and is claimed again. The largest solves take a few minutes.
JOB_STALE = timedelta(hours=1)


def _check_can_allocate(assembly: Assembly) -> None:
    if db.session.scalar(select(func.count(Workshop.id)).join(Round).where(Round.assembly_id == assembly.id)) == 0:
        raise DomainError(NO_WORKSHOPS)
    if assembly.confirmed_count == 0:
        raise DomainError(NO_DELEGATES)


def request_run(assembly: Assembly, user_id: int | None = None) -> AllocationJob:
    """Queue a background run of the allocation, or return the one already queued or running."""
    job = active_job(assembly)
    if job is not None:
        return job
    _check_can_allocate(assembly)
    job = AllocationJob(assembly_id=assembly.id, requested_by_id=user_id, delegates=assembly.confirmed_count)
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        # Another click (in another process) queued one first: that one is the run.
        db.session.rollback()
        job = active_job(assembly)
        if job is None:
            raise
    return job


def active_job(assembly: Assembly) -> AllocationJob | None:
    """The assembly's queued or running background allocation, if any."""
    return db.session.scalar(select(AllocationJob).where(
        AllocationJob.assembly_id == assembly.id, AllocationJob.status.in_(("queued", "running"))))


def latest_job(assembly: Assembly) -> AllocationJob | None:
    """The assembly's most recent background allocation, whatever its state."""
    return db.session.scalar(select(AllocationJob).where(AllocationJob.assembly_id == assembly.id)
                             .order_by(AllocationJob.id.desc()).limit(1))


def claim_job() -> int | None:
    """Take the oldest queued job (or one abandoned by a stopped worker) for this worker."""
    now = utcnow()
    job = db.session.scalar(
        select(AllocationJob)
        .where(or_(AllocationJob.status == "queued",
                   and_(AllocationJob.status == "running", AllocationJob.started_at < now - JOB_STALE)))
        .order_by(AllocationJob.id).limit(1)
        # PostgreSQL: workers skip a job another is claiming; SQLite's write lock serialises them.
        .with_for_update(skip_locked=True)
    )
    if job is None:
        db.session.rollback()
        return None
    job.status = "running"
    job.started_at = now
    job.attempts += 1
    db.session.commit()
    return job.id


def run_job(job_id: int) -> AllocationJob:
    """Run a claimed job's allocation and record how it ended (done with its proposal, or failed)."""
    job = db.session.get(AllocationJob, job_id)
    assembly = db.session.get(Assembly, job.assembly_id)
    requested_by = job.requested_by_id
    run_id, error = None, None
    try:
        run_id = run_allocation(assembly, requested_by).id
    except DomainError as err:
        error = err.message
    except Exception:  # noqa: BLE001 - the job records the failure; the traceback goes to the log
        log.exception("allocation job %s failed", job_id)
        error = "The allocation stopped on an unexpected error (details are in the worker's log). Run it again."
    db.session.rollback()
    job = db.session.get(AllocationJob, job_id)
    job.status = "failed" if error else "done"
    job.run_id = run_id
    job.error = error
    job.finished_at = utcnow()
    db.session.commit()
    return job


def run_jobs(*, interval: float = 5.0, once: bool = False, stop=None, echo=None) -> int:
    """Run queued allocation jobs until ``stop()`` (or, with ``once``, until none is left); return how many ran."""
    stop = stop or (lambda: False)
    done = 0
    while not stop():
        try:
            job_id = claim_job()
        except OperationalError as err:
            # Database restarting or locked for long: try again shortly rather than die.
            db.session.rollback()
            if echo:
                echo(f"Database error, retrying: {err.orig}")
            job_id = None
        if job_id is not None:
            job = run_job(job_id)
            done += 1
            if echo:
                echo(f"Allocation job {job.id}: {job.status}" + (f" ({job.error})" if job.error else ""))
        elif once:
            break
        else:
            pause(interval, stop)
        db.session.remove()
    return done


def latest_run(assembly: Assembly) -> AllocationRun | None:
    """The newest proposal or published run of an assembly."""
    return db.session.scalar(
        select(AllocationRun).where(AllocationRun.assembly_id == assembly.id, AllocationRun.status != "superseded")
        .order_by(AllocationRun.id.desc()).limit(1)
    )


def move_delegate(run: AllocationRun, assembly: Assembly, registration_id: int, choices: dict[int, int | None],
                  pin: bool) -> list[str]:
    """Set a delegate's workshop per round in a proposal; return the rules the change breaks."""
    if run.status != "proposal":
        raise DomainError("Only a proposal can be changed. Run the allocation again to start a new one.")
    snap = snapshot(assembly)
    data = _with_move(snap, run.result, registration_id, choices)
    warnings = _rule_breaks(snap, data)
    data["warnings"] = warnings
    _store_result(run, snap, data)
    if pin:
        _pin(registration_id, choices)
    db.session.commit()
    return warnings


def move_published(run: AllocationRun, assembly: Assembly, registration_id: int, choices: dict[int, int | None],
                   pin: bool, *, by: int | None = None) -> int:
    """Move one delegate in the published allocation: their places change now and they are emailed.

    Refused if the move breaks a rule the allocation kept; returns how many rounds changed. ``by`` is logged.
    """
    _lock_assembly(assembly)
    # Read again under the lock: another organiser's move a moment ago is in it.
    db.session.refresh(run)
    if run.status != "published":
        raise DomainError("This allocation is not the published one any more. Reload the page.")
    snap = snapshot(assembly)
    data = _with_move(snap, run.result, registration_id, choices)
    breaks = _move_breaks(snap, data, str(registration_id), set(run.result["assignments"].get(str(registration_id), [])))
    if breaks:
        raise DomainError("This change breaks a rule: " + " ".join(breaks) + " Nothing was changed.")
    old = {p.round_id: p for p in db.session.scalars(select(Placement).where(
        Placement.registration_id == registration_id))}
    new = {snap.workshops[w].round_id: snap.workshops[w] for w in data["assignments"][str(registration_id)]}
    moved = [r for r in set(old) | set(new) if not (r in old and r in new and old[r].workshop_id == new[r].id)]
    detail = _moves_detail(snap, {r: p.workshop_id for r, p in old.items()}, new, moved)
    for round_id in moved:
        if round_id in old:
            db.session.delete(old[round_id])
    db.session.flush()  # the old places go first: one place per delegate and round is a table constraint
    for round_id in moved:
        if round_id in new:
            db.session.add(Placement(registration_id=registration_id, round_id=round_id,
                                     topic_id=new[round_id].topic_id, workshop_id=new[round_id].id))
    changed = len(moved)
    data["warnings"] = _rule_breaks(snap, {"assignments": {k: v for k, v in data["assignments"].items()
                                                           if k in snap.registrations}})
    _store_result(run, snap, data)
    if pin:
        _pin(registration_id, choices)
    if changed:
        sync_calendar([registration_id])
        audit.record(by, "placement.move", assembly_id=assembly.id,
                     subject=audit.registration_subject(snap.registrations[str(registration_id)]), detail=detail)
    db.session.commit()
    return changed


def _moves_detail(snap: Snapshot, old: dict[int, int], new: dict[int, Workshop], moved: list[int]) -> str:
    """What one delegate's move changed, round by round: workshop titles only (the subject names the
    delegate, where the privacy purge reaches it)."""
    def title(workshop_id):
        return snap.workshops[str(workshop_id)].title if str(workshop_id) in snap.workshops else "a deleted workshop"

    return "; ".join(f"{r.name}: {title(old[r.id]) if r.id in old else 'none'} -> "
                     f"{new[r.id].title if r.id in new else 'none'}" for r in snap.rounds if r.id in moved)


def _move_breaks(snap: Snapshot, data: dict, key: str, had: set[str]) -> list[str]:
    """The rules one delegate's move breaks: a workshop joined that is now over its seats or its
    organisation limit, or a topic twice. Moving out of a workshop overbooked since (a capacity
    cut) is never refused: it only helps."""
    reg = snap.registrations[key]
    mine = data["assignments"][key]
    out = []
    topics = Counter(snap.workshops[w].topic_id for w in mine if w in snap.workshops)
    if any(n > 1 for n in topics.values()):
        out.append(f"{isolate(reg.full_name)} would attend the same topic twice.")
    limit = snap.problem.max_per_organisation
    for wid in set(mine) - had:
        w = snap.workshops.get(wid)
        if w is None:
            continue
        others = [snap.registrations[k] for k, ws in data["assignments"].items()
                  if wid in ws and k in snap.registrations]
        if len(others) > w.capacity:
            out.append(f"“{w.title}” ({w.round.name}) would have {counted(len(others), 'delegate')} for "
                       f"{counted(w.capacity, 'seat')}.")
        same_org = sum(1 for r in others if r.organisation_id == reg.organisation_id)
        if limit is not None and same_org > limit:
            out.append(f"“{w.title}” ({w.round.name}) would have {counted(same_org, 'delegate')} from "
                       f"{reg.organisation_name} (limit {limit}).")
    return out


def _with_move(snap: Snapshot, result: dict, registration_id: int, choices: dict[int, int | None]) -> dict:
    """A copy of an allocation's result with one delegate's workshop per round set as chosen."""
    key = str(registration_id)
    if key not in snap.registrations:
        raise DomainError("That delegate is not confirmed for this assembly.")
    round_ids = {r.id for r in snap.rounds}
    new = []
    for round_id, workshop_id in choices.items():
        if round_id not in round_ids:
            raise DomainError("Choose a round of this assembly.")
        if workshop_id is None:
            continue
        w = snap.workshops.get(str(workshop_id))
        if w is None or w.round_id != round_id:
            raise DomainError("Choose a workshop that runs in that round.")
        new.append(str(workshop_id))
    data = {**result, "assignments": {**result["assignments"], key: new}}
    placed_rounds = {snap.workshops[w].round_id for w in new}
    data["unplaced"] = [u for u in result["unplaced"] if u[0] != key] + [
        [key, str(r.id)] for r in snap.rounds if r.id not in placed_rounds and r.workshops
    ]
    return data


def _store_result(run: AllocationRun, snap: Snapshot, data: dict) -> None:
    data["summary"] = summarise(snap.problem, data["assignments"], data["unplaced"])
    run.result = data
    run.edited = True
    obj = data["summary"]["objective"]
    run.placed, run.moves, run.cost = obj["placed"], obj["moves"], obj["cost"]


def _pin(registration_id: int, choices: dict[int, int | None]) -> None:
    for round_id, workshop_id in choices.items():
        db.session.execute(delete(AllocationPin).where(
            AllocationPin.registration_id == registration_id, AllocationPin.round_id == round_id))
        if workshop_id is not None:
            db.session.add(AllocationPin(registration_id=registration_id, round_id=round_id, workshop_id=workshop_id))


def _rule_breaks(snap: Snapshot, data: dict) -> list[str]:
    """Hard rules an edited proposal breaks, in words an organiser understands."""
    limit = snap.problem.max_per_organisation
    seats: Counter[str] = Counter()
    org_seats: Counter[tuple[str, int]] = Counter()
    out = []
    # Read once, not per delegate: at 10,000 delegates the ORM attribute reads were most of this check.
    topic_of = {key: w.topic_id for key, w in snap.workshops.items()}
    round_of = {key: w.round_id for key, w in snap.workshops.items()}
    for reg_key, ws in sorted(data["assignments"].items(), key=lambda kv: int(kv[0])):
        reg = snap.registrations.get(reg_key)
        if reg is None:
            continue
        known = [w for w in ws if w in topic_of]
        if len({topic_of[w] for w in known}) < len(known):
            out.append(f"{isolate(reg.full_name)} would attend the same topic twice.")
        if len({round_of[w] for w in known}) < len(known):
            out.append(f"{isolate(reg.full_name)} would be in two workshops in one round.")
        for w in ws:
            seats[w] += 1
            org_seats[(w, reg.organisation_id)] += 1
    for wid, n in seats.items():
        w = snap.workshops.get(wid)
        if w is not None and n > w.capacity:
            out.append(f"“{isolate(w.title)}” ({isolate(w.round.name)}) would have {counted(n, 'delegate')} for {counted(w.capacity, 'seat')}.")
    if limit is not None:
        org_names = {r.organisation_id: r.organisation_name for r in snap.registrations.values()}
        for (wid, org_id), n in org_seats.items():
            if n > limit and wid in snap.workshops:
                w = snap.workshops[wid]
                out.append(f"“{isolate(w.title)}” ({isolate(w.round.name)}) would have {counted(n, 'delegate')} from {isolate(org_names[org_id])} "
                           f"(limit {limit}).")
    return out


def remove_pin(pin: AllocationPin) -> None:
    """Forget an organiser's pin; the next run may move that delegate."""
    db.session.delete(pin)
    db.session.commit()


@dataclass
class PublishOutcome:
    placed: int
    changed: list[tuple[int, int, int | None, int | None]]  # (registration, round, old workshop, new workshop)


def _published_and_proposed(snap: Snapshot, assembly: Assembly, data: dict) -> tuple[dict, dict]:
    old = {(reg_id, round_id): workshop_id for reg_id, round_id, workshop_id in db.session.execute(
        select(Placement.registration_id, Placement.round_id, Placement.workshop_id)
        .join(Round, Round.id == Placement.round_id).where(Round.assembly_id == assembly.id))}
    new = {}
    # Only registrations still confirmed now: a cancellation after the run keeps no place.
    for reg_key, workshop_ids in data["assignments"].items():
        if reg_key not in snap.registrations:
            continue
        for wid in workshop_ids:
            w = snap.workshops.get(wid)
            if w is not None:
                new[(int(reg_key), w.round_id)] = w.id
    return old, new


def _changes(old: dict, new: dict) -> list[tuple[int, int, int | None, int | None]]:
    return [(reg, rnd, old.get((reg, rnd)), new.get((reg, rnd)))
            for reg, rnd in sorted(set(old) | set(new)) if old.get((reg, rnd)) != new.get((reg, rnd))]


def dropped_places(snap: Snapshot, data: dict) -> int:
    """Places of a proposal in workshops deleted since it was run: publishing would leave those delegates without."""
    return sum(1 for key, ws in data["assignments"].items() if key in snap.registrations
               for w in ws if w not in snap.workshops)


def missing_places(rounds: list[Round], workshops: dict[str, Workshop], confirmed: Iterable[str],
                   data: dict) -> list[tuple[str, str, str]]:
    """(delegate, round, why) for each round a confirmed delegate has no workshop in that the allocation's own
    unplaced list does not name: confirmed since it was run, or their workshop deleted since."""
    named = {(k, r) for k, r in data["unplaced"]}
    # Read once, not per delegate: 10,000 delegates x their workshops' ORM attributes took most of a second.
    round_of = {key: w.round_id for key, w in workshops.items()}
    open_rounds = [(r.id, str(r.id)) for r in rounds if r.workshops]
    out = []
    for key in confirmed:
        mine = data["assignments"].get(key)
        have = {round_of[w] for w in mine or () if w in round_of}
        gaps = [round_key for round_id, round_key in open_rounds if round_id not in have and (key, round_key) not in named]
        if not gaps:
            continue
        why = ("confirmed since this allocation was run" if mine is None
               else "their workshop was deleted" if any(w not in round_of for w in mine)
               else "no workshop in this round")
        out.extend((key, round_key, why) for round_key in gaps)
    return out


def published_now(snap: Snapshot, data: dict) -> dict:
    """The published allocation's result as it stands now, its figures counted again if a cancellation,
    a promotion or a deleted workshop changed its places since (no new run records those)."""
    kept = {k: [w for w in ws if w in snap.workshops] for k, ws in data["assignments"].items()
            if k in snap.registrations}
    missing = missing_places(snap.rounds, snap.workshops, snap.registrations, data)
    summary = data["summary"]
    if kept == data["assignments"] and not missing and summary["delegates"] == len(snap.registrations) \
            and summary["objective"]["placed"] == sum(len(ws) for ws in kept.values()):
        return data
    unplaced = [[k, r] for k, r in data["unplaced"] if k in snap.registrations] + [[k, r] for k, r, _ in missing]
    return {**data, "assignments": kept, "unplaced": unplaced, "summary": summarise(snap.problem, kept, unplaced)}


@dataclass
class PublishPreview:
    delegates: int  # whose workshops change, each emailed
    dropped: int  # see dropped_places
    missing: int = 0  # confirmed since the run: publishing leaves them without a workshop
    breaks: tuple[str, ...] = ()  # rules the proposal breaks: publishing is refused until they are fixed


def publish_preview(run: AllocationRun, assembly: Assembly) -> PublishPreview:
    """What publishing this proposal would do now: delegates whose workshops change, places it would drop."""
    snap = snapshot(assembly)
    data = run.result
    old, new = _published_and_proposed(snap, assembly, data)
    kept = {k: v for k, v in data["assignments"].items() if k in snap.registrations}
    return PublishPreview(len({reg for reg, _, _, _ in _changes(old, new)}), dropped_places(snap, data),
                          missing=sum(1 for k in snap.registrations if k not in data["assignments"]),
                          breaks=tuple(_rule_breaks(snap, {"assignments": kept})))


def publish(run: AllocationRun, assembly: Assembly, *, by: int | None = None) -> PublishOutcome:
    """Record a proposal as the published allocation, replacing the previous one (``by``: the organiser; None from
    the command line)."""
    if run.status != "proposal":
        raise DomainError("This allocation is not a proposal any more. Run the allocation again.")
    _lock_assembly(assembly)
    snap = snapshot(assembly)
    data = run.result
    kept = {k: v for k, v in data["assignments"].items() if k in snap.registrations}
    breaks = _rule_breaks(snap, {"assignments": kept})
    if breaks:
        raise DomainError("This proposal breaks a rule: " + " ".join(breaks) + " Change it or run the allocation again.")
    old, new = _published_and_proposed(snap, assembly, data)
    now = utcnow()
    db.session.execute(delete(Placement).where(Placement.round_id.in_([r.id for r in snap.rounds] or [0])))
    # One executemany for every place: added one by one, the session sent an INSERT per place (30,000 at
    # a national event, most of a re-publish's time).
    places = [{"registration_id": reg_id, "round_id": w.round_id, "topic_id": w.topic_id, "workshop_id": w.id,
               "created_at": now}
              for (reg_id, _), wid in new.items() for w in (snap.workshops[str(wid)],)]
    if places:
        db.session.execute(insert(Placement.__table__), places)
    changed = _changes(old, new)
    db.session.execute(update(AllocationRun).where(AllocationRun.assembly_id == assembly.id,
                                                   AllocationRun.status == "published").values(status="superseded"))
    run.status = "published"
    run.published_at = now
    assembly.allocation_published_at = now
    sync_calendar(reg for reg, _, _, _ in changed)
    audit.record(by, "allocation.publish", assembly_id=assembly.id, subject=f"allocation {run.id} of {assembly.slug}", detail=f"{len(new)} places; {len({reg for reg, _, _, _ in changed})} delegates' workshops changed")
    db.session.commit()
    return PublishOutcome(placed=len(new), changed=changed)


def placements_for(registration: Registration) -> list[Placement]:
    """A delegate's published workshops in round order."""
    return list(db.session.scalars(
        select(Placement).join(Round, Round.id == Placement.round_id)
        .where(Placement.registration_id == registration.id)
        .options(selectinload(Placement.workshop).selectinload(Workshop.round))
        .order_by(*ROUND_ORDER)
    ))


def workshop_mix(snap: Snapshot, assignments: dict[str, list[str]]) -> list[dict]:
    """Fill, organisations and sector mix per workshop, for the preview."""
    members: dict[str, list[Row]] = defaultdict(list)
    for reg_key, ws in assignments.items():
        reg = snap.registrations.get(reg_key)
        if reg is None:
            continue
        for wid in ws:
            members[wid].append(reg)
    out = []
    for r in snap.rounds:
        for w in r.workshops:
            regs = members.get(str(w.id), [])
            orgs = Counter(reg.organisation_name for reg in regs)
            sectors = Counter(SECTORS.get(reg.sector, reg.sector) for reg in regs)
            out.append({
                "workshop": w, "round": r, "count": len(regs),
                "fill": (len(regs) / w.capacity) if w.capacity else 0.0,
                "organisations": len(orgs), "largest_org": orgs.most_common(1)[0] if orgs else None,
                "sectors": sorted(sectors.items(), key=lambda kv: (-kv[1], kv[0])),
            })
    return out


# Why fill_missing left a delegate without a workshop in a round (allocation.explain's codes), for organisers.
FILL_REASONS = {
    "no_workshops": "this round has no workshops",
    "full": "every workshop in this round is full",
    "org_limit": "every workshop in this round with a seat has reached the limit for their organisation",
    "topic": "the workshops in this round with a seat are on topics they already attend",
    "space": "no workshop in this round fits the rules",
}


@dataclass
class MissingPlan:
    """Placing the delegates missing a workshop: who goes where (in registration order) and who cannot be placed."""

    delegates: int  # confirmed delegates missing a workshop in at least one round
    # (delegate row, round, workshop, rank among their choices; None: a topic they did not rank)
    placed: list[tuple[Row, Round, Workshop, int | None]]
    left: list[tuple[Row, Round, str]]  # (delegate row, round, why)


def _missing_plan(snap: Snapshot, data: dict) -> tuple[MissingPlan, dict[str, list[str]], dict[str, list[str]]]:
    """The plan, with everyone's places now (deleted workshops left out) and after it."""
    kept = {k: [w for w in ws if w in snap.workshops] for k, ws in data["assignments"].items()
            if k in snap.registrations}
    # missing_places goes through the confirmed in registration order (snapshot reads them by id), rounds in order.
    missing = [(k, r) for k, r, _ in missing_places(snap.rounds, snap.workshops, snap.registrations, data)]
    fill = core.fill_missing(snap.problem, kept, missing)
    rounds = {str(r.id): r for r in snap.rounds}
    choices = {d.id: d.choices for d in snap.problem.delegates}
    placed = []
    after = dict(kept)
    for key, round_key, wid in fill.placed:
        w = snap.workshops[wid]
        topic = str(w.topic_id)
        placed.append((snap.registrations[key], rounds[round_key], w,
                       choices[key].index(topic) + 1 if topic in choices[key] else None))
        after[key] = after.get(key, []) + [wid]
    position = {r.id: i for i, r in enumerate(snap.rounds)}
    for key in {k for k, _, _ in fill.placed}:
        after[key] = sorted(after[key], key=lambda w: position[snap.workshops[w].round_id])
    left = [(snap.registrations[k], rounds[r], FILL_REASONS[why]) for k, r, why in fill.left]
    return MissingPlan(len({k for k, _ in missing}), placed, left), kept, after


def place_missing_preview(run: AllocationRun, assembly: Assembly) -> MissingPlan:
    """What placing the delegates missing a workshop in the published allocation would do now."""
    return _missing_plan(snapshot(assembly), run.result)[0]


def plan_version(plan: MissingPlan) -> str:
    """A short fingerprint of who goes where in a plan, to tell whether it changed since its preview was shown."""
    fields = [[row.id, rnd.id, w.id] for row, rnd, w, _ in plan.placed] + [[row.id, rnd.id] for row, rnd, _ in plan.left]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:20]


def place_missing(run: AllocationRun, assembly: Assembly, *, by: int | None = None, seen: str = "") -> MissingPlan:
    """Give each delegate missing a workshop in the published allocation the best one still free for them, in
    registration order, moving nobody else; those placed are emailed their invitation. ``by`` is logged.
    ``seen``: plan_version of the preview the organiser confirmed; a plan that differs now is refused."""
    _lock_assembly(assembly)
    # Read again under the lock: a move or a placing a moment ago took its seats.
    db.session.refresh(run)
    if run.status != "published":
        raise DomainError("This allocation is not the published one any more. Reload the page.")
    snap = snapshot(assembly)
    data = run.result
    plan, kept, after = _missing_plan(snap, data)
    if plan.placed and seen and seen != plan_version(plan):
        # A seat taken or freed, or a delegate added, since the preview: they confirmed other emails than these.
        db.session.rollback()
        raise DomainError("Who goes where changed after you opened this page (a seat was taken or freed, or a "
                          "delegate now needs a place): nobody was placed. Check the plan below and confirm again.")
    if not plan.placed:
        db.session.rollback()
        return plan
    # The same checks a move passes: a rule broken now (a capacity cut) may stay, none may be added.
    breaks, before = _rule_breaks(snap, {"assignments": after}), set(_rule_breaks(snap, {"assignments": kept}))
    added = [b for b in breaks if b not in before]
    if added:
        raise DomainError("Placing them would break a rule: " + " ".join(added) + " Nothing was changed.")
    now = utcnow()
    db.session.execute(insert(Placement.__table__), [
        {"registration_id": row.id, "round_id": rnd.id, "topic_id": w.topic_id, "workshop_id": w.id, "created_at": now}
        for row, rnd, w, _ in plan.placed])
    data = {**data, "assignments": {**data["assignments"], **{k: after[k] for k in {str(row.id) for row, *_ in plan.placed}}}}
    data["warnings"] = breaks
    _store_result(run, snap, data)
    new: dict[int, dict[int, Workshop]] = defaultdict(dict)
    for row, rnd, w, _ in plan.placed:
        new[row.id][rnd.id] = w
    # One event per delegate, as a move logs, so the privacy purge finds each by its subject.
    audit.record_many(by, "placement.place_missing", assembly_id=assembly.id, entries=[
        (audit.registration_subject(snap.registrations[str(reg_id)]), _moves_detail(snap, {}, places, list(places)))
        for reg_id, places in new.items()])
    sync_calendar(new)
    db.session.commit()
    return plan
