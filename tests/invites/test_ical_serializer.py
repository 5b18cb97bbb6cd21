"""The calendar serializer against hostile text: read back by icalendar and by ical.js, values intact.

ical.py writes iCalendar itself (RFC 5545): CRLF, 75-octet folds that never split a UTF-8
sequence or an escape, TEXT escaping of backslash, semicolon, comma and line breaks, and
quoted parameter values. Values are compared only after parsing with two independent
parsers (icalendar, ical.js), with what went in; the written text itself is checked only
against the RFC's grammar (line lengths, line ends, TEXT).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, vCalAddress

from eventapp.invites import ical
from eventapp.invites.services import Slot
from eventapp.mail.services import clean_header
from tests.invites.helpers import icaljs

HOSTILE = [
    "Mallory\r\nBcc: victim@example.org\r\nATTENDEE:mailto:evil@example.org",
    'Eve "The Boss" O\'Brien; ROLE=CHAIR:mailto:evil@example.org',
    "Zoë 😀 \u202bעברית\u202c العربية, Jr.: \\ back\\slash",
    "\u202eRTL override\u202c \u200f\u05e9\u05dc\u05d5\u05dd",
    "caret ^ and ^^ and ^n and ^' and a backslash n \\n and \\N and \\; \\,",
    "lone\rcarriage\nfeed\r\n\r\nblank lines",
    "tab\there\x0bvertical\x0cfeed nul\x00byte \x07\x1b[31mansi \x7f",
    "👩🏽‍⚕️" * 40,
    "é" * 5000,
    "x" * 10_000,
    "\\" * 151,
    ";,:\"" * 50,
    "",
    " ",
]

# TEXT cannot carry control characters other than tab and line breaks: they are dropped.
_TEXT_CTL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list("\\;,:\"'^\r\n \té😀\u202eא")), max_size=200),
    st.builds(lambda a, b: a * b, st.sampled_from(["é", "😀", "\\", "^", "ab", "\r\n"]), st.integers(0, 3000)),
)
names = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=300))
emails = st.one_of(st.emails(), st.just("hostile\r\nBcc: x@example.org@example.org"))


def expected_text(value: str) -> str:
    return _TEXT_CTL.sub("", value).replace("\r\n", "\n").replace("\r", "\n")


def expected_cn(value: str, fallback: str) -> str:
    return clean_header(value).replace('"', "'") or fallback


# A parameter value has no backslash escapes in RFC 5545 (only RFC 6868's caret ones), so a
# name's backslashes are written as they are, as icalendar wrote them too. Both parsers read
# some backslash pairs in a parameter as TEXT escapes all the same, each its own set:
ICALENDAR_READS = {"\\": "\\", ";": ";", ",": ",", ":": ":"}
ICAL_JS_READS = {"\\": "\\", ";": ";", ",": ",", "n": "\n", "N": "\n"}


def cn_as_read(name: str, fallback: str, escapes: dict) -> str:
    """The CN a parser gives back for this name: the name, but for the backslash pairs it unescapes."""
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), expected_cn(name, fallback))


def physical_lines(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    assert raw.endswith(b"\r\n")
    # CRLF everywhere: no bare CR or LF anywhere.
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    return raw[:-2].split(b"\r\n")


def check_lines(text: str) -> None:
    for line in physical_lines(text):
        assert len(line) <= 75
        line.decode("utf-8")  # each line alone: a fold never splits a UTF-8 sequence


def fold_offsets(text: str) -> dict[str, list[int]]:
    """Each logical line (by its unfolded text) with the octet offsets where it was folded."""
    out = {}
    current, offsets = None, []
    for line in physical_lines(text):
        if line.startswith(b" "):
            offsets.append(len(current))
            current += line[1:]
        else:
            if current is not None:
                out[current.decode()] = offsets
            current, offsets = line, []
    out[current.decode()] = offsets
    return out


# RFC 5545 3.3.11: TEXT = *(TSAFE-CHAR / ":" / DQUOTE / ESCAPED-CHAR). The parsers above accept a
# bare ; or , in a single value, so the grammar is checked on what was written as well.
TEXT_VALUE = re.compile(r"(?:\\[\\;,nN]|[^\\;,\x00-\x08\x0a-\x1f\x7f])*")


def check_text_values(text: str) -> None:
    for line in fold_offsets(text):
        name, _, value = line.partition(":")
        if name in ("SUMMARY", "LOCATION", "DESCRIPTION", "UID", "X-WR-CALNAME"):
            assert TEXT_VALUE.fullmatch(value), line


def invitation(summary="Summary", location="", description="", name="Delegate", email="d@example.org",
               method="REQUEST", sequence=0):
    data = ical.EventData(summary, datetime(2027, 3, 28, 9, 30), datetime(2027, 3, 28, 10, 45), location, description)
    return ical.invitation(method, "assembly1-registration2-round3@example.org", data, sequence=sequence,
                           attendee_email=email, attendee_name=name, stamp=datetime(2027, 1, 2, 3, 4, 5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(summary=hostile_text, location=hostile_text, description=hostile_text, name=names, email=emails,
       sequence=st.integers(0, 10_000), method=st.sampled_from(["REQUEST", "CANCEL", "request"]))
@example(summary="\\" * 151, location="é" * 5000, description="x" * 10_000, name="😀" * 300, email="d@example.org",
         sequence=0, method="REQUEST")
def test_icalendar_reads_back_exactly_what_went_in(app, summary, location, description, name, email, sequence,
                                                   method):
    text = invitation(summary, location, description, name, email, method, sequence)
    check_lines(text)
    check_text_values(text)
    cal = Calendar.from_ical(text)
    assert str(cal["METHOD"]) == method.upper()
    (event,) = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == expected_text(summary)
    assert str(event.get("LOCATION", "")) == expected_text(location)
    assert str(event.get("DESCRIPTION", "")) == expected_text(description)
    assert int(event["SEQUENCE"]) == sequence
    assert str(event["STATUS"]) == ("CANCELLED" if method.upper() == "CANCEL" else "CONFIRMED")
    assert event["DTSTART"].dt.utcoffset() == timedelta(0)
    assert event["DTSTART"].dt.replace(tzinfo=None) == datetime(2027, 3, 28, 9, 30)
    assert event["DTEND"].dt.replace(tzinfo=None) == datetime(2027, 3, 28, 10, 45)
    assert event["DTSTAMP"].dt.replace(tzinfo=None) == datetime(2027, 1, 2, 3, 4, 5)
    # Exactly one ORGANIZER and one ATTENDEE, whatever the names hold.
    attendee, organizer = event["ATTENDEE"], event["ORGANIZER"]
    assert isinstance(attendee, vCalAddress) and isinstance(organizer, vCalAddress)
    assert attendee.params["CN"] == cn_as_read(name, "Delegate", ICALENDAR_READS)
    assert str(attendee) == "mailto:" + "".join(ch for ch in email if ch.isprintable())
    assert (attendee.params["ROLE"], attendee.params["CUTYPE"]) == ("REQ-PARTICIPANT", "INDIVIDUAL")
    if method.upper() == "CANCEL":
        # A cancellation asks for no reply (RFC 5546 3.2.5).
        assert "RSVP" not in attendee.params and "PARTSTAT" not in attendee.params
    else:
        assert (attendee.params["PARTSTAT"], attendee.params["RSVP"]) == ("NEEDS-ACTION", "TRUE")
    assert organizer.params["CN"] == app.config["ORGANISER_NAME"]
    assert str(organizer) == f"mailto:{app.config['ORGANISER_EMAIL']}"
    # No fold separates a backslash from the character it escapes.
    for line, offsets in fold_offsets(text).items():
        raw = line.encode()
        for at in offsets:
            run = len(raw[:at]) - len(raw[:at].rstrip(b"\\"))
            assert run % 2 == 0, (line, at)


def reference(summary: str, location: str, name: str) -> Calendar:
    """The same invitation built with icalendar itself, as the app did before it wrote calendars directly."""
    cal = Calendar()
    cal.add("prodid", "-//x//y//EN")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    event = Event()
    event.add("uid", "assembly1-registration2-round3@example.org")
    event.add("sequence", 0)
    event.add("dtstamp", datetime(2027, 1, 2, 3, 4, 5))
    event.add("summary", summary)
    if location:
        event.add("location", location)
    attendee = vCalAddress("mailto:d@example.org")
    attendee.params["CN"] = clean_header(name).replace('"', "'") or "Delegate"
    event.add("attendee", attendee)
    cal.add_component(event)
    return Calendar.from_ical(cal.to_ical())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(summary=hostile_text, location=hostile_text, name=names)
def test_parses_the_same_as_what_icalendar_itself_writes(app, summary, location, name):
    # icalendar turns a literal backslash-N into a line break and passes control characters
    # through raw (neither can be sent as written): compare where it is right.
    assume("\\N" not in summary + location and not _TEXT_CTL.search(summary + location))
    ours = Calendar.from_ical(invitation(summary, location, name=name)).walk("VEVENT")[0]
    theirs = reference(summary, location, name).walk("VEVENT")[0]
    for prop in ("UID", "SUMMARY", "LOCATION"):
        assert str(ours.get(prop, "")) == str(theirs.get(prop, ""))
    if "\\" not in name:
        # (icalendar misreads its own CN="…\\" when CN is the last parameter.)
        assert ours["ATTENDEE"].params["CN"] == theirs["ATTENDEE"].params["CN"]
        assert str(ours["ATTENDEE"]) == str(theirs["ATTENDEE"])


def test_ical_js_reads_back_exactly_what_went_in(app):
    cases = [(text, HOSTILE[(i + 3) % len(HOSTILE)], HOSTILE[(i + 7) % len(HOSTILE)]) for i, text in enumerate(HOSTILE)]
    texts = [invitation(summary, location, name=name) for summary, location, name in cases]
    for text in texts:
        check_lines(text)
        check_text_values(text)
    for (summary, location, name), js in zip(cases, icaljs(texts)):
        (event,) = js["events"]
        assert event["summary"] == expected_text(summary)
        assert (event["location"] or "") == expected_text(location)
        assert len(event["attendees"]) == 1 and len(event["organizer"]) == 1
        assert event["attendees"][0]["params"]["CN"] == cn_as_read(name, "Delegate", ICAL_JS_READS)
        assert event["attendees"][0]["value"] == "mailto:d@example.org"
        assert event["dtstart"] == "2027-03-28T09:30:00.000Z" and event["dtend"] == "2027-03-28T10:45:00.000Z"


def test_feed_reads_back_in_both_parsers(app):
    events = [(f"uid-{i}@example.org", ical.EventData(s, datetime(2027, 3, 28, 9) + timedelta(hours=i),
                                                      datetime(2027, 3, 28, 10) + timedelta(hours=i), s, s), i)
              for i, s in enumerate(HOSTILE)]
    text = ical.feed(HOSTILE[0], events, stamp=datetime(2027, 1, 1))
    check_lines(text)
    check_text_values(text)
    cal = Calendar.from_ical(text)
    # icalendar leaves X- properties as written: read the TEXT escapes here.
    calname = re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), str(cal["X-WR-CALNAME"]))
    assert "METHOD" not in cal and calname == expected_text(HOSTILE[0])
    parsed = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in parsed] == [uid for uid, _, _ in events]
    assert [str(e["SUMMARY"]) for e in parsed] == [expected_text(d.summary) for _, d, _ in events]
    assert [int(e["SEQUENCE"]) for e in parsed] == [seq for _, _, seq in events]
    (js,) = icaljs([text])
    assert js["method"] is None
    assert [e["summary"] for e in js["events"]] == [expected_text(d.summary) for _, d, _ in events]
    assert [e["dtstart"][:13] for e in js["events"]] == [f"2027-03-28T{9 + i:02d}" for i in range(len(events))]


@pytest.mark.parametrize("method", ["PUBLISH", "REPLY", ""])
def test_only_request_and_cancel(app, method):
    with pytest.raises(ValueError):
        invitation(method=method)


@given(line=st.text(max_size=400))
def test_fold_round_trips_and_respects_the_octet_limit(line):
    line = line.replace("\r", "").replace("\n", "")
    folded = ical.fold(line)
    parts = folded.encode().split(b"\r\n")
    assert all(len(p) <= 75 for p in parts)
    assert all(p.startswith(b" ") for p in parts[1:])
    assert folded.replace("\r\n ", "") == line


@settings(deadline=None)
@given(summary=hostile_text, location=hostile_text, description=hostile_text, email=st.text(max_size=60))
def test_fingerprint_is_unchanged_by_the_per_event_cache(summary, location, description, email):
    # Stored fingerprints decide whether a delegate gets an update: neither formula may drift.
    event = ical.EventData(summary, datetime(2027, 3, 28, 9), datetime(2027, 3, 28, 10), location, description)
    slot = Slot("plenary", "plenary", None, None, event)
    raw = json.dumps([event.summary, event.starts_at.isoformat(), event.ends_at.isoformat(), event.location,
                      "CONFIRMED", event.description, email.strip().lower()])
    assert slot.fingerprint(email) == "d:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:62]
    assert len(slot.fingerprint(email)) == 64  # calendar_entry.fingerprint is String(64)
    # The formula stored before the description counted, still read from older entries.
    legacy = json.dumps([event.summary, event.starts_at.isoformat(), event.ends_at.isoformat(), event.location,
                         "CONFIRMED", email.strip().lower()])
    assert slot.legacy_fingerprint(email) == hashlib.sha256(legacy.encode("utf-8")).hexdigest()


@settings(deadline=None)  # a 3,000-character description on a busy machine takes more than 200 ms
@given(description=hostile_text)
def test_sent_description_reads_back_what_an_invitation_wrote(description):
    event = ical.EventData("Day", datetime(2027, 3, 28, 9), datetime(2027, 3, 28, 10), "Hall", description * 3)
    ics = ical.invitation("REQUEST", "u@x", event, sequence=0, attendee_email="a@example.org",
                               attendee_name="A", stamp=datetime(2027, 1, 1), organizer="ORGANIZER:mailto:o@x")
    assert ical.sent_description(ics) == ical.text(event.description)
