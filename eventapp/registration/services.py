"""Registration use cases: register, edit, cancel, the waiting list, manage links, privacy."""
from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Iterable, NamedTuple

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, bindparam, case, delete, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..assemblies.models import Assembly, Round, Topic, Workshop
from .. import add_once
from ..domain import DomainError
from ..extensions import db
from ..mail.models import OutboxMessage
from ..invites.services import (cancel_at_old_address, sync_calendar, sync_new_registration,
                                sync_new_registrations)
from ..mail.services import (TOKEN_PLACEHOLDER, before_sending, clean_header, deferred_row, is_email_address,
                             link_template, outbox_row, queue_rows, render_email, render_subject, rendered, renderer)
from ..organisations.models import SECTORS, Organisation, name_key
from ..text import has_control, isolate, sort_key, visible
from ..timeutil import utc_to_local, utcnow
from ..audit import services as audit
from ..txn import begin_writes
from .csvio import ROW_KEY, STATUS, is_cancelled_status
from .models import PendingRegistration, Preference, Registration, email_key

MIN_CHOICES = 3
CANCELLED_NO_PLACES = "This assembly is cancelled: reinstate it before giving places from the waiting list."
# Each would email "Your place at … is confirmed".
CHOICES_AFTER_THE_DAY = "The assembly has taken place, so workshop choices can no longer change."
ASSEMBLY_CANCELLED_NO_CHANGE = "This assembly has been cancelled, so registrations can no longer be changed."
CANCELLED_NO_NEW = "This assembly is cancelled: reinstate it before adding or reinstating delegates."
TOKEN_SALT = "registration-manage"
DEFAULT_TOKEN_DAYS = 60


class RegistrationResult:
    """What happened to a registration attempt. ``outcome`` is confirmed, waiting or duplicate."""

    def __init__(self, registration: Registration | int, outcome: str, waiting_position: int | None = None):
        # A new registration is inserted without an ORM object (see register()): it is
        # loaded only if the caller asks for it, which the public form never does.
        self._registration = registration
        self.outcome = outcome
        self.waiting_position = waiting_position

    @property
    def correctable(self) -> tuple[int, int]:
        """(id, link version) of the registration this attempt made, whose address its maker may still
        correct; (0, 0) when the address was registered already (there is nothing of theirs to correct)."""
        if isinstance(self._registration, int):
            return self._registration, 1
        if self.outcome == "duplicate":
            return 0, 0
        return self._registration.id, self._registration.token_version

    @property
    def registration(self) -> Registration:
        if isinstance(self._registration, int):
            self._registration = db.session.get(Registration, self._registration)
        return self._registration

    def __repr__(self) -> str:
        return f"RegistrationResult({self._registration!r}, {self.outcome!r}, {self.waiting_position!r})"


class TokenInvalid(DomainError):
    """The manage link was tampered with, revoked or belongs to nobody."""


class TokenExpired(DomainError):
    """The manage link was genuine but is too old."""


class NoPlace(DomainError):
    """No place is free for this delegate and the form did not ask to join the waiting list; ``reason`` says why
    without pointing at the form's box (the confirmation page has a button instead)."""

    def __init__(self, reason: str):
        super().__init__(f"{reason} Tick this box to join the waiting list.", "join_waiting_list")
        self.reason = reason


# --- validation ----------------------------------------------------------------


def clean_line(value: Any, field_name: str, label: str, *, max_len: int, required: bool = True) -> str:
    """A single-line answer: trimmed, with no line breaks or control characters."""
    text = (value or "").strip() if isinstance(value, str) else ""
    if required and not text:
        raise DomainError(f"Enter {label}.", field_name)
    if has_control(text):
        raise DomainError("Remove line breaks and control characters from this answer.", field_name)
    if len(text) > max_len:
        raise DomainError(f"Use at most {max_len:,} characters (you used {len(text):,}).", field_name)
    return text


def clean_text(value: Any, field_name: str, *, max_len: int = 2000) -> str:
    """A multi-line answer: trimmed; line breaks and tabs allowed, other control characters not."""
    text = (value or "").strip() if isinstance(value, str) else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if has_control(text, "\n\t"):
        raise DomainError("Remove control characters from this answer.", field_name)
    if len(text) > max_len:
        raise DomainError(f"Use at most {max_len:,} characters (you used {len(text):,}).", field_name)
    return text


def clean_email(value: Any, field_name: str = "email") -> str:
    """An email address as typed (trimmed), refused unless it looks deliverable in form."""
    text = clean_line(value, field_name, "your email address", max_len=254)
    if not is_email_address(text):
        raise DomainError("Enter an email address in the form name@example.org.", field_name)
    return text


def offered_topics(assembly: Assembly) -> list[Topic]:
    """The workshop topics on offer at this assembly, by name."""
    stmt = (
        select(Topic)
        .where(Topic.id.in_(select(Workshop.topic_id).join(Round).where(Round.assembly_id == assembly.id)))
        .order_by(Topic.name)
    )
    return list(db.session.scalars(stmt))


class TopicChoice(NamedTuple):
    """A topic on offer, as the registration form needs it."""

    id: int
    name: str


_TOPIC_CHOICES = (
    select(Topic.__table__.c.id, Topic.__table__.c.name, Assembly.__table__.c.content_version)
    .join(Workshop.__table__, Workshop.__table__.c.topic_id == Topic.__table__.c.id)
    .join(Round.__table__, Round.__table__.c.id == Workshop.__table__.c.round_id)
    .join(Assembly.__table__, Assembly.__table__.c.id == Round.__table__.c.assembly_id)
    .where(Assembly.__table__.c.id == bindparam("assembly_id"))
    .distinct()
    .order_by(Topic.__table__.c.name, Topic.__table__.c.id)
)
# Per process: {assembly id: (content_version, topics)}. The database gives the assembly a new
# content_version in the same transaction as any change to its rounds, workshops or topics
# (migration 0008, as the public page cache relies on), so an entry can never be stale.
_topic_choices_cache: dict[int, tuple[int, tuple[TopicChoice, ...]]] = {}


def offered_topic_choices(assembly: Assembly) -> tuple[TopicChoice, ...]:
    """The topics on offer at this assembly (id and name, by name), cached by the assembly's content version."""
    hit = _topic_choices_cache.get(assembly.id)
    if hit is not None and hit[0] == assembly.content_version:
        return hit[1]
    rows = db.session.connection().execute(_TOPIC_CHOICES, {"assembly_id": assembly.id}).all()
    topics = tuple(TopicChoice(row.id, row.name) for row in rows)
    # The version read with the topics, in the same statement, names exactly this list.
    if rows and len({row.content_version for row in rows}) == 1:
        if len(_topic_choices_cache) >= 256:
            _topic_choices_cache.clear()
        _topic_choices_cache[assembly.id] = (rows[0].content_version, topics)
    return topics


def required_choices(assembly: Assembly, topics: list[Topic] | None = None) -> int:
    """How many ranked choices a delegate must give (three, or fewer if fewer topics run)."""
    return min(MIN_CHOICES, len(topics if topics is not None else offered_topics(assembly)))


def _clean_choices(assembly: Assembly, topic_ids: Iterable[Any], topics: list[Topic] | None = None) -> list[int]:
    offered = {t.id for t in (topics if topics is not None else offered_topics(assembly))}
    need = min(MIN_CHOICES, len(offered))
    ids: list[int] = []
    for rank, raw in enumerate(topic_ids, start=1):
        if raw in (None, "", 0, "0"):
            continue
        try:
            topic_id = int(raw)
        except (TypeError, ValueError):
            raise DomainError("Choose a workshop topic from the list.", f"choice_{rank}") from None
        if topic_id not in offered:
            raise DomainError("Choose a workshop topic from the list.", f"choice_{rank}")
        if topic_id in ids:
            raise DomainError("You have already chosen this topic: choose a different one.", f"choice_{rank}")
        ids.append(topic_id)
    if len(ids) < need:
        raise DomainError(f"Rank at least {need} workshop topics.", f"choice_{len(ids) + 1}")
    return ids


def allocation_published(assembly: Assembly) -> bool:
    """Whether workshop places are published (then preferences can no longer change)."""
    return getattr(assembly, "allocation_published_at", None) is not None


def has_taken_place(assembly: Assembly, now: datetime | None = None) -> bool:
    """Whether the assembly's day is over (its end time has passed where it is held)."""
    local_now = utc_to_local(now or utcnow(), assembly.timezone or "Europe/London")
    return local_now >= datetime.combine(assembly.date, assembly.end_time)


def took_place_message(assembly: Assembly) -> str:
    d = assembly.date
    return (f"{assembly.title} took place on {d.day} {d:%B %Y}: registrations can no longer be cancelled, "
            "and the day's attendance and workshop records stay as they are.")


def registration_window(assembly: Assembly, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the public form accepts registrations now, and if not why not."""
    state, why = registration_state(assembly, now)
    return state == "open", why


def registration_state(assembly: Assembly, now: datetime | None = None) -> tuple[str, str]:
    """("open", ""), ("not_yet", why) or ("closed", why) for the public form now."""
    if getattr(assembly, "cancelled_at", None) is not None:
        return "closed", "This assembly has been cancelled."
    if assembly.status != "open":
        return "closed", "Registration for this assembly is closed."
    local_now = utc_to_local(now or utcnow(), assembly.timezone or "Europe/London")
    opens, closes = assembly.registration_opens_at, assembly.registration_closes_at
    if opens and local_now < opens:
        return "not_yet", f"Registration opens on {opens.day} {opens:%B %Y} at {opens:%H:%M}."
    if closes and local_now >= closes:
        return "closed", f"Registration closed on {closes.day} {closes:%B %Y} at {closes:%H:%M}."
    if local_now >= datetime.combine(assembly.date, assembly.end_time):
        # An assembly left open with no closing time would otherwise book places for a day that is over.
        d = assembly.date
        return "closed", f"{assembly.title} took place on {d.day} {d:%B %Y}: registration is closed."
    return "open", ""


def _zone():
    # As registration_state reads it: no time zone means the assemblies' usual one.
    return case((or_(Assembly.timezone.is_(None), Assembly.timezone == ""), "Europe/London"), else_=Assembly.timezone)


def registration_state_where(state: str, now: datetime | None = None):
    """SQL condition: registration_state(assembly)[0] == state ("open", "not_yet" or "closed").

    One query for the time zones in use, so that each assembly's window is read on its own clock.
    """
    now = now or utcnow()
    cases = []
    for zone in set(db.session.scalars(select(_zone()).distinct())):
        local_now = utc_to_local(now, zone)
        not_yet = and_(Assembly.registration_opens_at.is_not(None), Assembly.registration_opens_at > local_now)
        over = or_(and_(Assembly.registration_closes_at.is_not(None), Assembly.registration_closes_at <= local_now),
                   Assembly.date < local_now.date(),
                   and_(Assembly.date == local_now.date(), Assembly.end_time <= local_now.time()))
        by_window = {"not_yet": not_yet, "closed": and_(~not_yet, over), "open": and_(~not_yet, ~over)}[state]
        cases.append(and_(_zone() == zone, by_window))
    usable = and_(Assembly.cancelled_at.is_(None), Assembly.status == "open")
    if state == "closed":
        return or_(~usable, or_(false(), *cases))
    return and_(usable, or_(false(), *cases))


def _resolve_organisation(data: dict[str, Any], *, create: bool = True) -> Organisation | None:
    """The organisation the form names; a new pending one when not listed (None instead when not ``create``)."""
    new_name = data.get("new_organisation_name")
    if data.get("organisation_not_listed"):
        name = " ".join(clean_line(new_name, "new_organisation_name", "your organisation's name", max_len=200).split())
        existing = db.session.scalar(select(Organisation).where(Organisation.name_key == name_key(name)))
        if existing is not None:
            return existing
        sector = data.get("new_organisation_sector")
        if sector not in SECTORS:
            raise DomainError("Choose the sector your organisation works in.", "new_organisation_sector")
        if not create:
            return None
        org = Organisation(name=name, name_key=name_key(name), sector=sector, status="pending")
        db.session.add(org)
        db.session.flush()
        return org
    org_id = data.get("organisation_id")
    org = db.session.get(Organisation, org_id) if org_id else None
    if org is None and data.get("organisation_name"):
        org = db.session.scalar(
            select(Organisation).where(Organisation.name_key == name_key(str(data["organisation_name"])))
        )
    if org is None:
        raise DomainError("Choose your organisation from the list, or tick “My organisation is not listed”.",
                          "organisation_name")
    return org


def _clean_details(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "full_name": clean_line(data.get("full_name"), "full_name", "your full name", max_len=200),
        "email": clean_email(data.get("email")),
        "job_title": clean_line(data.get("job_title"), "job_title", "your job title", max_len=200),
        "access_needs": clean_text(data.get("access_needs"), "access_needs"),
        "dietary_needs": clean_text(data.get("dietary_needs"), "dietary_needs"),
    }


# --- capacity and the waiting list ---------------------------------------------------------


def lock_assembly(assembly_id: int) -> Assembly:
    """Lock the assembly row so capacity checks and inserts for it run one transaction at a time.

    PostgreSQL takes a row lock (FOR UPDATE); SQLite already holds the database
    write lock since the transaction began (BEGIN IMMEDIATE, see app.py).
    """
    return db.session.execute(
        select(Assembly).where(Assembly.id == assembly_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def place_counts(assembly: Assembly, organisation_id: int) -> tuple[int, int]:
    """Confirmed delegates in the assembly, and from this organisation (0 when no per-organisation limit applies)."""
    # The assembly's count is kept by a trigger; read through lock_assembly it is fresh
    # and stays so until this transaction ends.
    from_org = 0
    if assembly.org_limit is not None:
        from_org = db.session.scalar(select(func.count(Registration.id)).where(
            Registration.assembly_id == assembly.id, Registration.organisation_id == organisation_id,
            Registration.status == "confirmed")) or 0
    return assembly.confirmed_count, from_org


def _no_place_reason(assembly: Assembly, organisation: Organisation, *, ignore: Registration | None = None) -> str | None:
    total, from_org = place_counts(assembly, organisation.id)
    if ignore is not None and ignore.status == "confirmed":
        total -= 1
        if ignore.organisation_id == organisation.id:
            from_org -= 1
    if total >= assembly.capacity:
        return "The assembly is full."
    if assembly.org_limit is not None and from_org >= assembly.org_limit:
        return f"{isolate(organisation.name)} already has {assembly.org_limit} confirmed delegates, the most each organisation can send."
    return None


def _next_waiting_position(assembly_id: int) -> int:
    top = db.session.scalar(
        select(func.max(Registration.waiting_position)).where(Registration.assembly_id == assembly_id)
    )
    return (top or 0) + 1


def waiting_rank(registration: Registration) -> int | None:
    """The person's place in the queue (1 = next), or None when not waiting."""
    if registration.status != "waiting" or registration.waiting_position is None:
        return None
    return db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.assembly_id == registration.assembly_id,
            Registration.status == "waiting",
            Registration.waiting_position <= registration.waiting_position,
        )
    )


def waiting_because(registration: Registration) -> str | None:
    """Why someone waiting has no place now: "full" (the assembly), "organisation" (its limit), or None."""
    if registration.status != "waiting":
        return None
    total, from_org = place_counts(registration.assembly, registration.organisation_id)
    if total >= registration.assembly.capacity:
        return "full"
    if registration.assembly.org_limit is not None and from_org >= registration.assembly.org_limit:
        return "organisation"
    return None


def _waiting_because_for(kind: str, registration: Registration | None) -> str | None:
    # Worked out when the email is written: "no place free" while the assembly has places reads as a mistake.
    return waiting_because(registration) if kind == "waiting_list" and registration is not None else None


def _promote(assembly: Assembly, *, by: int | None = None, cause: str = "") -> list[Registration]:
    """Fill free places from the waiting list, in queue order, skipping people whose organisation is full.
    Each promotion is logged: ``by`` is the organiser whose action freed the place (None when a delegate
    cancelled on their own link: the log says so, audit.models.UNATTENDED), ``cause`` says which action it was."""
    promoted: list[Registration] = []
    if assembly.cancelled_at is not None:
        # "Good news: you now have a place" is not news while the assembly is called off.
        return promoted
    if has_taken_place(assembly):
        # Nor once the day is over.
        return promoted
    # Read again: this transaction may have changed statuses since the lock read the row.
    total = db.session.scalar(select(Assembly.confirmed_count).where(Assembly.id == assembly.id)) or 0
    if total >= assembly.capacity:
        return promoted
    counts: dict[int, int] = {}
    if assembly.org_limit is not None:
        counts = dict(
            db.session.execute(
                select(Registration.organisation_id, func.count(Registration.id))
                .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
                .group_by(Registration.organisation_id)
            ).all()
        )
    waiting = db.session.scalars(
        select(Registration)
        .where(Registration.assembly_id == assembly.id, Registration.status == "waiting")
        .order_by(Registration.waiting_position)
    )
    for reg in waiting:
        if total >= assembly.capacity:
            break
        if assembly.org_limit is not None and counts.get(reg.organisation_id, 0) >= assembly.org_limit:
            continue
        reg.status = "confirmed"
        reg.waiting_position = None
        counts[reg.organisation_id] = counts.get(reg.organisation_id, 0) + 1
        total += 1
        promoted.append(reg)
    db.session.flush()
    for reg in promoted:
        _queue(reg, "promoted", dedupe=f"registration:{reg.id}:promoted:{reg.token_version}:{utcnow().isoformat()}")
        audit.record(by, "registration.promote", assembly_id=assembly.id, subject=audit.registration_subject(reg),
                     detail=cause)
    sync_calendar(reg.id for reg in promoted)
    return promoted


# --- manage links ------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@lru_cache(maxsize=4)
def _serializer_for(secret_key) -> URLSafeTimedSerializer:
    # Built once per key: a batch of invitations signs a manage link for every delegate.
    return URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)


def make_manage_token(registration: Registration) -> str:
    """A signed token naming the registration and its current link version."""
    return _serializer().dumps({"r": registration.id, "v": registration.token_version})


def token_max_age() -> int:
    """How long a manage link works, in seconds."""
    return int(current_app.config.get("MANAGE_TOKEN_MAX_AGE_DAYS", DEFAULT_TOKEN_DAYS)) * 86400


def load_manage_token(token: str) -> Registration:
    """The registration a manage link opens; TokenExpired or TokenInvalid otherwise."""
    serializer = _serializer()
    try:
        data = serializer.loads(token, max_age=token_max_age())
    except SignatureExpired:
        raise TokenExpired("This link has expired.") from None
    except BadSignature:
        raise TokenInvalid("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("v"), int):
        raise TokenInvalid("This link is not valid.")
    registration = db.session.get(Registration, data["r"])
    if registration is None or registration.token_version != data["v"] or registration.anonymised_at is not None:
        raise TokenInvalid("This link is no longer valid.")
    return registration


ADDRESS_MOVED_MINUTES = 30


def moved_to_address(token: str, email: Any) -> bool:
    """Whether a personal link stopped working minutes ago because its registration moved to ``email``.

    What a second press of Save on the form that moved it sends: it then learns only what the first press
    told it, and the old address was emailed already that the address changed. The link opens nothing.
    """
    try:
        data = _serializer().loads(token, max_age=token_max_age())
    except BadSignature:
        return False
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("v"), int):
        return False
    registration = db.session.get(Registration, data["r"])
    if registration is None or registration.anonymised_at is not None or registration.token_version != data["v"] + 1 \
            or not isinstance(email, str) or email_key(email.strip()) != registration.email_key:
        return False
    # The version after the link's was made by an address change (not a revocation), and only just now.
    key = f"registration:{registration.id}:address_changed:{registration.token_version}"
    return db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.dedupe_key == key,
        OutboxMessage.created_at >= utcnow() - timedelta(minutes=ADDRESS_MOVED_MINUTES))) is not None


def manage_url(registration: Registration) -> str:
    """The absolute personal link for emails (PUBLIC_BASE_URL when set, else the current host)."""
    token = make_manage_token(registration)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return f"{base.rstrip('/')}/manage/{token}"
    return url_for("registration.manage", token=token, _external=True)


def _site_links(manage_link: str, slug: str) -> dict[str, str]:
    """The fresh-link page and the assembly's page, as absolute links beside a personal link
    (a link or its template): emails name them rather than "the assembly's website"."""
    root = manage_link.rsplit("/manage/", 1)[0]
    paths = current_app.url_map.bind("", script_name="/")
    return {"fresh_link_url": root + paths.build("registration.resend"),
            "assembly_url": root + paths.build("assemblies.public", {"slug": slug})}


def _manage_link_template() -> str:
    """manage_url() as a template: "{token}" where the token goes."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return link_template(f"{base.rstrip('/')}/manage/{TOKEN_PLACEHOLDER}")
    return link_template(url_for("registration.manage", token=TOKEN_PLACEHOLDER, _external=True))


def no_longer_true(registration: Registration | None, assembly: Assembly | None, status: str | None, version: int,
                   to_email: str) -> str | None:
    """Why an email queued about ``registration`` in ``status`` (with its link of ``version``, to ``to_email``)
    would say something no longer true if sent now, or None. For the mail worker (see renderer's check)."""
    if registration is None or registration.anonymised_at is not None:
        return "the registration was erased before its turn came."
    if assembly is None or assembly.cancelled_at is not None:
        return "the assembly was called off before its turn came."
    if status is not None and registration.status != status:
        return {"cancelled": "the registration was cancelled before its turn came (the delegate is sent the "
                             "cancellation instead).",
                "waiting": "the delegate was moved to the waiting list before its turn came (they are sent "
                           "that instead).",
                "confirmed": "the delegate was given a place before its turn came (they are sent that instead)."
                }.get(registration.status, f"the registration is now {registration.status}.")
    if registration.token_version != version or email_key(registration.email or "") != email_key(to_email):
        return ("the delegate's address or personal link was replaced before its turn came (the new one was "
                "emailed on its own).")
    return None


# The registration a recipe's email is about must still be in this status when it is sent.
_RECIPE_STATUS = {"registration_confirmed": "confirmed", "waiting_list": "waiting"}


def recipe_registrations(pairs: list) -> dict[int, Registration]:
    """The registrations a batch of recipes names (``recipe["id"]``), with their assemblies, as committed now:
    a mail worker's prepare. Held by the worker until the batch is rendered, they stay in the session, so
    the renderers' db.session.get finds them (otherwise each email read its registration twice)."""
    ids = sorted({recipe["id"] for _, recipe in pairs if recipe.get("id") is not None})
    found: dict[int, Registration] = {}
    for start in range(0, len(ids), _RECIPE_CHUNK):
        found.update((r.id, r) for r in db.session.scalars(
            select(Registration).where(Registration.id.in_(ids[start:start + _RECIPE_CHUNK]))
            .options(selectinload(Registration.assembly)).execution_options(populate_existing=True)))
    return found


# Keyed IN lists well under every database's limit on parameters.
_RECIPE_CHUNK = 500


def _registration_email_untrue(message, recipe: dict, loaded: dict[int, Registration]) -> str | None:
    return no_longer_true(loaded.get(recipe["id"]), db.session.get(Assembly, message.assembly_id),
                          _RECIPE_STATUS.get(message.kind), recipe["v"], message.to_email)


@renderer("registration", check=_registration_email_untrue, prepare=recipe_registrations)
def _render_registration_email(message, recipe: dict, loaded=None) -> tuple[str, str, str, None]:
    """A registration email queued by register() as a recipe (see _deferred_row), rendered by the worker."""
    reg_id = recipe["id"]
    token = _serializer().dumps({"r": reg_id, "v": recipe["v"]})
    assembly = db.session.get(Assembly, message.assembly_id)
    registration = db.session.get(Registration, reg_id)
    context = {
        "registration": registration,
        "waiting_because": _waiting_because_for(message.kind, registration),
        "assembly": assembly,
        "manage_url": recipe["link"].format(token=token),
        **_site_links(recipe["link"], assembly.slug),
        "position": recipe["position"],
        "valid_days": recipe["days"],
        **recipe.get("extra", {}),
    }
    subject, text, html = render_email(message.kind, to_name=recipe.get("name", message.to_name), **context)
    return subject, text, html, None


def _deferred_row(registration: Registration, kind: str, dedupe: str, position: int | None, *,
                  extra: dict | None = None, shared: dict | None = None) -> dict:
    """The outbox row for a registration just inserted: the recipe, which the worker renders.

    ``extra``: more template context, kept in the recipe (JSON values). ``shared``: what every row of a batch
    has in common, worked out once (see _deferred_shared).
    """
    shared = shared or _deferred_shared(registration.assembly)
    recipe = {"r": "registration", "id": registration.id, "v": registration.token_version, "position": position,
              "days": shared["days"], "link": shared["link"]}
    if extra:
        recipe["extra"] = extra
    if clean_header(registration.full_name)[:200] != registration.full_name:
        recipe["name"] = registration.full_name  # the template greets the name as given, not as the header has it
    return deferred_row(kind, registration.email, registration.full_name, recipe=recipe,
                        subject=shared["subjects"](kind), assembly_id=registration.assembly_id, dedupe_key=dedupe,
                        registration_id=registration.id)


def _deferred_shared(assembly: Assembly) -> dict:
    """What _deferred_row() needs that is the same for every registration of this assembly just now."""
    subjects: dict[str, str] = {}

    def subject(kind: str) -> str:
        if kind not in subjects:
            subjects[kind] = render_subject(kind, assembly=assembly)
        return subjects[kind]

    return {"days": token_max_age() // 86400, "link": _manage_link_template(), "subjects": subject}


_UNKNOWN = object()


def _queue(registration: Registration, kind: str, dedupe: str | None = None, *, position: Any = _UNKNOWN,
           **extra) -> None:
    link = manage_url(registration)
    context = {
        "registration": registration,
        "waiting_because": _waiting_because_for(kind, registration),
        "assembly": registration.assembly,
        "manage_url": link,
        **_site_links(link, registration.assembly.slug),
        "position": waiting_rank(registration) if position is _UNKNOWN else position,
        "valid_days": token_max_age() // 86400,
        **extra,
    }
    # A Core insert of the rendered row: the unit of work for one OutboxMessage object cost more.
    queue_rows([outbox_row(kind, registration.email, registration.full_name, context=context,
                           assembly_id=registration.assembly_id, dedupe_key=dedupe, registration_id=registration.id)])


FRESH_LINK_MINUTES = 15


def _fresh_link_key(registration: Registration) -> str:
    """The outbox key of a link asked for again: one email per registration per quarter of an hour
    however often a public form asks (they are open to anyone, limited per client address only),
    so nobody can bury a delegate in emails."""
    now = utcnow()
    window = now.replace(minute=now.minute - now.minute % FRESH_LINK_MINUTES, second=0, microsecond=0)
    return f"fresh-link:{registration.id}:{registration.token_version}:{window:%Y%m%dT%H%M}"


def _queue_fresh_link(registration: Registration) -> None:
    key = _fresh_link_key(registration)
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is None:
        _queue(registration, "manage_link", dedupe=key)


def send_fresh_links(email: str) -> int:
    """Email a fresh manage link for every registration held for this address (count not shown to users)."""
    try:
        address = clean_email(email)
    except DomainError:
        return 0
    regs = db.session.scalars(
        select(Registration).where(Registration.email_key == email_key(address), Registration.anonymised_at.is_(None))
    ).all()
    keys = {reg.id: _fresh_link_key(reg) for reg in regs}
    sent = set(db.session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(list(keys.values())))))
    for reg in regs:
        if keys[reg.id] not in sent:
            _queue(reg, "manage_link", dedupe=keys[reg.id])
    # A form not yet confirmed has no personal link: the link that confirms it is what was lost.
    pendings = db.session.scalars(select(PendingRegistration).where(
        PendingRegistration.email_key == email_key(address),
        PendingRegistration.created_at >= utcnow() - timedelta(days=CONFIRM_DAYS))).all()
    for pending in pendings:
        _queue_confirm_link(pending)
    try:
        db.session.commit()
    except IntegrityError:
        # The same request sent twice at once: the other one queued the email.
        db.session.rollback()
    return len(regs) + len(pendings)


def send_link_again(registration: Registration) -> bool:
    """Email a registration its personal link again, as an organiser asked; False if one went in this quarter hour."""
    if registration.anonymised_at is not None:
        raise DomainError("This registration's personal data has been purged: there is no address to email.")
    key = _fresh_link_key(registration)
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
        # A second click, or the delegate asked on the public form a moment ago: one email is enough.
        db.session.rollback()
        return False
    _queue(registration, "manage_link", dedupe=key)
    try:
        db.session.commit()
    except IntegrityError:
        # Clicked twice at once: the other request queued it.
        db.session.rollback()
        return False
    return True


def revoke_manage_links(registration: Registration) -> None:
    """Make every link sent so far stop working, and email the person a new one."""
    registration.token_version += 1
    _queue(registration, "manage_link")
    db.session.commit()


# --- use cases ---------------------------------------------------------------------------------


def _set_preferences(registration: Registration, topic_ids: list[int], *, new: bool = False) -> None:
    if new:
        # A registration just inserted has no preferences yet: one multi-row INSERT,
        # with no delete and no load of the (empty) collection first.
        if topic_ids:
            db.session.execute(insert(Preference), [
                {"registration_id": registration.id, "topic_id": t, "rank": i} for i, t in enumerate(topic_ids, start=1)
            ])
        return
    if registration.id is not None:
        # Delete first and flush: replacing rank 1 with rank 1 in one flush would
        # trip the unique (registration_id, rank) constraint.
        db.session.execute(delete(Preference).where(Preference.registration_id == registration.id))
        db.session.flush()
        db.session.expire(registration, ["preferences"])
    registration.preferences = [Preference(topic_id=t, rank=i) for i, t in enumerate(topic_ids, start=1)]


# Built once: the public form's path runs these on every registration, and building an
# ORM statement (or loading ORM objects) cost several times what the database does with it.
_A, _O, _R = Assembly.__table__, Organisation.__table__, Registration.__table__
_LOCK_PLACES = (select(_A.c.capacity, _A.c.org_limit, _A.c.confirmed_count, _A.c.waiting_count)
                .where(_A.c.id == bindparam("assembly_id")).with_for_update())
_ORG_BY_ID = select(_O.c.id, _O.c.name).where(_O.c.id == bindparam("id"))
_ORG_BY_KEY = select(_O.c.id, _O.c.name).where(_O.c.name_key == bindparam("key"))
_ORG_CONFIRMED = select(func.count(_R.c.id)).where(
    _R.c.assembly_id == bindparam("assembly_id"), _R.c.organisation_id == bindparam("organisation_id"),
    _R.c.status == "confirmed")


@lru_cache(maxsize=4)
def _insert_new_registration(dialect: str):
    # The unique (assembly_id, email_key) constraint is the duplicate test: a row comes back
    # only when the address is new for this assembly, with no SELECT beforehand.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return (dialect_insert(_R).on_conflict_do_nothing(index_elements=[_R.c.assembly_id, _R.c.email_key])
            .returning(_R.c.id))


def _lock_places(assembly_id: int):
    """Lock the assembly as lock_assembly() does; returns its capacity, org_limit and fresh counts only."""
    return db.session.connection().execute(_LOCK_PLACES, {"assembly_id": assembly_id}).one()


def _organisation_ref(data: dict[str, Any]):
    """(id, name) of the organisation the form names, or None when a new one is to be added (under the lock)."""
    if data.get("organisation_not_listed"):
        org = _resolve_organisation(data, create=False)
        return None if org is None else (org.id, org.name)
    conn = db.session.connection()
    org_id = data.get("organisation_id")
    row = conn.execute(_ORG_BY_ID, {"id": org_id}).first() if org_id else None
    if row is None and data.get("organisation_name"):
        row = conn.execute(_ORG_BY_KEY, {"key": name_key(str(data["organisation_name"]))}).first()
    if row is None:
        raise DomainError("Choose your organisation from the list, or tick “My organisation is not listed”.",
                          "organisation_name")
    return row.id, row.name


def _place_reason(places, assembly_id: int, organisation: tuple[int, str]) -> str | None:
    """_no_place_reason() for a new registration, from _lock_places()."""
    if places.confirmed_count >= places.capacity:
        return "The assembly is full."
    if places.org_limit is not None:
        from_org = db.session.connection().execute(
            _ORG_CONFIRMED, {"assembly_id": assembly_id, "organisation_id": organisation[0]}).scalar() or 0
        if from_org >= places.org_limit:
            return (f"{organisation[1]} already has {places.org_limit} confirmed delegates, "
                    "the most each organisation can send.")
    return None


_INSERT_PREFERENCES = insert(Preference.__table__)


def _set_preferences_of(registration_id: int, topic_ids: list[int]) -> None:
    # A registration just inserted has no preferences yet: one multi-row INSERT,
    # with no delete and no load of the (empty) collection first.
    if topic_ids:
        db.session.connection().execute(_INSERT_PREFERENCES, [
            {"registration_id": registration_id, "topic_id": t, "rank": i} for i, t in enumerate(topic_ids, start=1)
        ])


def register(assembly: Assembly, data: dict[str, Any], *, source: str = "form", check_window: bool = True,
             topics: list[Topic] | None = None, by: int | None = None, once: str | None = None) -> RegistrationResult:
    """Register a delegate: confirmed if a place is free, else on the waiting list; emails the personal link.

    ``topics`` are the assembly's offered topics when the caller has just read them (saves a query).
    ``by``: the organiser adding someone on their behalf (logged); None for the delegate's own form or an import.
    ``once``: the organiser's add form's token (see add_once), noted with the registration it adds.
    """
    if check_window:
        is_open, why = registration_window(assembly)
        if not is_open:
            raise DomainError(why)
    elif assembly.cancelled_at is not None:
        raise DomainError(CANCELLED_NO_NEW)
    details = _clean_details(data)
    topic_ids = _clean_choices(assembly, data.get("topic_ids") or [], topics)
    if source == "form" and not data.get("consent"):
        raise DomainError("Tick the box to confirm you have read the privacy notice.", "consent")
    join_waiting = data.get("join_waiting_list", True)
    # Checked before the lock; a new organisation is only added under it, so two people
    # typing the same new name for this assembly cannot both try to add it.
    organisation = _organisation_ref(data)

    assembly_id = assembly.id
    # The public form reads before this point without the write lock (see txn.read_first).
    begin_writes()
    places = _lock_places(assembly_id)
    if organisation is None:
        org = _resolve_organisation(data)
        organisation = (org.id, org.name)
    # Checked before the duplicate test so a full assembly answers the same
    # whether or not the address is already registered.
    reason = _place_reason(places, assembly.id, organisation)
    if reason and not join_waiting:
        db.session.rollback()
        raise NoPlace(reason)

    key = email_key(details["email"])
    now = utcnow()
    rank = None
    values = {**details, "assembly_id": assembly.id, "email_key": key, "organisation_id": organisation[0],
              "source": source, "consent_at": now if data.get("consent") else None, "status": "confirmed",
              "waiting_position": None, "token_version": 1, "created_at": now, "updated_at": now,
              "cancelled_at": None, "anonymised_at": None}
    if reason:
        values["status"], values["waiting_position"] = "waiting", _next_waiting_position(assembly.id)
        # Joins the end of the queue: everyone counted as waiting under the lock is ahead.
        rank = places.waiting_count + 1
    try:
        conn = db.session.connection()
        new_id = conn.execute(_insert_new_registration(conn.dialect.name), values).scalar()
        if new_id is None:
            return _register_again(assembly, key, values, topic_ids, rank, by=by, once=once)
        _set_preferences_of(new_id, topic_ids)
        # A stand-in for the emails and the calendar: the row's values, never added to the session.
        registration = Registration(id=new_id, **values)
        set_committed_value(registration, "assembly", assembly)
        kind = "registration_confirmed" if values["status"] == "confirmed" else "waiting_list"
        # The confirmation goes into the outbox with the calendar invitation, in one statement.
        sync_new_registration(registration, defer=True,
                              rows=[_deferred_row(registration, kind, f"registration:{new_id}:{kind}:1", rank)])
        if by is not None:
            audit.record(by, "registration.add", assembly_id=assembly.id,
                         subject=audit.registration_subject(registration), detail=f"now {values['status']}")
        add_once.record(once, "registration", registration)
        db.session.commit()
    except IntegrityError:
        # E.g. the organisation or a topic chosen was merged away or deleted a moment ago.
        db.session.rollback()
        raise DomainError("We could not save your registration just now. Please submit the form again.") from None
    return RegistrationResult(new_id, values["status"], rank)


def _register_again(assembly: Assembly, key: str, values: dict[str, Any], topic_ids: list[int],
                    rank: int | None, *, by: int | None = None, once: str | None = None) -> RegistrationResult:
    """register() for an address already used at this assembly: the link again, or a cancelled person back."""
    existing = db.session.scalar(
        select(Registration).where(Registration.assembly_id == assembly.id, Registration.email_key == key)
    )
    if existing.status != "cancelled":
        if values["source"] != "organiser":
            # Say nothing on screen; the owner of the address gets their link by email.
            _queue_fresh_link(existing)
        # An organiser is shown the registration instead, and emails the link only if they ask (send_link_again).
        try:
            db.session.commit()
        except IntegrityError:
            # The same form sent twice at once: the other one queued the email.
            db.session.rollback()
        return RegistrationResult(existing, "duplicate")
    existing.token_version += 1
    existing.cancelled_at = None
    for name in ("full_name", "email", "job_title", "access_needs", "dietary_needs", "organisation_id", "source",
                 "consent_at", "status", "waiting_position"):
        setattr(existing, name, values[name])
    _set_preferences(existing, topic_ids)
    db.session.flush()
    kind = "registration_confirmed" if existing.status == "confirmed" else "waiting_list"
    _queue(existing, kind, dedupe=f"registration:{existing.id}:{kind}:{existing.token_version}", position=rank)
    sync_calendar([existing.id])
    if by is not None:
        audit.record(by, "registration.add", assembly_id=assembly.id, subject=audit.registration_subject(existing),
                     detail=f"now {existing.status}; was cancelled")
    add_once.record(once, "registration", existing)
    db.session.commit()
    return RegistrationResult(existing, existing.status, rank)


# --- confirm the address first ------------------------------------------------------------------

CONFIRM_SALT = "registration-confirm"
CONFIRM_DAYS = 7
# What a form keeps until its address is confirmed: register()'s data, nothing else.
_PENDING_KEYS = ("full_name", "email", "job_title", "organisation_id", "organisation_name", "organisation_not_listed",
                 "new_organisation_name", "new_organisation_sector", "access_needs", "dietary_needs", "topic_ids",
                 "consent", "join_waiting_list")


class PendingGone(DomainError):
    """The confirmation link was used already, or its form was withdrawn or expired."""


def _window_key(prefix: str, ident: Any) -> str:
    """prefix:ident:<the start of the current quarter of an hour>."""
    now = utcnow()
    window = now.replace(minute=now.minute - now.minute % FRESH_LINK_MINUTES, second=0, microsecond=0)
    return f"{prefix}:{ident}:{window:%Y%m%dT%H%M}"


def form_to_correct(assembly_id: int, pending_id: int, key: str) -> dict[str, Any] | None:
    """What a form kept for its address to be confirmed said, but its address, to fill the form that corrects it.

    Only the form with that id and address key (as the browser that sent it remembers them), while its
    link works; the caller keeps to the browser and the correction window.
    """
    pending = db.session.get(PendingRegistration, pending_id)
    if pending is None or pending.assembly_id != assembly_id or pending.email_key != key \
            or pending.created_at < utcnow() - timedelta(days=CONFIRM_DAYS):
        return None
    return {k: v for k, v in (pending.data or {}).items() if k not in ("email", "consent")}


def request_registration(assembly: Assembly, data: dict[str, Any], *, topics: list[Topic] | None = None,
                         replaces: tuple[int, str] | None = None) -> int | None:
    """Keep a public form until its address is confirmed, and email the link that confirms it.

    It holds no place. Nothing returned or raised says whether the address was registered already:
    its owner gets their personal link by email instead. Returns the kept form's id (None when the
    address was registered already).
    ``replaces``: (id, email key) of a form this one corrects (the same person, a mistyped address):
    it is withdrawn, so its link stops working before a stranger at that address reads it.
    """
    is_open, why = registration_window(assembly)
    if not is_open:
        raise DomainError(why)
    details = _clean_details(data)
    topic_ids = _clean_choices(assembly, data.get("topic_ids") or [], topics)
    if not data.get("consent"):
        raise DomainError("Tick the box to confirm you have read the privacy notice.", "consent")
    organisation = _organisation_ref(data)
    if not data.get("join_waiting_list", True) and assembly.confirmed_count >= assembly.capacity:
        # Said now rather than after the email: ticking the box is the only way on.
        raise NoPlace("The assembly is full.")
    kept = {k: data.get(k) for k in _PENDING_KEYS}
    kept.update(details, topic_ids=topic_ids, consent=True, join_waiting_list=bool(data.get("join_waiting_list", True)))
    if organisation is not None:
        kept["organisation_id"] = organisation[0]
    key = email_key(details["email"])
    begin_writes()
    now = utcnow()
    conn = db.session.connection()
    try:
        # Forms never confirmed go after their links stop working.
        conn.execute(_DELETE_EXPIRED_PENDING, {"before": now - timedelta(days=CONFIRM_DAYS)})
        if replaces is not None and replaces[1] != key:
            mistyped = conn.execute(_PENDING_BY_ID_AND_KEY, {"pending_id": replaces[0], "key": replaces[1],
                                                             "assembly_id": assembly.id}).first()
            if mistyped is not None:
                _drop_confirm_reminder(mistyped.id, mistyped.created_at)
                conn.execute(delete(_P).where(_P.c.id == mistyped.id))
        existing = conn.execute(_REGISTRATION_BY_KEY, {"assembly_id": assembly.id, "key": key}).first()
        if existing is not None and existing.status != "cancelled":
            _queue_fresh_link(db.session.get(Registration, existing.id))
            db.session.commit()
            return None
        # Core statements, as register()'s: this is the public form's request, and the ORM's unit
        # of work for one row cost more than the rest of it.
        values = {"full_name": details["full_name"], "email": details["email"], "data": kept, "created_at": now,
                  "updated_at": now}
        before = conn.execute(_PENDING_BY_KEY, {"assembly_id": assembly.id, "key": key}).first()
        if before is None:
            pending_id = conn.execute(_INSERT_PENDING, {**values, "assembly_id": assembly.id, "email_key": key}).scalar()
        else:
            # The latest form wins, and its week starts again; a link already sent confirms it.
            pending_id = before.id
            conn.execute(_UPDATE_PENDING, {**values, "pending_id": pending_id})
            _drop_confirm_reminder(pending_id, before.created_at)
        pending = PendingRegistration(id=pending_id, assembly_id=assembly.id, email_key=key, **values)
        set_committed_value(pending, "assembly", assembly)
        # A reminder a day after the latest form, deleted if it is confirmed (or withdrawn) first:
        # people who missed the first email among many would otherwise never learn they hold no place.
        rows = [_confirm_row(pending, "confirm_registration_reminder", _reminder_key(pending_id, now),
                             due=now + timedelta(hours=CONFIRM_REMINDER_HOURS))]
        first_key = _confirm_key(assembly.id, key)
        if conn.execute(_OUTBOX_KEY, {"key": first_key}).first() is None:
            rows.insert(0, _confirm_row(pending, "confirm_registration", first_key))
        elif before is None:
            # A new form: the email of this quarter of an hour was for one since confirmed or deleted,
            # and its link confirms nothing now.
            rows.insert(0, _confirm_row(pending, "confirm_registration", f"{first_key}:{pending_id}:{now:%H%M%S%f}"))
        queue_rows(rows)
        db.session.commit()
    except IntegrityError:
        # The same form sent twice at once: the other one kept it and queued the email.
        db.session.rollback()
        return None
    return pending_id


_P = PendingRegistration.__table__
_DELETE_EXPIRED_PENDING = delete(_P).where(_P.c.created_at < bindparam("before"))
_REGISTRATION_BY_KEY = select(_R.c.id, _R.c.status).where(_R.c.assembly_id == bindparam("assembly_id"),
                                                           _R.c.email_key == bindparam("key"))
_PENDING_BY_KEY = select(_P.c.id, _P.c.created_at).where(_P.c.assembly_id == bindparam("assembly_id"),
                                                          _P.c.email_key == bindparam("key"))
_PENDING_BY_ID_AND_KEY = select(_P.c.id, _P.c.created_at).where(
    _P.c.id == bindparam("pending_id"), _P.c.email_key == bindparam("key"), _P.c.assembly_id == bindparam("assembly_id"))
_INSERT_PENDING = insert(_P).returning(_P.c.id)
_UPDATE_PENDING = (_P.update().where(_P.c.id == bindparam("pending_id"))
                   .values(full_name=bindparam("full_name"), email=bindparam("email"), data=bindparam("data"),
                           created_at=bindparam("created_at"), updated_at=bindparam("updated_at")))
_OUTBOX_KEY = select(OutboxMessage.__table__.c.id).where(OutboxMessage.__table__.c.dedupe_key == bindparam("key"))


# The mail worker's pass deletes forms never confirmed once their week is over, at most this often.
EXPIRED_SWEEP_SECONDS = 600
_last_sweep = [float("-inf")]


@before_sending
def delete_expired_pending(now: datetime | None = None) -> int:
    """Delete forms never confirmed whose week is over (their links no longer work); returns how many.

    They hold names, addresses and needs: kept only as long as the confirmation page says."""
    if now is None and time.monotonic() - _last_sweep[0] < EXPIRED_SWEEP_SECONDS:
        return 0
    _last_sweep[0] = time.monotonic()
    deleted = db.session.execute(_DELETE_EXPIRED_PENDING,
                                 {"before": (now or utcnow()) - timedelta(days=CONFIRM_DAYS)}).rowcount
    db.session.commit()
    return deleted


def _confirm_key(assembly_id: int, key: str) -> str:
    """The outbox key of an address's confirmation email at an assembly: one per quarter of an hour
    however often the form is sent. Named by the address, not the pending form, whose id SQLite
    may give again once the form is confirmed."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return _window_key(f"confirm-address:{assembly_id}", digest)


def _reminder_key(pending_id: int, created_at: datetime) -> str:
    return f"confirm-reminder:{pending_id}:{created_at:%Y%m%dT%H%M%S%f}"


def _confirm_row(pending: PendingRegistration, kind: str, dedupe: str, due: datetime | None = None) -> dict:
    """An outbox row for a pending form's confirmation email, as a recipe the sender renders: the
    public form's request only inserts rows, as register()'s does. ``due``: not to be sent before."""
    recipe = {"r": "confirm", "p": pending.id, "k": pending.email_key, "link": _confirm_link_template(pending),
              "expires": (pending.created_at + timedelta(days=CONFIRM_DAYS)).isoformat()}
    if clean_header(pending.full_name)[:200] != pending.full_name:
        recipe["name"] = pending.full_name
    row = deferred_row(kind, pending.email, pending.full_name, recipe=recipe,
                       subject=render_subject(kind, assembly=pending.assembly), assembly_id=pending.assembly_id,
                       dedupe_key=dedupe)
    if due is not None:
        row["next_attempt_at"] = due
    return row


def _queue_confirm_link(pending: PendingRegistration) -> None:
    key = _confirm_key(pending.assembly_id, pending.email_key)
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is None:
        queue_rows([_confirm_row(pending, "confirm_registration", key)])


CONFIRM_REMINDER_HOURS = 24


def _drop_confirm_reminder(pending_id: int, created_at: datetime) -> None:
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.dedupe_key == _reminder_key(pending_id, created_at),
                                                   OutboxMessage.status == "pending"))


@renderer("confirm")
def _render_confirm_email(message, recipe: dict) -> tuple[str, str, str, None]:
    """A confirmation email (or its reminder) queued by request_registration(), rendered by the sender."""
    assembly = db.session.get(Assembly, message.assembly_id)
    token = _confirm_serializer().dumps({"p": recipe["p"], "k": recipe["k"]})
    expires = utc_to_local(datetime.fromisoformat(recipe["expires"]), assembly.timezone or "Europe/London")
    subject, text, html = render_email(message.kind, to_name=recipe.get("name", message.to_name), assembly=assembly,
                                       confirm_url=recipe["link"].format(token=token), valid_days=CONFIRM_DAYS,
                                       expires_on=expires)
    return subject, text, html, None


def _confirm_link_template(pending: PendingRegistration) -> str:
    """The absolute link that confirms a pending form (on PUBLIC_BASE_URL when set), "{token}" where the token goes."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("registration.confirm", slug=pending.assembly.slug, token=TOKEN_PLACEHOLDER)
    return link_template(f"{base.rstrip('/')}{path}" if base else
                         url_for("registration.confirm", slug=pending.assembly.slug, token=TOKEN_PLACEHOLDER,
                                 _external=True))


def _confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def load_pending(token: str) -> PendingRegistration:
    """The pending form a confirmation link names; TokenExpired, TokenInvalid or PendingGone otherwise."""
    try:
        data = _confirm_serializer().loads(token, max_age=CONFIRM_DAYS * 86400)
    except SignatureExpired:
        raise TokenExpired("This link has expired.") from None
    except BadSignature:
        raise TokenInvalid("This link is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), int):
        raise TokenInvalid("This link is not valid.")
    pending = db.session.get(PendingRegistration, data["p"])
    if pending is None or pending.email_key != data.get("k"):
        raise PendingGone("This link has been used already, or the registration it confirms was withdrawn.")
    if pending.created_at < utcnow() - timedelta(days=CONFIRM_DAYS):
        # A reminder's link is signed a day after the form: the form's own week is what counts.
        raise TokenExpired("This link has expired.")
    return pending


def registration_confirmed_by(token: str, assembly_id: int) -> Registration | None:
    """The live registration of the address a used confirmation link was sent to, at this assembly.

    A second press of Confirm (two tabs, a double click, the link opened again) finds its form used
    up; the person is shown the registration it made rather than told the link is spent."""
    try:
        data = _confirm_serializer().loads(token, max_age=CONFIRM_DAYS * 86400)
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or not isinstance(data.get("k"), str):
        return None
    return db.session.scalar(select(Registration).where(
        Registration.assembly_id == assembly_id, Registration.email_key == data["k"],
        Registration.status != "cancelled", Registration.anonymised_at.is_(None)))


def pending_topics(pending: PendingRegistration) -> list[Topic]:
    """The workshop topics the pending form ranks, in its order (those still offered)."""
    ids = [t for t in pending.data.get("topic_ids") or [] if isinstance(t, int)]
    by_id = {t.id: t for t in db.session.scalars(select(Topic).where(Topic.id.in_(ids)))} if ids else {}
    return [by_id[t] for t in ids if t in by_id]


def pending_confirmable(pending: PendingRegistration) -> tuple[bool, str]:
    """Whether a form waiting for its address to be confirmed can be confirmed now, and if not why not."""
    assembly = pending.assembly
    # A form sent before the closing time counts when it is confirmed after it (the deadline
    # is when people register); an assembly closed or cancelled by hand takes nobody more.
    is_open, why = registration_window(assembly, now=pending.created_at)
    if not is_open:
        return False, why
    if has_taken_place(assembly):
        return False, f"{assembly.title} has taken place: registrations are closed."
    return True, ""


def confirm_pending(pending: PendingRegistration, *, join_waiting_list: bool = False) -> RegistrationResult:
    """Register the delegate of a pending form, now that its address is confirmed: a place if one is free."""
    assembly = pending.assembly
    may, why = pending_confirmable(pending)
    if not may:
        raise DomainError(why)
    # Locked (PostgreSQL) or under the write lock (SQLite) and read again: of two presses of Confirm,
    # the second finds the form used up rather than registering the address twice over.
    if db.session.execute(select(_P.c.id).where(_P.c.id == pending.id).with_for_update()).first() is None:
        db.session.rollback()
        raise PendingGone("This link has been used already, or the registration it confirms was withdrawn.")
    data = dict(pending.data)
    if join_waiting_list:
        data["join_waiting_list"] = True
    _drop_confirm_reminder(pending.id, pending.created_at)
    db.session.execute(delete(_P).where(_P.c.id == pending.id))
    db.session.expunge(pending)
    try:
        # In register()'s transaction: the form is used up only if it registers someone.
        return register(assembly, data, check_window=False)
    except DomainError:
        db.session.rollback()
        raise


def _live_pending(assembly_id: int):
    return (PendingRegistration.assembly_id == assembly_id,
            PendingRegistration.created_at >= utcnow() - timedelta(days=CONFIRM_DAYS))


def pending_registrations(assembly: Assembly):
    """A select of the assembly's forms waiting for their address to be confirmed, newest first."""
    return (select(PendingRegistration).where(*_live_pending(assembly.id))
            .order_by(PendingRegistration.created_at.desc(), PendingRegistration.id.desc()))


def unconfirmed_count(assembly_id: int) -> int:
    """How many of the assembly's forms wait for their address to be confirmed."""
    return db.session.scalar(select(func.count(PendingRegistration.id)).where(*_live_pending(assembly_id))) or 0


def withdraw_pending(pending: PendingRegistration) -> None:
    """Delete a form waiting for its address to be confirmed (its link stops working)."""
    _drop_confirm_reminder(pending.id, pending.created_at)
    db.session.delete(pending)
    db.session.commit()


class RegistrationChanged(DomainError):
    """The registration was saved by someone else after the form being saved was opened."""


def registration_version(registration: Registration) -> str:
    """A short fingerprint of what the edit forms change, to tell whether it changed since a form was opened."""
    fields = [registration.full_name, registration.email, registration.job_title, registration.organisation_id,
              registration.access_needs, registration.dietary_needs, registration.choice_topic_ids]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:20]


def _quoted(text: str, limit: int = 80) -> str:
    # A refusal quotes what is saved, not all 2,000 characters of it; isolated after cutting, so an
    # isolate or embedding cut open is closed again.
    brief = text if len(text) <= limit else text[:limit].rstrip() + "…"
    return f"“{isolate(brief)}”"


def _differs(registration: Registration, details: dict[str, Any], organisation: Organisation,
             topic_ids: list[int] | None) -> list[str]:
    """What the registration now says where a form's values differ from it, as phrases for a message."""
    labels = {"full_name": "name", "email": "email address", "job_title": "job title"}
    differs = [f"{label} {_quoted(getattr(registration, name))}" for name, label in labels.items()
               if getattr(registration, name) != details[name]]
    if organisation.id != registration.organisation_id:
        differs.append(f"organisation {_quoted(registration.organisation.name)}")
    for name, label in (("access_needs", "access needs"), ("dietary_needs", "dietary needs")):
        if getattr(registration, name) != details[name]:
            now = getattr(registration, name)
            differs.append(f"{label} {_quoted(now)}" if now else f"no {label}")
    if topic_ids is not None and topic_ids != registration.choice_topic_ids:
        names = [_quoted(p.topic.name) for p in registration.preferences]
        differs.append(f"workshop choices {', then '.join(names)}" if names else "no workshop choices")
    return differs


def _changed_message(differs: list[str], by_organiser: bool) -> str:
    now = "; ".join(differs)
    if by_organiser:
        return (f"Someone saved this registration after you opened this form (the delegate, or another organiser): "
                f"it now has {now}. Nothing you typed below is saved yet: check it against theirs and save again "
                "to keep it.")
    # Never who changed it: the delegate is told only what their own registration says.
    return (f"Your registration was changed after you opened this page (in another window, or by the organisers): "
            f"it now has {now}. Nothing you typed below has been saved yet. Please check it, then press Save "
            "again to keep your changes.")


def update_registration(registration: Registration, data: dict[str, Any], *, by_organiser: bool = False,
                        by: int | None = None) -> list[Registration]:
    """Change a registration's details and (until allocation is published) its ranked choices; returns whoever
    a change of organisation lets off the waiting list. An organiser's change (``by`` their account) is logged.
    ``data["seen"]``, when sent, is the registration_version the form showed (RegistrationChanged if saved since)."""
    if registration.status == "cancelled" and not by_organiser:
        raise DomainError("This registration was cancelled, so it can no longer be changed.")
    if registration.assembly.cancelled_at is not None and not by_organiser:
        raise DomainError(ASSEMBLY_CANCELLED_NO_CHANGE)
    details = _clean_details(data)
    organisation = _resolve_organisation(data)
    assembly = lock_assembly(registration.assembly_id)
    wants_choices = "topic_ids" in data
    if data.get("seen"):
        # Read again under the lock: another save may have committed since this request loaded it.
        db.session.refresh(registration)
        if data["seen"] != registration_version(registration):
            # The delegate and the organisers both edit it: saving every field of a form opened before the
            # other's save would put their details and choices back, and re-send calendars for the old ones.
            differs = _differs(registration, details, organisation,
                               list(data["topic_ids"] or []) if wants_choices else None)
            # A form that already says what it now says loses nothing by saving.
            if differs:
                raise RegistrationChanged(_changed_message(differs, by_organiser))
    if wants_choices and allocation_published(assembly) and list(data["topic_ids"] or []) != registration.choice_topic_ids:
        raise DomainError("Workshop places have been published, so choices can no longer change.", "choice_1")
    if wants_choices and not by_organiser and has_taken_place(assembly) \
            and list(data["topic_ids"] or []) != registration.choice_topic_ids:
        # As cancelling: a day that is over keeps its record, and choices no longer place anyone anywhere.
        raise DomainError(CHOICES_AFTER_THE_DAY, "choice_1")
    topic_ids = _clean_choices(assembly, data["topic_ids"] or []) if wants_choices and not allocation_published(assembly) else None

    key = email_key(details["email"])
    if key != registration.email_key:
        clash = db.session.scalar(
            select(Registration.id).where(Registration.assembly_id == assembly.id, Registration.email_key == key)
        )
        if clash is not None:
            raise DomainError("Another registration for this assembly uses that email address.", "email")
    if registration.status == "confirmed" and organisation.id != registration.organisation_id:
        _, from_org = place_counts(assembly, organisation.id)
        if assembly.org_limit is not None and from_org >= assembly.org_limit:
            raise DomainError(
                f"{isolate(organisation.name)} already has {assembly.org_limit} confirmed delegates, the most each organisation can send.",
                "organisation_name",
            )
    address_changed = key != registration.email_key
    # Which fields, never their values: the log must not become a second copy of the personal data.
    changed = [name.replace("_", " ") for name, value in details.items() if getattr(registration, name) != value]
    changed += ["organisation"] * (organisation.id != registration.organisation_id)
    changed += ["choices"] * (topic_ids is not None and topic_ids != registration.choice_topic_ids)
    if address_changed:
        # Else the old address keeps the assembly in its calendar, and the new one is sent
        # "updated" invitations for entries it never had.
        cancel_at_old_address(registration)
        _tell_old_address(registration)
        # Links already emailed (or queued) to the old address must stop working: it may be
        # a typo that belongs to someone else.
        registration.token_version += 1
    for name, value in details.items():
        setattr(registration, name, value)
    registration.email_key = key
    if address_changed:
        _queue(registration, "address_changed",
               dedupe=f"registration:{registration.id}:address_changed:{registration.token_version}")
    moved_organisation = organisation.id != registration.organisation_id
    registration.organisation_id = organisation.id
    if topic_ids is not None:
        _set_preferences(registration, topic_ids)
    if by_organiser:
        audit.record(by, "registration.edit", assembly_id=assembly.id, subject=audit.registration_subject(registration), detail=f"changed: {', '.join(changed) or 'nothing'}")
    promoted: list[Registration] = []
    try:
        sync_calendar([registration.id])
        if moved_organisation and assembly.org_limit is not None:
            # A confirmed delegate who moves leaves a place under the old organisation's limit, and someone
            # waiting only because of their organisation's limit (this delegate too) may now fit.
            who = "an organiser" if by_organiser else "the delegate"
            promoted = _promote(assembly, by=by, cause=f"{who} changed the organisation of registration {registration.id}")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("Those changes clash with another registration. Please check and try again.") from None
    return promoted


def _tell_old_address(registration: Registration) -> None:
    # No link and not the new address: whoever reads the old one may not be the delegate.
    if not registration.email or registration.anonymised_at is not None:
        return
    queue_rows([outbox_row("address_changed_old", registration.email, registration.full_name,
                           context={"assembly": registration.assembly,
                                    "changed_on": utc_to_local(utcnow(), registration.assembly.timezone or "Europe/London")},
                           assembly_id=registration.assembly_id, registration_id=registration.id)])


CORRECTION_MINUTES = 30
WRONG_TYPED = ("That is not the address this registration was made with. Type it exactly as you did on the form "
               "(the one shown on the previous page).")


def correct_new_registration_email(registration_id: int, version: int, typed: str, email: str) -> Registration:
    """Move a registration made minutes ago in this browser to the address its delegate meant to type.

    Its emails went to the mistyped address, so without this the person could only register
    again and leave the first registration holding a place nobody can cancel. ``typed`` must be
    the address it was made with: at a shared computer the next person does not know it.
    """
    address = clean_email(email)
    typed_key = email_key(typed or "")
    if registration_id == 0:
        raise NothingToCorrect()
    reg = db.session.get(Registration, registration_id)
    if reg is None:
        raise DomainError(CORRECTION_GONE)
    lock_assembly(reg.assembly_id)
    db.session.refresh(reg)
    # Changed since (another correction, the organiser) or cancelled: this browser no longer speaks for it.
    if reg.token_version != version or reg.status == "cancelled" or reg.anonymised_at is not None:
        db.session.rollback()
        raise DomainError(CORRECTION_GONE)
    if typed_key != reg.email_key:
        db.session.rollback()
        raise DomainError(WRONG_TYPED, "typed")
    key = email_key(address)
    if key == reg.email_key:
        db.session.rollback()
        raise DomainError("That is the address you registered with. If its email has not arrived in a few minutes, "
                          "check your junk or spam folder.", "email")
    holder = db.session.scalar(select(Registration).where(Registration.assembly_id == reg.assembly_id,
                                                          Registration.email_key == key))
    if holder is not None and holder.status == "cancelled":
        # An earlier registration of the right address, cancelled: this one, with its place,
        # takes the address (the old record keeps its details, its key freed and its links dead).
        holder.email_key = f"replaced-{holder.id}"
        holder.token_version += 1
        db.session.flush()
        holder = None
    if holder is not None:
        # The right address is registered already, so the mistyped one is a duplicate: it gives up
        # its place. The right address is sent its link, as the form does (nothing shown says which).
        reg.token_version += 1
        _cancel(reg, notify=False)
        _queue_fresh_link(holder)
        db.session.commit()
        return reg
    cancel_at_old_address(reg)
    _tell_old_address(reg)
    reg.token_version += 1  # the link sent to the mistyped address stops working
    reg.email, reg.email_key = address, key
    db.session.flush()
    kind = "registration_confirmed" if reg.status == "confirmed" else "waiting_list"
    _queue(reg, kind, dedupe=f"registration:{reg.id}:{kind}:{reg.token_version}")
    sync_calendar([reg.id])
    db.session.commit()
    return reg


class NothingToCorrect(DomainError):
    """The attempt being corrected registered nobody (its address was registered already)."""

    def __init__(self):
        super().__init__("Nothing was registered by that attempt.")


def tell_nothing_was_registered(assembly: Assembly, email: str, register_url: str | None) -> None:
    """A "correction" of an attempt that registered nobody: the corrected address is told, by email only.

    The screen answers as for any correction, so it never shows whether the first address was registered.
    """
    address = clean_email(email)
    # At most one such email per address and quarter of an hour, however often it is asked for. The address
    # is named by a digest, as in _confirm_key: itself (up to 254 characters) would not fit the key's column.
    key = _window_key(f"correction:{assembly.id}", hashlib.sha256(email_key(address).encode()).hexdigest()[:24])
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
        return
    queue_rows([outbox_row("correction_not_registered", address, "", assembly_id=assembly.id, dedupe_key=key,
                           context={"assembly": assembly, "register_url": register_url})])
    try:
        db.session.commit()
    except IntegrityError:  # the same request twice at once: the other one queued it
        db.session.rollback()


CORRECTION_GONE = ("This registration can no longer be corrected here. If the address is still wrong, "
                   "register again with the right one and tell the organisers, so they can cancel the other.")


def cancel_registration(registration: Registration, *, by: int | None = None) -> list[Registration]:
    """Cancel a registration, free its place and promote whoever is next; returns those promoted.
    ``by``: the organiser who cancelled it (logged), None when the delegate did."""
    lock_assembly(registration.assembly_id)
    db.session.refresh(registration)
    if registration.status == "cancelled":
        db.session.commit()
        return []
    if has_taken_place(registration.assembly):
        # Cancelling now would take the delegate out of the workshops they were in (their attendance
        # would count as a walk-in) and give their place to someone waiting, for a day that is over.
        db.session.rollback()
        raise DomainError(took_place_message(registration.assembly))
    promoted = _cancel(registration, by=by)
    if by is not None:
        audit.record(by, "registration.cancel", assembly_id=registration.assembly_id, subject=audit.registration_subject(registration), detail=_promoted_detail(promoted))
    db.session.commit()
    return promoted


BULK_CANCEL_MAX = 200


def cancel_registrations(assembly: Assembly, registration_ids: list[int], *,
                         by: int | None = None) -> tuple[list[Registration], list[Registration]]:
    """Cancel several of an assembly's registrations at once (each delegate is emailed), then fill the places
    from the waiting list once; returns (cancelled, promoted). Already cancelled ones are left as they are."""
    ids = sorted({int(i) for i in registration_ids})[:BULK_CANCEL_MAX]
    assembly = lock_assembly(assembly.id)
    if has_taken_place(assembly):
        db.session.rollback()
        raise DomainError(took_place_message(assembly))
    regs = db.session.scalars(select(Registration).where(
        Registration.id.in_(ids), Registration.assembly_id == assembly.id, Registration.status != "cancelled")
        .order_by(Registration.id).execution_options(populate_existing=True)).all() if ids else []
    if not regs:
        db.session.rollback()
        raise DomainError("None of those registrations can be cancelled: they are cancelled already.")
    for reg in regs:
        # Places are filled once, after all of them: else someone promoted by the first
        # cancellation could be one of those cancelled next, and get both emails.
        _cancel(reg, promote=False)
    cancelled_ids = ", ".join(str(r.id) for r in regs)
    promoted = _promote(assembly, by=by, cause=f"places freed by cancelling registrations {cancelled_ids}")
    audit.record(by, "registrations.cancel", assembly_id=assembly.id, subject=f"{len(regs)} registrations of {assembly.slug}", detail=f"registrations {', '.join(str(r.id) for r in regs)}" + (f"; {_promoted_detail(promoted)}" if promoted else ""))
    db.session.commit()
    return list(regs), promoted


def _promoted_detail(promoted: list[Registration]) -> str:
    # Ids only: names in the log would outlive the privacy purge's reach.
    return f"promoted from the waiting list: registrations {', '.join(str(r.id) for r in promoted)}" if promoted else ""


def _cancel(registration: Registration, *, notify: bool = True, promote: bool = True,
            by: int | None = None) -> list[Registration]:
    # The caller holds the assembly's lock and commits.
    assembly = registration.assembly
    was_waiting = registration.status == "waiting"
    registration.status = "cancelled"
    registration.waiting_position = None
    registration.cancelled_at = utcnow()
    db.session.flush()
    # A published place goes with the registration (publishing takes the same lock,
    # so it cannot hand one back in between).
    _give_up_places(registration)
    if notify:
        # "Register again" is offered only while the public form takes registrations.
        _queue(registration, "cancelled", was_waiting=was_waiting,
               registration_open=registration_window(assembly)[0])
    sync_calendar([registration.id])
    who = "an organiser" if by is not None else "the delegate"
    return _promote(assembly, by=by, cause=f"place freed when {who} cancelled registration {registration.id}") \
        if promote else []


def reinstate_registration(registration: Registration, *, by: int | None = None) -> RegistrationResult:
    """Undo a cancellation: confirmed if a place is free, else at the end of the waiting list; emails a new link."""
    assembly = lock_assembly(registration.assembly_id)
    db.session.refresh(registration)
    if registration.status != "cancelled":
        raise DomainError(f"{isolate(registration.full_name)}'s registration is not cancelled.")
    if registration.anonymised_at is not None:
        raise DomainError("This registration's details were erased, so it cannot be reinstated.")
    if assembly.cancelled_at is not None:
        raise DomainError(CANCELLED_NO_NEW)
    if has_taken_place(assembly):
        # Back as confirmed, with an email about a place, for a day that is over: the day's record stays.
        raise DomainError(f"{isolate(assembly.title)} took place on {assembly.date.day} {assembly.date:%B %Y}: "
                          "a cancelled registration can no longer be reinstated.")
    reason = _no_place_reason(assembly, registration.organisation)
    registration.cancelled_at = None
    # Links sent before the cancellation stay dead: the email carries a new one.
    registration.token_version += 1
    rank = None
    if reason:
        registration.status, registration.waiting_position = "waiting", _next_waiting_position(assembly.id)
    else:
        registration.status, registration.waiting_position = "confirmed", None
    db.session.flush()
    if reason:
        rank = waiting_rank(registration)
    kind = "waiting_list" if reason else "registration_confirmed"
    _queue(registration, kind, dedupe=f"registration:{registration.id}:{kind}:{registration.token_version}",
           position=rank)
    sync_calendar([registration.id])
    audit.record(by, "registration.reinstate", assembly_id=assembly.id, subject=audit.registration_subject(registration), detail=f"now {registration.status}")
    db.session.commit()
    return RegistrationResult(registration, registration.status, rank)


def promote_waiting(assembly: Assembly, *, by: int | None = None) -> list[Registration]:
    """Fill any free places from the waiting list (e.g. after the capacity was raised); ``by`` is logged."""
    assembly = lock_assembly(assembly.id)
    if assembly.cancelled_at is not None:
        raise DomainError(CANCELLED_NO_PLACES)
    promoted = _promote(assembly, by=by, cause="free places filled from the waiting list")
    db.session.commit()
    return promoted


def move_to_waiting_list(registration: Registration, *, by: int | None = None) -> int:
    """Put a confirmed delegate at the end of the waiting list (the organiser then fills the place).

    Returns how many workshop places they gave up. ``by``: the organiser, logged.
    """
    assembly = lock_assembly(registration.assembly_id)
    if registration.status != "confirmed":
        raise DomainError("Only a confirmed delegate can be moved to the waiting list.")
    if has_taken_place(assembly):
        # As cancel_registration(): it would take them out of the day's workshops after the day.
        raise DomainError(took_place_message(assembly))
    position = _next_waiting_position(assembly.id)
    registration.status, registration.waiting_position = "waiting", position
    db.session.flush()
    # Someone waiting holds no workshop seat: else it stays taken, and their calendar keeps it.
    freed = _give_up_places(registration)
    _queue(registration, "waiting_list")
    sync_calendar([registration.id])
    audit.record(by, "registration.to_waiting", assembly_id=assembly.id,
                 subject=audit.registration_subject(registration),
                 detail=f"{freed} workshop places given up" if freed else "")
    db.session.commit()
    return freed


def _give_up_places(registration: Registration) -> int:
    """Delete a registration's published workshop places, in the published allocation's record too
    (its delegates page and later checks read it); returns how many. The caller holds the lock."""
    from ..placements.models import AllocationRun, Placement

    freed = db.session.execute(delete(Placement).where(Placement.registration_id == registration.id)).rowcount
    run = db.session.scalar(select(AllocationRun).where(AllocationRun.assembly_id == registration.assembly_id,
                                                        AllocationRun.status == "published"))
    key = str(registration.id)
    if run is not None and key in run.result.get("assignments", {}):
        result = dict(run.result)
        result["assignments"] = {k: v for k, v in result["assignments"].items() if k != key}
        run.result = result
    return freed


def confirm_from_waiting_list(registration: Registration, *, by: int | None = None) -> None:
    """Give a waiting person a place now, if capacity and their organisation's limit allow; ``by`` is logged."""
    assembly = lock_assembly(registration.assembly_id)
    if registration.status != "waiting":
        raise DomainError("Only someone on the waiting list can be confirmed.")
    if assembly.cancelled_at is not None:
        raise DomainError(CANCELLED_NO_PLACES)
    if has_taken_place(assembly):
        raise DomainError(f"{isolate(assembly.title)} has taken place: nobody can be given a place now.")
    reason = _no_place_reason(assembly, registration.organisation)
    if reason:
        raise DomainError(f"{reason} Cancel or move someone else first, or raise the limit.")
    registration.status = "confirmed"
    registration.waiting_position = None
    db.session.flush()
    _queue(registration, "promoted")
    sync_calendar([registration.id])
    audit.record(by, "registration.confirm", assembly_id=assembly.id, subject=audit.registration_subject(registration))
    db.session.commit()


def confirmed_registrations(assembly: Assembly) -> list[Registration]:
    """Confirmed delegates of an assembly with their preferences and organisation, by id."""
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
            .options(selectinload(Registration.preferences), selectinload(Registration.organisation))
            .order_by(Registration.id)
        )
    )


def possible_duplicates(assembly: Assembly) -> list[list[Registration]]:
    """Registrations (not cancelled) sharing a name and an organisation: often one person who
    registered twice, say once with a mistyped address, each holding a place."""
    regs = db.session.scalars(
        select(Registration).where(Registration.assembly_id == assembly.id, Registration.status != "cancelled",
                                   Registration.anonymised_at.is_(None))
        .options(selectinload(Registration.organisation)).order_by(Registration.id))
    groups: dict[tuple[str, int], list[Registration]] = {}
    for reg in regs:
        key = (" ".join(unicodedata.normalize("NFKC", reg.full_name).casefold().split()), reg.organisation_id)
        groups.setdefault(key, []).append(reg)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (sort_key(g[0].full_name), g[0].id))


@dataclass
class DaySheets:
    """What the day's paper needs: the reception list, each workshop's register, catering and access."""

    people: list  # (registration, its workshops in round order), by name
    registers: list  # (workshop, its delegates by name), in round order
    dietary: list  # registrations with dietary needs, by name
    access: list  # registrations with access needs, by name


def day_sheets(assembly: Assembly) -> DaySheets:
    """The confirmed delegates of an assembly arranged for printing on the day (a fixed number of queries)."""
    from ..placements.models import Placement

    people = list(db.session.scalars(
        select(Registration).where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
        .options(selectinload(Registration.organisation))))
    people.sort(key=lambda r: (sort_key(r.full_name), r.id))
    workshops = list(db.session.scalars(
        select(Workshop).join(Round, Round.id == Workshop.round_id).where(Round.assembly_id == assembly.id)
        .options(selectinload(Workshop.round), selectinload(Workshop.facilitators))
        .order_by(Round.position, Round.starts_at, Round.id, Workshop.title, Workshop.id)))
    order = {w.id: i for i, w in enumerate(workshops)}
    by_id = {w.id: w for w in workshops}
    placed: dict[int, list[int]] = {}
    for reg_id, workshop_id in db.session.execute(
            select(Placement.registration_id, Placement.workshop_id).join(Registration)
            .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")):
        placed.setdefault(reg_id, []).append(workshop_id)
    members: dict[int, list] = {w.id: [] for w in workshops}
    rows = []
    for reg in people:
        mine = sorted((by_id[w] for w in placed.get(reg.id, []) if w in by_id), key=lambda w: order[w.id])
        for w in mine:
            members[w.id].append(reg)
        rows.append((reg, mine))
    return DaySheets(rows, [(w, members[w.id]) for w in workshops],
                     [r for r in people if r.dietary_needs.strip()], [r for r in people if r.access_needs.strip()])



@dataclass
class Desk:
    """One reception desk's run of the reception list: its number and its rows, in list order."""

    number: int
    rows: list

    @property
    def first(self) -> Registration:
        return self.rows[0][0]

    @property
    def last(self) -> Registration:
        return self.rows[-1][0]


def split_into_desks(rows: list, desks: int) -> list[Desk]:
    """The reception list's rows in ``desks`` contiguous runs, in their order, the first ones one row longer
    when they do not share out evenly (so each desk's range is alphabetical and the sizes differ by one at most)."""
    desks = max(1, min(desks, len(rows)))
    size, longer = divmod(len(rows), desks)
    out, start = [], 0
    for number in range(1, desks + 1):
        end = start + size + (1 if number <= longer else 0)
        out.append(Desk(number, rows[start:end]))
        start = end
    return out if rows else []


class DaySheetSizes(NamedTuple):
    people: int  # confirmed delegates: the reception list's rows, and the badges
    dietary: int
    access: int
    workshops: int  # one register each
    places: int  # the registers' rows, all workshops together


def day_sheet_sizes(assembly: Assembly) -> DaySheetSizes:
    """How long each day sheet would be, counted in the database (two queries, however many delegates)."""
    from ..placements.models import Placement

    confirmed = (Registration.assembly_id == assembly.id, Registration.status == "confirmed")
    people, dietary, access = db.session.execute(
        select(func.count(), func.count(case((Registration.dietary_needs != "", 1))),
               func.count(case((Registration.access_needs != "", 1)))).where(*confirmed)).one()
    workshops = (select(func.count(Workshop.id)).join(Round, Round.id == Workshop.round_id)
                 .where(Round.assembly_id == assembly.id).scalar_subquery())
    # As day_sheets(): the places of confirmed delegates in this assembly's workshops.
    places = (select(func.count(Placement.id)).join(Registration, Registration.id == Placement.registration_id)
              .join(Workshop, Workshop.id == Placement.workshop_id).join(Round, Round.id == Workshop.round_id)
              .where(*confirmed, Round.assembly_id == assembly.id).scalar_subquery())
    n_workshops, n_places = db.session.execute(select(workshops, places)).one()
    return DaySheetSizes(people, dietary, access, n_workshops, n_places)


# --- reporting and privacy ------------------------------------------------------------------------


def counts_by(assembly: Assembly, what: str) -> list[tuple[str, int, int]]:
    """(label, confirmed, waiting) per organisation or per sector, largest first."""
    column = Organisation.name if what == "organisation" else Organisation.sector
    rows = db.session.execute(
        select(column, Registration.status, func.count(Registration.id))
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.assembly_id == assembly.id, Registration.status != "cancelled")
        .group_by(column, Registration.status)
    ).all()
    table: dict[str, list[int]] = {}
    for label, status, n in rows:
        entry = table.setdefault(label, [0, 0])
        entry[0 if status == "confirmed" else 1] += n
    out = [((SECTORS.get(k, k) if what == "sector" else k), c, w) for k, (c, w) in table.items()]
    return sorted(out, key=lambda r: (-r[1], -r[2], r[0]))


def personal_data(registration: Registration) -> dict[str, Any]:
    """Everything held about a delegate, for their own download."""
    from ..notes.models import ATTENDANCE_STATUSES, Attendance
    from ..placements.services import placements_for

    reg = registration
    attendance = db.session.execute(
        select(Workshop.title, Attendance.status).join(Workshop, Workshop.id == Attendance.workshop_id)
        .where(Attendance.registration_id == reg.id).order_by(Attendance.id)
    ).all()
    # By registration, not address: the emails to an address since changed are theirs, and those to
    # someone who held this address before are not.
    outbox = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.registration_id == reg.id).order_by(OutboxMessage.id)
    ).all()
    from ..checkin.models import Arrival

    arrived_at = db.session.scalar(select(Arrival.arrived_at).where(Arrival.registration_id == reg.id))
    return {
        "assembly": {"title": reg.assembly.title, "date": reg.assembly.date.isoformat()},
        "registration": {
            "full_name": reg.full_name, "email": reg.email, "job_title": reg.job_title,
            "organisation": reg.organisation.name, "sector": reg.organisation.sector_label,
            "access_needs": reg.access_needs, "dietary_needs": reg.dietary_needs,
            "status": reg.status_label, "waiting_list_position": waiting_rank(reg),
            "consent_given_at": reg.consent_at.isoformat() + "Z" if reg.consent_at else None,
            "registered_at": reg.created_at.isoformat() + "Z", "updated_at": reg.updated_at.isoformat() + "Z",
            "cancelled_at": reg.cancelled_at.isoformat() + "Z" if reg.cancelled_at else None,
            "arrived_at": arrived_at.isoformat() + "Z" if arrived_at else None,
        },
        "workshop_choices": [{"rank": p.rank, "topic": p.topic.name} for p in reg.preferences],
        # Times are local to the assembly, as the manage page and the emails show them.
        "workshop_places": [
            {"round": p.workshop.round.name,
             "time": f"{p.workshop.round.starts_at:%H:%M}-{p.workshop.round.ends_at:%H:%M}",
             "workshop": p.workshop.title, "room": p.workshop.room}
            for p in placements_for(reg)
        ],
        "attendance": [{"workshop": title, "status": ATTENDANCE_STATUSES.get(status, status)}
                       for title, status in attendance],
        "feedback": _feedback_data(reg),
        "emails_sent_to_you": [
            {"to": m.to_email, "subject": m.subject or rendered(m).subject, "status": m.status,
             "created_at": m.created_at.isoformat() + "Z"}
            for m in outbox
        ],
    }


def _feedback_data(reg: Registration) -> dict[str, Any] | None:
    from ..feedback.models import SCALE, Feedback

    given = db.session.scalar(select(Feedback).where(Feedback.registration_id == reg.id))
    if given is None:
        return None
    titles = dict(db.session.execute(select(Workshop.id, Workshop.title).where(
        Workshop.id.in_([r.workshop_id for r in given.ratings]))).all()) if given.ratings else {}
    return {"assembly": SCALE[given.overall],
            "workshops": [{"workshop": titles.get(r.workshop_id, ""), "answer": SCALE[r.rating]} for r in given.ratings],
            "what_you_will_do_differently": given.differently, "what_the_next_assembly_should_cover": given.next_time,
            "given_at": given.submitted_at.isoformat() + "Z", "changed_at": given.updated_at.isoformat() + "Z"}


def purge_due(today: date | None = None) -> list[tuple[Assembly, int]]:
    """Archived assemblies past their retention period with personal data still held, and how many people."""
    today = today or utcnow().date()
    out = []
    for assembly in db.session.scalars(
        select(Assembly).where(Assembly.status == "archived", Assembly.retention_days.is_not(None)).order_by(Assembly.date)
    ):
        # Counted from the archiving date when recorded, else from the assembly's day.
        start = getattr(assembly, "archived_at", None)
        start = start.date() if isinstance(start, datetime) else assembly.date
        if start + timedelta(days=assembly.retention_days) > today:
            continue
        n = db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.assembly_id == assembly.id, Registration.anonymised_at.is_(None)
            )
        ) or 0
        # Forms never confirmed hold names, addresses and needs too.
        if n or db.session.scalar(select(PendingRegistration.id).where(
                PendingRegistration.assembly_id == assembly.id).limit(1)) is not None:
            out.append((assembly, n))
    return out


def anonymise_registrations(assembly: Assembly) -> int:
    """Remove personal data from an assembly's registrations, keeping organisation, status and choices for counts."""
    now = utcnow()
    regs = db.session.scalars(
        select(Registration).where(Registration.assembly_id == assembly.id, Registration.anonymised_at.is_(None))
    ).all()
    # Whom the audit log must forget, read before they are gone: unconfirmed forms name people too.
    people = [p for reg in regs for p in (reg.full_name, reg.email)] + [p for row in db.session.execute(
        select(PendingRegistration.full_name, PendingRegistration.email)
        .where(PendingRegistration.assembly_id == assembly.id)) for p in row]
    for reg in regs:
        reg.full_name = "Anonymised delegate"
        reg.email = ""
        reg.email_key = f"anonymised-{reg.id}"
        reg.job_title = ""
        reg.access_needs = ""
        reg.dietary_needs = ""
        reg.anonymised_at = now
        reg.token_version += 1
    # Sent emails carry names and addresses too, and so do forms never confirmed.
    outbox = db.session.execute(delete(OutboxMessage).where(OutboxMessage.assembly_id == assembly.id))
    pending = db.session.execute(delete(PendingRegistration).where(PendingRegistration.assembly_id == assembly.id))
    # Feedback stays for the report, no longer tied to anyone (its answers carry the sector only).
    from ..feedback.models import Feedback

    db.session.execute(update(Feedback).where(Feedback.assembly_id == assembly.id).values(registration_id=None))
    # The audit log keeps what was done to registration 42, and when, but no longer whose it was.
    redacted = audit.forget_delegates(assembly.id, people)
    # Organisers' messages stay (what was said to delegates), without the names typed into them.
    from ..messages.services import forget_delegates as forget_in_messages

    messages = forget_in_messages(assembly.id, people)
    audit.record(None, "privacy.purge", assembly_id=assembly.id, subject=f"assembly {assembly.slug}", detail=f"{len(regs)} registrations anonymised; {outbox.rowcount} emails and {pending.rowcount} unconfirmed forms deleted; {messages} messages to delegates redacted; {redacted} audit events redacted")
    db.session.commit()
    return len(regs)


@dataclass
class ImportReport:
    """The outcome of a CSV import: rows that would be (or were) added, and errors by row."""

    added: int = 0
    waiting: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    applied: bool = False
    # The check's first rows as they would be stored, so a wrongly read file shows before it is imported.
    preview: list[ImportPreviewRow] = field(default_factory=list)
    preview_more: int = 0
    # The file has a Status column (as the registrations export has): read only to leave out the cancelled.
    status_column: bool = False
    # Rows left out because their Status says cancelled (their spreadsheet row numbers).
    cancelled_rows: list[int] = field(default_factory=list)


class ImportPreviewRow(NamedTuple):
    """One row of the file as the import would store it."""

    line: int
    full_name: str
    email: str
    organisation: str
    status: str  # "confirmed" or "waiting"


IMPORT_PREVIEW_ROWS = 10


def import_registrations(assembly: Assembly, rows: list[dict[str, str]], *, apply: bool,
                         by: int | None = None) -> ImportReport:
    """Import a pre-invited list (dry run unless apply): each valid row registers and emails its link; applied, it is logged."""
    if assembly.cancelled_at is not None:
        raise DomainError(CANCELLED_NO_NEW, "file")
    report = ImportReport(applied=apply)
    topics_by_name = {name_key(t.name): t.id for t in offered_topics(assembly)}
    need = required_choices(assembly)
    # First each row's own details, then two lookups for the whole file (the addresses already registered
    # here, the organisations named), then each row's checks in file order: no query per row.
    read: list[tuple[int, dict[str, str], dict[str, Any] | str]] = []
    for line, row in enumerate(rows, start=2):
        line = row.get(ROW_KEY, line)
        if STATUS in row:
            report.status_column = True
            # A registrations export of everyone holds the cancelled too: they are not invited again. Any other
            # status is not an instruction: places decide who is confirmed, as for every row.
            if is_cancelled_status(row[STATUS]):
                report.cancelled_rows.append(line)
                continue
        try:
            read.append((line, row, _imported_details(row)))
        except DomainError as err:
            read.append((line, row, err.message))
    registered = set(db.session.scalars(select(Registration.email_key).where(Registration.assembly_id == assembly.id)))
    organisations = _organisations_named({name_key(org_name) for _, row, details in read
                                          if not isinstance(details, str)
                                          and (org_name := (row.get("organisation") or "").strip())})
    valid: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    for line, row, details in read:
        try:
            if isinstance(details, str):
                raise DomainError(details)
            key = email_key(details["email"])
            if key in first_row:
                raise DomainError(f"The email address {_shown(details['email'])} is on row {first_row[key]} too.",
                                  "email")
            first_row[key] = line
            if key in registered:
                raise DomainError(f"{_shown(details['email'])} is already registered for this assembly.", "email")
            org_name = (row.get("organisation") or "").strip()
            if not org_name:
                raise DomainError("The organisation is empty.", "organisation")
            org = organisations.get(name_key(org_name))
            if org is None:
                raise DomainError(f"No organisation called “{_shown(org_name)}” on the organisations list: "
                                  "add it there first, or correct its name in the file.", "organisation")
            topic_ids = []
            for i in range(1, 11):
                name = (row.get(f"choice_{i}") or "").strip()
                if not name:
                    continue
                if name_key(name) not in topics_by_name:
                    raise DomainError(f"Choice {i}: no workshop topic called “{_shown(name)}” at this assembly.",
                                      f"choice_{i}")
                topic_ids.append(topics_by_name[name_key(name)])
            if topic_ids and len(topic_ids) < need:
                raise DomainError(f"The row gives {len(topic_ids)} of the {need} choices needed: give at least "
                                  f"{need}, or none (the person can add them later).", "choice_1")
            if len(set(topic_ids)) != len(topic_ids):
                raise DomainError("The same topic is chosen twice.", "choice_1")
        except DomainError as err:
            report.errors.append((line, err.message))
            continue
        valid.append({**details, "organisation_id": org.id, "topic_ids": topic_ids, "line": line,
                      "organisation_name": org.name})
    if not apply:
        _preview_places(assembly, valid, report)
        return report
    try:
        for status in _register_imported(assembly, valid):
            if status == "waiting":
                report.waiting += 1
            else:
                report.added += 1
        left_out = f", {len(report.cancelled_rows)} cancelled rows left out" if report.cancelled_rows else ""
        audit.record(by, "registrations.import", assembly_id=assembly.id,
                     subject=f"registrations of {assembly.slug}",
                     detail=f"{report.added} confirmed, {report.waiting} waiting, {len(report.errors)} rows refused"
                            + left_out)
        db.session.commit()
    except IntegrityError:
        # Checked before the lock: on PostgreSQL someone may register one of the addresses (or an organiser merge
        # an organisation away) in between. One transaction, so nothing was imported; a new check shows why.
        db.session.rollback()
        raise DomainError("Nothing was imported: while the file was being imported, one of its addresses was "
                          "registered or one of its organisations changed. Check the file again to see which, "
                          "then import.", "file") from None
    return report


# An import's problems are told to the organiser about their file, not to the delegate
# ("Enter your full name" is the public form's): (column, what it is called, longest).
_IMPORT_LINES = (("full_name", "full name", 200), ("email", "email address", 254), ("job_title", "job title", 200))
_IMPORT_TEXTS = (("access_needs", "access needs"), ("dietary_needs", "dietary needs"))


def _shown(value: str, most: int = 60) -> str:
    """A value from the file as a message quotes it: control characters visible, a long one cut short."""
    value = visible(value)
    return value if len(value) <= most else value[:most - 1] + "…"


def _imported_details(row: dict[str, Any]) -> dict[str, Any]:
    """_clean_details of an import row, each refusal worded for the organiser about the file."""
    for name, label, most in _IMPORT_LINES:
        text = (row.get(name) or "").strip()
        if not text:
            raise DomainError(f"The {label} is empty.", name)
        if has_control(text):
            raise DomainError(f"The {label} has a line break or a control character in it.", name)
        if len(text) > most:
            raise DomainError(f"The {label} is {len(text):,} characters long; at most {most:,} fit.", name)
    email = row["email"].strip()
    if not is_email_address(email):
        raise DomainError(f"The email address “{_shown(email)}” is not in the form name@example.org.", "email")
    for name, label in _IMPORT_TEXTS:
        text = (row.get(name) or "").strip().replace("\r\n", "\n").replace("\r", "\n")
        if has_control(text, "\n\t"):
            raise DomainError(f"The {label} have a control character in them.", name)
        if len(text) > 2000:
            raise DomainError(f"The {label} are {len(text):,} characters long; at most 2,000 fit.", name)
    return _clean_details(row)


def _preview_places(assembly: Assembly, valid: list[dict[str, Any]], report: ImportReport) -> None:
    # The check says what the import would do: rows past the capacity or an organisation's limit go on the
    # waiting list (and are emailed so), as _register_imported decides them one by one in file order.
    from_org = dict(db.session.execute(
        select(Registration.organisation_id, func.count(Registration.id))
        .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
        .group_by(Registration.organisation_id)).all())
    total = assembly.confirmed_count
    for data in valid:
        org_id = data["organisation_id"]
        if total < assembly.capacity and (assembly.org_limit is None or from_org.get(org_id, 0) < assembly.org_limit):
            total += 1
            from_org[org_id] = from_org.get(org_id, 0) + 1
            report.added += 1
            status = "confirmed"
        else:
            report.waiting += 1
            status = "waiting"
        if len(report.preview) < IMPORT_PREVIEW_ROWS:
            report.preview.append(ImportPreviewRow(data["line"], data["full_name"], data["email"],
                                                   data["organisation_name"], status))
    report.preview_more = len(valid) - len(report.preview)


_IMPORT_CHUNK = 500
_INSERT_IMPORTED = insert(_R).returning(_R.c.id, _R.c.email_key)


def _organisations_named(keys: set[str]) -> dict[str, Any]:
    """The organisations whose name_key is one of these: (id, name) rows by name_key, a statement per 500 names."""
    found: dict[str, Any] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _IMPORT_CHUNK):
        for row in db.session.execute(select(_O.c.id, _O.c.name, _O.c.name_key)
                                      .where(_O.c.name_key.in_(ordered[start:start + _IMPORT_CHUNK]))):
            found.setdefault(row.name_key, row)
    return found


def _register_imported(assembly: Assembly, valid: list[dict[str, Any]]) -> list[str]:
    """Register the import's valid rows in file order, under the assembly's lock: each confirmed while a place
    is free (in the assembly and in its organisation's share), else on the waiting list, as register() decides
    one at a time. Their emails and first invitations are queued as recipes the mail worker renders."""
    begin_writes()
    places = _lock_places(assembly.id)
    # Under the lock these counts only change by what this import inserts: kept here rather than read per row.
    confirmed = places.confirmed_count
    waiting = places.waiting_count
    from_org: dict[int, int] = {}
    if places.org_limit is not None:
        from_org = dict(db.session.execute(
            select(Registration.organisation_id, func.count(Registration.id))
            .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
            .group_by(Registration.organisation_id)).all())
    position = _next_waiting_position(assembly.id)
    values: list[dict[str, Any]] = []
    ranks: list[int | None] = []
    for data in valid:
        org_id = data["organisation_id"]
        has_place = confirmed < places.capacity and (places.org_limit is None
                                                     or from_org.get(org_id, 0) < places.org_limit)
        now = utcnow()
        row = {"assembly_id": assembly.id, "email_key": email_key(data["email"]), "organisation_id": org_id,
               "source": "import", "full_name": data["full_name"], "email": data["email"],
               "job_title": data["job_title"], "access_needs": data["access_needs"],
               "dietary_needs": data["dietary_needs"], "consent_at": None, "token_version": 1, "created_at": now,
               "updated_at": now, "cancelled_at": None, "anonymised_at": None}
        if has_place:
            confirmed += 1
            from_org[org_id] = from_org.get(org_id, 0) + 1
            row["status"], row["waiting_position"] = "confirmed", None
            ranks.append(None)
        else:
            # Joins the end of the queue: everyone waiting (each has a position below it) is ahead.
            waiting += 1
            row["status"], row["waiting_position"] = "waiting", position
            position += 1
            ranks.append(waiting)
        values.append(row)
    if not values:
        return []
    conn = db.session.connection()
    # Many rows a statement. The ids come back matched by address (unique in the assembly), in whatever order
    # the database returns them: asking it to keep the file's order costs a statement per row on SQLite.
    new_ids = dict((key, new_id) for new_id, key in conn.execute(_INSERT_IMPORTED, values))
    ids = [new_ids[row["email_key"]] for row in values]
    preferences = [{"registration_id": new_id, "topic_id": t, "rank": i}
                   for new_id, data in zip(ids, valid) for i, t in enumerate(data["topic_ids"], start=1)]
    if preferences:
        conn.execute(_INSERT_PREFERENCES, preferences)
    shared = _deferred_shared(assembly)
    for start in range(0, len(ids), _IMPORT_CHUNK):
        registrations, rows = [], []
        for new_id, row, rank in zip(ids[start:start + _IMPORT_CHUNK], values[start:start + _IMPORT_CHUNK],
                                     ranks[start:start + _IMPORT_CHUNK]):
            # A stand-in for the emails and the calendar, as register() makes: never added to the session.
            registration = Registration(id=new_id, **row)
            set_committed_value(registration, "assembly", assembly)
            registrations.append(registration)
            kind = "registration_confirmed" if row["status"] == "confirmed" else "waiting_list"
            rows.append(_deferred_row(registration, kind, f"registration:{new_id}:{kind}:1", rank,
                                      extra={"imported": True}, shared=shared))
        sync_new_registrations(registrations, defer=True, rows=rows)
    return [row["status"] for row in values]
