"""Workshop records: attendance, session notes with revisions and conflicts, actions, publication."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..assemblies.models import ROUND_ORDER, Assembly, Round, Topic, Workshop, workshop_facilitator
from ..domain import DomainError
from ..extensions import db
from ..organisations.models import Organisation
from ..placements.models import Placement
from ..registration.models import Registration
from ..text import isolate
from ..timeutil import utc_to_local, utcnow
from .models import (
    ACTION_STATUSES,
    SECTIONS,
    Action,
    ActionRevision,
    Attendance,
    NoteSection,
    NotesRevision,
    PendingSave,
    SessionNotes,
    action_topic,
)

MAX_SECTION_CHARS = 100_000
MAX_ACTION_CHARS = 20_000
PENDING_DAYS = 14
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)


class Conflict(DomainError):
    """Someone saved since this text was loaded; ``current`` is what is stored now."""

    def __init__(self, message: str, current: dict[str, dict[str, Any]], version: int, by: str = "",
                 base: dict[str, dict[str, Any]] | None = None):
        super().__init__(message)
        self.current = current
        self.version = version
        self.by = by
        # What both sides started from, when known: lets untouched parts take the other side's text.
        self.base = base


# --- access -----------------------------------------------------------------------------


def can_access(user, workshop: Workshop) -> bool:
    """Organisers see every workshop; a facilitator only the ones they run."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_organiser:
        return True
    return user.is_facilitator and any(f.id == user.id for f in workshop.facilitators)


def facilitator_workshops(user_id: int) -> list[Workshop]:
    """The workshops a person facilitates, newest assembly first."""
    return list(db.session.scalars(
        select(Workshop)
        .join(workshop_facilitator, workshop_facilitator.c.workshop_id == Workshop.id)
        .join(Round, Round.id == Workshop.round_id)
        .join(Assembly, Assembly.id == Round.assembly_id)
        .where(workshop_facilitator.c.user_id == user_id)
        .options(selectinload(Workshop.round).selectinload(Round.assembly), selectinload(Workshop.topic))
        .order_by(Assembly.date.desc(), Assembly.id.desc(), *ROUND_ORDER, Workshop.title, Workshop.id)
    ))


def allocated(workshop_ids: Iterable[int]) -> dict[int, list[Registration]]:
    """Confirmed delegates placed in each workshop (published allocation), by name."""
    ids = list(workshop_ids)
    out: dict[int, list[Registration]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = db.session.execute(
        select(Placement.workshop_id, Registration)
        .join(Registration, Registration.id == Placement.registration_id)
        .where(Placement.workshop_id.in_(ids), Registration.status == "confirmed")
        .options(selectinload(Registration.organisation))
        .order_by(func.lower(Registration.full_name), Registration.id)
    ).all()
    for wid, reg in rows:
        out[wid].append(reg)
    return out


# --- attendance -------------------------------------------------------------------------


@dataclass
class RegisterRow:
    """One line of the attendance register."""

    key: str
    name: str
    organisation: str
    sector: str
    access_needs: str
    status: str | None
    walk_in: bool
    attendance_id: int | None = None


@dataclass
class Counts:
    allocated: int = 0
    present: int = 0
    absent: int = 0
    walk_ins: int = 0

    @property
    def unrecorded(self) -> int:
        return self.allocated - self.present - self.absent

    @property
    def in_room(self) -> int:
        return self.present + self.walk_ins


def register_rows(workshop: Workshop) -> list[RegisterRow]:
    """Allocated delegates (with their mark, if any) followed by walk-ins."""
    # A list, not a dict by registration: walk-ins added by name all have no registration.
    all_marks = list(db.session.scalars(
        select(Attendance).where(Attendance.workshop_id == workshop.id)
        .options(selectinload(Attendance.registration).selectinload(Registration.organisation))
        .order_by(Attendance.id)))
    marks = {a.registration_id: a for a in all_marks if a.registration_id is not None}
    rows = []
    people = allocated([workshop.id])[workshop.id]
    placed = {r.id for r in people}
    for reg in people:
        mark = marks.get(reg.id)
        rows.append(RegisterRow(f"r{reg.id}", reg.full_name, reg.organisation.name, reg.organisation.sector_label,
                                reg.access_needs, mark.status if mark else None, False, mark.id if mark else None))
    for a in all_marks:
        if a.registration_id in placed:
            continue
        reg = a.registration
        rows.append(RegisterRow(f"a{a.id}", a.name, a.organisation_name,
                                reg.organisation.sector_label if reg else "", reg.access_needs if reg else "",
                                a.status, True, a.id))
    return rows


@dataclass
class AttendanceSaved:
    """What a save of the register did: how many marks changed, and whose marks it left as another device set them."""

    changed: int = 0
    kept_theirs: list[str] = field(default_factory=list)


def record_attendance(workshop: Workshop, marks: dict[str, str], user_id: int | None,
                      was: dict[str, str] | None = None) -> AttendanceSaved:
    """Store present/absent marks, or clear them ("unmarked"; keys as in register_rows).

    ``was``: each mark as the page showed it. A mark changed on another device since then is not
    overwritten (two tablets disagreeing about one person): its name is reported instead.
    """
    try:
        return _record_attendance(workshop, marks, user_id, was or {})
    except IntegrityError:
        # Two tablets marked the same person at once: the other mark exists now, so
        # a second pass updates it instead of inserting (or reports it, when they differ).
        db.session.rollback()
        return _record_attendance(workshop, marks, user_id, was or {})


def _record_attendance(workshop: Workshop, marks: dict[str, str], user_id: int | None,
                       was: dict[str, str]) -> AttendanceSaved:
    placed = {r.id for r in allocated([workshop.id])[workshop.id]}
    all_marks = list(db.session.scalars(select(Attendance).where(Attendance.workshop_id == workshop.id)
                                        .options(selectinload(Attendance.registration))))
    existing = {a.registration_id: a for a in all_marks if a.registration_id is not None}
    by_id = {a.id: a for a in all_marks}
    result = AttendanceSaved()

    def changed_elsewhere(key: str, now: str, wanted: str) -> bool:
        shown = was.get(key)
        return shown is not None and now != wanted and now != _same_mark(shown, key)

    for key, status in marks.items():
        if not status:
            continue
        try:
            ident = int(key[1:])
        except ValueError:
            continue
        if key.startswith("r") and ident in placed:
            if status not in ("present", "absent", "unmarked"):
                raise DomainError("Choose present or absent.", key)
            mark = existing.get(ident)
            if changed_elsewhere(key, mark.status if mark else "unmarked", status):
                reg = mark.registration if mark else db.session.get(Registration, ident)
                result.kept_theirs.append(reg.full_name)
                continue
            if status == "unmarked":
                # A tap on the wrong name is undone, not left as "absent".
                if mark is not None:
                    db.session.delete(mark)
                    result.changed += 1
            elif mark is None:
                db.session.add(Attendance(workshop_id=workshop.id, registration_id=ident, status=status,
                                          recorded_by_id=user_id))
                result.changed += 1
            elif mark.status != status:
                mark.status, mark.recorded_by_id = status, user_id
                result.changed += 1
        elif key.startswith("a") and ident in by_id and by_id[ident].registration_id not in placed:
            # A walk-in marked absent was added by mistake or left: keep the row, not the count.
            if status not in ("present", "walk_in", "absent"):
                raise DomainError("Choose present or not here.", key)
            new = _same_mark(status, key)
            if changed_elsewhere(key, _same_mark(by_id[ident].status, key), new):
                result.kept_theirs.append(by_id[ident].name)
                continue
            if by_id[ident].status != new:
                by_id[ident].status, by_id[ident].recorded_by_id = new, user_id
                result.changed += 1
    db.session.commit()
    return result


def _same_mark(status: str, key: str) -> str:
    """A mark as stored: a walk-in who is here is a walk-in, whichever word the page used."""
    if key.startswith("a"):
        return "walk_in" if status in ("present", "walk_in") else status
    return status


def walk_in_candidates(workshop: Workshop, q: str = "", limit: int = 100) -> list[Registration]:
    """Confirmed delegates of the assembly not on this register yet, matching q (name or organisation)."""
    on_register = select(Attendance.registration_id).where(
        Attendance.workshop_id == workshop.id, Attendance.registration_id.is_not(None))
    placed_here = select(Placement.registration_id).where(Placement.workshop_id == workshop.id)
    return list(db.session.scalars(
        select(Registration)
        .where(Registration.assembly_id == workshop.round.assembly_id, Registration.status == "confirmed",
               Registration.id.not_in(on_register), Registration.id.not_in(placed_here),
               *([or_(Registration.full_name.icontains(q.strip(), autoescape=True),
                      Registration.organisation.has(Organisation.name.icontains(q.strip(), autoescape=True)))]
                 if q.strip() else []))
        .options(selectinload(Registration.organisation))
        .order_by(func.lower(Registration.full_name), Registration.id)
        .limit(limit)
    ))


def add_walk_in(workshop: Workshop, user_id: int | None, registration_id: int | None = None,
                name: str = "", organisation: str = "") -> Attendance:
    """Add someone who was not allocated: a registered delegate, or a new person by name."""
    name, organisation = (name or "").strip(), (organisation or "").strip()
    if registration_id:
        reg = db.session.get(Registration, registration_id)
        if reg is None or reg.assembly_id != workshop.round.assembly_id or reg.status != "confirmed":
            raise DomainError("Choose a delegate registered for this assembly.", "registration_id")
        mark = db.session.scalar(select(Attendance).where(Attendance.workshop_id == workshop.id,
                                                          Attendance.registration_id == reg.id))
        if mark is not None:
            mark.status = "present" if _is_placed(reg.id, workshop.id) else "walk_in"
            db.session.commit()
            return mark
        status = "present" if _is_placed(reg.id, workshop.id) else "walk_in"
        attendance = Attendance(workshop_id=workshop.id, registration_id=reg.id, status=status,
                                recorded_by_id=user_id)
    else:
        if not name:
            raise DomainError("Choose a registered delegate or enter the person's name.", "name")
        if len(name) > 200:
            raise DomainError("Use at most 200 characters.", "name")
        if len(organisation) > 200:
            raise DomainError("Use at most 200 characters.", "organisation")
        # The same name and organisation again is the same person when it is a second press of "Add"
        # whose first answer was lost on the hall's Wi-Fi (within minutes), or someone marked "not here"
        # by mistake being added back. Later, it may be a namesake from the same organisation.
        recent = utcnow() - DOUBLE_SUBMIT_WINDOW
        same = next((a for a in db.session.scalars(
            select(Attendance).where(Attendance.workshop_id == workshop.id, Attendance.registration_id.is_(None))
            .order_by(Attendance.id))
            if (_person_key(a.walk_in_name), _person_key(a.walk_in_organisation))
            == (_person_key(name), _person_key(organisation))
            and (a.status != "walk_in" or a.updated_at >= recent)), None)
        if same is not None:
            if same.status != "walk_in":
                same.status, same.recorded_by_id = "walk_in", user_id
            db.session.commit()
            return same
        attendance = Attendance(workshop_id=workshop.id, walk_in_name=name, walk_in_organisation=organisation,
                                status="walk_in", recorded_by_id=user_id)
    db.session.add(attendance)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("That person is already on the register.", "registration_id")
    return attendance


def _person_key(text: str) -> str:
    return " ".join((text or "").split()).casefold()


def _is_placed(registration_id: int, workshop_id: int) -> bool:
    return db.session.scalar(select(func.count(Placement.id)).where(
        Placement.registration_id == registration_id, Placement.workshop_id == workshop_id)) > 0


def attendance_counts(workshop_ids: Iterable[int]) -> dict[int, Counts]:
    """Allocated, present, absent and walk-in numbers per workshop."""
    ids = list(workshop_ids)
    out = {i: Counts() for i in ids}
    if not ids:
        return out
    for wid, n in db.session.execute(
        select(Placement.workshop_id, func.count(Placement.id))
        .join(Registration, Registration.id == Placement.registration_id)
        .where(Placement.workshop_id.in_(ids), Registration.status == "confirmed")
        .group_by(Placement.workshop_id)
    ):
        out[wid].allocated = n
    placed = (select(Placement.id).where(Placement.workshop_id == Attendance.workshop_id,
                                         Placement.registration_id == Attendance.registration_id).exists())
    for wid, status, is_placed, n in db.session.execute(
        select(Attendance.workshop_id, Attendance.status, placed, func.count(Attendance.id))
        .where(Attendance.workshop_id.in_(ids))
        .group_by(Attendance.workshop_id, Attendance.status, placed)
    ):
        c = out[wid]
        if status == "walk_in" or (status == "present" and not is_placed):
            c.walk_ins += n
        elif status == "present":
            c.present += n
        elif status == "absent" and is_placed:
            c.absent += n
    return out


# --- session notes ----------------------------------------------------------------------


def notes_for(workshop_id: int) -> SessionNotes | None:
    """The workshop's notes with their sections, or None before the first save."""
    return db.session.scalar(select(SessionNotes).where(SessionNotes.workshop_id == workshop_id)
                             .options(selectinload(SessionNotes.sections)))


def _clean_body(value: Any) -> str:
    # Stored exactly as typed (line breaks, emoji, RTL marks); only NUL goes, as
    # PostgreSQL cannot store it in text.
    return (value if isinstance(value, str) else "").replace("\x00", "")


def clean_sections(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The six sections from submitted data: {key: {"body": str, "internal": bool}}."""
    out = {}
    for key in SECTIONS:
        body = _clean_body(data.get(key))
        if len(body) > MAX_SECTION_CHARS:
            raise DomainError(f"Use at most {MAX_SECTION_CHARS:,} characters (you used {len(body):,}).", key)
        out[key] = {"body": body, "internal": bool(data.get(f"{key}_internal"))}
    return out


def empty_snapshot() -> dict[str, dict[str, Any]]:
    return {k: {"body": "", "internal": False} for k in SECTIONS}


def _lock_notes(workshop_id: int) -> SessionNotes | None:
    return db.session.scalar(select(SessionNotes).where(SessionNotes.workshop_id == workshop_id)
                             .options(selectinload(SessionNotes.sections)).with_for_update()
                             .execution_options(populate_existing=True))


def save_notes(workshop: Workshop, data: dict[str, Any], base_version: int, user_id: int | None, *,
               submit: bool = False, kind: str = "save", save_key: str | None = None,
               unanswered: Sequence[str] = ()) -> tuple[SessionNotes, bool]:
    """Save the sections if nobody saved since base_version; keep a revision. Returns (notes, changed).

    ``save_key``: a key the page gave this save; ``unanswered``: the keys of its earlier saves that got no
    reply. When the current version was made by one of those, the page already holds it (its reply was
    lost on the way back), so it is the base, not someone else's change.
    """
    sections = clean_sections(data)
    if submit and not sections["summary"]["body"].strip():
        raise DomainError("Write a summary before submitting the notes.", "summary")
    notes = _lock_notes(workshop.id)
    current_version = notes.version if notes else 0
    if base_version != current_version and notes is not None and notes.last_save_key \
            and notes.last_save_key in unanswered:
        base_version = current_version
    if base_version != current_version:
        # Starts the sentence shown to the facilitator.
        by = notes.updated_by.display_name if notes and notes.updated_by else "Someone else"
        current = {**empty_snapshot(), **(notes.snapshot() if notes else {})}
        base = _snapshot_at(notes.id, base_version) if notes else None
        db.session.rollback()
        raise Conflict(f"{by} saved these notes while you were editing. Nothing was overwritten: "
                       "compare the two versions below, merge them, and save again.",
                       current, current_version, by, base)
    if notes is None:
        notes = SessionNotes(workshop_id=workshop.id, version=0, status="draft")
        db.session.add(notes)
    before = {**empty_snapshot(), **notes.snapshot()}
    changed = [k for k in SECTIONS if before[k] != sections[k]]
    will_submit = submit and notes.status == "draft"
    if not changed and not will_submit:
        db.session.rollback()
        return notes, False
    for key in changed:
        section = notes.section(key)
        if section is None:
            section = NoteSection(key=key)
            notes.sections.append(section)
        section.body = sections[key]["body"]
        section.internal = sections[key]["internal"]
        # Approval was for the text the organiser read; changed text needs reading again.
        section.approved = False
    if changed and notes.status == "approved":
        notes.status = "submitted"
    if will_submit:
        notes.status = "submitted"
        notes.submitted_at = utcnow()
    notes.version += 1
    notes.updated_at = utcnow()
    notes.updated_by_id = user_id
    notes.last_save_key = save_key
    db.session.add(NotesRevision(
        notes=notes, version=notes.version, kind="submit" if will_submit else kind, user_id=user_id,
        snapshot_json=json.dumps({k: sections[k] for k in SECTIONS}, ensure_ascii=False),
        changed_keys=",".join(changed)))
    try:
        db.session.commit()
    except IntegrityError:
        # Another first save for this workshop won the race: treat it as a conflict.
        db.session.rollback()
        other = notes_for(workshop.id)
        raise Conflict("Someone else saved these notes at the same moment. Nothing was overwritten: "
                       "merge the two versions below and save again.",
                       {**empty_snapshot(), **(other.snapshot() if other else {})}, other.version if other else 0,
                       base=empty_snapshot())
    return notes, True


def _snapshot_at(notes_id: int, version: int) -> dict[str, dict[str, Any]] | None:
    if version == 0:
        return empty_snapshot()
    rev = db.session.scalar(select(NotesRevision).where(NotesRevision.notes_id == notes_id,
                                                        NotesRevision.version == version))
    return {**empty_snapshot(), **rev.snapshot} if rev else None


def merge_sections(mine: dict[str, dict[str, Any]], conflict: Conflict) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Three-way merge after a conflict: parts only they changed take their text; return (merged, clashing keys)."""
    theirs = conflict.current
    if conflict.base is None:
        return mine, [k for k in SECTIONS if mine[k]["body"] != theirs[k]["body"]]
    merged, clashes = {}, []
    for key in SECTIONS:
        if mine[key] == conflict.base[key]:
            merged[key] = theirs[key]
        else:
            merged[key] = mine[key]
            if theirs[key] != conflict.base[key] and theirs[key] != mine[key]:
                clashes.append(key)
    return merged, clashes


@dataclass
class RevisionView:
    revision: NotesRevision
    diffs: list[tuple[str, str, list[tuple[str, str]], tuple[bool, bool] | None]] = field(default_factory=list)


def revisions(notes: SessionNotes, page: int = 1, per_page: int = 20):
    """A page of revisions, newest first, each with a line diff per changed section."""
    from .rendering import diff_lines

    pager = db.paginate(select(NotesRevision).where(NotesRevision.notes_id == notes.id)
                        .options(selectinload(NotesRevision.user))
                        .order_by(NotesRevision.version.desc()), page=page, per_page=per_page, error_out=False)
    versions = [r.version - 1 for r in pager.items]
    previous = {r.version: r for r in db.session.scalars(
        select(NotesRevision).where(NotesRevision.notes_id == notes.id, NotesRevision.version.in_(versions)))}
    views = []
    for rev in pager.items:
        prev = previous.get(rev.version - 1)
        old = {**empty_snapshot(), **(prev.snapshot if prev else {})}
        new = {**empty_snapshot(), **rev.snapshot}
        view = RevisionView(rev)
        for key in rev.changed:
            flag = (old[key]["internal"], new[key]["internal"]) if old[key]["internal"] != new[key]["internal"] else None
            view.diffs.append((key, SECTIONS[key], diff_lines(old[key]["body"], new[key]["body"]), flag))
        views.append(view)
    return pager, views


def review_fingerprint(notes: SessionNotes | None, actions: Iterable[Action]) -> str:
    """The versions of the notes and actions an organiser is reading, to detect edits made meanwhile."""
    return f"{notes.version if notes else 0};" + ",".join(f"{a.id}:{a.version}"
                                                          for a in sorted(actions, key=lambda a: a.id))


def review_offers(notes: SessionNotes | None, actions: Iterable[Action]) -> tuple[set[str], set[int]]:
    """The sections and actions the review form offers ticked: all at the first review; after that what is
    approved and what changed since the last approval, never what the organiser chose to leave out."""
    actions = list(actions)
    if notes is None or notes.approved_at is None:
        return ({s.key for s in notes.sections} if notes else set()), {a.id for a in actions}
    changed = set()
    for keys in db.session.scalars(select(NotesRevision.changed_keys).where(
            NotesRevision.notes_id == notes.id, NotesRevision.created_at >= notes.approved_at)):
        changed |= {k for k in keys.split(",") if k}
    revised = set(db.session.scalars(select(ActionRevision.action_id).where(
        ActionRevision.action_id.in_([a.id for a in actions]), ActionRevision.created_at >= notes.approved_at)))
    return ({s.key for s in notes.sections if s.approved or s.key in changed},
            {a.id for a in actions if a.approved or a.id in revised})


def _locked_actions(workshop_id: int) -> list[Action]:
    # Locked and read again: an action saved since the page was read must not be approved unread.
    return list(db.session.scalars(select(Action).where(Action.workshop_id == workshop_id)
                                   .with_for_update().execution_options(populate_existing=True)))


def _mark_approved(notes: SessionNotes, actions: list[Action], ids: set[int], user_id: int | None) -> None:
    for action in actions:
        action.approved = action.id in ids and not action.internal
    notes.status = "approved"
    notes.approved_at = utcnow()
    notes.approved_by_id = user_id


def approve_notes(notes: SessionNotes, section_keys: Iterable[str], action_ids: Iterable[int],
                  user_id: int | None, seen: str | None = None) -> None:
    """Approve the chosen sections and actions for publication (never internal ones), as read at ``seen``."""
    # Read again under the row lock save_notes takes: on PostgreSQL an autosave committed since this
    # request loaded the notes would otherwise pass the check below with its unread text.
    notes = _lock_notes(notes.workshop_id) or notes
    if notes.status == "draft":
        raise DomainError("These notes are still a draft: the facilitator has not submitted them.")
    actions = _locked_actions(notes.workshop_id)
    if seen is not None and seen != review_fingerprint(notes, actions):
        # Approving would publish text nobody has read (the facilitator may still be typing).
        db.session.rollback()
        raise DomainError("The notes or actions were changed while you were reading them. Nothing was approved: "
                          "read the current version below and approve again.")
    keys, ids = set(section_keys), {int(i) for i in action_ids}
    for section in notes.sections:
        section.approved = section.key in keys and not section.internal and bool(section.body.strip())
    _mark_approved(notes, actions, ids, user_id)
    db.session.commit()


def approve_actions_without_notes(workshop: Workshop, action_ids: Iterable[int], user_id: int | None,
                                  seen: str | None = None) -> None:
    """Approve the chosen actions of a workshop whose facilitator wrote no notes (never internal ones)."""
    # Agreed in the room all the same: with no notes to submit they could otherwise never be published.
    notes = _lock_notes(workshop.id)
    if notes is not None and notes.has_text:
        db.session.rollback()
        raise DomainError("The facilitator has written notes meanwhile. Nothing was approved: read them below.")
    actions = _locked_actions(workshop.id)
    if seen is not None and seen != review_fingerprint(notes, actions):
        db.session.rollback()
        raise DomainError("The actions were changed while you were reading them. Nothing was approved: "
                          "read them again below and approve again.")
    if notes is None:
        # An empty record to carry the approval: the facilitator's first save then starts from version 0 as
        # before, and sends the notes back for review like any later change.
        notes = SessionNotes(workshop_id=workshop.id, version=0, status="draft")
        db.session.add(notes)
    _mark_approved(notes, actions, {int(i) for i in action_ids}, user_id)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("The facilitator saved notes at the same moment. Nothing was approved: "
                          "read them below.") from None


# --- who a staff form was shown to (a tablet shared by facilitators) --------------------------------


TYPED_BY_SALT = "typed-by"


class TypedByOther(DomainError):
    """A form shown to one person was sent while another is signed in: saved, it would be under the wrong name."""

    def __init__(self, message: str, shown_to: str | None, signed_in: str):
        super().__init__(message)
        self.shown_to = shown_to
        self.signed_in = signed_in


def _typed_by_serializer():
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TYPED_BY_SALT)


def typed_by_ticket(user_id: int) -> str:
    """Signed into a staff form as it is shown: names the person it was shown to (the notes use keep_ticket)."""
    return _typed_by_serializer().dumps({"u": user_id})


def ticket_typist(ticket: str | None) -> int | None:
    """The person a typed-by ticket was given to (within PENDING_DAYS), or None when missing or not ours."""
    from itsdangerous import BadSignature

    try:
        data = _typed_by_serializer().loads(ticket or "", max_age=PENDING_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return data["u"]


def check_typed_by(signed_in_id: int, shown_to_id: int | None, button: str = "Save") -> None:
    """Refuse (TypedByOther) a form shown to someone else, or to nobody known, from being saved as signed_in_id."""
    if shown_to_id is not None and shown_to_id == signed_in_id:
        return
    from ..accounts.models import User

    me = db.session.get(User, signed_in_id)
    mine = me.display_name if me is not None else "you"
    them = db.session.get(User, shown_to_id) if shown_to_id is not None else None
    if them is None:
        # An old page (from before forms named who they were shown to) or a ticket that is not ours.
        raise TypedByOther(
            "This page was opened before the current sign-in, so we cannot tell who typed it. Nothing has been "
            f"saved. Check the text and press {button} to save it under your name ({mine}).", None, mine)
    name = them.display_name
    raise TypedByOther(
        f"This page was opened by {name}, who is no longer signed in here. Nothing has been saved. Check the text "
        f"and press {button} to save it under your name ({mine}), or sign out so {name} can sign in and save it.",
        name, mine)


# --- saves that arrive after the sign-in lapsed -------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


KEEP_SALT = "notes-keep"


def _keep_serializer():
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=KEEP_SALT)


def keep_ticket(workshop_id: int, user_id: int) -> str:
    """Signed into the notes form shown to a signed-in person: text posted with it after their
    sign-in ended is kept for them. Without one, a post from someone not signed in is not kept
    (anyone can post there, and would otherwise fill the database)."""
    return _keep_serializer().dumps({"w": workshop_id, "u": user_id})


def ticket_author(ticket: str | None, workshop_id: int) -> int | None:
    """The person a keep ticket was given to with this workshop's notes form (within PENDING_DAYS), or None."""
    from itsdangerous import BadSignature

    try:
        data = _keep_serializer().loads(ticket or "", max_age=PENDING_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("w") != workshop_id or not isinstance(data.get("u"), int):
        return None
    return data["u"]


def stash_pending_save(workshop_id: int, payload: dict[str, Any], trusted: bool) -> str:
    """Keep posted notes until the person signs in again; return the token for their session."""
    db.session.execute(delete(PendingSave).where(PendingSave.created_at < utcnow() - timedelta(days=PENDING_DAYS)))
    token = secrets.token_urlsafe(32)
    db.session.add(PendingSave(token_hash=_token_hash(token), workshop_id=workshop_id,
                               payload_json=json.dumps(payload, ensure_ascii=False), trusted=trusted))
    db.session.commit()
    return token


def peek_pending_save(token: str | None) -> PendingSave | None:
    """The kept save for this token, if any (not removed)."""
    if not token:
        return None
    return db.session.scalar(select(PendingSave).where(PendingSave.token_hash == _token_hash(token)))


def discard_pending_save(pending: PendingSave) -> None:
    """Forget a kept save once it is stored or handed back to its author."""
    db.session.delete(pending)
    db.session.commit()


def discard_pending_saves(tokens: list[str]) -> None:
    """Forget the kept saves of these tokens (their author signed out: nobody can claim them now)."""
    if tokens:
        db.session.execute(delete(PendingSave).where(PendingSave.token_hash.in_([_token_hash(t) for t in tokens])))
        db.session.commit()


# --- actions ----------------------------------------------------------------------------


def clean_action(data: dict[str, Any], allowed_topic_ids: set[int] | None = None) -> dict[str, Any]:
    """Check an action's fields; return them ready to store."""
    description = _clean_body(data.get("description"))
    if not description.strip():
        raise DomainError("Describe the action.", "description")
    if len(description) > MAX_ACTION_CHARS:
        raise DomainError(f"Use at most {MAX_ACTION_CHARS:,} characters (you used {len(description):,}).",
                          "description")
    org = db.session.get(Organisation, data.get("owner_organisation_id") or 0)
    if org is None:
        raise DomainError("Choose the organisation that owns this action.", "owner_organisation_id")
    lead = (data.get("lead_person") or "").strip()
    if len(lead) > 200 or "\n" in lead or "\r" in lead:
        raise DomainError("Enter one name, at most 200 characters.", "lead_person")
    due = data.get("due_date")
    if not isinstance(due, date):
        raise DomainError("Enter the due date.", "due_date")
    status = data.get("status") or "open"
    if status not in ACTION_STATUSES:
        raise DomainError("Choose a status.", "status")
    topic_ids = [int(t) for t in data.get("topic_ids") or []]
    if allowed_topic_ids is not None and not set(topic_ids) <= allowed_topic_ids:
        raise DomainError("Choose topics from the list.", "topic_ids")
    return {"description": description, "owner_organisation_id": org.id, "lead_person": lead, "due_date": due,
            "status": status, "internal": bool(data.get("internal")), "topic_ids": topic_ids}


MAX_DUE_YEARS = 10


def check_due_date(due: date, assembly_date: date) -> None:
    """Refuse a due date before the assembly agreed the action or implausibly far after it (a mistyped year)."""
    if due < assembly_date:
        raise DomainError(f"The due date is before the assembly ({assembly_date.day} {assembly_date:%B %Y}): "
                          "check the year.", "due_date")
    if due.year > assembly_date.year + MAX_DUE_YEARS:
        raise DomainError(f"The due date is more than {MAX_DUE_YEARS} years after the assembly: check the year.",
                          "due_date")


def _apply_action(action: Action, values: dict[str, Any]) -> None:
    # Load the topics first: the query autoflushes, and a half-applied action could
    # briefly be internal and approved at once, which the database refuses.
    topics = list(db.session.scalars(select(Topic).where(Topic.id.in_(values["topic_ids"])))) \
        if values["topic_ids"] else []
    for key in ("description", "owner_organisation_id", "lead_person", "due_date", "status", "internal"):
        setattr(action, key, values[key])
    if action.internal:
        action.approved = False
    action.topics = topics


def _as_snapshot(values: dict[str, Any]) -> dict[str, Any]:
    """clean_action()'s values as Action.snapshot() writes them, to tell an action sent again from a new one."""
    return {**values, "due_date": values["due_date"].isoformat(), "topic_ids": sorted(values["topic_ids"])}


def add_action(workshop: Workshop, data: dict[str, Any], user_id: int | None,
               allowed_topic_ids: set[int] | None = None) -> Action:
    """Record an agreed action for a workshop (and its assembly)."""
    values = clean_action(data, allowed_topic_ids)
    check_due_date(values["due_date"], workshop.round.assembly.date)
    wanted = _as_snapshot(values)
    for recent in db.session.scalars(select(Action).where(
            Action.workshop_id == workshop.id, Action.created_by_id == user_id, Action.version == 1,
            Action.created_at >= utcnow() - DOUBLE_SUBMIT_WINDOW)):
        if recent.snapshot() == wanted:
            # The same action sent again (a second press when the first answer was lost): it is recorded.
            db.session.rollback()
            return recent
    action = Action(assembly_id=workshop.round.assembly_id, workshop_id=workshop.id, created_by_id=user_id,
                    version=1)
    _apply_action(action, values)
    db.session.add(action)
    db.session.flush()
    db.session.add(ActionRevision(action_id=action.id, version=1, user_id=user_id,
                                  snapshot_json=json.dumps(action.snapshot(), ensure_ascii=False)))
    db.session.commit()
    return action


class ActionConflict(DomainError):
    """The action changed since the form was loaded."""

    def __init__(self, message: str, current: dict[str, Any]):
        super().__init__(message)
        self.current = current


def update_action(action_id: int, data: dict[str, Any], base_version: int, user_id: int | None,
                  allowed_topic_ids: set[int] | None = None, *, agreed_on: date | None = None,
                  also: Callable[[dict[str, Any], Action], None] | None = None,
                  by_reviewer: bool = False) -> Action:
    """Change an action unless someone saved it since base_version; keep a revision.

    ``agreed_on``: the date the action was first agreed, when earlier than its assembly's (a carried copy).
    ``by_reviewer``: an organiser's edit, which stays approved; a facilitator's new wording or owner waits
    for the organisers to read it again before the public page shows it.
    ``also(before, action)``: more to record in the same transaction when the action changed.
    """
    values = clean_action(data, allowed_topic_ids)
    action = db.session.scalar(select(Action).where(Action.id == action_id).with_for_update()
                               .execution_options(populate_existing=True))
    if action is None:
        raise DomainError("That action no longer exists.")
    moved_to = latest_copies([action.id]).get(action.id)
    if moved_to is not None:
        # Its partner, the public pages and the reports read the copy: a change here would be saved unseen.
        db.session.rollback()
        raise DomainError(f"This action has been carried forward into {isolate(moved_to.assembly.title)} and is tracked "
                          "there now, so nothing was saved here. The organisers change its owner, due date and "
                          "status in the action tracker.")
    if action.version != base_version:
        current = action.snapshot()
        if current == _as_snapshot(values):
            # This very edit is stored already (Save pressed again after its answer was lost):
            # nothing of anyone else's would be overwritten, so it is not a conflict.
            db.session.rollback()
            return action
        db.session.rollback()
        raise ActionConflict("Someone changed this action while you were editing it. Nothing was overwritten: "
                             "check their version below and save yours again if it is still right.", current)
    if values["due_date"] != action.due_date:
        # Only a changed date is checked: a carried or overdue action keeps its old one.
        try:
            check_due_date(values["due_date"], agreed_on or action.assembly.date)
        except DomainError:
            db.session.rollback()
            raise
    before = action.snapshot()
    _apply_action(action, values)
    if action.snapshot() == before:
        db.session.rollback()
        return action
    if action.internal or (not by_reviewer and (action.description != before["description"]
                                                 or action.owner_organisation_id != before["owner_organisation_id"])):
        # Public as approved no longer: who committed to what is what the organisers review.
        action.approved = False
    record_action_revision(action, user_id)
    if also is not None:
        also(before, action)
    db.session.commit()
    return action


def record_action_revision(action: Action, user_id: int | None) -> None:
    """Bump an action's version and keep a snapshot of it (the caller commits)."""
    action.version += 1
    action.updated_at = utcnow()
    db.session.add(ActionRevision(action_id=action.id, version=action.version, user_id=user_id,
                                  snapshot_json=json.dumps(action.snapshot(), ensure_ascii=False)))


def workshop_actions(workshop_id: int) -> list[Action]:
    """A workshop's actions, oldest first, with owners and topics."""
    return list(db.session.scalars(
        select(Action).where(Action.workshop_id == workshop_id)
        .options(selectinload(Action.owner_organisation), selectinload(Action.topics))
        .order_by(Action.id)))


def actions_query(*, assembly_id: int | None = None, topic_id: int | None = None, organisation_id: int | None = None,
                  status: str | None = None, due_from: date | None = None, due_to: date | None = None):
    """The organiser's filtered list of all actions, soonest due first."""
    stmt = (select(Action)
            .options(selectinload(Action.owner_organisation), selectinload(Action.topics),
                     selectinload(Action.assembly), selectinload(Action.workshop))
            .order_by(Action.due_date.is_(None), Action.due_date, Action.id))
    if assembly_id:
        stmt = stmt.where(Action.assembly_id == assembly_id)
    if topic_id:
        stmt = stmt.where(Action.id.in_(select(action_topic.c.action_id).where(action_topic.c.topic_id == topic_id)))
    if organisation_id:
        stmt = stmt.where(Action.owner_organisation_id == organisation_id)
    if status in ACTION_STATUSES:
        stmt = stmt.where(Action.status == status)
    if due_from:
        stmt = stmt.where(Action.due_date >= due_from)
    if due_to:
        stmt = stmt.where(Action.due_date <= due_to)
    return stmt


# --- organiser overview and publication ---------------------------------------------------------


@dataclass
class WorkshopRecord:
    workshop: Workshop
    counts: Counts
    notes: SessionNotes | None
    actions: int

    @property
    def missing_notes(self) -> bool:
        return self.notes is None or not self.notes.has_text


def assembly_overview(assembly: Assembly) -> list[WorkshopRecord]:
    """Every workshop of the assembly with attendance counts, notes status and number of actions."""
    workshops = list(db.session.scalars(
        select(Workshop).join(Round).where(Round.assembly_id == assembly.id)
        .options(selectinload(Workshop.round), selectinload(Workshop.facilitators))
        .order_by(*ROUND_ORDER, Workshop.title, Workshop.id)))
    ids = [w.id for w in workshops]
    counts = attendance_counts(ids)
    notes = {n.workshop_id: n for n in db.session.scalars(
        select(SessionNotes).where(SessionNotes.workshop_id.in_(ids)).options(selectinload(SessionNotes.sections)))}
    actions = dict(db.session.execute(select(Action.workshop_id, func.count(Action.id))
                                      .where(Action.workshop_id.in_(ids)).group_by(Action.workshop_id)).all())
    return [WorkshopRecord(w, counts[w.id], notes.get(w.id), actions.get(w.id, 0)) for w in workshops]


def latest_copies(action_ids: Iterable[int]) -> dict[int, Action]:
    """For actions carried forward: action id → its latest copy (following copies of copies)."""
    from ..outcomes.models import CarriedAction  # outcomes builds on notes, not the other way round

    latest: dict[int, Action] = {}
    frontier = {i: i for i in action_ids}
    while frontier:
        rows = db.session.execute(select(CarriedAction.origin_action_id, Action)
                                  .join(Action, Action.id == CarriedAction.action_id)
                                  .where(CarriedAction.origin_action_id.in_(list(frontier)))
                                  .options(selectinload(Action.assembly),
                                           selectinload(Action.owner_organisation))).all()
        next_frontier = {}
        for origin_id, copy in rows:
            start = frontier[origin_id]
            latest[start] = copy
            next_frontier[copy.id] = start
        frontier = next_frontier
    return latest


@dataclass
class PublicSection:
    key: str
    label: str
    body: str


@dataclass
class PublicAction:
    description: str
    owner_organisation: str
    due_date: date | None
    status: str
    status_label: str
    topics: list[str]
    carried_to: Assembly | None = None  # the assembly where it is tracked now, when carried forward
    status_on: date | None = None  # the day its record (the latest copy) last changed: how fresh the status is


@dataclass
class PublicOutcome:
    workshop_title: str
    topic: str
    round_name: str
    sections: list[PublicSection]
    actions: list[PublicAction]
    workshop_id: int = 0
    approved_at: datetime | None = None  # when the organisers last approved what is public (the feed's date)


def public_outcomes(assembly: Assembly) -> list[PublicOutcome]:
    """What may be published for an assembly: approved, non-internal sections and actions only."""
    records = []
    workshops = list(db.session.scalars(
        select(Workshop).join(Round).where(Round.assembly_id == assembly.id)
        .options(selectinload(Workshop.round), selectinload(Workshop.topic))
        .order_by(*ROUND_ORDER, Workshop.title, Workshop.id)
    ))
    # Notes and actions of all the workshops in two queries each, not two per workshop.
    ids = [w.id for w in workshops]
    all_notes = {n.workshop_id: n for n in db.session.scalars(
        select(SessionNotes).where(SessionNotes.workshop_id.in_(ids)).options(selectinload(SessionNotes.sections)))}
    all_actions: dict[int, list[Action]] = {}
    for a in db.session.scalars(
        select(Action).where(Action.workshop_id.in_(ids))
        .options(selectinload(Action.owner_organisation), selectinload(Action.topics)).order_by(Action.id)
    ):
        all_actions.setdefault(a.workshop_id, []).append(a)
    latest = latest_copies([a.id for acts in all_actions.values() for a in acts])
    for w in workshops:
        notes = all_notes.get(w.id)
        # Once approved, what the organiser approved stays public while later edits wait for their
        # reading: an edit clears the approval of what it changed (save_notes, update_action), not of the rest.
        ever_approved = notes is not None and notes.approved_at is not None
        sections = []
        if ever_approved:
            by_key = {s.key: s for s in notes.sections}
            sections = [PublicSection(k, SECTIONS[k], by_key[k].body) for k in SECTIONS
                        if k in by_key and by_key[k].approved and not by_key[k].internal and by_key[k].body.strip()]
        actions = []
        if ever_approved:
            # A carried action is updated through its copy: show the copy's owner, due date and status (as the
            # partner page and the later assembly's page do), not the frozen ones; the wording stays as agreed.
            # A copy marked internal since takes the action off public pages altogether, as on the partner page.
            tz = assembly.timezone or "Europe/London"
            actions = [PublicAction(a.description, now.owner_organisation.name, now.due_date, now.status,
                                    now.status_label, [t.name for t in a.topics],
                                    now.assembly if now is not a else None, utc_to_local(now.updated_at, tz).date())
                       for a in all_actions.get(w.id, []) if a.approved and not a.internal
                       for now in [latest.get(a.id, a)] if not now.internal]
        if sections or actions:
            records.append(PublicOutcome(w.title, w.topic.name, w.round.name, sections, actions, w.id,
                                         notes.approved_at if notes is not None else None))
    return records
