"""Organiser use cases for assemblies, rounds, workshops, topics and the agenda."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, bindparam, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError

from .. import add_once
from ..accounts.models import User
from ..domain import DomainError, NotFound
from ..extensions import db
from ..templating import counted
from ..text import isolate
from ..timeutil import utcnow
from ..invites import services as invites
from ..organisations.models import name_key
from ..placements.models import AllocationPin, Placement
from ..registration.services import registration_state_where
from .models import AgendaItem, Assembly, Round, Series, Topic, Workshop

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# The organisers' list filters on what each row shows (the status a visitor reads), not the stored status:
# "open" past its closing time shows, and filters, as "Registration closed".
LIST_STATUSES = {
    "draft": "Draft",
    "open": "Open for registration",
    "not_yet": "Registration not yet open",
    "closed": "Registration closed",
    "archived": "Archived",
    "cancelled": "Cancelled",
}


def list_status_where(status: str):
    """SQL condition: the assembly's shown status is LIST_STATUSES[status] (None: not a known status)."""
    if status == "cancelled":
        return Assembly.cancelled_at.is_not(None)
    live = Assembly.cancelled_at.is_(None)
    if status in ("draft", "archived"):
        return and_(live, Assembly.status == status)
    if status in ("open", "not_yet"):
        return and_(live, registration_state_where(status))
    if status == "closed":
        return and_(live, or_(Assembly.status == "closed",
                              and_(Assembly.status == "open", registration_state_where("closed"))))
    return None


def slugify(text: str) -> str:
    """A URL-safe slug from a title (ASCII letters, digits and hyphens)."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100]


# Built once: most pages start here, and building the statement (and its cache key) each time
# cost more than running it.
_BY_SLUG = select(Assembly).where(Assembly.slug == bindparam("slug"))


def get_assembly(slug: str) -> Assembly:
    """Load an assembly by slug or raise NotFound."""
    assembly = db.session.scalar(_BY_SLUG, {"slug": slug})
    if assembly is None:
        raise NotFound("No assembly has that address.")
    return assembly


def _check_assembly(data: dict[str, Any], current: Assembly | None) -> None:
    slug = data.get("slug", "")
    if not SLUG_RE.match(slug):
        raise DomainError("Use lower-case letters, digits and single hyphens, e.g. community-safety-2026.", "slug")
    clash = db.session.scalar(select(Assembly.id).where(Assembly.slug == slug))
    if clash is not None and (current is None or clash != current.id):
        raise DomainError("Another assembly already uses that web address.", "slug")
    try:
        ZoneInfo(data.get("timezone") or "Europe/London")
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError("Choose a time zone from the list.", "timezone") from None
    if data["end_time"] <= data["start_time"]:
        raise DomainError("The day must end after it starts.", "end_time")
    if current is not None:
        # Workshops outside the day's hours would sit outside the delegates' calendar entry for the day.
        outside = db.session.scalars(select(Round).where(
            Round.assembly_id == current.id,
            (Round.starts_at < data["start_time"]) | (Round.ends_at > data["end_time"])).order_by(Round.starts_at)).first()
        if outside is not None:
            raise DomainError(f"{isolate(outside.name)} runs {outside.starts_at:%H:%M}–{outside.ends_at:%H:%M}, outside these "
                              "hours. Change the round first, or keep the day's hours around it.", "start_time")
    opens, closes = data.get("registration_opens_at"), data.get("registration_closes_at")
    if opens and closes and closes <= opens:
        raise DomainError("Registration must close after it opens.", "registration_closes_at")


def _series_key(name: str) -> str:
    return " ".join(name.casefold().split())


def series_names() -> list[str]:
    """Every series, by name: offered when an assembly is created, so next year's joins last year's."""
    return list(db.session.scalars(select(Series.name).order_by(Series.name)))


def _series(name: str | None) -> Series | None:
    name = " ".join((name or "").split())
    if not name:
        return None
    # Typed a year later with other capitals or spacing, it is still the same series (a new one by mistake
    # would leave last year's open actions off the carry-forward page).
    key = _series_key(name)
    series = next((s for s in db.session.scalars(select(Series)) if _series_key(s.name) == key), None)
    if series is None:
        series = Series(name=name)
        db.session.add(series)
    return series


ASSEMBLY_FIELDS = (
    "title", "slug", "summary", "venue_name", "venue_address", "date", "start_time", "end_time",
    "timezone", "registration_opens_at", "registration_closes_at", "capacity", "org_limit",
    "privacy_notice", "retention_days", "status", "confirm_email_first",
)


def save_assembly(data: dict[str, Any], assembly: Assembly | None = None, once: str | None = None) -> Assembly:
    """Create an assembly, or update one, after checking its rules (``once``: the add form's token, see add_once)."""
    _check_assembly(data, assembly)
    existing = assembly is not None
    if assembly is None:
        assembly = Assembly()
        db.session.add(assembly)
    for field in ASSEMBLY_FIELDS:
        if field in data:
            setattr(assembly, field, data[field])
    assembly.series = _series(data.get("series_name"))
    try:
        if existing:
            invites.sync_assembly(assembly)
        add_once.record(once, "assembly", assembly)
        db.session.commit()
    except IntegrityError:
        # A concurrent save took the slug between our check and the insert.
        db.session.rollback()
        raise DomainError("Another assembly already uses that web address.", "slug") from None
    return assembly


def copy_assembly(source: Assembly, data: dict[str, Any], *, workshops: bool = True, facilitators: bool = True,
                  agenda: bool = True, documents: bool = False, once: str | None = None) -> Assembly:
    """Create an assembly from the details given and, as asked, another's rounds and workshops (with their
    facilitators), plenary agenda and documents: next year's assembly without typing forty workshops again
    (``once``: the copy form's token, see add_once)."""
    _check_assembly(data, None)
    if workshops:
        for rnd in sorted(source.rounds, key=lambda r: r.position):
            if rnd.starts_at < data["start_time"] or rnd.ends_at > data["end_time"]:
                raise DomainError(f"{isolate(rnd.name)} runs {rnd.starts_at:%H:%M}–{rnd.ends_at:%H:%M}, outside these hours. "
                                  "Keep the day's hours around it, or leave the rounds out of the copy.", "start_time")
    assembly = Assembly(**{f: data[f] for f in ASSEMBLY_FIELDS if f in data},
                        workshop_org_limit=source.workshop_org_limit)
    assembly.series = _series(data.get("series_name"))
    db.session.add(assembly)
    # Built whole before the next query flushes it (reading the source's workshops would flush half of it).
    with db.session.no_autoflush:
        if workshops:
            for rnd in sorted(source.rounds, key=lambda r: r.position):
                copy = Round(name=rnd.name, position=rnd.position, starts_at=rnd.starts_at, ends_at=rnd.ends_at)
                assembly.rounds.append(copy)
                for w in rnd.workshops:
                    copy.workshops.append(Workshop(topic_id=w.topic_id, title=w.title, description=w.description,
                                                   room=w.room, capacity=w.capacity,
                                                   facilitators=list(w.facilitators) if facilitators else []))
        if agenda:
            for item in source.agenda_items:
                assembly.agenda_items.append(AgendaItem(starts_at=item.starts_at, ends_at=item.ends_at,
                                                        title=item.title, speaker=item.speaker,
                                                        organisation_id=item.organisation_id))
    try:
        db.session.flush()
        add_once.record(once, "assembly", assembly)
    except IntegrityError:
        db.session.rollback()
        raise DomainError("Another assembly already uses that web address.", "slug") from None
    if documents:
        _copy_documents(source, assembly)
    db.session.commit()
    return assembly


def _copy_documents(source: Assembly, assembly: Assembly) -> None:
    # In the database, from table to table: the files (up to 10 MB each) never pass through the app.
    from ..documents.models import Document

    columns = ("title", "filename", "kind", "size", "sha256", "visibility", "position", "uploaded_by_id", "data")
    db.session.execute(insert(Document).from_select(
        ["assembly_id", "uploaded_at", *columns],
        select(literal(assembly.id), literal(utcnow()), *(getattr(Document, c) for c in columns))
        .where(Document.assembly_id == source.id)))


def _locked(assembly: Assembly) -> Assembly:
    return db.session.scalars(
        select(Assembly).where(Assembly.id == assembly.id).with_for_update().execution_options(populate_existing=True)
    ).one()


def set_cancelled(assembly: Assembly, cancelled: bool) -> int:
    """Call an assembly off (every calendar entry cancelled) or reinstate it (invitations sent again)."""
    assembly = _locked(assembly)
    if (assembly.cancelled_at is not None) == cancelled:
        raise DomainError("This assembly is already cancelled." if cancelled else "This assembly is not cancelled.")
    assembly.cancelled_at = utcnow() if cancelled else None
    # The public page's cache key: its triggers follow the displayed columns, and this is
    # a new one.
    assembly.content_version = secrets.randbits(53)
    queued = invites.sync_assembly(assembly)
    db.session.commit()
    return queued


def round_version(rnd: Round) -> str:
    """A short fingerprint of what the round form edits, to tell whether it changed since the form was opened."""
    fields = [rnd.name, rnd.starts_at.isoformat(), rnd.ends_at.isoformat(), rnd.position]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:20]


def save_round(assembly: Assembly, data: dict[str, Any], rnd: Round | None = None, once: str | None = None) -> Round:
    """Create or update a breakout round of an assembly (``once``: the add form's token, see add_once)."""
    if rnd is not None and data.get("seen") and data["seen"] != round_version(rnd):
        # A form opened before another save would put its times back, in every placed delegate's calendar too.
        raise DomainError(
            f"Someone saved this round after you opened this form: it is now “{isolate(rnd.name)}”, "
            f"{rnd.starts_at:%H:%M}–{rnd.ends_at:%H:%M}. Nothing you typed below is saved yet: check it against "
            "theirs and save again to keep it.")
    if data["ends_at"] <= data["starts_at"]:
        raise DomainError("The round must end after it starts.", "ends_at")
    clash = db.session.scalar(
        select(Round.id).where(Round.assembly_id == assembly.id, Round.name == data["name"])
    )
    if clash is not None and (rnd is None or clash != rnd.id):
        raise DomainError("This assembly already has a round with that name.", "name")
    if data["starts_at"] < assembly.start_time or data["ends_at"] > assembly.end_time:
        raise DomainError(f"The assembly runs {assembly.start_time:%H:%M}–{assembly.end_time:%H:%M}: a round must fit "
                          "within those hours.", "starts_at")
    overlap = db.session.scalars(
        select(Round).where(Round.assembly_id == assembly.id, Round.id != (rnd.id if rnd else None),
                            Round.starts_at < data["ends_at"], Round.ends_at > data["starts_at"])
        .order_by(Round.starts_at).limit(1)
    ).first()
    if overlap is not None:
        # Every delegate is placed in a workshop of every round: two at once cannot both be attended.
        raise DomainError(f"This round overlaps {isolate(overlap.name)} ({overlap.starts_at:%H:%M}–{overlap.ends_at:%H:%M}). "
                          "Each delegate has a workshop in every round, so rounds cannot run at the same time.",
                          "starts_at")
    if rnd is None:
        position = data.get("position") or (
            (db.session.scalar(select(func.max(Round.position)).where(Round.assembly_id == assembly.id)) or 0) + 1
        )
        rnd = Round(assembly=assembly, position=position)
        db.session.add(rnd)
    rnd.name = data["name"]
    rnd.starts_at = data["starts_at"]
    rnd.ends_at = data["ends_at"]
    if data.get("position"):
        rnd.position = data["position"]
    # Kept on the object for the view to say how many were emailed (saving used to send them unannounced).
    rnd.calendar_updates = invites.sync_round(rnd)
    add_once.record(once, "round", rnd)
    db.session.commit()
    return rnd


def delete_round(rnd: Round) -> None:
    """Delete a round and its workshops."""
    attendees = invites.registrations_in_round(rnd.id)
    db.session.delete(rnd)
    db.session.flush()
    invites.sync_calendar(attendees)
    db.session.commit()


TOPIC_NAME_MAX = 120
TOPIC_KEY_MAX = 120  # Topic.name_key's column


def get_or_create_topic(name: str) -> Topic:
    """Find a topic by name (ignoring case and spacing) or add it to the managed list."""
    key = name_key(name, TOPIC_KEY_MAX)
    topic = db.session.scalar(select(Topic).where(Topic.name_key == key))
    if topic is None:
        topic = Topic(name=" ".join(name.split()), name_key=key)
        db.session.add(topic)
        db.session.flush()
    return topic


# The topics list's order: a topic's page in it is found by counting those before it in the same order.
TOPIC_ORDER = (Topic.name, Topic.id)


def topic_list_page(topic: Topic, per_page: int, q: str = "") -> int | None:
    """The page of the topics list (TOPIC_ORDER, per_page to a page, filtered by q) that shows this topic,
    or None when the filter leaves it out."""
    matching = [Topic.name.icontains(q, autoescape=True)] if q else []
    if matching and db.session.scalar(select(Topic.id).where(Topic.id == topic.id, *matching)) is None:
        return None
    before = db.session.scalar(select(func.count(Topic.id)).where(
        or_(Topic.name < topic.name, and_(Topic.name == topic.name, Topic.id < topic.id)), *matching))
    return before // per_page + 1


def save_topic(data: dict[str, Any], topic: Topic | None = None, once: str | None = None) -> Topic:
    """Create or rename a topic in the managed list (``once``: the add form's token, see add_once)."""
    key = name_key(data["name"], TOPIC_KEY_MAX)
    if not key:
        raise DomainError("Enter the topic's name.", "name")
    clash = db.session.scalar(select(Topic.id).where(Topic.name_key == key))
    if clash is not None and (topic is None or clash != topic.id):
        raise DomainError("That topic is already in the list.", "name")
    if topic is None:
        topic = Topic()
        db.session.add(topic)
    topic.name = " ".join(data["name"].split())
    topic.name_key = key
    topic.description = data.get("description", "")
    add_once.record(once, "topic", topic)
    db.session.commit()
    return topic


def workshop_version(workshop: Workshop) -> str:
    """A short fingerprint of what the workshop form edits, to tell whether it changed since the form was opened."""
    fields = [workshop.round_id, workshop.topic_id, workshop.title, workshop.description, workshop.room,
              workshop.capacity, sorted(u.id for u in workshop.facilitators)]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:20]


def save_workshop(rnd: Round, data: dict[str, Any], workshop: Workshop | None = None,
                  once: str | None = None) -> Workshop:
    """Create or update a workshop: its round, topic (a new one named is added to the topic list), room,
    capacity and facilitators (``once``: the add form's token, see add_once)."""
    if workshop is not None and data.get("seen") and data["seen"] != workshop_version(workshop):
        # Saving every field of a form opened earlier would put back what the other save changed (a room,
        # a time through its round) and send every placed delegate the old one again.
        raise DomainError(
            f"Someone saved this workshop after you opened this form: it is now “{isolate(workshop.title)}” in "
            f"{isolate(workshop.round.name)}, {f'room “{isolate(workshop.room)}”' if workshop.room else 'no room set'}, {counted(workshop.capacity, 'seat')}. "
            f"Nothing you typed below is saved yet: check it against theirs and save again to keep it.")
    new_topic = " ".join((data.get("new_topic") or "").split())
    if len(new_topic) > TOPIC_NAME_MAX:
        raise DomainError(f"Shorten the new topic to {TOPIC_NAME_MAX} characters or fewer.", "new_topic")
    topic = db.session.get(Topic, data["topic_id"]) if data.get("topic_id") and not new_topic else None
    if topic is None and not new_topic:
        raise DomainError("Choose the workshop's topic, or name a new one.", "topic_id")
    if data["capacity"] < 0:
        raise DomainError("Capacity cannot be negative.", "capacity")
    facilitator_ids = list(data.get("facilitator_ids") or [])
    facilitators = list(
        db.session.scalars(select(User).where(User.id.in_(facilitator_ids), User.role == "facilitator"))
    ) if facilitator_ids else []
    if len(facilitators) != len(set(facilitator_ids)):
        raise DomainError("Choose facilitators from the list.", "facilitator_ids")
    if new_topic:
        # The topic the organiser found missing from the list, added in this same transaction (or the
        # one already there under another case or spacing).
        topic = get_or_create_topic(new_topic)
    if workshop is None:
        workshop = Workshop()
        db.session.add(workshop)
    else:
        try:
            _follow_workshop(workshop, rnd, topic)
        except DomainError:
            db.session.rollback()  # no new topic is left behind by a refused change
            raise
    workshop.round = rnd
    workshop.topic = topic
    workshop.title = data["title"]
    workshop.description = data.get("description", "")
    workshop.room = data.get("room", "")
    workshop.capacity = data["capacity"]
    workshop.facilitators = facilitators
    # Kept on the object for the view to say how many were emailed (saving used to send them unannounced).
    workshop.calendar_updates = invites.sync_workshop(workshop)
    add_once.record(once, "workshop", workshop)
    db.session.commit()
    return workshop


def _follow_workshop(workshop: Workshop, rnd: Round, topic: Topic) -> None:
    """Carry a workshop's published places and pins to its new round and topic, or refuse if a delegate would clash."""
    if workshop.round_id == rnd.id and workshop.topic_id == topic.id:
        return
    # Placements and pins copy the workshop's round and topic: left behind, the delegate's
    # calendar would keep the old round's time and the allocation would count them in both.
    placed = list(db.session.scalars(select(Placement).where(Placement.workshop_id == workshop.id)))
    pins = list(db.session.scalars(select(AllocationPin).where(AllocationPin.workshop_id == workshop.id)))
    people = {p.registration_id for p in placed} | {p.registration_id for p in pins}
    if people:
        others = select(Placement.registration_id).where(
            Placement.registration_id.in_(people), Placement.workshop_id != workshop.id)
        in_round = set(db.session.scalars(others.where(Placement.round_id == rnd.id)))
        in_round |= set(db.session.scalars(select(AllocationPin.registration_id).where(
            AllocationPin.registration_id.in_(people), AllocationPin.workshop_id != workshop.id,
            AllocationPin.round_id == rnd.id)))
        if workshop.round_id != rnd.id and in_round:
            raise DomainError(f"{counted(len(in_round), 'delegate')} placed in this workshop already "
                              f"{'has' if len(in_round) == 1 else 'have'} a workshop in "
                              f"{rnd.name}. Move them in the allocation first, or keep this workshop in "
                              f"{workshop.round.name}.", "round_id")
        same_topic = set(db.session.scalars(others.where(Placement.topic_id == topic.id)))
        if workshop.topic_id != topic.id and same_topic:
            raise DomainError(f"{counted(len(same_topic), 'delegate')} placed in this workshop already "
                              f"{'attends' if len(same_topic) == 1 else 'attend'} a workshop on "
                              f"{topic.name}. Move them in the allocation first, or keep this workshop's topic.",
                              "topic_id")
    for p in placed:
        p.round_id, p.topic_id = rnd.id, topic.id
    for pin in pins:
        pin.round_id = rnd.id


def deletion_effects(workshop_ids: list[int], what: str = "this workshop") -> str:
    """What deleting these workshops also removes or sends, in words for the confirmation page."""
    from ..invites.models import CalendarEntry
    from ..notes.models import Action, Attendance, SessionNotes

    ids = list(workshop_ids) or [0]
    # Who is emailed: whoever holds a live calendar entry for it (the sync cancels exactly those).
    delegates = set(db.session.scalars(select(CalendarEntry.registration_id).where(
        CalendarEntry.workshop_id.in_(ids), CalendarEntry.status == "confirmed")))

    def count(model) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(model.workshop_id.in_(ids)))

    out = []
    if delegates:
        out.append(f"{counted(len(delegates), 'delegate')} placed in {what} "
                   f"{'is' if len(delegates) == 1 else 'are'} emailed a calendar cancellation.")
    lost = [counted(n, *label) for n, label in ((count(SessionNotes), ("set of session notes", "sets of session notes")),
                                               (count(Attendance), ("attendance record",)),
                                               (count(Action), ("agreed action",))) if n]
    if lost:
        out.append(f"What facilitators recorded in {what} is deleted too: " + ", ".join(lost) + ".")
    return " ".join(out)


def placed_count(workshop: Workshop) -> int:
    """How many confirmed delegates the published allocation places in this workshop."""
    from ..registration.models import Registration

    return db.session.scalar(select(func.count()).select_from(Placement)
                             .join(Registration, Registration.id == Placement.registration_id)
                             .where(Placement.workshop_id == workshop.id, Registration.status == "confirmed"))


def delete_workshop(workshop: Workshop) -> None:
    """Delete a workshop."""
    attendees = invites.registrations_in_workshop(workshop.id)
    db.session.delete(workshop)
    db.session.flush()
    invites.sync_calendar(attendees)
    db.session.commit()


def save_agenda_item(assembly: Assembly, data: dict[str, Any], item: AgendaItem | None = None,
                     once: str | None = None) -> AgendaItem:
    """Create or update a plenary agenda item (``once``: the add form's token, see add_once)."""
    if data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
        raise DomainError("The item must end after it starts.", "ends_at")
    if item is None:
        item = AgendaItem(assembly=assembly)
        db.session.add(item)
    item.starts_at = data["starts_at"]
    item.ends_at = data.get("ends_at")
    item.title = data["title"]
    item.speaker = data.get("speaker", "")
    item.organisation_id = data.get("organisation_id") or None
    add_once.record(once, "agenda item", item)
    db.session.commit()
    return item


def delete_agenda_item(item: AgendaItem) -> None:
    """Delete a plenary agenda item."""
    db.session.delete(item)
    db.session.commit()


class Attention(NamedTuple):
    """One thing on an assembly that waits for its organiser: what to say, and the page where it is done."""

    text: str
    endpoint: str
    values: dict[str, Any]


def _promotable(assembly: Assembly) -> int:
    """How many of those waiting their organisation's limit lets in (all of them when there is no limit)."""
    from ..registration.models import Registration

    if assembly.org_limit is None:
        return assembly.waiting_count
    per_org = db.session.execute(
        select(func.count().filter(Registration.status == "confirmed"),
               func.count().filter(Registration.status == "waiting"))
        .where(Registration.assembly_id == assembly.id, Registration.status.in_(("confirmed", "waiting")))
        .group_by(Registration.organisation_id)).all()
    return sum(min(waiting, max(0, assembly.org_limit - confirmed)) for confirmed, waiting in per_org)


def needs_attention(assembly: Assembly) -> list[Attention]:
    """What waits for the organiser on this assembly now, most urgent first (a fixed number of counts)."""
    from ..mail.models import OutboxMessage
    from ..notes.models import Action, NoteSection, SessionNotes
    from ..organisations.models import Organisation
    from ..placements.models import AllocationRun
    from ..registration.models import Registration
    from ..registration.services import has_taken_place, unconfirmed_count

    slug = {"slug": assembly.slug}
    out: list[Attention] = []
    # Not those the worker skipped as out of date by their turn ("skipped"): they need nothing.
    failed = db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.assembly_id == assembly.id, OutboxMessage.status == "failed")) or 0
    if failed:
        out.append(Attention(f"{counted(failed, 'email')} could not be sent.", "mail.index",
                             {"assembly": assembly.id, "status": "failed"}))
    if assembly.cancelled_at is not None:
        return out
    workshop_ids = select(Workshop.id).join(Round).where(Round.assembly_id == assembly.id)
    if has_taken_place(assembly):
        submitted = db.session.scalar(select(func.count(SessionNotes.id)).where(
            SessionNotes.workshop_id.in_(workshop_ids), SessionNotes.status == "submitted")) or 0
        if submitted:
            out.append(Attention(f"Notes from {counted(submitted, 'workshop')} wait for your review.", "notes.overview", slug))
        # A workshop's actions are approved on its review page, with its notes once submitted, or on their own
        # when it has no notes; while its facilitator's notes are a draft they wait for them, not the organiser.
        # (Copies carried in have no workshop: the public page goes by their first record's approval.)
        draft_with_text = select(SessionNotes.id).where(
            SessionNotes.workshop_id == Action.workshop_id, SessionNotes.status == "draft",
            select(NoteSection.id).where(NoteSection.notes_id == SessionNotes.id,
                                         func.trim(NoteSection.body, " \t\r\n") != "").exists()).exists()
        yours, drafts = db.session.execute(
            select(func.count(Action.id).filter(~draft_with_text), func.count(Action.id).filter(draft_with_text))
            .where(Action.workshop_id.in_(workshop_ids), Action.approved.is_(False),
                   Action.internal.is_(False))).one()
        if yours:
            out.append(Attention(f"{counted(yours, 'action')} {'waits' if yours == 1 else 'wait'} for your "
                                 "approval before the public page shows them.", "notes.overview", slug))
        if drafts:
            out.append(Attention(f"{counted(drafts, 'action')} {'waits' if drafts == 1 else 'wait'} for "
                                 "the facilitator to submit the workshop's notes, then for your approval.",
                                 "notes.overview", slug))
        return out
    pending_orgs = db.session.scalar(select(func.count(Organisation.id)).where(
        Organisation.status == "pending",
        select(Registration.id).where(Registration.assembly_id == assembly.id, Registration.status != "cancelled",
                                      Registration.organisation_id == Organisation.id).exists())) or 0
    if pending_orgs:
        out.append(Attention(f"{counted(pending_orgs, 'organisation')} typed in by delegates "
                             f"{'waits' if pending_orgs == 1 else 'wait'} to be approved or merged.",
                             "registration.organiser_index", slug))
    free = assembly.capacity - assembly.confirmed_count
    if free > 0 and assembly.waiting_count:
        waiting = assembly.waiting_count
        # "Fill them" over people whose organisations are at their limit would find nobody to promote.
        can = min(free, _promotable(assembly))
        places_wait = (f"{counted(free, 'place')} {'is' if free == 1 else 'are'} free while "
                       f"{counted(waiting, 'person', 'people')} {'waits' if waiting == 1 else 'wait'}")
        if can == min(free, waiting):
            out.append(Attention(f"{places_wait}: fill them from the waiting list.", "registration.organiser_index",
                                 slug))
        elif can:
            out.append(Attention(f"{places_wait}; {can:,} of them can have one (the others' organisations are at "
                                 f"their limit): fill {'it' if can == 1 else 'them'} from the waiting list.",
                                 "registration.organiser_index", slug))
    workshops = db.session.execute(
        select(func.count(Workshop.id),
               func.count(Workshop.id).filter(func.coalesce(Workshop.room, "") == ""),
               func.count(Workshop.id).filter(~Workshop.facilitators.any()))
        .join(Round).where(Round.assembly_id == assembly.id)).one()
    if workshops[2]:
        out.append(Attention(f"{counted(workshops[2], 'workshop')} {'has' if workshops[2] == 1 else 'have'} "
                             "no facilitator.", "assemblies.detail", slug))
    if workshops[1]:
        out.append(Attention(f"{counted(workshops[1], 'workshop')} {'has' if workshops[1] == 1 else 'have'} "
                             "no room yet (delegates' calendars say the room is to be confirmed).", "assemblies.detail", slug))
    run_status = db.session.scalar(select(AllocationRun.status).where(
        AllocationRun.assembly_id == assembly.id, AllocationRun.status != "superseded")
        .order_by(AllocationRun.id.desc()).limit(1))
    if workshops[0] and assembly.confirmed_count:
        if run_status is None:
            out.append(Attention("Delegates are not yet allocated to workshops.", "placements.index", slug))
        elif run_status == "proposal":
            out.append(Attention("An allocation proposal waits to be published.", "placements.index", slug))
        else:
            unplaced = db.session.scalar(select(func.count(Registration.id)).where(
                Registration.assembly_id == assembly.id, Registration.status == "confirmed",
                ~select(Placement.id).where(Placement.registration_id == Registration.id).exists())) or 0
            if unplaced:
                out.append(Attention(f"{counted(unplaced, 'confirmed delegate')} {'has' if unplaced == 1 else 'have'} "
                                     "no workshop place (registered since publishing, or left out).",
                                     "placements.index", slug))
    if assembly.confirm_email_first:
        unconfirmed = unconfirmed_count(assembly.id)
        if unconfirmed:
            out.append(Attention(f"{counted(unconfirmed, 'form')} {'waits' if unconfirmed == 1 else 'wait'} for "
                                 "the address to be confirmed (no place is held).",
                                 "registration.organiser_unconfirmed", slug))
    # The assembly opens with earlier assemblies' open actions on the table only if they are carried into it.
    from ..outcomes.services import carry_candidates_count

    to_carry = carry_candidates_count(assembly)
    if to_carry:
        out.append(Attention(f"{counted(to_carry, 'open action')} of earlier assemblies "
                             f"{'is' if to_carry == 1 else 'are'} not carried into this one yet.",
                             "outcomes.carry_forward", slug))
    return out
