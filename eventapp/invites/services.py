"""Calendar invitations: keep every delegate's calendar in step with the database, through the outbox."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Iterable

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from ..assemblies.models import ROUND_ORDER, AgendaItem, Assembly, Round, Workshop
from ..links import absolute_url
from ..extensions import db
from ..mail.models import OutboxMessage
from ..mail.services import (TOKEN_PLACEHOLDER, clean_header, deferred_row, id_domain, link_template, outbox_row,
                             queue_email, queue_rows, render_email, render_subject, renderer)
from ..placements.models import Placement
from ..registration.models import Registration
from ..text import is_number
from ..timeutil import local_to_utc, local_today, utc_to_local, utcnow
from . import ical
from .ical import EventData
from .models import CalendarEntry

FEED_SALT = "calendar-feed"
# Marks a fingerprint that covers the description (Slot.fingerprint); a legacy one is 64 bare hex digits.
FINGERPRINT_PREFIX = "d:"
CHUNK = 500


@dataclass(frozen=True)
class Slot:
    """What one calendar entry of a delegate should say now."""

    slot: str  # "plenary" or "round:<id>"
    kind: str
    round_id: int | None
    workshop_id: int | None
    event: EventData
    position: int = 0

    @cached_property
    def _fingerprint_head(self) -> str:
        e = self.event
        # json.dumps of the list below without its closing bracket: the event's part, shared by its attendees.
        return json.dumps([e.summary, e.starts_at.isoformat(), e.ends_at.isoformat(), e.location, "CONFIRMED",
                           e.description])[:-1]

    def fingerprint(self, email: str) -> str:
        """What this attendee's calendar shows of the event (DESCRIPTION too), as stored in calendar_entry.

        FINGERPRINT_PREFIX and the first 62 hex digits of sha256(json.dumps([summary, start, end, location,
        "CONFIRMED", description, email])): 64 characters, the column's width. The prefix tells it from a
        legacy_fingerprint() stored before descriptions counted (see _LegacySent).
        """
        raw = f"{self._fingerprint_head}, {json.dumps(email.strip().lower())}]"
        return FINGERPRINT_PREFIX + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:62]

    def legacy_fingerprint(self, email: str) -> str:
        # Exactly sha256(json.dumps([summary, start, end, location, "CONFIRMED", email])), the formula stored
        # before the description counted: entries still holding one are compared with it, so it never changes.
        e = self.event
        head = json.dumps([e.summary, e.starts_at.isoformat(), e.ends_at.isoformat(), e.location, "CONFIRMED"])[:-1]
        raw = f"{head}, {json.dumps(email.strip().lower())}]"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# --- what a delegate's calendar should hold ------------------------------------------------------


def _utc(assembly: Assembly, on: date, at: time) -> datetime:
    return local_to_utc(datetime.combine(on, at), assembly.timezone or "Europe/London")


def venue_text(assembly: Assembly, room: str = "") -> str:
    """Room, venue and address on one line, as calendar LOCATION."""
    address = ", ".join(line.strip() for line in (assembly.venue_address or "").splitlines() if line.strip())
    return ", ".join(part for part in (room.strip(), assembly.venue_name.strip(), address) if part)


def plenary_event(assembly: Assembly) -> EventData:
    """The assembly day as one event."""
    return EventData(summary=assembly.title, starts_at=_utc(assembly, assembly.date, assembly.start_time),
                     ends_at=_utc(assembly, assembly.date, assembly.end_time), location=venue_text(assembly),
                     description=assembly.summary or "")


def workshop_event(assembly: Assembly, rnd: Round, workshop: Workshop) -> EventData:
    """A breakout workshop in its round's time window."""
    description = f"{rnd.name} of {assembly.title}."
    if workshop.description:
        description += "\n\n" + workshop.description
    return EventData(summary=f"Workshop: {workshop.title}", starts_at=_utc(assembly, assembly.date, rnd.starts_at),
                     ends_at=_utc(assembly, assembly.date, rnd.ends_at), location=venue_text(assembly, workshop.room),
                     description=description)


def desired_slots(registrations: list[Registration], *, placed: bool = True,
                  called_off_too: bool = False) -> dict[int, list[Slot]]:
    """Each registration's calendar as it should be: the plenary and one workshop per placed round.

    ``placed=False`` when none of them can hold a placement yet (just inserted): no placement query.
    ``called_off_too``: the entries a cancelled assembly would have had (the feed shows them cancelled).
    """
    out: dict[int, list[Slot]] = {r.id: [] for r in registrations}
    active = [r for r in registrations if r.status == "confirmed" and r.email and r.anonymised_at is None
              and (called_off_too or r.assembly.cancelled_at is None)]
    # Every delegate of an assembly shares its plenary, every attendee of a workshop its event.
    plenaries: dict[int, Slot] = {}
    for reg in active:
        plenary = plenaries.get(reg.assembly_id)
        if plenary is None:
            plenary = plenaries[reg.assembly_id] = Slot("plenary", "plenary", None, None, plenary_event(reg.assembly))
        out[reg.id].append(plenary)
    ids = [r.id for r in active]
    by_id = {r.id: r for r in active}
    workshops: dict[tuple[int, int], Slot] = {}
    for start in range(0, len(ids) if placed else 0, CHUNK):
        rows = db.session.execute(
            select(Placement.registration_id, Workshop, Round)
            .join(Workshop, Workshop.id == Placement.workshop_id)
            .join(Round, Round.id == Placement.round_id)
            .where(Placement.registration_id.in_(ids[start:start + CHUNK]))
        ).all()
        for reg_id, workshop, rnd in rows:
            slot = workshops.get((rnd.id, workshop.id))
            if slot is None:
                slot = workshops[(rnd.id, workshop.id)] = Slot(
                    f"round:{rnd.id}", "workshop", rnd.id, workshop.id,
                    workshop_event(by_id[reg_id].assembly, rnd, workshop), position=rnd.position)
            out[reg_id].append(slot)
    for slots in out.values():
        slots.sort(key=lambda s: (s.event.starts_at, s.position))
    return out


def make_uid(registration: Registration, slot: str, domain: str | None = None) -> str:
    """A UID from database keys: one per delegate and slot, so a move within a round updates the same entry."""
    domain = domain or id_domain()
    return f"assembly{registration.assembly_id}-registration{registration.id}-{slot.replace(':', '')}@{domain}"


# --- links -----------------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _serializer_for(secret_key) -> URLSafeSerializer:
    # Built once per key: an invitation batch signs a feed link for every delegate.
    return URLSafeSerializer(secret_key, salt=FEED_SALT)


def feed_token(registration: Registration) -> str:
    """A secret, non-expiring token for the delegate's calendar feed (revoked with their manage links)."""
    return _serializer().dumps([registration.id, registration.token_version])


def load_feed_token(token: str) -> Registration | None:
    """The registration a feed token names, or None if forged or revoked."""
    try:
        reg_id, version = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    reg = db.session.get(Registration, reg_id) if isinstance(reg_id, int) else None
    if reg is None or reg.token_version != version or reg.anonymised_at is not None:
        return None
    return reg


def feed_url(registration: Registration) -> str | None:
    """The https address of the delegate's personal calendar feed."""
    return absolute_url("invites.feed", token=feed_token(registration))


def webcal_url(registration: Registration) -> str | None:
    """The same feed as a webcal:// link, which calendar apps open as a subscription."""
    url = feed_url(registration)
    return "webcal://" + url.split("://", 1)[1] if url else None


def _manage_url(registration: Registration) -> str | None:
    from ..registration.services import manage_url

    try:
        return manage_url(registration)
    except RuntimeError:
        return None


# --- sync: the single place where invitations are decided ----------------------------------------------


class _Batch:
    """What the invitations of one sync share: the clock, the organiser, local times, per-delegate links.

    ``defer``: queue each invitation as a recipe that the mail worker renders (see _render_invite).
    """

    def __init__(self, defer: bool = False):
        self.defer = defer
        self.now = utcnow()
        self.organizer = ical.organizer_line()
        self.domain = id_domain()
        self.rows: list[dict] = []
        self.new_entries: list[dict] = []
        self._local: dict[tuple[datetime, str], datetime] = {}
        self._items: dict[tuple[EventData, str], dict] = {}
        self._subjects: dict[tuple[str, EventData, str], str] = {}

    def subject(self, kind: str, data: EventData, tz: str) -> str:
        """An invitation's subject (render_subject()), rendered once per event and kind in this sync."""
        key = (kind, data, tz)
        found = self._subjects.get(key)
        if found is None:
            found = self._subjects[key] = render_subject(kind, event=data, starts=self.local(data.starts_at, tz))
        return found

    def local(self, value: datetime, tz: str) -> datetime:
        key = (value, tz)
        found = self._local.get(key)
        if found is None:
            found = self._local[key] = utc_to_local(value, tz)
        return found

    def programme(self, slots: list[Slot], tz: str) -> list[dict]:
        out = []
        for s in slots:
            item = self._items.get((s.event, tz))
            if item is None:
                item = self._items[(s.event, tz)] = {
                    "summary": s.event.summary, "starts": self.local(s.event.starts_at, tz),
                    "ends": self.local(s.event.ends_at, tz), "location": s.event.location}
            out.append(item)
        return out


def _programme(assembly: Assembly, slots: list[Slot]) -> list[dict]:
    tz = assembly.timezone or "Europe/London"
    return [{"summary": s.event.summary, "starts": utc_to_local(s.event.starts_at, tz),
             "ends": utc_to_local(s.event.ends_at, tz), "location": s.event.location} for s in slots]


def _event_json(data: EventData) -> list:
    return [data.summary, data.starts_at.isoformat(), data.ends_at.isoformat(), data.location, data.description]


def _event_from_json(value: list) -> EventData:
    summary, starts, ends, location, description = value
    return EventData(summary, datetime.fromisoformat(starts), datetime.fromisoformat(ends), location, description)


def _link_templates() -> tuple[str | None, str | None]:
    """(manage link, feed link) as templates with "{token}" (see _manage_url and feed_url); None where unknown."""
    from ..registration.services import _manage_link_template

    try:
        manage = _manage_link_template()
    except RuntimeError:
        manage = None
    return manage, link_template(absolute_url("invites.feed", token=TOKEN_PLACEHOLDER))


def _queue_deferred_invite(batch: _Batch, reg: Registration, uid: str, sequence: int, entry_kind: str, method: str,
                           kind: str, data: EventData, slots: list[Slot], previous: list | None = None) -> None:
    if not hasattr(batch, "links"):
        batch.links = _link_templates()
    recipe = {"r": "invite", "id": reg.id, "v": reg.token_version, "uid": uid, "seq": sequence, "entry": entry_kind,
              "event": _event_json(data), "programme": [_event_json(s.event) for s in slots], "links": batch.links}
    if previous is not None:
        recipe["prev"] = previous  # an update's "Before:" (_previous_json)
    if clean_header(reg.full_name)[:200] != reg.full_name:
        recipe["name"] = reg.full_name
    subject = batch.subject(kind, data, reg.assembly.timezone or "Europe/London")
    batch.rows.append(deferred_row(kind, reg.email, reg.full_name, recipe=recipe, subject=subject, ics_method=method,
                                   assembly_id=reg.assembly_id, dedupe_key=_invite_key(uid, sequence),
                                   now=batch.now, domain=batch.domain, registration_id=reg.id))


@dataclass
class _Loaded:
    """What checking and rendering a batch of invitation recipes reads (see _load_invites)."""

    registrations: dict[int, Registration]
    entries: dict[tuple[int, str], CalendarEntry]
    # By outbox row id, the updates that must read otherwise than queued (see _reworded): (kind, "prev").
    reworded: dict[int, tuple[str, list | None]]
    # By outbox row id, the event a cancellation names where the calendar holds another than queued (_reworded).
    withdrawn: dict[int, EventData]


def _load_invites(pairs: list) -> _Loaded:
    """The mail worker's prepare for invitation recipes: their registrations (with assemblies) and calendar
    entries as committed now, in a few statements for the batch rather than two or three per email."""
    from ..registration.services import _RECIPE_CHUNK, recipe_registrations

    registrations = recipe_registrations(pairs)
    ids = sorted(registrations)
    uids = {recipe["uid"] for _, recipe in pairs}
    entries: dict[tuple[int, str], CalendarEntry] = {}
    for start in range(0, len(ids), _RECIPE_CHUNK):
        for entry in db.session.scalars(
                select(CalendarEntry).where(CalendarEntry.registration_id.in_(ids[start:start + _RECIPE_CHUNK]))
                .execution_options(populate_existing=True)):
            if entry.uid in uids:
                entries[(entry.registration_id, entry.uid)] = entry
    return _Loaded(registrations, entries, *_reworded(pairs))


def _reworded(pairs: list) -> tuple[dict[int, tuple[str, list | None]], dict[int, EventData]]:
    """How the updates among these recipes must read, by row id, where the newest earlier message for their
    entry to the same address was never sent (skipped as out of date, failed or still waiting): as a first
    invitation if nothing was sent there (or the last one sent withdrew the entry), else as an update from what
    the last one sent showed. And, by row id, what the cancellations among them must name where the last message
    sent for their entry showed another time or room than the entry's last state (an update skipped as out of
    date): the event the delegate's calendar holds. Two statements for the batch, whatever its size.

    What was sent is read from the sent rows' ICS: the only record of what went that every row keeps, queued
    rendered or as a recipe (whose recipe is cleared once rendered), and it is exactly what the calendar got.
    """
    from ..registration.services import _RECIPE_CHUNK

    updates = [(row, recipe) for row, recipe in pairs if "prev" in recipe]
    cancels = [(row, recipe) for row, recipe in pairs if (row.ics_method or "").upper() == "CANCEL"]
    if not updates and not cancels:
        return {}, {}
    earlier = _invite_history(sorted({recipe["id"] for _, recipe in updates + cancels}))
    last_sent: dict[int, int] = {}  # recipe's row id -> the row last sent for its entry and address
    out: dict[int, tuple[str, list | None]] = {}
    for row, recipe in updates + cancels:
        before = _before(earlier, recipe["uid"], row.to_email, recipe["seq"])
        if not _newest_not_sent(before):
            continue  # queued from what was sent (or no record left to tell otherwise): as it is
        sent = [msg_id for _, msg_id, status in before if status == "sent"]
        if sent:
            last_sent[row.id] = sent[-1]
        elif "prev" in recipe:
            out[row.id] = ("invite", None)
        # A cancellation of an entry never sent there is not sent at all (mail's _pointless_cancels).
    shown: dict[int, tuple[str, EventData] | None] = {}
    wanted = sorted(set(last_sent.values()))
    for start in range(0, len(wanted), _RECIPE_CHUNK):
        for msg_id, ics in db.session.execute(select(OutboxMessage.id, OutboxMessage.ics).where(
                OutboxMessage.id.in_(wanted[start:start + _RECIPE_CHUNK]))):
            shown[msg_id] = ical.sent_event(ics) if ics else None
    withdrawn: dict[int, EventData] = {}
    for row, recipe in cancels:
        found = shown.get(last_sent.get(row.id))
        if found is not None and found[0].upper() == "REQUEST":
            withdrawn[row.id] = found[1]
    for row, recipe in updates:
        if row.id not in last_sent:
            continue
        found = shown.get(last_sent[row.id])
        if found is None or found[0].upper() != "REQUEST":
            out[row.id] = ("invite", None)  # the calendar holds nothing of it (or we cannot tell what)
            continue
        was, now = found[1], _event_from_json(recipe["event"])
        text_only = (ical.text(was.summary), ical.text(was.location), was.starts_at, was.ends_at) == (
            ical.text(now.summary), ical.text(now.location), now.starts_at, now.ends_at)
        if text_only and ical.text(was.description) == ical.text(now.description):
            out[row.id] = ("invite_updated", None)  # back to what the calendar shows: no "Before:"
        else:
            out[row.id] = ("invite_updated", [was.summary, was.location, was.starts_at.isoformat(),
                                              was.ends_at.isoformat(), text_only])
    return out, withdrawn


def _invite_history(ids: list[int]) -> dict[tuple[str, str], list[tuple[int, int, str]]]:
    """(uid, address in lower case) -> [(sequence, row id, status)] of every calendar message queued for these
    registrations, whatever address it went to: a statement per _RECIPE_CHUNK of them."""
    from ..registration.services import _RECIPE_CHUNK

    earlier: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for start in range(0, len(ids), _RECIPE_CHUNK):
        for msg_id, key, to_email, status in db.session.execute(
                select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.to_email, OutboxMessage.status)
                .where(OutboxMessage.registration_id.in_(ids[start:start + _RECIPE_CHUNK]),
                       OutboxMessage.dedupe_key.startswith("invite:"))):
            uid, _, seq = key[len("invite:"):].rpartition(":")
            if is_number(seq):
                earlier.setdefault((uid, to_email.lower()), []).append((int(seq), msg_id, status))
    return earlier


def _before(earlier: dict[tuple[str, str], list[tuple[int, int, str]]], uid: str, to_email: str,
            sequence: int) -> list[tuple[int, int, str]]:
    """The messages of _invite_history for this entry and address older than ``sequence``, oldest first."""
    return sorted(e for e in earlier.get((uid, to_email.lower()), ()) if e[0] < sequence)


def _newest_not_sent(before: list[tuple[int, int, str]]) -> bool:
    """Whether the newest of these messages (_before) was not sent (skipped, failed or still waiting): what the
    calendar at that address holds is then not what it says. False too when there is no record to tell."""
    return bool(before) and before[-1][2] != "sent"


class _UnsentLast:
    """For the cancellations a sync of few delegates renders as queued: was the newest message for the entry to
    that address not sent (an update that bounced, or still waits for its retry)? Then what the delegate's
    calendar holds is only known when the cancellation's turn comes, so it is queued as a recipe, which the mail
    worker words from the last invitation sent (_reworded), or drops when none was (mail's _pointless_cancels).

    Read for the whole chunk at the first cancellation, in one statement; never when there is none.
    """

    def __init__(self, ids: list[int]):
        self._ids = ids
        self._earlier: dict[tuple[str, str], list[tuple[int, int, str]]] | None = None

    def __call__(self, reg: Registration, entry: CalendarEntry) -> bool:
        if self._earlier is None:
            self._earlier = _invite_history(self._ids)
        return _newest_not_sent(_before(self._earlier, entry.uid, reg.email, entry.sequence))


def _invite_untrue(message, recipe: dict, loaded: _Loaded) -> str | None:
    """Why an invitation queued as a recipe is out of date by its turn (see renderer's check), or None."""
    from ..registration.services import no_longer_true

    registration = loaded.registrations.get(recipe["id"])
    entry = loaded.entries.get((recipe["id"], recipe["uid"]))
    if (message.ics_method or "").upper() == "CANCEL":
        # Sent whatever became of the registration or the assembly (that is often why): only an erased
        # delegate, or a newer message for the same entry, makes it pointless.
        if registration is None or registration.anonymised_at is not None:
            return "the registration was erased before its turn came."
        if entry is None or entry.status != "cancelled" or entry.sequence != recipe["seq"]:
            return "a newer calendar message for this entry replaced it before its turn came."
        return None
    # A personal link replaced meanwhile is no reason not to send: the invitation is rendered with the link of
    # now (_render_invite), and the email that carried the new link carried no calendar entry.
    reason = no_longer_true(registration, db.session.get(Assembly, message.assembly_id), "confirmed",
                            registration.token_version if registration is not None else recipe["v"], message.to_email)
    if reason:
        return reason
    if entry is None or entry.status != "confirmed" or entry.sequence != recipe["seq"]:
        return "a newer calendar message for this entry replaced it before its turn came."
    return None


def _invite_kind(message, recipe: dict, loaded: _Loaded) -> str:
    """What an invitation recipe goes out as: an update reworded as a first invitation is one (_reworded)."""
    loaded = loaded or _load_invites([(message, recipe)])
    return loaded.reworded.get(message.id, (message.kind,))[0]


@renderer("invite", check=_invite_untrue, prepare=_load_invites, kind=_invite_kind)
def _render_invite(message, recipe: dict, loaded: _Loaded | None = None) -> tuple[str, str, str, str]:
    """An invitation queued as a recipe (_queue_deferred_invite), rendered by the mail worker as _queue_invite would."""
    from ..registration.services import _serializer as manage_serializer

    loaded = loaded or _load_invites([(message, recipe)])
    # An update whose entry's earlier message was never sent says what changed since the one that was.
    kind, previous = loaded.reworded.get(message.id, (message.kind, recipe.get("prev")))

    assembly = db.session.get(Assembly, message.assembly_id)
    tz = assembly.timezone or "Europe/London"
    # A cancellation names what the delegate's calendar shows, which an update skipped meanwhile never changed.
    data = loaded.withdrawn.get(message.id) or _event_from_json(recipe["event"])
    name = recipe.get("name", message.to_name)
    method = message.ics_method
    ics = ical.invitation(method, recipe["uid"], data, sequence=recipe["seq"], attendee_email=message.to_email,
                          attendee_name=name, stamp=message.created_at, organizer=ical.organizer_line())
    programme = []
    for value in recipe["programme"]:
        event = _event_from_json(value)
        programme.append({"summary": event.summary, "starts": utc_to_local(event.starts_at, tz),
                          "ends": utc_to_local(event.ends_at, tz), "location": event.location})
    manage, feed = recipe["links"]
    reg_id = recipe["id"]
    registration = db.session.get(Registration, reg_id)
    # The links of now: one replaced since this was queued would be dead (see _invite_untrue).
    version = registration.token_version if registration is not None else recipe["v"]
    context = {
        "registration": registration, "assembly": assembly, "event": data,
        "entry_kind": recipe["entry"], "starts": utc_to_local(data.starts_at, tz), "ends": utc_to_local(data.ends_at, tz),
        "programme": programme, "previous": _previous_from_recipe(previous, tz),
        "manage_url": manage.format(token=manage_serializer().dumps({"r": reg_id, "v": version})) if manage else None,
        "feed_url": feed.format(token=_serializer().dumps([reg_id, version])) if feed else None,
    }
    subject, text, html = render_email(kind, to_name=name, **context)
    return subject, text, html, ics


def _previous_json(entry: CalendarEntry, text_only: bool) -> list:
    """What the calendar showed before an update, for a recipe (read back by _previous_from_recipe)."""
    return [entry.summary, entry.location, entry.starts_at.isoformat() if entry.starts_at else None,
            entry.ends_at.isoformat() if entry.ends_at else None, text_only]


def _previous_from_recipe(value: list | None, tz: str) -> dict | None:
    if value is None:
        return None
    summary, location, starts, ends, text_only = value
    return {"summary": summary, "location": location,
            "starts": utc_to_local(datetime.fromisoformat(starts), tz) if starts else None,
            "ends": utc_to_local(datetime.fromisoformat(ends), tz) if ends else None, "text_only": text_only}


def _queue_invite(batch: _Batch, reg: Registration, links: tuple[str | None, str | None], uid: str, sequence: int,
                  entry_kind: str, method: str, kind: str, data: EventData, programme: list[dict],
                  previous: dict | None) -> None:
    ics = ical.invitation(method, uid, data, sequence=sequence, attendee_email=reg.email,
                          attendee_name=reg.full_name, stamp=batch.now, organizer=batch.organizer)
    tz = reg.assembly.timezone or "Europe/London"
    context = {
        "registration": reg, "assembly": reg.assembly, "event": data, "entry_kind": entry_kind,
        "starts": batch.local(data.starts_at, tz), "ends": batch.local(data.ends_at, tz),
        "programme": programme, "previous": previous, "manage_url": links[0], "feed_url": links[1],
    }
    batch.rows.append(outbox_row(kind, reg.email, reg.full_name, context=context, ics=ics, ics_method=method,
                                 assembly_id=reg.assembly_id, dedupe_key=_invite_key(uid, sequence),
                                 now=batch.now, domain=batch.domain, registration_id=reg.id))


def _previous(entry: CalendarEntry, tz: str) -> dict:
    return {"summary": entry.summary, "location": entry.location,
            "starts": utc_to_local(entry.starts_at, tz) if entry.starts_at else None,
            "ends": utc_to_local(entry.ends_at, tz) if entry.ends_at else None}


def sync_calendar(registration_ids: Iterable[int]) -> int:
    """Queue exactly the REQUEST/CANCEL invitations that bring these delegates' calendars up to date.

    Compares what each delegate should have with what was last sent (calendar_entry).
    Runs in the caller's transaction; returns how many messages were queued.
    """
    ids = sorted({int(i) for i in registration_ids if i is not None})
    # Many delegates at once: their emails are rendered by the mail worker, not within this request.
    defer = len(ids) > current_app.config["CALENDAR_INLINE_MAX"]
    queued = 0
    for start in range(0, len(ids), CHUNK):
        queued += _sync_chunk(ids[start:start + CHUNK], defer=defer)
    return queued


def sync_new_registration(registration: Registration, *, defer: bool = False, rows: list[dict] | None = None) -> int:
    """sync_calendar for a registration inserted in this transaction (so with no invitation or placement yet).

    ``defer``: the invitations are queued as recipes, rendered by the mail worker when sent.
    ``rows``: outbox rows to queue ahead of the invitations, in the same statement.
    """
    # Its id is new, so no calendar_entry or placement row can name it: the three reads
    # sync_calendar makes to find out are skipped; the decisions are the same code.
    db.session.flush()
    return _sync_chunk([registration.id], new=[registration], defer=defer, rows=rows)


def sync_new_registrations(registrations: list[Registration], *, defer: bool = False,
                           rows: list[dict] | None = None) -> int:
    """sync_new_registration for many inserted in this transaction (an import): one statement per table.

    ``rows`` go ahead of all the invitations: each delegate's email comes before their invitation.
    """
    db.session.flush()
    return _sync_chunk([r.id for r in registrations], new=list(registrations), defer=defer, rows=rows)


class _LegacySent:
    """For entries whose fingerprint predates descriptions: is the calendar already showing this slot?

    Such a fingerprint cannot tell whether the DESCRIPTION changed, so the one last sent is read from
    that invitation's outbox row (read for the whole chunk at the first need, never again once upgraded).
    """

    def __init__(self, entries: dict[int, dict[str, CalendarEntry]]):
        self._entries = entries
        self._sent: dict[str, str] | None = None

    def unchanged(self, entry: CalendarEntry, slot: Slot, email: str) -> bool:
        if entry.fingerprint != slot.legacy_fingerprint(email):
            return False  # title, time or place changed
        if self._sent is None:
            self._sent = self._load()
        # No outbox row left to compare with: assume the calendar is current rather than send a blind update.
        sent = self._sent.get(_invite_key(entry.uid, entry.sequence))
        return sent is None or sent == ical.text(slot.event.description)

    def _load(self) -> dict[str, str]:
        keys = [_invite_key(e.uid, e.sequence) for by_slot in self._entries.values() for e in by_slot.values()
                if e.status == "confirmed" and e.fingerprint and not e.fingerprint.startswith(FINGERPRINT_PREFIX)]
        found: dict[str, str] = {}
        for start in range(0, len(keys), CHUNK):
            for key, ics, render in db.session.execute(
                    select(OutboxMessage.dedupe_key, OutboxMessage.ics, OutboxMessage.render)
                    .where(OutboxMessage.dedupe_key.in_(keys[start:start + CHUNK]))):
                if ics:
                    found[key] = ical.sent_description(ics)
                elif render:
                    try:
                        found[key] = ical.text(json.loads(render)["event"][4])
                    except (ValueError, KeyError, IndexError, TypeError):
                        pass
        return found


def _invite_key(uid: str, sequence: int) -> str:
    return f"invite:{uid}:{sequence}"


# Built once: every new registration writes its first calendar entry through here.
_INSERT_ENTRIES = insert(CalendarEntry.__table__)


def _sync_chunk(ids: list[int], new: list[Registration] | None = None, defer: bool = False,
                rows: list[dict] | None = None) -> int:
    entries: dict[int, dict[str, CalendarEntry]] = {}
    if new is not None:
        regs = new
    else:
        regs = list(db.session.scalars(
            select(Registration).where(Registration.id.in_(ids)).options(selectinload(Registration.assembly))
            .order_by(Registration.id)
        ))
        for entry in db.session.scalars(select(CalendarEntry).where(CalendarEntry.registration_id.in_(ids))):
            entries.setdefault(entry.registration_id, {})[entry.slot] = entry
    wanted = desired_slots(regs, placed=new is None)
    last_sent = _LegacySent(entries)
    unsent_last = _UnsentLast(ids)
    batch = _Batch(defer)
    batch.rows.extend(rows or ())
    now = batch.now
    for reg in regs:
        if reg.assembly.status == "archived" or not reg.email or reg.anonymised_at is not None:
            continue
        tz = reg.assembly.timezone or "Europe/London"
        have = entries.get(reg.id, {})
        slots = wanted[reg.id]
        programme = None if batch.defer else batch.programme(slots, tz)
        links = None
        for slot in slots:
            fingerprint = slot.fingerprint(reg.email)
            entry = have.get(slot.slot)
            previous = None
            event = slot.event
            if entry is None:
                uid, sequence = make_uid(reg, slot.slot, batch.domain), 0
                # Written with the batch's outbox rows, in one statement.
                batch.new_entries.append({
                    "registration_id": reg.id, "kind": slot.kind, "slot": slot.slot, "uid": uid, "sequence": 0,
                    "status": "confirmed", "round_id": slot.round_id, "workshop_id": slot.workshop_id,
                    "fingerprint": fingerprint, "summary": event.summary, "location": event.location,
                    "starts_at": event.starts_at, "ends_at": event.ends_at, "sent_at": now})
                kind = "invite"
            else:
                if entry.status == "cancelled":
                    entry.sequence += 1
                    kind = "invite"
                elif entry.fingerprint != fingerprint:
                    if not entry.fingerprint.startswith(FINGERPRINT_PREFIX) and last_sent.unchanged(
                            entry, slot, reg.email):
                        entry.fingerprint = fingerprint  # the calendar already shows this: nothing to send
                        continue
                    entry.sequence += 1
                    # Same title, time and place: the text changed, which the email then shows instead of "Before".
                    text_only = (entry.summary, entry.location, entry.starts_at, entry.ends_at) == (
                        event.summary, event.location, event.starts_at, event.ends_at)
                    if batch.defer:
                        previous = _previous_json(entry, text_only)
                    else:
                        previous = _previous(entry, tz)
                        previous["text_only"] = text_only
                    kind = "invite_updated"
                else:
                    continue
                entry.status = "confirmed"
                entry.round_id, entry.workshop_id = slot.round_id, slot.workshop_id
                entry.fingerprint = fingerprint
                entry.summary, entry.location = event.summary, event.location
                entry.starts_at, entry.ends_at = event.starts_at, event.ends_at
                entry.sent_at = now
                uid, sequence = entry.uid, entry.sequence
            if batch.defer:
                _queue_deferred_invite(batch, reg, uid, sequence, slot.kind, "REQUEST", kind, event, slots, previous)
                continue
            links = links or (_manage_url(reg), feed_url(reg))
            _queue_invite(batch, reg, links, uid, sequence, slot.kind, "REQUEST", kind, event, programme, previous)
        keep = {s.slot for s in slots}
        # In the order of the day (slot names hold ids, whose text does not sort by number).
        for name, entry in sorted(have.items(), key=lambda item: (item[1].starts_at or datetime.min, item[0])):
            if name in keep or entry.status == "cancelled":
                continue
            entry.sequence += 1
            entry.status = "cancelled"
            entry.fingerprint = ""
            entry.sent_at = now
            data = EventData(summary=entry.summary, starts_at=entry.starts_at, ends_at=entry.ends_at,
                             location=entry.location)
            # The entry's last state may not be what the calendar holds: then worded when it goes, as a recipe.
            if batch.defer or unsent_last(reg, entry):
                _queue_deferred_invite(batch, reg, entry.uid, entry.sequence, entry.kind, "CANCEL", "invite_cancelled",
                                       data, slots)
                continue
            links = links or (_manage_url(reg), feed_url(reg))
            _queue_invite(batch, reg, links, entry.uid, entry.sequence, entry.kind, "CANCEL", "invite_cancelled",
                          data, programme, None)
    db.session.flush()
    if batch.new_entries:
        db.session.connection().execute(_INSERT_ENTRIES, batch.new_entries)
    return queue_rows(batch.rows)


def cancel_at_old_address(registration: Registration) -> int:
    """Before a delegate's email address changes: cancel every entry in the old address's calendar.

    The next sync then invites the new address afresh (same UIDs, higher SEQUENCE). Runs in the
    caller's transaction; returns how many messages were queued.
    """
    if not registration.email or registration.anonymised_at is not None or registration.assembly.status == "archived":
        return 0
    entries = list(db.session.scalars(select(CalendarEntry).where(
        CalendarEntry.registration_id == registration.id, CalendarEntry.status == "confirmed")
        # In the order of the day (slot names hold ids, whose text does not sort by number); an entry from before
        # times were kept first, on every database (PostgreSQL puts NULLs last, SQLite first).
        .order_by(CalendarEntry.starts_at.is_not(None), CalendarEntry.starts_at, CalendarEntry.id)))
    batch = _Batch()
    for entry in entries:
        entry.sequence += 1
        entry.status = "cancelled"
        entry.fingerprint = ""
        entry.sent_at = batch.now
        data = EventData(summary=entry.summary, starts_at=entry.starts_at, ends_at=entry.ends_at,
                         location=entry.location)
        # No programme and no personal links: the old address may now belong to someone else.
        _queue_invite(batch, registration, (None, None), entry.uid, entry.sequence, entry.kind, "CANCEL",
                      "invite_cancelled", data, [], None)
    db.session.flush()
    return queue_rows(batch.rows)


# --- trigger helpers: which delegates a change concerns ---------------------------------------------------


def registrations_in_workshop(workshop_id: int) -> list[int]:
    """Delegates placed in this workshop, or holding an invitation for it."""
    placed = db.session.scalars(select(Placement.registration_id).where(Placement.workshop_id == workshop_id))
    invited = db.session.scalars(select(CalendarEntry.registration_id).where(CalendarEntry.workshop_id == workshop_id))
    return sorted(set(placed) | set(invited))


def registrations_in_round(round_id: int) -> list[int]:
    """Delegates placed in this round, or holding an invitation for it."""
    placed = db.session.scalars(select(Placement.registration_id).where(Placement.round_id == round_id))
    invited = db.session.scalars(select(CalendarEntry.registration_id).where(CalendarEntry.round_id == round_id))
    return sorted(set(placed) | set(invited))


def registrations_of_assembly(assembly_id: int) -> list[int]:
    """Confirmed delegates of an assembly, and anyone who still holds an invitation from it."""
    confirmed = db.session.scalars(select(Registration.id).where(
        Registration.assembly_id == assembly_id, Registration.status == "confirmed"))
    invited = db.session.scalars(
        select(CalendarEntry.registration_id).join(Registration, Registration.id == CalendarEntry.registration_id)
        .where(Registration.assembly_id == assembly_id, CalendarEntry.status == "confirmed"))
    return sorted(set(confirmed) | set(invited))


def sync_workshop(workshop: Workshop) -> int:
    """After a workshop's time, room or title changed: update its attendees only."""
    db.session.flush()
    return sync_calendar(registrations_in_workshop(workshop.id))


def sync_round(rnd: Round) -> int:
    """After a round's times changed: update the delegates placed in it."""
    db.session.flush()
    return sync_calendar(registrations_in_round(rnd.id))


def sync_assembly(assembly: Assembly) -> int:
    """After the assembly's date, times or venue changed: update every delegate."""
    db.session.flush()
    return sync_calendar(registrations_of_assembly(assembly.id))


# --- what a delegate sees ----------------------------------------------------------------------------


def delegate_calendar(registration: Registration) -> str:
    """The personal feed: the delegate's current plenary and workshops (cancelled, when the assembly is)."""
    # A subscribed calendar drops an event that vanishes from the feed without a word; one marked
    # cancelled tells its reader the day is off, as the emailed invitations' cancellations do.
    called_off = registration.assembly.cancelled_at is not None
    slots = desired_slots([registration], called_off_too=called_off)[registration.id]
    entries = {e.slot: e for e in db.session.scalars(
        select(CalendarEntry).where(CalendarEntry.registration_id == registration.id))}
    # The invitations' own UID and SEQUENCE: a delegate who accepted the emailed invitations and also
    # subscribes sees one event per slot, not two (make_uid is what the next sync will send, if none yet).
    events = [(entries[s.slot].uid, s.event, entries[s.slot].sequence) if s.slot in entries
              else (make_uid(registration, s.slot), s.event, 0) for s in slots]
    return ical.feed(registration.assembly.title, events, stamp=utcnow(),
                     status="CANCELLED" if called_off else "CONFIRMED")


def agenda_calendar(assembly: Assembly) -> str:
    """The public agenda: the day, each plenary item and each workshop."""
    domain = id_domain()
    day = plenary_event(assembly)
    if assembly.is_cancelled:
        # Subscribers' calendars follow the feed: the day stays, marked cancelled in its title too (not
        # every client shows STATUS), and its sessions go, so nobody turns up to a day that is off.
        day = EventData(f"Cancelled: {day.summary}", day.starts_at, day.ends_at, day.location,
                        f"{assembly.title} has been cancelled.")
        # SEQUENCE stays 0, as for every change to this feed: a subscription is read whole, and a 1 here
        # would make the reinstated day (0 again) look older than the cancellation.
        return ical.feed(assembly.title, [(f"assembly{assembly.id}-day@{domain}", day, 0)], stamp=utcnow(),
                         status="CANCELLED")
    events: list[tuple[str, EventData, int]] = [(f"assembly{assembly.id}-day@{domain}", day, 0)]
    items = db.session.scalars(select(AgendaItem).where(AgendaItem.assembly_id == assembly.id)
                               .order_by(AgendaItem.starts_at, AgendaItem.id))
    for item in items:
        start = _utc(assembly, assembly.date, item.starts_at)
        end = _utc(assembly, assembly.date, item.ends_at) if item.ends_at else start + timedelta(minutes=15)
        speaker = item.speaker or ""
        if item.organisation is not None:
            speaker = f"{speaker}, {item.organisation.name}" if speaker else item.organisation.name
        events.append((f"assembly{assembly.id}-agenda{item.id}@{domain}",
                       EventData(item.title, start, end, venue_text(assembly), speaker), 0))
    rounds = db.session.scalars(select(Round).where(Round.assembly_id == assembly.id)
                                .options(selectinload(Round.workshops)).order_by(*ROUND_ORDER))
    for rnd in rounds:
        for workshop in rnd.workshops:
            events.append((f"assembly{assembly.id}-workshop{workshop.id}@{domain}",
                           workshop_event(assembly, rnd, workshop), 0))
    return ical.feed(assembly.title, events, stamp=utcnow())


# --- reminders -----------------------------------------------------------------------------------------


def queue_reminders(days: int, today: date | None = None) -> int:
    """Queue a reminder to every confirmed delegate of assemblies held ``days`` days from today (once each).

    Today is the date where each assembly is held, unless ``today`` is given.
    """
    # A server on UTC is still on yesterday for the first hour of a British summer day: run then, the
    # "tomorrow" reminder would go out on the day itself. Each assembly's own date is within a day of UTC's.
    base = today or utcnow().date()
    days_from = [base + timedelta(days=days + shift) for shift in ((0,) if today else (-1, 0, 1))]
    # A cancelled assembly keeps its status (reinstating restores it): cancelled_at says it is off.
    assemblies = [a for a in db.session.scalars(select(Assembly).where(
        Assembly.date.in_(days_from), Assembly.cancelled_at.is_(None), Assembly.status.in_(("open", "closed"))))
        if today or a.date == local_today(a.timezone) + timedelta(days=days)]
    queued = 0
    for assembly in assemblies:
        regs = list(db.session.scalars(
            select(Registration).where(Registration.assembly_id == assembly.id, Registration.status == "confirmed",
                                       Registration.anonymised_at.is_(None))
            .options(selectinload(Registration.assembly)).order_by(Registration.id)))
        keys = {f"reminder:{r.id}:{assembly.date.isoformat()}:{days}": r for r in regs if r.email}
        done = set()
        key_list = list(keys)
        for start in range(0, len(key_list), CHUNK):
            done |= set(db.session.scalars(select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.in_(key_list[start:start + CHUNK]))))
        todo = [(k, r) for k, r in keys.items() if k not in done]
        wanted = desired_slots([r for _, r in todo])
        for key, reg in todo:
            queue_email("reminder", reg.email, reg.full_name, assembly_id=assembly.id, dedupe_key=key,
                        registration_id=reg.id, context={
                "registration": reg, "assembly": assembly, "days": days,
                "programme": _programme(assembly, wanted[reg.id]),
                "manage_url": _manage_url(reg), "feed_url": feed_url(reg),
            })
            queued += 1
    db.session.commit()
    return queued
