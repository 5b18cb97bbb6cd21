"""Invitations follow the database: request, update, move, cancel; only the people concerned; nothing twice."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from eventapp.assemblies import services as assemblies
from eventapp.domain import DomainError
from eventapp.extensions import db
from eventapp.invites.models import CalendarEntry
from eventapp.mail.services import send_pending
from eventapp.registration import services as registration
from eventapp.timeutil import local_to_utc
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.conftest import post_form
from tests.invites.helpers import icaljs, invites, outbox, publish_assignments, vevent

TZ = "Europe/London"


@pytest.fixture
def world(db):
    """An open assembly on the day BST starts, two rounds of two workshops, one organisation."""
    assembly = make_assembly(title="Community Safety Assembly 2027", date=date(2027, 3, 28), start_time=time(9, 0),
                             end_time=time(16, 0), venue_name="Shireford Guildhall",
                             venue_address="1 Market Place\nShireford SH1 1AA", timezone=TZ)
    topics = [make_topic(n) for n in ("Anti-social behaviour", "Poor mental health", "Hidden harm")]
    r1 = make_round(assembly, "Morning breakouts", time(10, 30), time(11, 45), position=1)
    r2 = make_round(assembly, "Afternoon breakouts", time(13, 30), time(14, 45), position=2)
    ws = SimpleNamespace(
        asb=make_workshop(r1, topics[0], "ASB in town centres", room="Council Chamber"),
        mh=make_workshop(r1, topics[1], "Mental health crisis", room="Room 2"),
        harm=make_workshop(r2, topics[2], "Spotting hidden harm", room="Room 3"),
        mh2=make_workshop(r2, topics[1], "Mental health: next steps", room="Room 4"),
    )
    org = make_org("Shireford Constabulary", "police")
    return SimpleNamespace(assembly=assembly, topics=topics, r1=r1, r2=r2, ws=ws, org=org)


def register(world, name: str, email: str):
    data = {"full_name": name, "email": email, "job_title": "Inspector", "organisation_id": world.org.id,
            "access_needs": "", "dietary_needs": "", "topic_ids": [t.id for t in world.topics], "consent": True}
    return registration.register(world.assembly, data).registration


def utc(on: date, at: time) -> datetime:
    return local_to_utc(datetime.combine(on, at), TZ).replace(tzinfo=timezone.utc)


def received_calendars(sink, to: str):
    """(Content-Type method, calendar text, attachment text) of each message received for ``to``, in order."""
    out = []
    for msg in sink.to(to):
        if not any(part.get_content_type() == "text/calendar" for part in msg.walk()):
            assert msg.get_content_type() == "multipart/alternative"  # a plain email: text and HTML
            continue
        assert msg.get_content_type() == "multipart/mixed"
        alternative, attachment = msg.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html", "text/calendar"]
        cal_part = alternative.get_payload()[2]
        assert cal_part.get_param("charset") == "UTF-8"
        assert attachment.get_filename() == "invite.ics"
        raw = cal_part.get_payload(decode=True)
        assert attachment.get_payload(decode=True) == raw
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
        assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
        assert b"X-MICROSOFT-CDO-APPT-SEQUENCE" not in raw
        out.append((cal_part.get_param("method"), raw.decode("utf-8"), msg))
    return out


def test_request_time_change_move_cancel_for_one_delegate(world, sink, app):
    reg = register(world, "Aïsha O'Neill", "aisha@example.org")
    # Sent before she cancels: queued first invitations out of date by their turn are not sent at all.
    first = send_pending()
    publish_assignments(world.assembly, {reg: [world.ws.asb]})
    assemblies.save_round(world.assembly, {"name": world.r1.name, "starts_at": time(10, 45), "ends_at": time(12, 0)},
                          world.r1)
    publish_assignments(world.assembly, {reg: [world.ws.mh]})  # moved within the morning round
    registration.cancel_registration(reg)

    report = send_pending()
    assert first.sent + report.sent == len(invites("aisha@example.org")) + len(outbox("aisha@example.org", ["registration_confirmed", "cancelled"]))
    received = received_calendars(sink, "aisha@example.org")
    assert len(received) == 6  # plenary; workshop request, time change, move; two cancellations
    parsed = icaljs([text for _, text, _ in received])
    steps = []
    for (ct_method, text, msg), js in zip(received, parsed):
        cal, event = vevent(text)
        assert ct_method == str(cal["METHOD"]) == js["method"]
        assert len(js["events"]) == 1
        ev = js["events"][0]
        assert ev["uid"] == str(event["UID"]) and ev["sequence"] == int(event["SEQUENCE"])
        assert [a["value"] for a in ev["attendees"]] == ["mailto:aisha@example.org"]
        assert ev["organizer"][0]["value"] == f"mailto:{app.config['ORGANISER_EMAIL']}"
        steps.append((ct_method, ev["uid"], ev["sequence"], ev["status"], ev["dtstart"], ev["dtend"], ev["location"]))

    plenary, ws_request, ws_time, ws_move, *cancels = steps
    cancel_plenary = next(s for s in cancels if s[1] == plenary[1])
    cancel_ws = next(s for s in cancels if s[1] == ws_request[1])

    iso = lambda d: d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
    day = world.assembly.date
    # The plenary: the whole day, in the hall, at the address.
    assert plenary[:4] == ("REQUEST", plenary[1], 0, "CONFIRMED")
    assert plenary[4:6] == (iso(utc(day, time(9, 0))), iso(utc(day, time(16, 0))))
    assert plenary[6] == "Shireford Guildhall, 1 Market Place, Shireford SH1 1AA"
    # The workshop: one UID through request, time change and move; SEQUENCE strictly increasing.
    assert len({ws_request[1], ws_time[1], ws_move[1], cancel_ws[1]}) == 1 and ws_request[1] != plenary[1]
    assert [ws_request[2], ws_time[2], ws_move[2], cancel_ws[2]] == [0, 1, 2, 3]
    assert [s[0] for s in (ws_request, ws_time, ws_move, cancel_ws)] == ["REQUEST", "REQUEST", "REQUEST", "CANCEL"]
    assert [s[3] for s in (ws_request, ws_time, ws_move, cancel_ws)] == ["CONFIRMED", "CONFIRMED", "CONFIRMED", "CANCELLED"]
    # BST starts at 01:00 UTC that day: 10:30 local is 09:30 UTC.
    assert ws_request[4] == "2027-03-28T09:30:00.000Z"
    assert ws_time[4:6] == (iso(utc(day, time(10, 45))), iso(utc(day, time(12, 0))))
    assert ws_request[6].startswith("Council Chamber, Shireford Guildhall")
    assert ws_move[6].startswith("Room 2, Shireford Guildhall") and ws_move[4] == ws_time[4]
    assert cancel_plenary[2] == 1 and cancel_plenary[0] == "CANCEL" and cancel_plenary[3] == "CANCELLED"

    # The database agrees with what the calendar was told.
    entries = {e.slot: e for e in db.session.scalars(select(CalendarEntry).where(CalendarEntry.registration_id == reg.id))}
    assert entries[f"round:{world.r1.id}"].uid == ws_request[1] and entries[f"round:{world.r1.id}"].sequence == 3
    assert entries["plenary"].uid == plenary[1] and entries["plenary"].sequence == 1
    assert {e.status for e in entries.values()} == {"cancelled"}
    # The email text lists the whole programme; the move email names the new room.
    move_msg = received[3][2]
    text = move_msg.get_body(preferencelist=("plain",)).get_content()
    assert "Mental health crisis" in text and "Room 2" in text and "Community Safety Assembly 2027" in text
    assert move_msg["Subject"].startswith("Updated: Workshop: Mental health crisis")


def test_republishing_the_same_allocation_sends_nothing(world):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb, world.ws.harm], b: [world.ws.mh, world.ws.harm]})
    before = len(outbox())
    assert len(invites("a@example.org")) == 3  # plenary and two workshops
    outcome = publish_assignments(world.assembly, {a: [world.ws.asb, world.ws.harm], b: [world.ws.mh, world.ws.harm]})
    assert outcome.changed == []
    assert len(outbox()) == before
    # Saving a workshop without changing what a calendar shows (its description is in it) sends nothing either.
    assemblies.save_workshop(world.r1, {"topic_id": world.topics[0].id, "title": "ASB in town centres",
                                        "room": "Council Chamber", "capacity": 35,
                                        "description": world.ws.asb.description}, world.ws.asb)
    assert len(outbox()) == before


def test_workshop_room_change_updates_only_its_attendees(world):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb], b: [world.ws.mh]})
    before = {m.id for m in outbox()}
    assemblies.save_workshop(world.r1, {"topic_id": world.topics[0].id, "title": "ASB in town centres",
                                        "room": "Mayor's Parlour", "capacity": 20}, world.ws.asb)
    new = [m for m in outbox() if m.id not in before]
    assert [(m.to_email, m.kind, m.ics_method) for m in new] == [("a@example.org", "invite_updated", "REQUEST")]
    _, event = vevent(new[0].ics)
    assert str(event["LOCATION"]).startswith("Mayor's Parlour") and int(event["SEQUENCE"]) == 1


def test_assembly_venue_change_updates_every_plenary_only(world):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb]})
    before = {m.id for m in outbox()}
    data = {f: getattr(world.assembly, f) for f in assemblies.ASSEMBLY_FIELDS}
    data["venue_name"] = "Shireford Corn Exchange"
    assemblies.save_assembly(data, world.assembly)
    new = [m for m in outbox() if m.id not in before]
    # The plenary of both, and A's workshop (its location names the venue too).
    assert sorted((m.to_email, m.kind) for m in new) == [
        ("a@example.org", "invite_updated"), ("a@example.org", "invite_updated"), ("b@example.org", "invite_updated")]
    assert all("Shireford Corn Exchange" in str(vevent(m.ics)[1]["LOCATION"]) for m in new)


def test_removed_from_a_workshop_and_deleted_workshop_send_cancel(world):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb, world.ws.harm], b: [world.ws.mh]})
    before = {m.id for m in outbox()}
    publish_assignments(world.assembly, {a: [world.ws.asb], b: [world.ws.mh]})
    new = [m for m in outbox() if m.id not in before]
    assert [(m.to_email, m.ics_method) for m in new] == [("a@example.org", "CANCEL")]
    _, event = vevent(new[0].ics)
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert str(event["SUMMARY"]) == "Workshop: Spotting hidden harm"

    before = {m.id for m in outbox()}
    assemblies.delete_workshop(world.ws.mh)
    new = [m for m in outbox() if m.id not in before]
    assert [(m.to_email, m.ics_method, m.kind) for m in new] == [("b@example.org", "CANCEL", "invite_cancelled")]
    assert str(vevent(new[0].ics)[1]["SUMMARY"]) == "Workshop: Mental health crisis"


def test_waiting_list_gets_no_invite_until_promoted(world):
    world.assembly.capacity = 1
    db.session.commit()
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    assert b.status == "waiting"
    assert invites("b@example.org") == []
    registration.cancel_registration(a)
    assert [m.ics_method for m in invites("a@example.org")] == ["REQUEST", "CANCEL"]
    assert [(m.kind, m.ics_method) for m in invites("b@example.org")] == [("invite", "REQUEST")]
    # Registering again after cancelling re-instates the same calendar entry with a higher SEQUENCE.
    registration.cancel_registration(db.session.get(type(b), b.id))
    again = register(world, "Delegate A", "a@example.org")
    assert again.status == "confirmed"
    last = invites("a@example.org")[-1]
    _, event = vevent(last.ics)
    assert last.ics_method == "REQUEST" and int(event["SEQUENCE"]) == 2
    assert str(event["UID"]) == str(vevent(invites("a@example.org")[0].ics)[1]["UID"])


def test_a_new_registration_is_invited_as_the_full_sync_would(world):
    # register() takes a shortcut for a brand-new registration (no entry or placement can
    # exist yet): what it records must be exactly what sync_calendar then finds up to date.
    from eventapp.invites.services import sync_calendar

    reg = register(world, "Delegate New", "new@example.org")
    [message] = invites("new@example.org")
    [entry] = db.session.scalars(select(CalendarEntry).where(CalendarEntry.registration_id == reg.id)).all()
    assert (entry.slot, entry.kind, entry.sequence, entry.status) == ("plenary", "plenary", 0, "confirmed")
    assert message.kind == "invite" and message.ics_method == "REQUEST"
    assert str(vevent(message.ics)[1]["UID"]) == entry.uid
    assert sync_calendar([reg.id]) == 0
    db.session.commit()
    # And an imported one the same way.
    from eventapp.registration.services import import_registrations

    row = {"full_name": "Imported Person", "email": "imported@example.org", "job_title": "Officer",
           "organisation": world.org.name, "access_needs": "", "dietary_needs": "",
           **{f"choice_{i}": t.name for i, t in enumerate(world.topics, start=1)}}
    assert import_registrations(world.assembly, [row], apply=True).added == 1
    [imported] = invites("imported@example.org")
    entry = db.session.scalar(select(CalendarEntry).where(CalendarEntry.uid == str(vevent(imported.ics)[1]["UID"])))
    assert entry is not None and entry.sequence == 0
    assert sync_calendar([entry.registration_id]) == 0


def test_moving_a_published_workshop_to_another_round_moves_its_delegates_calendars(world):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb], b: [world.ws.mh, world.ws.harm]})
    before = {m.id for m in outbox()}
    # The ASB workshop now runs in the afternoon (13:30-14:45) instead of the morning.
    assemblies.save_workshop(world.r2, {"topic_id": world.topics[0].id, "title": "ASB in town centres",
                                        "room": "Council Chamber", "capacity": 20}, world.ws.asb)
    new = [m for m in outbox() if m.id not in before]
    assert sorted((m.to_email, m.ics_method) for m in new) == [("a@example.org", "CANCEL"), ("a@example.org", "REQUEST")]
    request = next(m for m in new if m.ics_method == "REQUEST")
    _, event = vevent(request.ics)
    assert str(event["SUMMARY"]) == "Workshop: ASB in town centres"
    assert event["DTSTART"].dt == utc(world.assembly.date, time(13, 30))
    cancel = next(m for m in new if m.ics_method == "CANCEL")
    assert vevent(cancel.ics)[1]["DTSTART"].dt == utc(world.assembly.date, time(10, 30))
    # The allocation counts A in the afternoon round now, free for a morning workshop.
    assert world.ws.asb.round_id == world.r2.id
    from eventapp.placements.models import Placement
    assert db.session.scalar(select(Placement.round_id).where(Placement.registration_id == a.id)) == world.r2.id


def test_a_workshop_cannot_move_to_a_round_where_its_delegates_already_have_one(world):
    a = register(world, "Delegate A", "a@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb, world.ws.harm]})
    before = {m.id for m in outbox()}
    with pytest.raises(DomainError, match="1 delegate placed in this workshop already has a workshop in "
                                          "Afternoon breakouts"):
        assemblies.save_workshop(world.r2, {"topic_id": world.topics[0].id, "title": "ASB in town centres",
                                            "room": "Council Chamber", "capacity": 20}, world.ws.asb)
    db.session.rollback()
    assert world.ws.asb.round_id == world.r1.id
    assert [m for m in outbox() if m.id not in before] == []


def test_a_new_email_address_gets_fresh_invitations_and_the_old_one_a_cancellation(world):
    # A police force sends another officer: the organiser changes the delegate's name and address.
    a = register(world, "Delegate A", "a@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb]})
    before = {m.id for m in outbox()}
    data = {"full_name": "Delegate B", "email": "b@example.org", "job_title": "Inspector",
            "organisation_id": world.org.id, "access_needs": "", "dietary_needs": ""}
    registration.update_registration(a, data, by_organiser=True)
    new = [m for m in outbox() if m.id not in before]
    # Besides the calendars: the new address is sent a new link, the old one told it is no longer used.
    assert sorted((m.to_email, m.kind) for m in new if not m.ics) == [
        ("a@example.org", "address_changed_old"), ("b@example.org", "address_changed")]
    new = [m for m in new if m.ics]
    sent = sorted((m.to_email, m.kind, m.ics_method, str(vevent(m.ics)[1]["SUMMARY"]), int(vevent(m.ics)[1]["SEQUENCE"]))
                  for m in new)
    assert sent == [
        ("a@example.org", "invite_cancelled", "CANCEL", "Community Safety Assembly 2027", 1),
        ("a@example.org", "invite_cancelled", "CANCEL", "Workshop: ASB in town centres", 1),
        ("b@example.org", "invite", "REQUEST", "Community Safety Assembly 2027", 2),
        ("b@example.org", "invite", "REQUEST", "Workshop: ASB in town centres", 2),
    ]
    uids = {addr: sorted(str(vevent(m.ics)[1]["UID"]) for m in new if m.to_email == addr)
            for addr in ("a@example.org", "b@example.org")}
    assert uids["a@example.org"] == uids["b@example.org"] and len(set(uids["a@example.org"])) == 2
    # The old address is not sent the delegate's personal links, nor told "updated" about anything.
    for m in new:
        if m.to_email == "a@example.org":
            assert m.to_name == "Delegate A" and "/manage/" not in m.body_text and "Change or cancel" not in m.body_text
    # A change of case only is the same mailbox: nothing is sent.
    before = {m.id for m in outbox()}
    registration.update_registration(a, {**data, "email": "B@Example.org"}, by_organiser=True)
    assert [m for m in outbox() if m.id not in before] == []


def test_an_updated_invitation_says_the_old_date_when_the_day_moves(world):
    # The hall is double-booked: the assembly moves from Sunday 28 to Monday 29 March 2027 (the day after BST starts).
    a = register(world, "Delegate A", "a@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb]})
    before = {m.id for m in outbox()}
    data = {f: getattr(world.assembly, f) for f in assemblies.ASSEMBLY_FIELDS}
    data["date"] = date(2027, 3, 29)
    assemblies.save_assembly(data, world.assembly)
    new = {str(vevent(m.ics)[1]["SUMMARY"]): m for m in outbox() if m.id not in before}
    workshop = new["Workshop: ASB in town centres"]
    assert vevent(workshop.ics)[1]["DTSTART"].dt == utc(date(2027, 3, 29), time(10, 30))
    assert "When:  Monday 29 March 2027, 10:30–11:45 (UK time)" in workshop.body_text
    assert "Before: Workshop: ASB in town centres, Sunday 28 March 2027 10:30–11:45, Council Chamber" \
        in workshop.body_text
    assert "Sunday 28 March 2027 10:30–11:45" in workshop.body_html
    # A change within the day keeps "Before" short: the date is the same.
    before = {m.id for m in outbox()}
    assemblies.save_round(world.assembly, {"name": world.r1.name, "starts_at": time(11, 0), "ends_at": time(12, 0)},
                          world.r1)
    (moved,) = [m for m in outbox() if m.id not in before]
    assert "Before: Workshop: ASB in town centres, 10:30–11:45, Council Chamber" in moved.body_text


def test_moving_a_placed_delegate_to_the_waiting_list_frees_their_seat_and_cancels_their_calendar(world):
    from eventapp.placements.models import Placement

    a = register(world, "Delegate A", "a@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb, world.ws.harm]})
    before = {m.id for m in outbox()}
    assert registration.move_to_waiting_list(a) == 2
    # The seats are free for whoever the organiser places next; nobody waiting holds one.
    assert db.session.scalars(select(Placement).where(Placement.registration_id == a.id)).all() == []
    sent = sorted((m.kind, m.ics_method, str(vevent(m.ics)[1]["SUMMARY"]))
                  for m in outbox() if m.id not in before and m.to_email == "a@example.org" and m.ics)
    assert sent == [
        ("invite_cancelled", "CANCEL", "Community Safety Assembly 2027"),
        ("invite_cancelled", "CANCEL", "Workshop: ASB in town centres"),
        ("invite_cancelled", "CANCEL", "Workshop: Spotting hidden harm"),
    ]


@pytest.mark.parametrize("what", ["registration", "assembly"])
def test_a_cancellation_offers_no_calendar_to_subscribe_to_and_nothing_to_change_or_cancel(world, what):
    # The delegate's calendar is empty now: "Subscribe (always up to date)" and "Change or cancel your
    # registration" under "this entry is removed" would send them to an empty feed and a place already gone.
    reg = register(world, "Ana Lopez", "ana@example.org")
    publish_assignments(world.assembly, {reg: [world.ws.asb]})
    assert all("/calendar/" in m.body_text and "/calendar/" in m.body_html for m in invites("ana@example.org"))
    before = len(outbox())
    if what == "registration":
        registration.cancel_registration(reg)
    else:
        assemblies.set_cancelled(world.assembly, True)
    cancels = [m for m in outbox()[before:] if m.kind == "invite_cancelled"]
    assert len(cancels) == 2
    for m in cancels:
        for part in (m.body_text, m.body_html):
            assert "/calendar/" not in part and "Change or cancel" not in part
            assert "/manage/" in part and "Your registration" in part


def test_invitations_name_the_uk_time_zone_as_people_say_it_and_any_other_by_its_iana_name(world):
    # "(Europe/London time)" is a computer's name for it; a zone elsewhere has no one everyday name.
    a = register(world, "Delegate A", "a@example.org")
    registration.cancel_registration(a)
    kinds = {m.kind: m for m in outbox(kinds=("invite", "invite_cancelled"))}
    assert set(kinds) == {"invite", "invite_cancelled"}
    for m in kinds.values():
        assert "Sunday 28 March 2027, 09:00–16:00 (UK time)" in m.body_text, m.kind
        assert "Sunday 28 March 2027, 09:00&ndash;16:00 (UK time)" in m.body_html, m.kind
        assert "Europe/London" not in m.body_text + m.body_html, m.kind
    world.assembly.timezone = "Europe/Paris"
    register(world, "Delegate B", "b@example.org")
    [paris] = outbox("b@example.org", kinds=("invite",))
    assert "09:00–16:00 (Europe/Paris time)" in paris.body_text
    assert "09:00&ndash;16:00 (Europe/Paris time)" in paris.body_html


def _new_since(before: set[int]) -> list:
    return [m for m in outbox() if m.id not in before]


def test_editing_a_workshops_description_updates_its_attendees_once(world, as_organiser):
    # The description is in every invitation's DESCRIPTION: an edit must reach the calendars that show it.
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    c = register(world, "Delegate C", "c@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb], b: [world.ws.asb], c: [world.ws.mh]})
    url = f"/organiser/assemblies/{world.assembly.slug}/workshops/{world.ws.asb.id}/edit"
    form = {"round_id": world.r1.id, "topic_id": world.topics[0].id, "title": "ASB in town centres",
            "room": "Council Chamber", "capacity": "20",
            "description": "Bring one example, from your own patch; the rest is discussion."}
    before = {m.id for m in outbox()}
    assert post_form(as_organiser, url, form).status_code == 302
    new = _new_since(before)
    assert sorted((m.to_email, m.kind, m.ics_method) for m in new) == [
        ("a@example.org", "invite_updated", "REQUEST"), ("b@example.org", "invite_updated", "REQUEST")]
    for m in new:
        _, event = vevent(m.ics)
        assert str(event["DESCRIPTION"]) == ("Morning breakouts of Community Safety Assembly 2027.\n\n"
                                             "Bring one example, from your own patch; the rest is discussion.")
        assert int(event["SEQUENCE"]) == 1 and str(event["SUMMARY"]) == "Workshop: ASB in town centres"
        # Nothing else changed: the email shows the new text rather than an identical "Before".
        assert "Bring one example, from your own patch; the rest is discussion." in m.body_text
        assert "Before:" not in m.body_text and "Before:" not in m.body_html
        assert "Details now: <bdi>Morning breakouts" in m.body_html
    # Saved again unchanged: the calendars already show it, nothing is queued.
    before = {m.id for m in outbox()}
    assert post_form(as_organiser, url, form).status_code == 302
    assert _new_since(before) == []


def test_editing_the_assemblys_summary_updates_every_plenary_only(world):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb]})
    data = {f: getattr(world.assembly, f) for f in assemblies.ASSEMBLY_FIELDS}
    data["summary"] = "Doors open at 08:30; lunch is provided."
    before = {m.id for m in outbox()}
    assemblies.save_assembly(data, world.assembly)
    new = _new_since(before)
    assert sorted((m.to_email, m.kind) for m in new) == [("a@example.org", "invite_updated"),
                                                          ("b@example.org", "invite_updated")]
    for m in new:
        _, event = vevent(m.ics)
        assert str(event["SUMMARY"]) == "Community Safety Assembly 2027" and int(event["SEQUENCE"]) == 1
        assert str(event["DESCRIPTION"]) == "Doors open at 08:30; lunch is provided."
    before = {m.id for m in outbox()}
    assemblies.save_assembly(data, world.assembly)
    assert _new_since(before) == []


def _back_to_legacy_fingerprints(*regs) -> None:
    """Entries as stored before the description counted: the old formula, over what was last sent."""
    from eventapp.invites.services import desired_slots

    wanted = desired_slots(list(regs))
    for reg in regs:
        for slot in wanted[reg.id]:
            entry = db.session.scalar(select(CalendarEntry).where(CalendarEntry.registration_id == reg.id,
                                                                  CalendarEntry.slot == slot.slot))
            entry.fingerprint = slot.legacy_fingerprint(reg.email)
    db.session.commit()


def test_entries_fingerprinted_before_descriptions_counted_are_updated_only_if_the_text_changed(world):
    a = register(world, "Delegate A", "a@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb]})
    data = {"topic_id": world.topics[0].id, "title": "ASB in town centres", "room": "Council Chamber",
            "capacity": 20, "description": ""}
    # Unchanged since the invitation was sent (its outbox row says so): nothing sent, the fingerprint upgraded.
    _back_to_legacy_fingerprints(a)
    before = {m.id for m in outbox()}
    assemblies.save_workshop(world.r1, data, world.ws.asb)
    assemblies.save_assembly({f: getattr(world.assembly, f) for f in assemblies.ASSEMBLY_FIELDS}, world.assembly)
    assert _new_since(before) == []
    assert all(e.fingerprint.startswith("d:") for e in db.session.scalars(select(CalendarEntry)))
    # The text edited since (while edits did not reach calendars): the next sync sends it.
    _back_to_legacy_fingerprints(a)
    assemblies.save_workshop(world.r1, {**data, "description": "Bring one example."}, world.ws.asb)
    (update,) = _new_since(before)
    _, event = vevent(update.ics)
    assert str(event["DESCRIPTION"]).endswith("Bring one example.") and int(event["SEQUENCE"]) == 1


def test_a_legacy_entry_is_compared_with_an_invitation_still_queued_as_a_recipe(world):
    from eventapp.mail.models import OutboxMessage

    a = register(world, "Delegate A", "a@example.org")  # its plenary invitation is queued to be rendered when sent
    _back_to_legacy_fingerprints(a)
    queued = list(db.session.scalars(select(OutboxMessage.id).where(OutboxMessage.render.is_not(None))))
    assert queued
    data = {f: getattr(world.assembly, f) for f in assemblies.ASSEMBLY_FIELDS}
    assemblies.save_assembly(data, world.assembly)
    assert list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))[-1] == max(queued)
    _back_to_legacy_fingerprints(a)
    assemblies.save_assembly({**data, "summary": "Lunch is provided."}, world.assembly)
    (update,) = [m for m in outbox() if m.id > max(queued) and m.ics]
    assert str(vevent(update.ics)[1]["DESCRIPTION"]) == "Lunch is provided."


def _placed_morning_and_afternoon(tag: str, email: str) -> tuple:
    """A delegate placed in a morning and an afternoon workshop whose rounds' ids are 99999 and 100000: as text
    ("round:99999", "round:100000" in slot names) the afternoon sorts first. Returns (delegate, their data)."""
    from eventapp.assemblies.models import Round

    assembly = make_assembly(date=date(2027, 3, 28), start_time=time(9, 0), end_time=time(16, 0))
    morning = Round(id=99999, assembly=assembly, name="Morning", starts_at=time(10, 0), ends_at=time(11, 0), position=1)
    afternoon = Round(id=100000, assembly=assembly, name="Afternoon", starts_at=time(14, 0), ends_at=time(15, 0),
                      position=2)
    db.session.add_all([morning, afternoon])
    db.session.commit()
    topics = [make_topic(f"{tag} A"), make_topic(f"{tag} B")]
    am, pm = make_workshop(morning, topics[0], "Morning workshop"), make_workshop(afternoon, topics[1], "Afternoon workshop")
    org = make_org(f"{tag} Police", "police")
    data = {"full_name": f"{tag} Person", "email": email, "job_title": "Officer", "organisation_id": org.id,
            "access_needs": "", "dietary_needs": ""}
    person = registration.register(assembly, {**data, "topic_ids": [t.id for t in topics], "consent": True}).registration
    publish_assignments(assembly, {person: [am, pm]})
    return person, data


def _cancellations_in_the_order_of_the_day(address: str) -> None:
    cancels = [m.subject for m in outbox(address) if m.ics_method == "CANCEL"]
    assert len(cancels) == 3
    assert "Workshop:" not in cancels[0]  # the plenary, from 09:00
    assert cancels[1].startswith("Cancelled: Workshop: Morning workshop")
    assert cancels[2].startswith("Cancelled: Workshop: Afternoon workshop")


def test_cancellations_come_in_the_order_of_the_day_whatever_the_ids(db):
    # The afternoon's cancellation came before the morning's where the ids crossed a power of ten (PostgreSQL in CI).
    person, _ = _placed_morning_and_afternoon("Order of the day", "ola.order@example.org")
    registration.cancel_registration(person)
    _cancellations_in_the_order_of_the_day("ola.order@example.org")


def test_cancellations_at_an_old_address_come_in_the_order_of_the_day_whatever_the_ids(db):
    # The same slot names order the cancellations sent to the address a delegate leaves.
    person, data = _placed_morning_and_afternoon("Old address", "oli.old@example.org")
    registration.update_registration(person, {**data, "email": "oli.new@example.org"}, by_organiser=True)
    _cancellations_in_the_order_of_the_day("oli.old@example.org")


def test_ids_built_on_a_very_long_organiser_domain_still_fit_their_columns(world, app, monkeypatch):
    # Message-IDs, calendar UIDs and the invitations' dedupe keys end in the organiser address's domain: one of
    # 253 characters (as long as DNS allows) made each longer than its 255-character column (PostgreSQL: a 500).
    domain = ".".join(["a" * 63] * 3 + ["b" * 61])
    monkeypatch.setitem(app.config, "ORGANISER_EMAIL", f"assembly@{domain}")
    reg = register(world, "Aïsha O'Neill", "aisha@example.org")
    publish_assignments(world.assembly, {reg: [world.ws.asb, world.ws.harm]})
    messages = outbox("aisha@example.org")
    entries = list(db.session.scalars(select(CalendarEntry).where(CalendarEntry.registration_id == reg.id)))
    assert len(entries) == 3 and len(messages) == 4  # confirmation; the day and two workshops
    assert all(len(m.message_id) <= 255 and len(m.dedupe_key or "") <= 255 for m in messages)
    assert all(len(e.uid) <= 255 for e in entries)
    # The same domain stands for it everywhere, always: a later sync sends the same UIDs.
    assert len({m.message_id.rpartition("@")[2] for m in messages} | {e.uid.rpartition("@")[2] + ">" for e in entries}) == 1

    # A domain that fits is kept as it is.
    monkeypatch.setitem(app.config, "ORGANISER_EMAIL", "assembly@shireford.example.gov.uk")
    other = register(world, "Dev Patel", "dev@example.org")
    assert outbox("dev@example.org")[0].message_id.endswith("@shireford.example.gov.uk>")
