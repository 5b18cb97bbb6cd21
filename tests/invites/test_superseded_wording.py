"""A calendar message rendered by the mail worker describes the change from what was last SENT to that address
for its entry: earlier messages skipped as out of date (never sent) told the delegate nothing.

(a) a workshop's first invitation still waiting when its room changed: the invitation is skipped, and the
    delegate's first email about the workshop must be an invitation (new room, the newest SEQUENCE), not
    "Updated: ..." with a "Before:" room they were never told of;
(b) two room changes A->B and B->C waiting: the first is skipped, and the second's "Before:" must say A,
    which the delegate's calendar shows, not B.
"""
from __future__ import annotations

import re

from datetime import date, time

from sqlalchemy import select

from eventapp.assemblies import services as assemblies
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import send_pending
from eventapp.registration import services as registration
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.invites.helpers import publish_assignments, vevent

TITLE = "Spotting hidden harm"


def _world(tag: str, people: int = 1):
    """An assembly with one workshop in Room A and ``people`` delegates, their registration emails sent."""
    assembly = make_assembly(date=date(2027, 3, 28), start_time=time(9, 0), end_time=time(16, 0))
    topic = make_topic(f"Hidden harm {tag}")
    rnd = make_round(assembly, "Morning breakouts", time(10, 30), time(11, 45), position=1)
    workshop = make_workshop(rnd, topic, TITLE, room="Room A")
    org = make_org(f"Shireford Fire {tag}", "police")
    regs = []
    for i in range(people):
        data = {"full_name": f"Cara Diaz {i}", "email": f"cara{i}.{tag}@example.org", "job_title": "Officer",
                "organisation_id": org.id, "access_needs": "", "dietary_needs": "", "topic_ids": [topic.id],
                "consent": True}
        regs.append(registration.register(assembly, data).registration)
    send_pending()
    return assembly, rnd, workshop, regs


def _move(rnd, workshop, room: str) -> None:
    assemblies.save_workshop(rnd, {"topic_id": workshop.topic_id, "title": workshop.title, "room": room,
                                   "capacity": workshop.capacity}, workshop)


def _about_workshop(sink, address: str) -> list[tuple[str, str, tuple]]:
    """(subject, plain text, (METHOD, SEQUENCE, LOCATION)) of each email received about the workshop."""
    out = []
    for msg in sink.to(address):
        if TITLE not in str(msg["Subject"]):
            continue
        calendar = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
        cal, ev = vevent(calendar.get_payload(decode=True).decode())
        out.append((str(msg["Subject"]), msg.get_body(preferencelist=("plain",)).get_content(),
                    (str(cal["METHOD"]), int(ev["SEQUENCE"]), str(ev["LOCATION"]))))
    return out


def _before_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.startswith("Before:")), "")


def test_a_first_invitation_skipped_for_a_newer_update_goes_as_an_invitation(app, db, sink, monkeypatch):
    assembly, rnd, workshop, (person,) = _world("first")
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    publish_assignments(assembly, {person: [workshop]})
    _move(rnd, workshop, "Room B")
    report = send_pending()
    assert report.failed == 0 and report.not_sent == 1

    (subject, text, (method, sequence, location)), = _about_workshop(sink, person.email)
    assert subject.startswith("Invitation: ") and "Updated" not in subject
    assert "You have a place in this workshop" in text
    assert "Before:" not in text and "Room A" not in text and "has changed" not in text
    assert (method, sequence) == ("REQUEST", 1) and location.startswith("Room B")
    # The Outbox lists and filters it as what it was: an invitation, not an update.
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_email == person.email,
                                                          OutboxMessage.status == "sent",
                                                          OutboxMessage.subject.contains(TITLE))).one()
    assert sent.kind == "invite"


def test_an_update_after_a_skipped_update_says_what_the_calendar_showed_before(app, db, sink, monkeypatch):
    assembly, rnd, workshop, (person,) = _world("twice")
    publish_assignments(assembly, {person: [workshop]})  # one delegate: rendered at once
    send_pending()
    assert len(_about_workshop(sink, person.email)) == 1
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    _move(rnd, workshop, "Room B")
    _move(rnd, workshop, "Room C")
    report = send_pending()
    assert report.failed == 0 and report.not_sent == 1

    _, (subject, text, (method, sequence, location)) = _about_workshop(sink, person.email)
    assert subject.startswith("Updated: ")
    before = _before_line(text)
    assert "Room A" in before and "Room B" not in before and "Room B" not in text
    assert (method, sequence) == ("REQUEST", 2) and location.startswith("Room C")


def test_a_single_deferred_update_still_says_the_room_before(app, db, sink, monkeypatch):
    assembly, rnd, workshop, (person,) = _world("once")
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    publish_assignments(assembly, {person: [workshop]})
    send_pending()
    _move(rnd, workshop, "Room B")
    report = send_pending()
    assert report.failed == 0 and report.not_sent == 0

    _, (subject, text, (method, sequence, location)) = _about_workshop(sink, person.email)
    assert subject.startswith("Updated: ") and "Room A" in _before_line(text)
    assert (method, sequence) == ("REQUEST", 1) and location.startswith("Room B")


def test_an_update_back_to_what_was_sent_has_no_before(app, db, sink, monkeypatch):
    assembly, rnd, workshop, (person,) = _world("back")
    publish_assignments(assembly, {person: [workshop]})
    send_pending()
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    _move(rnd, workshop, "Room B")
    _move(rnd, workshop, "Room A")
    send_pending()

    _, (subject, text, (_, sequence, location)) = _about_workshop(sink, person.email)
    assert subject.startswith("Updated: ") and "Before:" not in text and "Room B" not in text
    assert sequence == 2 and location.startswith("Room A")


def test_a_cancellation_after_a_skipped_update_names_the_room_the_calendar_shows(app, db, sink, monkeypatch):
    assembly, rnd, workshop, (person,) = _world("gone")
    publish_assignments(assembly, {person: [workshop]})
    send_pending()  # the invitation, Room A, reaches the calendar
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    _move(rnd, workshop, "Room B")  # waiting, then out of date by its turn
    registration.cancel_registration(person)
    report = send_pending()
    assert report.failed == 0 and report.not_sent == 1

    _, (subject, text, (method, sequence, location)) = _about_workshop(sink, person.email)
    assert subject.startswith("Cancelled: ") and method == "CANCEL" and sequence == 2
    assert "Room A" in text and "Room B" not in text and location.startswith("Room A")


def test_deciding_the_wording_takes_no_statement_per_email(app, db, sink, monkeypatch):
    from tests.test_query_counts import counting

    counts = []
    for people in (2, 6):
        assembly, rnd, workshop, regs = _world(f"count{people}", people)
        addresses = [r.email for r in regs]
        publish_assignments(assembly, {r: [workshop] for r in regs})
        send_pending()
        monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
        _move(rnd, workshop, "Room B")
        _move(rnd, workshop, "Room C")
        monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 200)
        db.session.remove()
        with counting() as statements:
            report = send_pending()
        assert (report.sent, report.not_sent, report.failed) == (people, people, 0)
        # Marking the skipped rows is already an UPDATE each (_mark_not_sent): the rest must not grow.
        # (Matched without the placeholders, which differ between the SQLite and PostgreSQL drivers.)
        marks = [st for st in statements if re.match(r"\s*UPDATE outbox_message SET status=\S+, last_error=", st)
                 and "WHERE outbox_message.id = " in st]
        assert len(marks) == people
        counts.append(len(statements) - len(marks))
        for address in addresses:
            assert "Room A" in _before_line(_about_workshop(sink, address)[-1][1])
    assert counts[0] == counts[1], counts


def test_an_update_after_a_sent_cancellation_and_a_skipped_reinvitation_goes_as_an_invitation(app, db, sink,
                                                                                              monkeypatch):
    # The calendar holds the entry cancelled: "Before: Room A" would describe an event it no longer shows.
    assembly, rnd, workshop, (person,) = _world("recalled")
    publish_assignments(assembly, {person: [workshop]})
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    assemblies.set_cancelled(assembly, True)
    send_pending()
    assert [c[2][0] for c in _about_workshop(sink, person.email)] == ["REQUEST", "CANCEL"]
    assemblies.set_cancelled(assembly, False)
    _move(rnd, workshop, "Room B")
    report = send_pending()
    assert report.failed == 0 and report.not_sent >= 1

    *_, (subject, text, (method, sequence, location)) = _about_workshop(sink, person.email)
    assert subject.startswith("Invitation: ") and "Before:" not in text and "Room A" not in text
    assert (method, sequence) == ("REQUEST", 3) and location.startswith("Room B")


def test_what_an_invitation_showed_is_read_back_from_its_ics_exactly():
    from datetime import datetime

    from eventapp.invites import ical

    data = ical.EventData("Work;shop, \\n <b>x</b> \u202eRTL \U0001F600 DESCRIPTION:no", datetime(2027, 3, 28, 10, 30),
                          datetime(2027, 3, 28, 11, 45), "Room A, Hall; " + "\u00e9" * 200, "Line 1\nLine 2\\;,\n" * 50)
    ics = ical.invitation("REQUEST", "u1@example.org", data, sequence=4, attendee_email="a@example.org",
                          attendee_name="SUMMARY:not this", stamp=datetime(2027, 1, 1),
                          organizer='ORGANIZER;CN="LOCATION:nor this":mailto:o@example.org')
    assert ical.sent_event(ics) == ("REQUEST", data)
