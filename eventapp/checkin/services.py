"""Use cases for reception: open or not, mark an arrival, take it back, list who is still expected."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..assemblies.models import Assembly
from ..domain import DomainError, NotFound
from ..extensions import db
from ..organisations.models import Organisation
from ..registration.models import Registration
from ..timeutil import local_today
from .models import Arrival

SHOW = {"": "Not arrived yet", "arrived": "Arrived", "all": "Everyone confirmed"}


def check_in_open(assembly: Assembly) -> tuple[bool, str]:
    """(open, why not): arrivals are marked from the assembly's own day (where it is held), never before."""
    if assembly.cancelled_at is not None:
        return False, "This assembly was cancelled: there is nobody to check in."
    if local_today(assembly.timezone) < assembly.date:
        d = assembly.date
        return False, f"Check-in opens on the day of the assembly, {d.day} {d:%B %Y}."
    return True, ""


def _registration(assembly: Assembly, registration_id: int) -> Registration:
    reg = db.session.scalar(select(Registration).where(Registration.id == registration_id,
                                                       Registration.assembly_id == assembly.id))
    if reg is None:
        raise NotFound("There is no such registration for this assembly.")
    return reg


@dataclass
class Marked:
    registration: Registration
    arrived_at: datetime
    already: bool  # another desk (or a second tap) had marked them first


def mark_arrived(assembly: Assembly, registration_id: int, *, by_user_id: int | None = None) -> Marked:
    """Mark a confirmed delegate as arrived; a second mark keeps the first time."""
    is_open, why = check_in_open(assembly)
    if not is_open:
        raise DomainError(why)
    reg = _registration(assembly, registration_id)
    if reg.status != "confirmed":
        raise DomainError(f"{reg.full_name} is {'on the waiting list' if reg.status == 'waiting' else 'cancelled'}: "
                          "an organiser must confirm their registration first (Registrations, then Confirm or Reinstate), "
                          "then check them in.")
    arrival = Arrival(registration_id=reg.id, assembly_id=assembly.id, marked_by_id=by_user_id)
    db.session.add(arrival)
    try:
        db.session.commit()
    except IntegrityError:
        # The primary key is the registration: the other desk's mark stands.
        db.session.rollback()
        first = db.session.get(Arrival, registration_id)
        if first is None:
            raise DomainError("That could not be saved just now. Please try again.") from None
        return Marked(db.session.get(Registration, registration_id), first.arrived_at, True)
    return Marked(reg, arrival.arrived_at, False)


def undo_arrival(assembly: Assembly, registration_id: int) -> Registration:
    """Take back an arrival marked by mistake."""
    reg = _registration(assembly, registration_id)
    gone = db.session.execute(delete(Arrival).where(Arrival.registration_id == reg.id)).rowcount
    db.session.commit()
    if not gone:
        raise DomainError(f"{reg.full_name} was not marked as arrived.")
    return reg


@dataclass
class Day:
    assembly: Assembly
    arrived: int
    when: str  # "today", "coming" or "past"


# The past week stays listed: an arrival marked by mistake is still put right after the day.
RECENT_DAYS = 7


def _first_day_listed() -> date:
    return local_today() - timedelta(days=RECENT_DAYS)


def refused_to_reception(assembly: Assembly) -> str | None:
    """Why reception may not open this assembly's check-in (one days_to_check_in does not list), or None."""
    # The same rule as the list: a reception account is for the desk on the day, not a way into
    # any assembly's delegates (names, organisations, access needs) by typing its address.
    if assembly.cancelled_at is not None:
        return "This assembly was cancelled: there is nobody to check in."
    if assembly.status == "draft":
        return "Check-in for this assembly is not open: the organisers have not opened the assembly yet."
    if assembly.date < _first_day_listed():
        d = assembly.date
        return (f"Check-in for this assembly is closed: it was held on {d.day} {d:%B %Y}. Check-in is open "
                f"on the day of an assembly and for {RECENT_DAYS} days after it. If an arrival still needs "
                "putting right, ask the organisers.")
    return None


def days_to_check_in(limit: int = 50) -> list[Day]:
    """The assemblies reception may be working on, in date order: the last week's, today's and those to come
    (never drafts or cancelled ones), each with how many have arrived. Two queries."""
    arrived = (select(Arrival.assembly_id, func.count(Arrival.registration_id).label("n"))
               .join(Registration, Registration.id == Arrival.registration_id)
               .where(Registration.status == "confirmed").group_by(Arrival.assembly_id).subquery())
    rows = db.session.execute(
        select(Assembly, func.coalesce(arrived.c.n, 0)).outerjoin(arrived, arrived.c.assembly_id == Assembly.id)
        .where(Assembly.cancelled_at.is_(None), Assembly.status != "draft",
               Assembly.date >= _first_day_listed())
        .order_by(Assembly.date, Assembly.title, Assembly.id).limit(limit)).all()
    return [Day(a, n, "today" if local_today(a.timezone) == a.date else
                "past" if local_today(a.timezone) > a.date else "coming") for a, n in rows]


def arrived_count(assembly: Assembly) -> int:
    """How many confirmed delegates have arrived."""
    return db.session.scalar(
        select(func.count(Arrival.registration_id)).join(Registration, Registration.id == Arrival.registration_id)
        .where(Arrival.assembly_id == assembly.id, Registration.status == "confirmed")) or 0


def expected_page(assembly: Assembly, *, q: str = "", show: str = "", page: int | None = None, per_page: int = 25):
    """A page of confirmed delegates in name order (those not arrived yet, those arrived, or both), searched by
    name, email or organisation; each row (registration, arrived_at or None). A fixed number of queries."""
    stmt = (select(Registration).join(Organisation, Organisation.id == Registration.organisation_id)
            .outerjoin(Arrival, Arrival.registration_id == Registration.id)
            .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
            .options(joinedload(Registration.organisation))
            .order_by(func.lower(Registration.full_name), Registration.id))
    if show == "arrived":
        stmt = stmt.where(Arrival.registration_id.is_not(None))
    elif show != "all":
        stmt = stmt.where(Arrival.registration_id.is_(None))
    if q:
        # autoescape: a % or _ typed is looked for as itself, not as a wildcard.
        stmt = stmt.where(or_(Registration.full_name.icontains(q, autoescape=True),
                              Registration.email.icontains(q, autoescape=True),
                              Organisation.name.icontains(q, autoescape=True)))
    result = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    ids = [r.id for r in result.items]
    times = dict(db.session.execute(select(Arrival.registration_id, Arrival.arrived_at)
                                    .where(and_(Arrival.registration_id.in_(ids)))).all()) if ids else {}
    result.rows = [(r, times.get(r.id)) for r in result.items]
    return result


def _not_confirmed_matching(stmt, assembly: Assembly, q: str):
    return (stmt.join(Organisation, Organisation.id == Registration.organisation_id)
            .where(Registration.assembly_id == assembly.id, Registration.status != "confirmed",
                   or_(Registration.full_name.icontains(q, autoescape=True),
                       Registration.email.icontains(q, autoescape=True),
                       Organisation.name.icontains(q, autoescape=True))))


def not_confirmed_matches(assembly: Assembly, q: str, limit: int = 5) -> list[Registration]:
    """Registrations on the waiting list or cancelled that a search names: reception is told why they are not
    listed, rather than to have them added again."""
    if not q:
        return []
    return list(db.session.scalars(
        _not_confirmed_matching(select(Registration), assembly, q)
        .options(joinedload(Registration.organisation))
        .order_by(func.lower(Registration.full_name), Registration.id).limit(limit)))


def not_confirmed_counts(assembly: Assembly, q: str) -> dict[str, int]:
    """How many on the waiting list and cancelled a search also names, by status (none when nothing is searched)."""
    if not q:
        return {}
    rows = db.session.execute(_not_confirmed_matching(
        select(Registration.status, func.count()).select_from(Registration), assembly, q)
        .group_by(Registration.status))
    return {status: n for status, n in rows}


@dataclass
class Certificate:
    registration: Registration
    arrived_at: datetime | None
    workshops: list  # the workshops they were recorded present at, in the day's order
    hours: float


def certificate(registration: Registration) -> tuple[Certificate | None, str]:
    """(certificate, why not) of attendance for a delegate: after the day, to a confirmed delegate that reception
    checked in or a facilitator marked present in a workshop."""
    from ..assemblies.models import Round, Workshop
    from ..notes.models import Attendance
    from ..registration.services import has_taken_place

    assembly = registration.assembly
    if assembly.cancelled_at is not None:
        return None, "This assembly was cancelled."
    # Status before the date: only a confirmed delegate may be told a certificate is coming.
    if registration.status == "cancelled":
        return None, "Certificates are for delegates who attend: this registration was cancelled."
    if registration.status != "confirmed":
        if not has_taken_place(assembly):
            return None, ("Certificates are for delegates who attend: you are on the waiting list, so there will "
                          "only be one here if you are given a place.")
        return None, "Certificates are for delegates who attended: this registration was not confirmed."
    if not has_taken_place(assembly):
        return None, "Your certificate of attendance will be here once the assembly is over."
    arrived_at = db.session.scalar(select(Arrival.arrived_at).where(Arrival.registration_id == registration.id))
    workshops = list(db.session.scalars(
        select(Workshop).join(Attendance, Attendance.workshop_id == Workshop.id)
        .join(Round, Round.id == Workshop.round_id)
        .where(Attendance.registration_id == registration.id, Attendance.status.in_(("present", "walk_in")))
        .order_by(Round.position, Round.starts_at, Workshop.id)))
    if arrived_at is None and not workshops:
        return None, ("Your attendance was not recorded (at reception or in a workshop), so we cannot give a "
                      "certificate here. If you attended, ask the organisers: they can correct the record.")
    start, end = assembly.start_time, assembly.end_time
    hours = ((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)) / 60
    return Certificate(registration, arrived_at, workshops, hours), ""


SCAN_SALT = "checkin-scan"


def _scan_serializer():
    from flask import current_app
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.secret_key, salt=SCAN_SALT)


def scan_token(registration: Registration) -> str:
    """What a delegate's check-in code carries: their registration, signed (a code cannot be made up)."""
    return _scan_serializer().dumps([registration.assembly_id, registration.id])


def registration_for_scan(assembly: Assembly, token: str) -> Registration:
    """The registration a scanned code names, if it is this assembly's; NotFound otherwise."""
    from itsdangerous import BadSignature

    try:
        assembly_id, registration_id = _scan_serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        raise NotFound("That code is not one of ours.") from None
    if assembly_id != assembly.id or not isinstance(registration_id, int):
        raise NotFound("That code is for another assembly.")
    return _registration(assembly, registration_id)


def arrived_at(registration_id: int) -> datetime | None:
    """When the delegate was checked in, or None."""
    return db.session.scalar(select(Arrival.arrived_at).where(Arrival.registration_id == registration_id))


def check_in_code(registration: Registration) -> str | None:
    """The delegate's check-in code as an inline SVG image, for their personal page; None when there is nothing to
    check in to (not confirmed, the assembly cancelled or over)."""
    import segno
    from markupsafe import Markup

    from ..links import absolute_url
    from ..registration.services import has_taken_place

    assembly = registration.assembly
    if registration.status != "confirmed" or assembly.cancelled_at is not None or has_taken_place(assembly):
        return None
    url = absolute_url("checkin.scan", slug=assembly.slug, token=scan_token(registration))
    if url is None:
        return None
    # Dark modules on white, with the quiet zone scanners need; the SVG has no script (our CSP allows none anyway).
    svg = segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff", border=4,
                                               svgclass="checkin-code", omitsize=True)
    return Markup(svg)
