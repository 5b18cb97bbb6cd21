"""Organisers write to an assembly's delegates: choose who, check the email, send it through the outbox."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..assemblies.models import Assembly, Round, Workshop, workshop_facilitator
from ..audit import services as audit
from ..checkin.models import Arrival
from ..domain import DomainError, NotFound
from ..extensions import db
from ..mail.services import before_sending, deferred_row, queue_rows, render_email, render_subject, renderer
from ..organisations.models import Organisation
from ..placements.models import Placement
from ..registration.models import Registration, email_key
from ..registration.services import _manage_link_template, _serializer
from ..text import is_number
from ..timeutil import local_to_utc, utc_to_local, utcnow
from .models import AssemblyMessage

logger = logging.getLogger(__name__)

SUBJECT_MAX = 200
BODY_MAX = 10_000
# Rows per INSERT: a national event's 10,000 delegates in a few statements, each of modest size.
CHUNK = 1000

WORKSHOP_LABEL = "Delegates placed in "
AUDIENCE_LABELS = {
    "confirmed": "Confirmed delegates",
    "waiting": "The waiting list",
    "registered": "Confirmed delegates and the waiting list",
    "facilitators": "Facilitators of this assembly's workshops",
    "access": "Confirmed delegates who told us of access needs",
    "dietary": "Confirmed delegates who told us of dietary needs",
    "arrived": "Confirmed delegates checked in at reception",
    "not_arrived": "Confirmed delegates not checked in at reception",
}
ORGANISATION_LABEL = "Confirmed delegates from "


# Why an audience reaches no one, and what to do about it.
_EMPTY = {
    "confirmed": "There are no confirmed delegates to write to yet.",
    "waiting": "The waiting list is empty: there is no one on it to write to.",
    "registered": "No one has registered yet: there is no one to write to.",
    "facilitators": "No facilitator is assigned to a workshop of this assembly yet: add them on the workshops' pages.",
    "workshop": "No delegate is placed in {workshop} yet: workshop places are made when you publish the "
                "allocation.",
    "access": "No confirmed delegate has told us of access needs.",
    "dietary": "No confirmed delegate has told us of dietary needs.",
    "organisation": "No delegate from {organisation} is confirmed.",
    "arrived": "No confirmed delegate has been checked in at reception.",
    "not_arrived": "Every confirmed delegate has been checked in at reception.",
}


class AlreadySent(DomainError):
    """This compose form's message was sent already (a second click on Send)."""

    def __init__(self, message: AssemblyMessage):
        super().__init__("This message was sent already; it was not sent again.")
        self.sent = message


@dataclass(frozen=True)
class Audience:
    """One choice in the compose form's "Send to" list."""

    value: str  # "confirmed", "waiting", "registered" or "workshop:<id>"
    label: str
    count: int
    group: str = ""


def _reachable():
    # Anonymised people have no address left to write to; cancelled ones asked to be left alone.
    return (Registration.anonymised_at.is_(None), Registration.email != "")


def _recipients(assembly_id: int, audience: str, workshop_id: int | None, organisation_id: int | None = None):
    """The select of the registrations an audience reaches, oldest first."""
    stmt = select(Registration).where(Registration.assembly_id == assembly_id, *_reachable())
    if audience == "confirmed":
        stmt = stmt.where(Registration.status == "confirmed")
    elif audience == "waiting":
        stmt = stmt.where(Registration.status == "waiting")
    elif audience == "registered":
        stmt = stmt.where(Registration.status.in_(("confirmed", "waiting")))
    elif audience == "access":
        stmt = stmt.where(Registration.status == "confirmed", Registration.access_needs != "")
    elif audience == "dietary":
        stmt = stmt.where(Registration.status == "confirmed", Registration.dietary_needs != "")
    elif audience == "organisation":
        stmt = stmt.where(Registration.status == "confirmed", Registration.organisation_id == organisation_id)
    elif audience in ("arrived", "not_arrived"):
        arrived = Registration.id.in_(select(Arrival.registration_id).where(Arrival.assembly_id == assembly_id))
        stmt = stmt.where(Registration.status == "confirmed", arrived if audience == "arrived" else ~arrived)
    else:
        stmt = stmt.where(Registration.status == "confirmed", Registration.id.in_(
            select(Placement.registration_id).where(Placement.workshop_id == workshop_id)))
    return stmt.order_by(Registration.id)


def _facilitators(assembly_id: int) -> list[User]:
    """The active staff accounts facilitating a workshop of the assembly, each once."""
    ids = select(workshop_facilitator.c.user_id).join(Workshop, Workshop.id == workshop_facilitator.c.workshop_id) \
        .join(Round, Round.id == Workshop.round_id).where(Round.assembly_id == assembly_id)
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.id)))


def audiences(assembly: Assembly) -> list[Audience]:
    """Every audience an organiser can write to, with how many people each reaches now."""
    by_status = dict(db.session.execute(
        select(Registration.status, func.count()).where(Registration.assembly_id == assembly.id, *_reachable())
        .group_by(Registration.status)).all())
    confirmed, waiting = by_status.get("confirmed", 0), by_status.get("waiting", 0)
    choices = [Audience("confirmed", AUDIENCE_LABELS["confirmed"], confirmed),
               Audience("waiting", AUDIENCE_LABELS["waiting"], waiting),
               Audience("registered", AUDIENCE_LABELS["registered"], confirmed + waiting),
               Audience("facilitators", AUDIENCE_LABELS["facilitators"], len(_facilitators(assembly.id)), group="Staff")]
    access, dietary = db.session.execute(
        select(func.count().filter(Registration.access_needs != ""), func.count().filter(Registration.dietary_needs != ""))
        .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed", *_reachable())).one()
    choices += [Audience("access", AUDIENCE_LABELS["access"], access or 0, group="Confirmed delegates with needs"),
                Audience("dietary", AUDIENCE_LABELS["dietary"], dietary or 0, group="Confirmed delegates with needs")]
    # Once reception has checked someone in: "thank you for coming" and "are you on your way?".
    arrived = db.session.scalar(
        select(func.count(Arrival.registration_id)).join(Registration, Registration.id == Arrival.registration_id)
        .where(Arrival.assembly_id == assembly.id, Registration.status == "confirmed", *_reachable())) or 0
    if arrived:
        choices += [Audience("arrived", AUDIENCE_LABELS["arrived"], arrived, group="On the day"),
                    Audience("not_arrived", AUDIENCE_LABELS["not_arrived"], confirmed - arrived, group="On the day")]
    for org_id, name, count in db.session.execute(
            select(Organisation.id, Organisation.name, func.count(Registration.id))
            .join(Registration, Registration.organisation_id == Organisation.id)
            .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed", *_reachable())
            .group_by(Organisation.id, Organisation.name).order_by(Organisation.name_key)):
        choices.append(Audience(f"organisation:{org_id}", name, count,
                                group="Confirmed delegates from one organisation"))
    placed = dict(db.session.execute(
        select(Placement.workshop_id, func.count())
        .join(Registration, Registration.id == Placement.registration_id)
        .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed", *_reachable())
        .group_by(Placement.workshop_id)).all())
    workshops = db.session.execute(
        select(Workshop.id, Workshop.title, Workshop.room, Round.name)
        .join(Round, Round.id == Workshop.round_id).where(Round.assembly_id == assembly.id)
        .order_by(Round.position, Round.starts_at, Round.id, Workshop.title, Workshop.id)).all()
    for workshop_id, title, room, round_name in workshops:
        label = f"{title} ({room})" if room else title
        choices.append(Audience(f"workshop:{workshop_id}", label, placed.get(workshop_id, 0),
                                group=f"Delegates placed in a workshop: {round_name}"))
    return choices


def _parse_audience(assembly: Assembly, value: str) -> tuple[str, int | None, str, int | None]:
    """(audience, workshop id, label, organisation id) for a "Send to" value, or a DomainError."""
    if value in AUDIENCE_LABELS:
        return value, None, AUDIENCE_LABELS[value], None
    kind, _, ident = (value or "").partition(":")
    if kind == "organisation" and is_number(ident):
        name = db.session.scalar(select(Organisation.name).where(Organisation.id == int(ident)))
        if name is not None:
            return "organisation", None, f"{ORGANISATION_LABEL}“{name}”", int(ident)
    if kind == "workshop" and is_number(ident):
        row = db.session.execute(
            select(Workshop.title, Workshop.room, Round.name).join(Round, Round.id == Workshop.round_id)
            .where(Workshop.id == int(ident), Round.assembly_id == assembly.id)).first()
        if row is not None:
            title, room, round_name = row
            where = f", {room}" if room else ""
            return "workshop", int(ident), f"{WORKSHOP_LABEL}“{title}” ({round_name}{where})", None
    raise DomainError("Choose who to send the message to.", "audience")


def _clean(data: dict[str, Any]) -> tuple[str, str]:
    subject = (data.get("subject") or "").strip()
    # A browser sends a textarea's line ends as CRLF; emails and pages want one kind.
    body = (data.get("body") or "").replace("\r\n", "\n").strip("\n")
    if not subject:
        raise DomainError("Enter a subject.", "subject")
    if len(subject) > SUBJECT_MAX:
        raise DomainError(f"The subject is {len(subject):,} characters long; shorten it to {SUBJECT_MAX:,} or fewer.",
                          "subject")
    if not body.strip():
        raise DomainError("Write the message.", "body")
    if len(body) > BODY_MAX:
        raise DomainError(f"The message is {len(body):,} characters long; shorten it to {BODY_MAX:,} or fewer.",
                          "body")
    return subject, body


@dataclass(frozen=True)
class Draft:
    """A checked message not yet sent: what the preview shows."""

    audience: str
    workshop_id: int | None
    audience_label: str
    subject: str
    body: str
    recipients: int
    first: Registration | User | None  # a facilitator's account when writing to facilitators
    organisation_id: int | None = None


def check_message(assembly: Assembly, data: dict[str, Any]) -> Draft:
    """Check a message before it is sent and count who it would reach (nothing is written)."""
    audience, workshop_id, label, organisation_id = _parse_audience(assembly, data.get("audience") or "")
    subject, body = _clean(data)
    if audience == "facilitators":
        staff = _facilitators(assembly.id)
        if not staff:
            raise DomainError(_EMPTY[audience], "audience")
        return Draft(audience, workshop_id, label, subject, body, len(staff), staff[0])
    stmt = _recipients(assembly.id, audience, workshop_id, organisation_id)
    count = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if not count:
        raise DomainError(_EMPTY[audience].format(workshop=label.removeprefix(WORKSHOP_LABEL),
                                                  organisation=label.removeprefix(ORGANISATION_LABEL)), "audience")
    return Draft(audience, workshop_id, label, subject, body, count, db.session.scalars(stmt.limit(1)).first(),
                 organisation_id)


def preview(assembly: Assembly, draft: Draft) -> tuple[str, str]:
    """(subject, plain text) of the email as its first recipient will get it, their personal link left out."""
    if isinstance(draft.first, User):
        subject, text, _ = render_email("message", to_name=draft.first.display_name, message=draft,
                                        registration=None, assembly=assembly, manage_url=None, facilitator=True)
        return subject, text
    subject, text, _ = render_email("message", to_name=draft.first.full_name, message=draft,
                                    registration=draft.first, assembly=assembly, manage_url="[their personal link]")
    return subject, text


# Scheduling further ahead than this is more likely a mistyped year than a plan.
SCHEDULE_MAX_DAYS = 400


def send_time(assembly: Assembly, data: dict[str, Any], now: datetime | None = None) -> datetime | None:
    """The UTC time a message is to be sent at, from the form's "when" choice; None for now."""
    if data.get("when") != "later":
        return None
    day, at = data.get("send_on"), data.get("send_time")
    if not isinstance(day, date):
        raise DomainError("Enter the day to send it, e.g. 2027-03-11.", "send_on")
    if not isinstance(at, time):
        raise DomainError("Enter the time to send it, e.g. 09:00.", "send_time")
    tz = assembly.timezone or "Europe/London"
    local = datetime.combine(day, at)
    when = local_to_utc(local, tz)
    if utc_to_local(when, tz) != local:
        # The hour the clocks skip in spring: that wall-clock time never happens.
        raise DomainError(f"{at:%H:%M} does not happen on that day: the clocks go forward. Choose another time.",
                          "send_time")
    now = now or utcnow()
    if when <= now:
        raise DomainError("That time has passed. Choose a time to come, or send it now.", "send_on")
    if when > now + timedelta(days=SCHEDULE_MAX_DAYS):
        raise DomainError(f"Choose a day within {SCHEDULE_MAX_DAYS} days.", "send_on")
    return when


def send_message(assembly: Assembly, data: dict[str, Any], send_key: str, user_id: int | None) -> AssemblyMessage:
    """Queue the message for everyone its audience reaches now, or keep it for its scheduled time;
    the same send key never sends twice."""
    send_key = (send_key or "").strip()[:64]
    if not send_key:
        raise DomainError("The form has expired. Check the message and send it again.")
    existing = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.assembly_id == assembly.id,
                                                               AssemblyMessage.send_key == send_key))
    if existing is not None:
        raise AlreadySent(existing)
    draft = check_message(assembly, data)
    send_at = send_time(assembly, data)
    message = AssemblyMessage(assembly_id=assembly.id, send_key=send_key, audience=draft.audience,
                              workshop_id=draft.workshop_id, organisation_id=draft.organisation_id,
                              audience_label=draft.audience_label[:400],
                              subject=draft.subject, body=draft.body, sent_by_id=user_id, send_at=send_at)
    db.session.add(message)
    try:
        db.session.flush()
    except IntegrityError:
        # Two clicks racing: the other request stored this key a moment ago.
        db.session.rollback()
        sent = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.assembly_id == assembly.id,
                                                               AssemblyMessage.send_key == send_key))
        if sent is None:  # not the key after all (the workshop deleted a moment ago, say)
            raise DomainError("The message could not be sent just now. Check it and send it again.") from None
        raise AlreadySent(sent) from None
    audit.record(user_id, "message.send", assembly_id=assembly.id, subject=f"message {message.id}: {message.subject}", detail=f"to {message.audience_label}" + (f"; scheduled for {send_at:%Y-%m-%d %H:%M} UTC" if send_at else ""))
    if send_at is not None:
        # Who it reaches is decided when it goes: people who register or cancel meanwhile count.
        message.recipients = draft.recipients
        db.session.commit()
        return message
    _queue_copies(assembly, message)
    db.session.commit()
    return message


def _queue_copies(assembly: Assembly, message: AssemblyMessage) -> None:
    """Put one copy of the message per person its audience reaches now into the outbox (the caller commits)."""
    message.queued_at = utcnow()
    subject = render_subject("message", message=message, assembly=assembly)
    if message.audience == "facilitators":
        # Staff: no personal link to a registration; their copy says why they get it.
        staff = _facilitators(assembly.id)
        queue_rows([deferred_row("message", u.email, u.display_name,
                                 recipe={"r": "message", "m": message.id, "id": None, "staff": True,
                                         "name": u.display_name},
                                 subject=subject, assembly_id=assembly.id, dedupe_key=f"message:{message.id}:u{u.id}")
                    for u in staff])
        message.recipients = len(staff)
        return
    try:
        link = _manage_link_template()
    except RuntimeError:
        # Queued by the worker (a scheduled message) with no FLASK_PUBLIC_BASE_URL: no host to
        # build a personal link on, so the copies go without one rather than not at all.
        link = None
    if (message.audience == "workshop" and message.workshop_id is None) or (
            message.audience == "organisation" and message.organisation_id is None):
        message.recipients = 0  # its workshop or organisation was deleted (or merged) while the message waited
        return
    people = db.session.execute(
        _recipients(assembly.id, message.audience, message.workshop_id, message.organisation_id)
        .with_only_columns(Registration.id, Registration.email, Registration.full_name,
                           Registration.token_version)).all()
    for start in range(0, len(people), CHUNK):
        # The link's version is taken again when the copy is rendered ("v" is kept for reading only).
        queue_rows([deferred_row("message", email, name, recipe={"r": "message", "m": message.id, "id": reg_id,
                                                                 "v": version, "name": name, "link": link},
                                 subject=subject, assembly_id=assembly.id, dedupe_key=f"message:{message.id}:{reg_id}",
                                 registration_id=reg_id)
                    for reg_id, email, name, version in people[start:start + CHUNK]])
    message.recipients = len(people)


@before_sending
def release_due(now: datetime | None = None) -> int:
    """Queue the copies of every scheduled message whose time has come; returns how many messages."""
    now = now or utcnow()
    due = db.session.scalars(select(AssemblyMessage.id).where(
        AssemblyMessage.send_at <= now, AssemblyMessage.queued_at.is_(None), AssemblyMessage.cancelled_at.is_(None))
        .order_by(AssemblyMessage.send_at, AssemblyMessage.id)).all()
    released = 0
    for message_id in due:
        try:
            # Locked and read again: two workers (or a cancel) at the same moment queue it at most once.
            message = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.id == message_id)
                                        .with_for_update().execution_options(populate_existing=True))
            if message is None or not message.is_scheduled:
                db.session.commit()  # nothing changed: ends the lock
                continue
            assembly = db.session.get(Assembly, message.assembly_id)
            if assembly.cancelled_at is not None:
                # "See you on Thursday" for an assembly called off since: not sent, and the page says so.
                message.cancelled_at = now
                db.session.commit()
                continue
            _queue_copies(assembly, message)
            # The worker sends it, so no actor; the detail names who scheduled it.
            scheduler = message.sent_by.display_name if message.sent_by else "an account since deleted"
            audit.record(None, "message.release", assembly_id=assembly.id,
                         subject=f"message {message.id}: {message.subject}",
                         detail=f"scheduled by {scheduler}; {message.recipients} recipients")
            db.session.commit()
            released += 1
        except Exception:
            # One message that cannot be queued must not stop every other email: it is tried again
            # on the next pass, and the log says why.
            db.session.rollback()
            logger.exception("Scheduled message %s could not be queued", message_id)
    return released


def cancel_scheduled(message: AssemblyMessage) -> None:
    """Call off a scheduled message before its time (nothing of it was sent)."""
    message = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.id == message.id)
                                .with_for_update().execution_options(populate_existing=True))
    if message.cancelled_at is not None:
        db.session.commit()  # nothing changed: ends the lock
        return
    if not message.is_scheduled:
        db.session.commit()
        raise DomainError("This message has gone to the outbox already, so it can no longer be cancelled.")
    message.cancelled_at = utcnow()
    db.session.commit()


# The statuses a delegate of each audience has (every other audience: confirmed delegates).
_AUDIENCE_STATUSES = {"waiting": ("waiting",), "registered": ("confirmed", "waiting")}
_NOW = {"cancelled": "cancelled their registration",
        "waiting": "was moved to the waiting list",
        "confirmed": "was given a place (off the waiting list)"}
_AUDIENCE_WORDS = {"waiting": "the waiting list", "registered": "confirmed delegates and the waiting list"}
# Per batch of the mail worker, keyed IN lists stay well under every database's limit on parameters.
_IN = 500


@dataclass
class _Batch:
    """What checking and rendering a batch of copies reads, loaded in a few statements (see _load_batch).

    Holding it keeps the objects in the session, so the renderer's db.session.get finds them."""

    messages: dict[int, AssemblyMessage]
    assemblies: dict[int, Assembly]
    registrations: dict[int, Registration]
    placed: set[tuple[int, int]]  # (registration id, workshop id), for workshop messages
    arrived: set[int]  # registration ids checked in, for the audiences "arrived" and "not_arrived"


def _chunks(ids: list[int]):
    for start in range(0, len(ids), _IN):
        yield ids[start:start + _IN]


def _load_batch(pairs: list) -> _Batch:
    """The mail worker's prepare for a batch of copies: their messages, assemblies and registrations,
    and the placements and check-ins their audiences depend on, as they are now."""
    fresh = {"populate_existing": True}  # as committed now, not as the session last saw them
    message_ids = sorted({recipe["m"] for _, recipe in pairs})
    messages = {m.id: m for m in db.session.scalars(
        select(AssemblyMessage).where(AssemblyMessage.id.in_(message_ids)).execution_options(**fresh))}
    assembly_ids = sorted({row.assembly_id for row, _ in pairs if row.assembly_id is not None})
    assemblies = {a.id: a for a in db.session.scalars(
        select(Assembly).where(Assembly.id.in_(assembly_ids)).execution_options(**fresh))} if assembly_ids else {}
    reg_ids = sorted({recipe["id"] for _, recipe in pairs if recipe.get("id") is not None})
    registrations: dict[int, Registration] = {}
    for chunk in _chunks(reg_ids):
        registrations.update((r.id, r) for r in db.session.scalars(
            select(Registration).where(Registration.id.in_(chunk)).execution_options(**fresh)))
    audience_of = {recipe["id"]: messages.get(recipe["m"]) for _, recipe in pairs if recipe.get("id") is not None}
    workshops = sorted({m.workshop_id for m in messages.values() if m.audience == "workshop" and m.workshop_id})
    placed: set[tuple[int, int]] = set()
    ids = [i for i, m in audience_of.items() if m is not None and m.audience == "workshop"]
    for chunk in _chunks(ids):
        placed.update((reg_id, workshop_id) for reg_id, workshop_id in db.session.execute(
            select(Placement.registration_id, Placement.workshop_id).where(
                Placement.registration_id.in_(chunk), Placement.workshop_id.in_(workshops))))
    arrived: set[int] = set()
    ids = [i for i, m in audience_of.items() if m is not None and m.audience in ("arrived", "not_arrived")]
    for chunk in _chunks(ids):
        arrived.update(db.session.scalars(select(Arrival.registration_id).where(Arrival.registration_id.in_(chunk))))
    return _Batch(messages, assemblies, registrations, placed, arrived)


def _copy_untrue(row, recipe: dict, batch: _Batch | None) -> str | None:
    """Why a copy of a message would now go to someone no longer in its audience, or None (the mail worker's
    check). Re-checked where the audience's rule is a fact of the delegate's own row, a placement or a
    check-in: status, needs on record, organisation, workshop placed in, checked in or not."""
    if recipe.get("id") is None:
        return None  # facilitators: staff accounts, whose copies say only why they get them
    batch = batch or _load_batch([(row, recipe)])
    registration = batch.registrations.get(recipe["id"])
    message = batch.messages.get(recipe["m"])
    if registration is None or registration.anonymised_at is not None or not registration.email:
        return "the delegate's registration was erased before its turn came."
    assembly = batch.assemblies.get(row.assembly_id)
    if assembly is not None and assembly.cancelled_at is not None and assembly.cancelled_at > row.created_at:
        # A message written after the call-off (explaining it, say) still goes: this one was written before.
        return "the assembly was called off after this message was written."
    if message is None:
        return None
    audience = message.audience
    if registration.status not in _AUDIENCE_STATUSES.get(audience, ("confirmed",)):
        now = _NOW.get(registration.status, f"is now {registration.status}")
        return (f"the delegate {now} before its turn came; the message was for "
                f"{_AUDIENCE_WORDS.get(audience, 'confirmed delegates')}.")
    if audience == "access" and not registration.access_needs:
        return "the delegate no longer has access needs on record; the message was for those who have."
    if audience == "dietary" and not registration.dietary_needs:
        return "the delegate no longer has dietary needs on record; the message was for those who have."
    if audience == "organisation" and message.organisation_id is not None \
            and registration.organisation_id != message.organisation_id:
        return "the delegate's organisation was changed before its turn came; the message was for another one."
    if audience == "workshop" and message.workshop_id is not None \
            and (registration.id, message.workshop_id) not in batch.placed:
        return "the delegate is no longer placed in the workshop the message was for."
    if audience == "arrived" and registration.id not in batch.arrived:
        return "the delegate's check-in was undone before its turn came; the message was for those checked in."
    if audience == "not_arrived" and registration.id in batch.arrived:
        return ("the delegate was checked in at reception before its turn came; the message was for those not "
                "checked in.")
    return None


def _current_recipient(row, recipe: dict, batch: _Batch | None) -> tuple[str, str] | None:
    """The address and name a delegate's copy goes to: the registration's at the worker's turn (the mail worker's
    recipient), so an address corrected or given to another officer meanwhile gets it, and the old one does not."""
    if recipe.get("id") is None:
        return None  # facilitators: staff accounts, sent as queued
    registration = (batch or _load_batch([(row, recipe)])).registrations.get(recipe["id"])
    if registration is None or registration.anonymised_at is not None or not registration.email:
        return None  # not sent at all (see _copy_untrue)
    return registration.email, registration.full_name


@renderer("message", check=_copy_untrue, prepare=_load_batch, recipient=_current_recipient)
def _render_message(row, recipe: dict, batch: _Batch | None = None) -> tuple[str, str, str, None]:
    """An organiser's message queued by send_message(), rendered by the sender just before it goes."""
    registration = db.session.get(Registration, recipe["id"]) if recipe.get("id") is not None else None
    manage = None
    # The sender addresses the copy to the registration's address now (_current_recipient); one rendered
    # for another address (the Outbox showing a copy still waiting) greets and links as queued.
    current = (registration is not None and registration.anonymised_at is None
               and registration.email_key == email_key(row.to_email))
    # The personal link only while this address still holds the registration: after an address
    # change (another officer sent instead) or an erasure, the old address may be someone else's.
    if current and recipe.get("link"):
        # Of the link's version now, not as queued: a link replaced meanwhile (the delegate's new one was
        # emailed to this same address) would be dead, and this email's link must open their registration.
        manage = recipe["link"].format(token=_serializer().dumps({"r": registration.id,
                                                                  "v": registration.token_version}))
    name = registration.full_name if current else recipe.get("name", row.to_name)
    subject, text, html = render_email(
        "message", to_name=name, message=db.session.get(AssemblyMessage, recipe["m"]),
        registration=registration, assembly=db.session.get(Assembly, row.assembly_id), manage_url=manage,
        facilitator=bool(recipe.get("staff")))
    return subject, text, html, None


def messages_of(assembly: Assembly, page: int, per_page: int):
    """The assembly's sent messages, newest first, a page at a time."""
    return db.paginate(select(AssemblyMessage).where(AssemblyMessage.assembly_id == assembly.id)
                       .order_by(AssemblyMessage.created_at.desc(), AssemblyMessage.id.desc()),
                       page=page, per_page=per_page, error_out=False)


def get_message(assembly: Assembly, message_id: int) -> AssemblyMessage:
    """One of the assembly's messages, or NotFound."""
    message = db.session.get(AssemblyMessage, message_id)
    if message is None or message.assembly_id != assembly.id:
        raise NotFound("No such message.")
    return message


def forget_delegates(assembly_id: int, people: Iterable[str]) -> int:
    """Take purged delegates' names and addresses (``people``) out of an assembly's messages' subjects and bodies;
    returns how many changed (the privacy purge; the caller commits)."""
    # What an organiser typed ("Jo Bloggs will chair the plenary") outlives the copies in the outbox otherwise.
    needles = audit.Needles(people)
    changed = 0
    for message in db.session.scalars(select(AssemblyMessage).where(AssemblyMessage.assembly_id == assembly_id)):
        # A short name replaced by the longer label must still fit the column (PostgreSQL enforces it).
        subject, body = needles.out_of(message.subject)[:SUBJECT_MAX], needles.out_of(message.body)
        if (subject, body) != (message.subject, message.body):
            message.subject, message.body = subject, body
            changed += 1
    return changed
