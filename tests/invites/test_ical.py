"""Invitation contents: hostile names stay inside their parameter; every invite parses in ical.js; UTC times."""
from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest

from eventapp.invites import ical
from eventapp.invites.services import sync_calendar
from eventapp.mail.services import send_pending
from eventapp.registration.models import Registration, email_key
from tests.factories import make_assembly, make_org
from tests.invites.helpers import icaljs, invites, vevent

HOSTILE = [
    "Mallory\r\nBcc: victim@example.org\r\nATTENDEE:mailto:evil@example.org",
    'Eve "The Boss" O\'Brien; ROLE=CHAIR:mailto:evil@example.org',
    "Zoë 😀 \u202bעברית\u202c العربية, Jr.: \\ back\\slash",
    "<script>alert(1)</script> " + "long name; " * 15,
]


def unfolded(ics: str) -> list[str]:
    return ics.replace("\r\n ", "").split("\r\n")


@pytest.fixture
def hostile_delegates(db):
    assembly = make_assembly(title="Assembly; with: odd, text\\", venue_name="Hall \"A\"; Block 2",
                             venue_address="1 High St\r\nShireford")
    org = make_org()
    regs = []
    for i, name in enumerate(HOSTILE):
        # Straight into the table: the forms refuse control characters, this checks the layer below.
        email = f"hostile{i}@example.org"
        regs.append(Registration(assembly_id=assembly.id, organisation_id=org.id, full_name=name, email=email,
                                 email_key=email_key(email), status="confirmed"))
    db.session.add_all(regs)
    db.session.commit()
    sync_calendar([r.id for r in regs])
    db.session.commit()
    return assembly, regs


def test_hostile_names_give_one_organizer_one_attendee_and_no_extra_header(hostile_delegates, sink, app):
    assembly, regs = hostile_delegates
    assert send_pending().sent == len(HOSTILE)
    received = sink.wait_for(len(HOSTILE))
    assert len(received) == len(HOSTILE)
    texts = []
    for msg in received:
        assert sorted(msg.keys()) == sorted(["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
                                             "X-Auto-Response-Suppress", "MIME-Version", "Content-Type"])
        assert len(msg.get_all("To")) == 1 and msg["To"].addresses[0].addr_spec.startswith("hostile")
        assert "\n" not in msg["To"].addresses[0].display_name
        cal_part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        text = cal_part.get_payload(decode=True).decode("utf-8")
        lines = unfolded(text)
        assert sum(line.startswith("ORGANIZER") for line in lines) == 1
        assert sum(line.startswith("ATTENDEE") for line in lines) == 1
        assert not any(line.startswith(("BCC", "Bcc")) for line in lines)
        texts.append(text)
    for js in icaljs(texts):
        (event,) = js["events"]
        assert len(event["attendees"]) == 1 and len(event["organizer"]) == 1
        assert event["attendees"][0]["value"].startswith("mailto:hostile")
        assert event["attendees"][0]["params"]["ROLE"] == "REQ-PARTICIPANT"
        assert event["attendees"][0]["params"]["PARTSTAT"] == "NEEDS-ACTION"
        assert event["attendees"][0]["params"]["RSVP"] == "TRUE"
        assert event["organizer"][0]["value"] == f"mailto:{app.config['ORGANISER_EMAIL']}"
        assert event["organizer"][0]["params"]["CN"] == app.config["ORGANISER_NAME"]
        # Text values come back exactly (escaping of ; , \ and line breaks done right).
        assert event["summary"] == "Assembly; with: odd, text\\"
        assert event["location"] == 'Hall "A"; Block 2, 1 High St, Shireford'
    names = {js["events"][0]["attendees"][0]["params"]["CN"] for js in icaljs(texts)}
    # Bidi embedding controls are dropped from the one-line name; letters, emoji and punctuation stay.
    assert "Zoë 😀 עברית العربية, Jr.: \\ back\\slash" in names
    assert "Mallory Bcc: victim@example.org ATTENDEE:mailto:evil@example.org" in names


def test_invite_properties_follow_rfc_5546(hostile_delegates, app):
    _, regs = hostile_delegates
    message = invites(regs[1].email)[0]
    cal, event = vevent(message.ics)
    assert str(cal["METHOD"]) == message.ics_method == "REQUEST"
    assert str(cal["VERSION"]) == "2.0" and "PRODID" in cal
    assert int(event["SEQUENCE"]) == 0 and str(event["STATUS"]) == "CONFIRMED"
    for prop in ("DTSTART", "DTEND", "DTSTAMP"):
        assert event[prop].dt.utcoffset().total_seconds() == 0
    raw = message.ics
    assert "VTIMEZONE" not in raw and "X-MICROSOFT-CDO-APPT-SEQUENCE" not in raw
    assert re.search(r"^DTSTART:\d{8}T\d{6}Z\r$", raw, re.M)
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))
    # The organiser is never the recipient.
    assert str(event["ORGANIZER"]).lower() != f"mailto:{regs[1].email}"


@pytest.mark.parametrize("day,local,utc_hour", [
    (date(2027, 3, 28), time(0, 30), 0),   # before the BST onset (01:00 UTC): still GMT
    (date(2027, 3, 28), time(2, 30), 1),   # after it: BST, 02:30 local is 01:30 UTC
    (date(2027, 10, 31), time(1, 30), 0),  # the repeated hour at the end of BST: first occurrence
    (date(2027, 10, 31), time(9, 0), 9),
])
def test_times_are_correct_utc_around_the_clock_changes(app, day, local, utc_hour):
    from eventapp.timeutil import local_to_utc

    start = local_to_utc(datetime.combine(day, local), "Europe/London")
    text = ical.invitation("REQUEST", "x@example.org", ical.EventData("T", start, start.replace(minute=59)),
                           sequence=0, attendee_email="a@example.org", attendee_name="A", stamp=datetime(2027, 1, 1))
    (js,) = icaljs([text])
    assert js["events"][0]["dtstart"].startswith(f"{day.isoformat()}T{utc_hour:02d}:{local.minute:02d}")


def test_unknown_method_is_refused(app):
    with pytest.raises(ValueError):
        ical.invitation("PUBLISH", "x", ical.EventData("T", datetime(2027, 1, 1), datetime(2027, 1, 1, 1)),
                        sequence=0, attendee_email="a@example.org", attendee_name="A", stamp=datetime(2027, 1, 1))


def test_dtstamp_is_fresh_utc_when_a_queued_invite_is_finally_sent(hostile_delegates, sink, db):
    from eventapp.mail.models import OutboxMessage
    from eventapp.mail.services import materialise

    old = "DTSTAMP:20200101T000000Z"
    materialise()  # rendered as the worker would, then aged
    for m in db.session.query(OutboxMessage).all():
        m.ics = re.sub(r"DTSTAMP:\d{8}T\d{6}Z", old, m.ics)
    db.session.commit()
    from eventapp.timeutil import utcnow

    before = utcnow().replace(microsecond=0)
    send_pending()
    for msg in sink.wait_for(len(HOSTILE)):
        text = next(p for p in msg.walk() if p.get_content_type() == "text/calendar").get_payload(decode=True).decode()
        stamp = re.search(r"^DTSTAMP:(\d{8}T\d{6})Z\r$", text, re.M).group(1)
        assert datetime.strptime(stamp, "%Y%m%dT%H%M%S") >= before
        assert old not in text
