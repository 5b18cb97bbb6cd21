"""Outcomes across assemblies: the report, public updates, carry-forward, partner links, status updates, reminders."""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Iterable

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from ..registration.csvio import csv_cell
from ..assemblies.models import Assembly, Round, Workshop
from ..domain import DomainError, NotFound
from ..links import absolute_url
from ..extensions import db
from ..mail.models import OutboxMessage
from ..mail.services import queue_email
from ..notes import services as notes
from ..notes.models import ACTION_STATUSES, SECTIONS, Action, ActionRevision, Attendance, SessionNotes, action_topic
from ..organisations.models import SECTORS, Organisation
from ..registration.models import Registration
from ..timeutil import local_today, utcnow
from .models import ActionStatusUpdate, AssemblyUpdate, CarriedAction, PartnerContact

OPEN_STATUSES = ("open", "in_progress")
PARTNER_SALT = "eventapp.outcomes.partner-link"
DEFAULT_PARTNER_LINK_DAYS = 90
MAX_UPDATE_BODY = 50_000
MAX_NOTE = 2_000
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class LinkInvalid(DomainError):
    """A partner link that was tampered with, revoked or names nobody."""


class LinkExpired(DomainError):
    """A genuine partner link that is too old."""


class LinkRevoked(LinkExpired):
    """A genuine partner link that the organisers have stopped (a newer one was sent or links were revoked)."""


# --- assemblies before this one ---------------------------------------------------------------


def earlier_assembly_ids(assembly: Assembly):
    """Assemblies before this one: of its series, or every earlier one when it has no series."""
    stmt = select(Assembly.id).where(Assembly.date < assembly.date, Assembly.id != assembly.id)
    if assembly.series_id is not None:
        stmt = stmt.where(Assembly.series_id == assembly.series_id)
    return stmt


def _carried_away():
    # An action that has been copied into a later assembly is tracked through its copy.
    return select(CarriedAction.origin_action_id)


# --- carry forward ------------------------------------------------------------------------------


def carry_candidates(assembly: Assembly) -> list[Action]:
    """Open actions of earlier assemblies not yet carried anywhere, oldest assembly first."""
    return list(db.session.scalars(
        select(Action).join(Assembly, Assembly.id == Action.assembly_id)
        .where(Action.assembly_id.in_(earlier_assembly_ids(assembly)), Action.status.in_(OPEN_STATUSES),
               Action.id.not_in(_carried_away()))
        .options(selectinload(Action.owner_organisation), selectinload(Action.topics),
                 selectinload(Action.assembly), selectinload(Action.workshop))
        .order_by(Assembly.date, Action.due_date, Action.id)))


def carry_candidates_count(assembly: Assembly) -> int:
    """How many actions carry_candidates() offers, in one count."""
    return db.session.scalar(select(func.count(Action.id)).where(
        Action.assembly_id.in_(earlier_assembly_ids(assembly)), Action.status.in_(OPEN_STATUSES),
        Action.id.not_in(_carried_away()))) or 0


def carried_into(assembly: Assembly) -> list[CarriedAction]:
    """The actions already carried into this assembly, with their origins."""
    return list(db.session.scalars(
        select(CarriedAction).where(CarriedAction.assembly_id == assembly.id)
        .options(selectinload(CarriedAction.action).selectinload(Action.owner_organisation),
                 selectinload(CarriedAction.origin).selectinload(Action.assembly))
        .order_by(CarriedAction.id)))


def _worked_on(copy_ids: list[int]) -> set[int]:
    """Copies something happened to since they were carried: edited, updated, or carried on again."""
    if not copy_ids:
        return set()
    edited = db.session.scalars(select(Action.id).where(Action.id.in_(copy_ids), Action.version > 1))
    updated = db.session.scalars(select(ActionStatusUpdate.action_id).where(ActionStatusUpdate.action_id.in_(copy_ids)))
    onward = db.session.scalars(select(CarriedAction.origin_action_id).where(
        CarriedAction.origin_action_id.in_(copy_ids)))
    return set(edited) | set(updated) | set(onward)


def undoable(carried: list[CarriedAction]) -> set[int]:
    """The copies among these whose carrying can still be undone (nothing happened to them since)."""
    ids = [c.action_id for c in carried]
    return set(ids) - _worked_on(ids)


def undo_carry(assembly: Assembly, copy_id: int) -> Action:
    """Take back an action carried into this assembly by mistake; returns the original, open again to carry."""
    db.session.scalar(select(Assembly.id).where(Assembly.id == assembly.id).with_for_update())
    carried = db.session.scalar(select(CarriedAction).where(CarriedAction.action_id == copy_id,
                                                            CarriedAction.assembly_id == assembly.id))
    if carried is None:
        raise NotFound("That action is not carried into this assembly.")
    if copy_id in _worked_on([copy_id]):
        db.session.rollback()
        raise DomainError("This action has been changed or updated since it was carried forward, so it stays: "
                          "change its owner or due date, or mark it dropped.")
    origin = carried.origin
    db.session.delete(db.session.get(Action, copy_id))  # its carried_action row and revision go with it
    db.session.commit()
    return origin


def carry_forward(assembly: Assembly, action_ids: Iterable[int] | None, user_id: int | None) -> int:
    """Copy the chosen open actions of earlier assemblies into this one (never twice); return how many."""
    # Lock the target so two organisers pressing the button at once cannot both copy.
    db.session.scalar(select(Assembly.id).where(Assembly.id == assembly.id).with_for_update())
    candidates = carry_candidates(assembly)
    if action_ids is not None:
        wanted = {int(i) for i in action_ids}
        candidates = [a for a in candidates if a.id in wanted]
    done = set(db.session.scalars(select(CarriedAction.origin_action_id)
                                  .where(CarriedAction.assembly_id == assembly.id)))
    count = 0
    for origin in candidates:
        if origin.id in done:
            continue
        copy = Action(assembly_id=assembly.id, workshop_id=None, description=origin.description,
                      owner_organisation_id=origin.owner_organisation_id, lead_person=origin.lead_person,
                      due_date=origin.due_date, status=origin.status, internal=origin.internal,
                      approved=origin.approved and not origin.internal, version=1, created_by_id=user_id)
        copy.topics = list(origin.topics)
        db.session.add(copy)
        db.session.flush()
        db.session.add(ActionRevision(action_id=copy.id, version=1, user_id=user_id,
                                      snapshot_json=json.dumps(copy.snapshot(), ensure_ascii=False)))
        db.session.add(CarriedAction(action_id=copy.id, origin_action_id=origin.id, assembly_id=assembly.id,
                                     carried_by_id=user_id))
        count += 1
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("These actions were carried forward by someone else at the same moment. "
                          "Reload the page to see them.") from None
    return count


def origins_of(action_ids: Iterable[int]) -> dict[int, Action]:
    """For carried copies: copy id → the action it was carried from."""
    ids = list(action_ids)
    if not ids:
        return {}
    rows = db.session.scalars(select(CarriedAction).where(CarriedAction.action_id.in_(ids))
                              .options(selectinload(CarriedAction.origin).selectinload(Action.assembly)))
    return {c.action_id: c.origin for c in rows}


def first_origins(action_ids: Iterable[int]) -> dict[int, Action]:
    """For carried copies: copy id → the action first agreed (following copies of copies back)."""
    start = {i: i for i in action_ids}  # an action on the way back → the copy asked about
    found: dict[int, Action] = {}
    while start:
        rows = db.session.execute(select(CarriedAction.action_id, Action)
                                  .join(Action, Action.id == CarriedAction.origin_action_id)
                                  .where(CarriedAction.action_id.in_(list(start)))
                                  .options(selectinload(Action.assembly), selectinload(Action.workshop))).all()
        following = {}
        for copy_id, origin in rows:
            found[start[copy_id]] = origin
            following[origin.id] = start[copy_id]
        start = following
    return found


def update_carried_action(action_id: int, data: dict[str, Any], base_version: int, user_id: int | None) -> Action:
    """Change a carried action (its owner, lead, due date...): a due date counts from when it was first agreed."""
    first = first_origins([action_id]).get(action_id)
    if first is None:
        raise DomainError("Only an action carried forward is changed here: change the others from their workshop.")
    return notes.update_action(action_id, data, base_version, user_id, agreed_on=first.assembly.date,
                               also=status_change_logger("organiser", user_id), by_reviewer=True)


def status_change_logger(source: str, user_id: int | None):
    """For notes.update_action(also=...): a status changed on an edit form goes into the status history too."""
    def log(before: dict[str, Any], action: Action) -> None:
        if action.status != before["status"]:
            db.session.add(ActionStatusUpdate(action_id=action.id, status=action.status, note="", source=source,
                                              user_id=user_id))
    return log


@dataclass
class PublicCarried:
    """An action carried into an assembly, as the public may read it: its approved wording, where it stands now."""
    description: str
    agreed_at: str
    workshop: str | None
    owner_organisation: str
    due_date: date | None
    status_label: str
    carried_at: datetime | None = None  # when it was carried into this assembly (the feed's date)


def public_carried(assembly: Assembly) -> list[PublicCarried]:
    """Published actions of earlier assemblies carried into this one (never internal ones)."""
    carried = carried_into(assembly)
    copies = [c.action for c in carried]
    first = first_origins([c.id for c in copies])
    latest = notes.latest_copies([c.id for c in copies])
    out = []
    for copy, link in zip(copies, carried):
        origin = first.get(copy.id)
        now = latest.get(copy.id, copy)
        # Internal anywhere it stands (marked so after a later carry too): nothing of it is public.
        if origin is None or copy.internal or now.internal or origin.internal or not origin.approved \
                or not origin.assembly.is_public:
            continue
        out.append(PublicCarried(origin.description, origin.assembly.title,
                                 origin.workshop.title if origin.workshop else None, copy.owner_organisation.name,
                                 copy.due_date, now.status_label, link.created_at))
    return out


def carried_to(action_ids: Iterable[int]) -> dict[int, Assembly]:
    """For originals: action id → the later assembly it was carried into."""
    ids = list(action_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(CarriedAction.origin_action_id, Assembly)
                              .join(Assembly, Assembly.id == CarriedAction.assembly_id)
                              .where(CarriedAction.origin_action_id.in_(ids))).all()
    return {origin_id: assembly for origin_id, assembly in rows}


# --- the tracker --------------------------------------------------------------------------------


def is_overdue(action: Action, today: date | None = None) -> bool:
    """Past its due date and still open or in progress, where its assembly is held."""
    # Its assembly is loaded with the lists' actions (or in the session already): no query per row.
    today = today or local_today(action.assembly.timezone if action.assembly else None)
    return action.status in OPEN_STATUSES and action.due_date is not None and action.due_date < today


def _latest_copy_of():
    """A subquery (start_id, copy_id): each action carried forward → its latest copy, following copies of copies."""
    carried = CarriedAction.__table__
    chain = select(carried.c.origin_action_id.label("start_id"), carried.c.action_id.label("copy_id")) \
        .cte("carry_chain", recursive=True)
    onward = carried.alias("onward")
    chain = chain.union_all(select(chain.c.start_id, onward.c.action_id)
                            .where(onward.c.origin_action_id == chain.c.copy_id))
    return (select(chain.c.start_id, chain.c.copy_id).where(chain.c.copy_id.not_in(_carried_away()))
            .subquery("latest_copy"))


def tracker_query(*, assembly_id: int | None = None, topic_id: int | None = None,
                  organisation_id: int | None = None, status: str | None = None, due_from: date | None = None,
                  due_to: date | None = None, overdue: bool = False, today: date | None = None):
    """Every action of every assembly, filtered; overdue ones only when asked (a carried one once, as its copy)."""
    stmt = notes.actions_query(assembly_id=assembly_id, topic_id=topic_id)
    # A carried action's row shows the owner, due date and status its latest copy has now: filtered and sorted
    # by those, in the same single statement.
    latest = _latest_copy_of()
    now = aliased(Action, name="now")
    stmt = (stmt.outerjoin(latest, latest.c.start_id == Action.id)
            .join(now, now.id == func.coalesce(latest.c.copy_id, Action.id))
            .order_by(None).order_by(now.due_date.is_(None), now.due_date, Action.id))
    if organisation_id:
        stmt = stmt.where(now.owner_organisation_id == organisation_id)
    if status in ACTION_STATUSES:
        stmt = stmt.where(now.status == status)
    if due_from:
        stmt = stmt.where(now.due_date >= due_from)
    if due_to:
        stmt = stmt.where(now.due_date <= due_to)
    if overdue:
        stmt = stmt.where(Action.status.in_(OPEN_STATUSES), _due_before_today(today),
                          Action.id.not_in(_carried_away()))
    return stmt


def _days_by_zone() -> dict[str, date]:
    """Today's date in each time zone an assembly is held in (is_overdue's day for its actions)."""
    zones = set(db.session.scalars(select(Assembly.timezone).distinct()))
    return {tz: local_today(tz) for tz in zones if tz}


def _due_before_today(today: date | None = None):
    """SQL: the action's due date is over where its assembly is held (before ``today`` everywhere, when given)."""
    if today is not None:
        return Action.due_date < today
    zones_by_day: dict[date, list[str]] = defaultdict(list)
    for tz, day in _days_by_zone().items():
        zones_by_day[day].append(tz)
    # A time zone has one date at a time: a condition per date (two at most, around midnight somewhere).
    return or_(false(), *(and_(Action.due_date < day,
                             Action.assembly_id.in_(select(Assembly.id).where(Assembly.timezone.in_(zones))))
                        for day, zones in zones_by_day.items()))


# --- status updates ----------------------------------------------------------------------------


def set_action_status(action_id: int, status: str, note: str, source: str, *, organisation_id: int | None = None,
                      user_id: int | None = None) -> Action:
    """Record a status update on an action (by a partner, facilitator or organiser) and keep a revision."""
    if status not in ACTION_STATUSES:
        raise DomainError("Choose a status.", "status")
    # Browsers send a line break as CR LF but count it as one character: count it as they do.
    note = (note or "").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    if len(note) > MAX_NOTE:
        raise DomainError(f"Use at most {MAX_NOTE:,} characters (you used {len(note):,}).", "note")
    # A carried action is tracked through its latest copy (partner page, public outcomes, reports): an update
    # posted on an earlier row goes there, not onto a frozen original nobody reads any more.
    latest = notes.latest_copies([action_id]).get(action_id)
    if latest is not None:
        action_id = latest.id
    action = db.session.scalar(select(Action).where(Action.id == action_id).with_for_update()
                               .execution_options(populate_existing=True))
    if action is None:
        raise DomainError("That action no longer exists.")
    if organisation_id is not None and action.owner_organisation_id != organisation_id:
        raise DomainError("That action belongs to another organisation.")
    last = db.session.scalar(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == action.id)
                             .order_by(ActionStatusUpdate.id.desc()).limit(1))
    if (last is not None and action.status == status
            and (last.status, last.note, last.source, last.organisation_id, last.user_id)
            == (status, note, source, organisation_id, user_id)
            and last.created_at >= utcnow() - DOUBLE_SUBMIT_WINDOW):
        # The same update sent again (a double tap on a slow connection): it is saved already.
        db.session.rollback()
        return action
    if action.status == status and not note.strip():
        db.session.rollback()
        raise DomainError("Choose a new status or write what has happened.", "status")
    db.session.add(ActionStatusUpdate(action_id=action.id, status=status, note=note, source=source,
                                      organisation_id=organisation_id, user_id=user_id))
    if action.status != status:
        action.status = status
        notes.record_action_revision(action, user_id)
    db.session.commit()
    return action


# How long a partner can take back their own Done or Dropped (after that, the organisers can).
REOPEN_DAYS = 14
REOPEN_GONE = "This action can no longer be reopened from this page: ask the organisers to reopen it."


def _latest_updates(action_ids: list[int]) -> dict[int, ActionStatusUpdate]:
    if not action_ids:
        return {}
    newest = (select(func.max(ActionStatusUpdate.id)).where(ActionStatusUpdate.action_id.in_(action_ids))
              .group_by(ActionStatusUpdate.action_id))
    return {u.action_id: u for u in db.session.scalars(select(ActionStatusUpdate).where(ActionStatusUpdate.id.in_(newest)))}


def _reopenable(action: Action, last: ActionStatusUpdate | None, organisation_id: int) -> bool:
    return (last is not None and action.status not in OPEN_STATUSES and last.status == action.status
            and last.source == "partner" and last.organisation_id == organisation_id
            and last.created_at >= utcnow() - timedelta(days=REOPEN_DAYS))


def partner_reopenable(actions: Iterable[Action], organisation_id: int) -> dict[int, ActionStatusUpdate]:
    """The closed actions this partner closed themselves in the last REOPEN_DAYS, with that closing update."""
    closed = [a for a in actions if a.status not in OPEN_STATUSES]
    latest = _latest_updates([a.id for a in closed])
    return {a.id: latest[a.id] for a in closed if _reopenable(a, latest.get(a.id), organisation_id)}


def reopen_by_partner(action_id: int, organisation_id: int) -> Action:
    """Take back a partner's own Done or Dropped (marked by mistake): the action returns to its status before."""
    action = db.session.scalar(select(Action).where(Action.id == action_id).with_for_update()
                               .execution_options(populate_existing=True))
    if action is None or action.owner_organisation_id != organisation_id:
        db.session.rollback()
        raise DomainError("That action belongs to another organisation.")
    last = _latest_updates([action.id]).get(action.id)
    if not _reopenable(action, last, organisation_id):
        db.session.rollback()
        raise DomainError(REOPEN_GONE)
    before = db.session.scalar(
        select(ActionStatusUpdate.status)
        .where(ActionStatusUpdate.action_id == action.id, ActionStatusUpdate.id < last.id,
               ActionStatusUpdate.status.in_(OPEN_STATUSES))
        .order_by(ActionStatusUpdate.id.desc()).limit(1)) or "open"
    db.session.add(ActionStatusUpdate(
        action_id=action.id, status=before, source="partner", organisation_id=organisation_id,
        note=f"Reopened: it had been marked {ACTION_STATUSES[last.status]} by mistake."))
    action.status = before
    notes.record_action_revision(action, None)
    db.session.commit()
    return action


def status_updates(action_ids: Iterable[int]) -> dict[int, list[ActionStatusUpdate]]:
    """Status updates per action, newest first, including those posted before it was carried forward."""
    ids = list(action_ids)
    out: dict[int, list[ActionStatusUpdate]] = defaultdict(list)
    owner = {i: i for i in ids}  # action id (the action itself or an origin of it) → the action asked about
    frontier = list(ids)
    while frontier:
        rows = db.session.execute(select(CarriedAction.action_id, CarriedAction.origin_action_id)
                                  .where(CarriedAction.action_id.in_(frontier))).all()
        frontier = []
        for copy_id, origin_id in rows:
            if origin_id not in owner:
                owner[origin_id] = owner[copy_id]
                frontier.append(origin_id)
    if owner:
        for u in db.session.scalars(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id.in_(list(owner)))
                                    .order_by(ActionStatusUpdate.created_at.desc(), ActionStatusUpdate.id.desc())):
            out[owner[u.action_id]].append(u)
    return out


def status_updates_for_partner(action_ids: Iterable[int], organisation_id: int) -> dict[int, list]:
    """status_updates() as an owner organisation's partner page shows them: the statuses another
    organisation posted (an owner before the action was given to this one) without their notes,
    which were written for the organisers, not for the next owner."""
    out = {}
    for action_id, log in status_updates(action_ids).items():
        out[action_id] = [u if u.source != "partner" or u.organisation_id == organisation_id else
                          SimpleNamespace(source_label="Previous owner organisation", created_at=u.created_at,
                                          status=u.status, status_label=u.status_label, note="")
                          for u in log]
    return out


# --- topic history for facilitators -------------------------------------------------------------


@dataclass
class TopicHistory:
    outcomes: list[tuple[Assembly, notes.PublicOutcome]]
    open_actions: list[Action]


def topic_history(workshop: Workshop) -> TopicHistory:
    """Earlier approved outcomes and the still-open published actions on this workshop's topic."""
    assembly = workshop.round.assembly
    topic_id = workshop.topic_id
    # Only assemblies that ran this topic can have outcomes on it.
    ran_topic = select(Round.assembly_id).join(Workshop, Workshop.round_id == Round.id).where(
        Workshop.topic_id == topic_id)
    earlier = list(db.session.scalars(select(Assembly).where(Assembly.id.in_(earlier_assembly_ids(assembly)),
                                                             Assembly.id.in_(ran_topic))
                                      .order_by(Assembly.date.desc(), Assembly.id.desc())))
    outcomes = []
    for a in earlier:
        topic_name = workshop.topic.name
        outcomes += [(a, o) for o in notes.public_outcomes(a) if o.topic == topic_name]
    ids = [a.id for a in earlier] + [assembly.id]
    tagged = select(action_topic.c.action_id).where(action_topic.c.topic_id == topic_id)
    on_topic_workshops = select(Workshop.id).where(Workshop.topic_id == topic_id)
    actions = list(db.session.scalars(
        select(Action).where(Action.assembly_id.in_(ids), Action.status.in_(OPEN_STATUSES),
                             Action.id.not_in(_carried_away()),
                             # Published ones only: another workshop's internal or unreviewed actions
                             # belong to its facilitators and the organisers.
                             Action.internal.is_(False), Action.approved.is_(True),
                             or_(Action.id.in_(tagged), Action.workshop_id.in_(on_topic_workshops)),
                             # This workshop's own actions are on its Actions page already.
                             or_(Action.workshop_id.is_(None), Action.workshop_id != workshop.id))
        .options(selectinload(Action.owner_organisation), selectinload(Action.assembly),
                 selectinload(Action.topics), selectinload(Action.workshop))
        .order_by(Action.due_date, Action.id)))
    return TopicHistory(outcomes, actions)


def history_action_ids(workshop: Workshop) -> set[int]:
    """The actions a facilitator of this workshop may update from the history page."""
    return {a.id for a in topic_history(workshop).open_actions}


# --- the assembly report ------------------------------------------------------------------------


@dataclass
class CountRow:
    label: str
    registered: int = 0
    attended: int = 0
    sector: str = ""


@dataclass
class WorkshopRow:
    workshop: Workshop
    counts: notes.Counts
    notes: SessionNotes | None
    sections: list[tuple[str, str, bool, bool]] = field(default_factory=list)  # label, body, internal, approved


@dataclass
class Report:
    assembly: Assembly
    by_sector: list[CountRow]
    by_organisation: list[CountRow]
    workshops: list[WorkshopRow]
    actions: list[Action]
    actions_by_status: list[tuple[str, int]]
    actions_by_topic: list[tuple[str, int]]
    walk_ins_unregistered: int = 0
    carried: dict[int, Action] = field(default_factory=dict)  # action id → its latest carried copy
    origins: dict[int, Action] = field(default_factory=dict)  # carried copy id → the action first agreed
    checked_in: int = 0  # confirmed delegates reception marked as arrived

    def now(self, action: Action) -> Action:
        """Where the action stands today: its latest carried copy, or itself."""
        return self.carried.get(action.id, action)

    def carried_text(self, action: Action) -> str:
        """Where a carried action came from, or went: '' for an action of this assembly alone."""
        if action.id in self.carried:
            return f"carried forward to {self.carried[action.id].assembly.title}"
        origin = self.origins.get(action.id)
        if origin is None:
            return ""
        return f"carried from {origin.assembly.title}" + (f", {origin.workshop.title}" if origin.workshop else "")

    @property
    def totals(self) -> CountRow:
        return CountRow("All", sum(r.registered for r in self.by_sector), sum(r.attended for r in self.by_sector))


def assembly_report(assembly: Assembly) -> Report:
    """Attendance by sector, organisation and workshop, approved notes and all actions of an assembly."""
    attended_ids = select(Attendance.registration_id).join(Workshop, Workshop.id == Attendance.workshop_id) \
        .join(Round, Round.id == Workshop.round_id) \
        .where(Round.assembly_id == assembly.id, Attendance.status.in_(("present", "walk_in")),
               Attendance.registration_id.is_not(None))
    rows = db.session.execute(
        select(Organisation.id, Organisation.name, Organisation.sector, func.count(Registration.id),
               func.count(Registration.id).filter(Registration.id.in_(attended_ids)))
        .join(Registration, Registration.organisation_id == Organisation.id)
        .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
        .group_by(Organisation.id, Organisation.name, Organisation.sector)
        .order_by(Organisation.name)).all()
    by_org = [CountRow(name, reg, att, SECTORS.get(sector, sector)) for _, name, sector, reg, att in rows]
    sector_totals: dict[str, CountRow] = {}
    for _, _, sector, reg, att in rows:
        row = sector_totals.setdefault(sector, CountRow(SECTORS.get(sector, sector)))
        row.registered += reg
        row.attended += att
    by_sector = [sector_totals[k] for k in SECTORS if k in sector_totals]

    overview = notes.assembly_overview(assembly)
    workshops = []
    for rec in overview:
        wr = WorkshopRow(rec.workshop, rec.counts, rec.notes)
        if rec.notes is not None and rec.notes.status == "approved":
            by_key = {s.key: s for s in rec.notes.sections}
            wr.sections = [(SECTIONS[k], by_key[k].body, by_key[k].internal, by_key[k].approved)
                           for k in SECTIONS if k in by_key and by_key[k].approved and by_key[k].body.strip()]
        workshops.append(wr)
    walk_ins = db.session.scalar(
        select(func.count(Attendance.id)).join(Workshop, Workshop.id == Attendance.workshop_id)
        .join(Round, Round.id == Workshop.round_id)
        .where(Round.assembly_id == assembly.id, Attendance.registration_id.is_(None),
               Attendance.status == "walk_in")) or 0

    actions = list(db.session.scalars(notes.actions_query(assembly_id=assembly.id)))
    # Carried actions are updated through their copies: count them at the status they have reached.
    carried = notes.latest_copies([a.id for a in actions])
    status_counts = Counter(carried.get(a.id, a).status for a in actions)
    topic_counts = Counter(t.name for a in actions for t in a.topics)
    from ..checkin.services import arrived_count

    return Report(assembly, by_sector, by_org, workshops, actions,
                  [(label, status_counts.get(k, 0)) for k, label in ACTION_STATUSES.items()],
                  sorted(topic_counts.items(), key=lambda kv: (-kv[1], kv[0])), walk_ins, carried,
                  first_origins([a.id for a in actions]), arrived_count(assembly))


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain data for JSON (no delegate names or emails: counts only)."""
    return {
        "assembly": {"title": report.assembly.title, "slug": report.assembly.slug,
                     "date": report.assembly.date.isoformat()},
        "attendance_by_sector": [{"sector": r.label, "registered": r.registered, "attended": r.attended}
                                 for r in report.by_sector],
        "attendance_by_organisation": [{"organisation": r.label, "sector": r.sector, "registered": r.registered,
                                        "attended": r.attended} for r in report.by_organisation],
        "unregistered_walk_ins": report.walk_ins_unregistered,
        "checked_in_at_reception": report.checked_in,
        "workshops": [{
            "title": w.workshop.title, "round": w.workshop.round.name, "topic": w.workshop.topic.name
            if w.workshop.topic else "", "allocated": w.counts.allocated, "present": w.counts.present,
            "absent": w.counts.absent, "walk_ins": w.counts.walk_ins,
            "notes_status": w.notes.status if w.notes else None,
            "approved_notes": [{"section": label, "text": body} for label, body, _, _ in w.sections],
        } for w in report.workshops],
        # Owner, lead, due date, status and internal as they stand now (a carried action's latest copy); the
        # wording as agreed.
        "actions": [{**action_data(a), **{k: action_data(report.now(a))[k] for k in
                                          ("owner_organisation", "lead_person", "due_date", "status", "internal")},
                     "carried_forward_to": report.now(a).assembly.title if a.id in report.carried else None,
                     "carried_from": {"assembly": report.origins[a.id].assembly.title,
                                      "workshop": report.origins[a.id].workshop.title
                                      if report.origins[a.id].workshop else None}
                     if a.id in report.origins else None}
                    for a in report.actions],
    }


def action_data(a: Action) -> dict[str, Any]:
    return {"id": a.id, "description": a.description, "owner_organisation": a.owner_organisation.name,
            "lead_person": a.lead_person, "due_date": a.due_date.isoformat() if a.due_date else None,
            "status": a.status, "topics": [t.name for t in a.topics],
            "workshop": a.workshop.title if a.workshop else None, "internal": a.internal, "approved": a.approved}


def report_csv_rows(report: Report) -> list[list[Any]]:
    """One flat table: a section column says which part of the report each row belongs to."""
    out: list[list[Any]] = [["section", "name", "detail", "registered_or_allocated", "attended_or_present",
                             "walk_ins", "owner_organisation", "lead_person", "due_date", "status", "topics",
                             "carried"]]
    for r in report.by_sector:
        out.append(["attendance_by_sector", r.label, "", r.registered, r.attended, "", "", "", "", "", "", ""])
    for r in report.by_organisation:
        out.append(["attendance_by_organisation", r.label, r.sector, r.registered, r.attended, "", "", "", "", "",
                    "", ""])
    out.append(["checked_in_at_reception", "All", "", report.totals.registered, report.checked_in, "", "", "", "", "",
                "", ""])
    for w in report.workshops:
        out.append(["workshop", w.workshop.title, w.workshop.round.name, w.counts.allocated, w.counts.present,
                    w.counts.walk_ins, "", "", "", w.notes.status if w.notes else "no notes", "", ""])
    for a in report.actions:
        now = report.now(a)
        out.append(["action", a.description, a.workshop.title if a.workshop else "", "", "", "",
                    now.owner_organisation.name, now.lead_person, now.due_date.isoformat() if now.due_date else "",
                    now.status, "; ".join(t.name for t in a.topics), report.carried_text(a)])
    return out


def csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in user text, as the registrations export does (numbers and dates pass)."""
    return csv_cell(value) if isinstance(value, str) else value


# --- public updates -----------------------------------------------------------------------------


def public_updates(assembly: Assembly, *, scheduled: bool = False) -> list[AssemblyUpdate]:
    """The assembly's updates, newest first: those dated up to today, or with ``scheduled`` later ones too."""
    stmt = select(AssemblyUpdate).where(AssemblyUpdate.assembly_id == assembly.id)
    if not scheduled:
        # An update dated in the future is written ahead and published on its day.
        stmt = stmt.where(AssemblyUpdate.published_on <= local_today(assembly.timezone))
    return list(db.session.scalars(stmt.order_by(AssemblyUpdate.published_on.desc(), AssemblyUpdate.id.desc())))


def series_assemblies(assembly: Assembly) -> list[Assembly]:
    """Other public assemblies of the same series, newest first (for links between updates pages)."""
    if assembly.series_id is None:
        return []
    return list(db.session.scalars(select(Assembly).where(
        Assembly.series_id == assembly.series_id, Assembly.id != assembly.id, Assembly.status != "draft")
        .order_by(Assembly.date.desc(), Assembly.id.desc())))


def save_update(assembly: Assembly, data: dict[str, Any], update: AssemblyUpdate | None = None) -> AssemblyUpdate:
    """Create or change an organiser-written public update."""
    title = " ".join((data.get("title") or "").replace("\x00", "").split())
    if not title:
        raise DomainError("Enter a title.", "title")
    if len(title) > 200:
        raise DomainError("Use at most 200 characters.", "title")
    published_on = data.get("published_on")
    if not isinstance(published_on, date):
        raise DomainError("Enter the date of the update.", "published_on")
    body = (data.get("body") or "").replace("\x00", "")
    if not body.strip():
        raise DomainError("Write the update.", "body")
    if len(body) > MAX_UPDATE_BODY:
        raise DomainError(f"Use at most {MAX_UPDATE_BODY:,} characters (you used {len(body):,}).", "body")
    if update is None:
        # Publish clicked twice (or a resubmitted form) would put the same post twice on the public page and
        # feed: the assembly's row lock makes a second identical post find the first and return it.
        db.session.scalar(select(Assembly.id).where(Assembly.id == assembly.id).with_for_update())
        same = db.session.scalar(select(AssemblyUpdate).where(
            AssemblyUpdate.assembly_id == assembly.id, AssemblyUpdate.title == title,
            AssemblyUpdate.published_on == published_on, AssemblyUpdate.body == body).limit(1))
        if same is not None:
            return same
        update = AssemblyUpdate(assembly_id=assembly.id)
        db.session.add(update)
    update.title, update.published_on, update.body = title, published_on, body
    update.updated_at = utcnow()
    db.session.commit()
    return update


def delete_update(update: AssemblyUpdate) -> None:
    """Remove a public update."""
    db.session.delete(update)
    db.session.commit()


# --- partners: contacts and signed links ----------------------------------------------------------


def contact_for(organisation_id: int) -> PartnerContact | None:
    return db.session.get(PartnerContact, organisation_id)


def save_contact(organisation: Organisation, name: str, email: str) -> PartnerContact:
    """Set who receives an organisation's reminders and partner link."""
    name = " ".join((name or "").split())
    email = (email or "").strip()
    if len(name) > 200:
        raise DomainError("Use at most 200 characters.", "contact_name")
    if email and (len(email) > 254 or not EMAIL_RE.match(email)):
        raise DomainError("Enter an email address like name@example.org.", "contact_email")
    contact = contact_for(organisation.id)
    if contact is None:
        contact = PartnerContact(organisation_id=organisation.id, link_version=1)
        db.session.add(contact)
    if contact.contact_email and contact.contact_email.lower() != (email or "").lower():
        # Another person (or nobody) receives the links now: those sent to the previous
        # address stop working, as when a delegate's address changes.
        contact.link_version += 1
    contact.contact_name, contact.contact_email = name, email or None
    contact.updated_at = utcnow()
    db.session.commit()
    return contact


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=PARTNER_SALT)


def link_days() -> int:
    return int(current_app.config.get("PARTNER_LINK_DAYS", DEFAULT_PARTNER_LINK_DAYS))


def _birth(organisation: Organisation) -> str:
    # When the organisation was created: on SQLite the id of an organisation merged away (the
    # newest row) is given to the next one created, and its links must not open that one.
    return organisation.created_at.strftime("%Y%m%d%H%M%S%f")


def make_partner_token(organisation_id: int) -> str:
    """A signed, expiring token naming the organisation (as created) and its current link version."""
    contact = contact_for(organisation_id)
    organisation = db.session.get(Organisation, organisation_id)
    return _serializer().dumps({"o": organisation_id, "v": contact.link_version if contact else 1,
                                "c": _birth(organisation)})


def load_partner_token(token: str) -> Organisation:
    """The organisation a partner link opens; LinkExpired or LinkInvalid otherwise."""
    try:
        data, signed_at = _serializer().loads(token, max_age=link_days() * 86400, return_timestamp=True)
    except SignatureExpired:
        raise LinkExpired("This link has expired.") from None
    except BadSignature:
        raise LinkInvalid("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("o"), int) or not isinstance(data.get("v"), int):
        raise LinkInvalid("This link is not valid.")
    organisation = db.session.get(Organisation, data["o"])
    if organisation is None or ("c" in data and data["c"] != _birth(organisation)) or (
            "c" not in data and signed_at.replace(tzinfo=None) < organisation.created_at.replace(microsecond=0)):
        # A genuine link of an organisation since merged into another (or removed), or one whose
        # number SQLite has since given to a newer organisation: it stopped working.
        raise LinkRevoked("This link no longer works.")
    contact = contact_for(data["o"])
    if (contact.link_version if contact else 1) != data["v"]:
        raise LinkRevoked("This link no longer works.")
    return organisation


def partner_url(organisation_id: int) -> str | None:
    return absolute_url("outcomes.partner", token=make_partner_token(organisation_id))


def send_partner_link(organisation: Organisation) -> PartnerContact:
    """Email the organisation's contact their partner link (through the outbox)."""
    contact = contact_for(organisation.id)
    if contact is None or not contact.contact_email:
        raise DomainError(f"Add a contact email for {organisation.name} first.", "contact_email")
    _queue_partner_link(organisation, contact)
    db.session.commit()
    return contact


def _queue_partner_link(organisation: Organisation, contact: PartnerContact, dedupe_key: str | None = None) -> None:
    queue_email("partner_link", contact.contact_email, contact.contact_name,
                context={"organisation": organisation, "url": partner_url(organisation.id),
                         "valid_days": link_days(), "open_count": len(partner_actions(organisation.id))},
                dedupe_key=dedupe_key)
    contact.link_sent_at = utcnow()


@dataclass
class BulkLinks:
    """What emailing a selection of partners their links did (or, previewed, would do)."""

    to_send: list[tuple[Organisation, PartnerContact]]
    no_contact: list[Organisation]


def bulk_partner_links(rows: list[tuple[Organisation, PartnerContact | None, int]]) -> BulkLinks:
    """Of partner_organisations() rows, those a link can go to (a contact email) and those left out."""
    return BulkLinks(to_send=[(org, contact) for org, contact, _ in rows if contact and contact.contact_email],
                     no_contact=[org for org, contact, _ in rows if not (contact and contact.contact_email)])


class LinksSentAlready(DomainError):
    """The confirmation page was sent a second time (a double click, Back and press again)."""

    def __init__(self) -> None:
        super().__init__("These partner links were sent already: nobody was emailed twice.")


def send_partner_links(rows: list[tuple[Organisation, PartnerContact | None, int]], send_key: str) -> BulkLinks:
    """Email every organisation of the selection that has a contact its partner link, in one transaction.

    ``send_key``: the confirmation page's own key; the same page sent again emails nobody twice."""
    plan = bulk_partner_links(rows)
    prefix = f"partner-links:{send_key}:"
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key.startswith(prefix, autoescape=True))
                         .limit(1)) is not None:
        raise LinksSentAlready()
    for org, contact in plan.to_send:
        _queue_partner_link(org, contact, dedupe_key=f"{prefix}{org.id}")
    try:
        db.session.commit()
    except IntegrityError:
        # The other press of the same page committed first.
        db.session.rollback()
        raise LinksSentAlready() from None
    return plan


def revoke_partner_links(organisation: Organisation) -> PartnerContact:
    """Stop every partner link sent so far for this organisation from working."""
    contact = db.session.scalar(select(PartnerContact).where(PartnerContact.organisation_id == organisation.id)
                                .with_for_update())
    if contact is None:
        contact = PartnerContact(organisation_id=organisation.id, link_version=1)
        db.session.add(contact)
    contact.link_version += 1
    contact.updated_at = utcnow()
    db.session.commit()
    return contact


def partner_actions(organisation_id: int) -> list[Action]:
    """The actions an organisation owns that partners may see: not internal, latest copy only."""
    return list(db.session.scalars(
        select(Action).join(Assembly, Assembly.id == Action.assembly_id)
        .where(Action.owner_organisation_id == organisation_id, Action.internal.is_(False),
               Action.id.not_in(_carried_away()))
        .options(selectinload(Action.assembly), selectinload(Action.topics), selectinload(Action.workshop))
        .order_by(Action.status.in_(OPEN_STATUSES).desc(), Action.due_date, Action.id)))


def action_numbers(actions: Iterable[Action], agreed: dict[int, Action]) -> dict[int, int]:
    """Action id → the number a partner and the organisers call it by on the phone ("action 12")."""
    # The first-agreed action's id: closing, reordering or carrying forward never changes it,
    # whereas a position in the list moves every time one closes.
    return {a.id: agreed.get(a.id, a).id for a in actions}


PARTNER_FILTERS = {"open": "With open actions", "no_contact": "No contact email", "never_sent": "Link never sent"}


def partner_organisations(q: str = "", show: str = "") -> list[tuple[Organisation, PartnerContact | None, int]]:
    """Organisations that own at least one action, with their contact and open-action count.

    q: part of the organisation's name or its contact's address; show: one of PARTNER_FILTERS.
    """
    rows = _partner_organisations()
    q = q.strip().casefold()
    if q:
        rows = [r for r in rows if q in r[0].name.casefold()
                or (r[1] is not None and q in (r[1].contact_email or "").casefold())]
    if show == "open":
        rows = [r for r in rows if r[2]]
    elif show == "no_contact":
        rows = [r for r in rows if not (r[1] and r[1].contact_email)]
    elif show == "never_sent":
        rows = [r for r in rows if not (r[1] and r[1].link_sent_at)]
    return rows


def _partner_organisations() -> list[tuple[Organisation, PartnerContact | None, int]]:
    rows = db.session.execute(
        # A carried action counts once, as its copy.
        select(Organisation, func.count(Action.id).filter(Action.status.in_(OPEN_STATUSES),
                                                          Action.id.not_in(_carried_away())))
        .join(Action, Action.owner_organisation_id == Organisation.id)
        .group_by(Organisation.id).order_by(Organisation.name)).all()
    contacts = {c.organisation_id: c for c in db.session.scalars(
        select(PartnerContact).where(PartnerContact.organisation_id.in_([o.id for o, _ in rows])))}
    return [(org, contacts.get(org.id), n) for org, n in rows]


# --- reminders ----------------------------------------------------------------------------------


@dataclass
class ReminderReport:
    queued: int = 0  # emails, one per organisation
    actions: int = 0  # the actions they list
    already: int = 0  # organisations reminded earlier the same day
    no_contact: list[str] = field(default_factory=list)


@dataclass
class _Due:
    """One action in an organisation's reminder."""

    action: Any
    agreed: Any
    carried: bool
    overdue: bool
    days_left: int
    number: int  # "Action 12", as the partner page and the organisers' page about the partner call it


def queue_action_reminders(days: int, today: date | None = None) -> ReminderReport:
    """Email each owner organisation one list of its open actions due within ``days`` or overdue: once a day."""
    # "Due" and "overdue" go by the day where each action's assembly is held (as is_overdue and the tracker);
    # ``today``, when given, is the day everywhere. The once-a-day key goes by the sending day (London's).
    days_by_zone = {} if today is not None else _days_by_zone()
    today = today or local_today()

    def day_of(action: Action) -> date:
        return days_by_zone.get(action.assembly.timezone, today)

    report = ReminderReport()
    ahead = timedelta(days=max(days, 0))
    latest_day = max([today, *days_by_zone.values()])
    actions = [a for a in db.session.scalars(
        select(Action).where(Action.status.in_(OPEN_STATUSES), Action.due_date.is_not(None),
                             Action.due_date <= latest_day + ahead,
                             Action.id.not_in(_carried_away()))
        .options(selectinload(Action.owner_organisation), selectinload(Action.assembly))
        .order_by(Action.due_date, Action.id)) if a.due_date <= day_of(a) + ahead]
    contacts = {c.organisation_id: c for c in db.session.scalars(select(PartnerContact))}
    agreed = first_origins([a.id for a in actions])  # a carried action was agreed before its assembly met
    by_owner: dict[int, list] = defaultdict(list)
    for action in actions:
        by_owner[action.owner_organisation_id].append(action)
    # One email a day per organisation, listing all its actions: five overdue actions are one
    # email, not five.
    keys = {org_id: f"action-reminders:{org_id}:{today.isoformat()}" for org_id in by_owner}
    sent = set(db.session.scalars(select(_outbox_key()).where(_outbox_key().in_(list(keys.values())))))
    for org_id, owned in by_owner.items():
        organisation = owned[0].owner_organisation
        contact = contacts.get(org_id)
        if contact is None or not contact.contact_email:
            report.no_contact.append(organisation.name)
            continue
        if keys[org_id] in sent:
            report.already += 1
            continue
        numbers = action_numbers(owned, agreed)
        due = [_Due(a, agreed.get(a.id, a), a.id in agreed, a.due_date < day_of(a), (a.due_date - day_of(a)).days,
                    numbers[a.id]) for a in owned]
        queue_email("action_reminder", contact.contact_email, contact.contact_name,
                    context={"organisation": organisation, "due": due,
                             "overdue_count": sum(d.overdue for d in due),
                             # The partner page lists published actions only: internal ones are answered by reply.
                             "url": partner_url(org_id) if any(not a.internal for a in owned) else None},
                    assembly_id=owned[0].assembly_id, dedupe_key=keys[org_id])
        report.queued += 1
        report.actions += len(owned)
    db.session.commit()
    return report


def _outbox_key():
    return OutboxMessage.dedupe_key

