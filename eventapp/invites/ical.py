"""iCalendar objects: iTIP invitations (RFC 5545/5546) and read-only feeds, built with ``icalendar``."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from icalendar import Calendar, Event, vCalAddress, vDuration

from ..mail.services import clean_header

PRODID = "-//eventapp//Community Safety Assemblies//EN"


@dataclass(frozen=True)
class EventData:
    """One calendar event as a delegate should see it. Times are naive UTC."""

    summary: str
    starts_at: datetime
    ends_at: datetime
    location: str = ""
    description: str = ""


def _utc(value: datetime) -> datetime:
    # Always UTC: icalendar 7's generated Europe/London VTIMEZONE puts the BST
    # onset an hour late, and every client understands UTC.
    return value.replace(tzinfo=timezone.utc)


def _cn(name: str) -> str:
    # One line, no DQUOTE (a parameter value cannot contain one, and not every
    # client decodes RFC 6868's ^'): the name can never break out of the parameter.
    return clean_header(name).replace('"', "'") or "Delegate"


def organiser_address() -> vCalAddress:
    """ORGANIZER: the configured organiser mailbox with its display name."""
    cfg = current_app.config
    organizer = vCalAddress(f"mailto:{cfg['ORGANISER_EMAIL']}")
    organizer.params["CN"] = _cn(cfg.get("ORGANISER_NAME") or "Organisers")
    return organizer


def _calendar(method: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    return cal


def _event(uid: str, data: EventData, *, sequence: int, status: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", _utc(stamp))
    event.add("dtstart", _utc(data.starts_at))
    event.add("dtend", _utc(data.ends_at))
    event.add("summary", data.summary)
    if data.location:
        event.add("location", data.location)
    if data.description:
        event.add("description", data.description)
    event.add("status", status)
    event.add("transp", "OPAQUE")
    return event


def invitation(method: str, uid: str, data: EventData, *, sequence: int, attendee_email: str,
               attendee_name: str, stamp: datetime) -> str:
    """An iTIP REQUEST or CANCEL with exactly one VEVENT in which the delegate is the only ATTENDEE."""
    method = method.upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(method)
    cal = _calendar(method)
    event = _event(uid, data, sequence=sequence, status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
                   stamp=stamp)
    event.add("organizer", organiser_address())
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["CN"] = _cn(attendee_name)
    attendee.params["CUTYPE"] = "INDIVIDUAL"
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["PARTSTAT"] = "NEEDS-ACTION"
    attendee.params["RSVP"] = "TRUE"
    event.add("attendee", attendee)
    cal.add_component(event)
    return cal.to_ical().decode("utf-8")


def feed(name: str, events: list[tuple[str, EventData, int]], *, stamp: datetime) -> str:
    """A subscribable calendar (no METHOD): (uid, event, sequence) triples."""
    cal = _calendar(None)
    cal.add("x-wr-calname", name)
    # Ask subscribing clients to refresh hourly.
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(timedelta(hours=1)))
    for uid, data, sequence in events:
        cal.add_component(_event(uid, data, sequence=sequence, status="CONFIRMED", stamp=stamp))
    return cal.to_ical().decode("utf-8")
