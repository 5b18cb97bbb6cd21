"""iCalendar objects: iTIP invitations (RFC 5545/5546) and read-only feeds.

Written out directly: our calendars hold a fixed set of properties, and building
them through ``icalendar`` cost about half the time it takes to render an invite.
Tests parse every shape back with ``icalendar`` and with Mozilla's ical.js.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from ..mail.services import clean_header

PRODID = "-//eventapp//Community Safety Assemblies//EN"
_HEAD = ("BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN")

# TEXT (RFC 5545 3.3.11) has no way to carry control characters other than HTAB
# and line breaks (written \n): they are dropped rather than sent raw.
_TEXT_CTL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TEXT_SPECIAL = re.compile(r"[\\;,\r\n]")


@dataclass(frozen=True)
class EventData:
    """One calendar event as a delegate should see it. Times are naive UTC."""

    summary: str
    starts_at: datetime
    ends_at: datetime
    location: str = ""
    description: str = ""


def text(value: str) -> str:
    """A TEXT value escaped: backslash, semicolon, comma, and any line break as \\n."""
    if _TEXT_CTL.search(value):
        value = _TEXT_CTL.sub("", value)
    if not _TEXT_SPECIAL.search(value):
        return value
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n"))


def param(value: str, fallback: str = "") -> str:
    """A parameter value: one line, no DQUOTE, RFC 6868 caret escaped, always quoted.

    A quoted value may hold ; : and , and nothing in it can close the quotes,
    so the value can never break out of its parameter or its property.
    """
    # Not every client decodes RFC 6868's ^' for a quote: an apostrophe reads the same.
    value = clean_header(value).replace('"', "'") or fallback
    return '"' + value.replace("^", "^^") + '"'


def uri(value: str) -> str:
    """A URI value (mailto:): control characters and line breaks removed."""
    return value if value.isprintable() else "".join(ch for ch in value if ch.isprintable())


def utc_stamp(value: datetime) -> str:
    """A naive UTC datetime in iCalendar's UTC form, 20270318T093000Z."""
    return (f"{value.year:04d}{value.month:02d}{value.day:02d}T"
            f"{value.hour:02d}{value.minute:02d}{value.second:02d}Z")


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 sequence.

    Nor between a backslash or caret and the character it escapes: correct either way,
    but icalendar avoids it too, for clients that unfold badly there.
    """
    if len(line) <= 75 and line.isascii():
        return line
    raw = line.encode("utf-8")
    end = len(raw)
    if end <= 75:
        return line
    parts = []
    start, limit = 0, 75
    while end - start > limit:
        cut = start + limit
        while raw[cut] & 0xC0 == 0x80:  # a continuation byte: back to the start of its character
            cut -= 1
        escape = raw[cut - 1]
        if escape == 0x5C or escape == 0x5E:
            run = 1
            while cut - 1 - run >= 0 and raw[cut - 1 - run] == escape:
                run += 1
            if run % 2:  # the last one opens an escape: keep it with its character
                cut -= 1
        parts.append(raw[start:cut])
        # Continuation lines start with a space, which counts towards their 75 octets.
        start, limit = cut, 74
    parts.append(raw[start:])
    return b"\r\n ".join(parts).decode("utf-8")


def serialize(lines: list[str]) -> str:
    """Content lines, each folded and ended with CRLF."""
    return "".join([fold(line) + "\r\n" for line in lines])


def organizer_line() -> str:
    """ORGANIZER: the configured organiser mailbox with its display name (never the recipient)."""
    cfg = current_app.config
    return f"ORGANIZER;CN={param(cfg.get('ORGANISER_NAME') or '', 'Organisers')}:mailto:{uri(cfg['ORGANISER_EMAIL'])}"


def _event(lines: list[str], uid: str, data: EventData, *, sequence: int, status: str, stamp: str) -> None:
    # Always UTC: icalendar 7's generated Europe/London VTIMEZONE puts the BST
    # onset an hour late, and every client understands UTC.
    lines += ("BEGIN:VEVENT", f"UID:{text(uid)}", f"SEQUENCE:{int(sequence)}", f"DTSTAMP:{stamp}",
              f"DTSTART:{utc_stamp(data.starts_at)}", f"DTEND:{utc_stamp(data.ends_at)}",
              f"SUMMARY:{text(data.summary)}")
    if data.location:
        lines.append(f"LOCATION:{text(data.location)}")
    if data.description:
        lines.append(f"DESCRIPTION:{text(data.description)}")
    lines += (f"STATUS:{status}", "TRANSP:OPAQUE")


def sent_description(ics: str) -> str:
    """The DESCRIPTION of the (first) event in a calendar we wrote, still escaped as text() writes it; "" if none."""
    for line in ics.replace("\r\n ", "").split("\r\n"):
        if line.startswith("DESCRIPTION:"):
            return line[len("DESCRIPTION:"):]
    return ""


_UNESCAPE = re.compile(r"\\([\\;,nN])")


def untext(value: str) -> str:
    """A TEXT value as text() wrote it, unescaped."""
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _utc_datetime(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ")


def sent_event(ics: str) -> tuple[str, EventData] | None:
    """(METHOD, the event) of an invitation() we wrote, read back; None if it holds no event."""
    props: dict[str, str] = {}
    for line in ics.replace("\r\n ", "").split("\r\n"):
        name, sep, value = line.partition(":")
        # invitation() writes these without parameters, once each (ATTENDEE and ORGANIZER, which have
        # parameters, never start with one of these names followed by a colon).
        if sep and name in ("METHOD", "SUMMARY", "DTSTART", "DTEND", "LOCATION", "DESCRIPTION"):
            props.setdefault(name, value)
    if "DTSTART" not in props or "DTEND" not in props:
        return None
    return props.get("METHOD", ""), EventData(
        untext(props.get("SUMMARY", "")), _utc_datetime(props["DTSTART"]), _utc_datetime(props["DTEND"]),
        untext(props.get("LOCATION", "")), untext(props.get("DESCRIPTION", "")))


def invitation(method: str, uid: str, data: EventData, *, sequence: int, attendee_email: str,
               attendee_name: str, stamp: datetime, organizer: str | None = None) -> str:
    """An iTIP REQUEST or CANCEL with exactly one VEVENT in which the delegate is the only ATTENDEE.

    ``organizer`` is organizer_line(), passed in by callers that write many invitations.
    """
    method = method.upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(method)
    lines = [*_HEAD, f"METHOD:{method}"]
    _event(lines, uid, data, sequence=sequence, status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
           stamp=utc_stamp(stamp))
    # A REQUEST asks the delegate to answer; a CANCEL (RFC 5546 3.2.5) only names who is removed and
    # asks for no reply, so it carries neither RSVP=TRUE nor a participation status to change.
    reply = ";PARTSTAT=NEEDS-ACTION;RSVP=TRUE" if method == "REQUEST" else ""
    lines += (organizer or organizer_line(),
              f"ATTENDEE;CN={param(attendee_name, 'Delegate')};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT"
              f"{reply}:mailto:{uri(attendee_email)}",
              "END:VEVENT", "END:VCALENDAR")
    return serialize(lines)


def feed(name: str, events: list[tuple[str, EventData, int]], *, stamp: datetime, status: str = "CONFIRMED") -> str:
    """A subscribable calendar (no METHOD): (uid, event, sequence) triples, all with one STATUS."""
    # Ask subscribing clients to refresh hourly.
    lines = [*_HEAD, f"X-WR-CALNAME:{text(name)}", "REFRESH-INTERVAL;VALUE=DURATION:PT1H", "X-PUBLISHED-TTL:PT1H"]
    when = utc_stamp(stamp)
    for uid, data, sequence in events:
        _event(lines, uid, data, sequence=sequence, status=status, stamp=when)
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return serialize(lines)
