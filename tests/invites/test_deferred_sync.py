"""A calendar sync of many delegates queues recipes the mail worker renders, and they say what the
immediately rendered invitations say.

At a national event (10,000 delegates, 3 rounds) publishing rendered 40,000 invitations within the
organiser's request (20 s), a round's new time 10,000 updates (11 s) and calling the assembly off
40,000 cancellations (12 s): past CALENDAR_INLINE_MAX delegates they are rendered when sent.
"""
from __future__ import annotations

import re
from datetime import date, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from eventapp.assemblies import services as assemblies
from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import send_pending
from eventapp.registration import services as registration
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.invites.helpers import publish_assignments, vevent


def _scenario(tag: str) -> tuple[list[str], dict[str, int]]:
    """Two delegates through publish, a round's new time, a room change, a deleted workshop, a move and the
    assembly called off, sending after each step. Returns the emails' addresses and recipes queued per step."""
    assembly = make_assembly(title="Community Safety Assembly 2027", date=date(2027, 3, 28), start_time=time(9, 0),
                             end_time=time(16, 0), venue_name="Shireford Guildhall",
                             venue_address="1 Market Place\nShireford SH1 1AA", timezone="Europe/London")
    topics = [make_topic(f"{name} {tag}") for name in ("Anti-social behaviour", "Poor mental health", "Hidden harm")]
    r1 = make_round(assembly, "Morning breakouts", time(10, 30), time(11, 45), position=1)
    r2 = make_round(assembly, "Afternoon breakouts", time(13, 30), time(14, 45), position=2)
    asb = make_workshop(r1, topics[0], "ASB in town centres", room="Council Chamber")
    mh = make_workshop(r1, topics[1], "Mental health crisis", room="Room 2")
    harm = make_workshop(r2, topics[2], "Spotting hidden harm", room="Room 3")
    org = make_org(f"Shireford Constabulary {tag}", "police")
    people = []
    for name in ("Aïsha O'Neill", "Ben Okafor"):
        email = f"{name.split()[0].lower()}.{tag}@example.org"
        data = {"full_name": name, "email": email, "job_title": "Inspector", "organisation_id": org.id,
                "access_needs": "", "dietary_needs": "", "topic_ids": [t.id for t in topics], "consent": True}
        people.append(registration.register(assembly, data).registration)
    send_pending()
    a, b = people
    recipes = {}

    def step(name, action):
        before = db.session.scalar(select(db.func.max(OutboxMessage.id))) or 0
        action()
        recipes[name] = db.session.scalar(select(db.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.id > before, OutboxMessage.render.is_not(None), OutboxMessage.render != ""))
        report = send_pending()
        assert report.failed == 0, name

    step("publish", lambda: publish_assignments(assembly, {a: [asb, harm], b: [mh, harm]}))
    step("round time", lambda: assemblies.save_round(
        assembly, {"name": r1.name, "starts_at": time(10, 45), "ends_at": time(12, 0)}, r1))
    step("room", lambda: assemblies.save_workshop(
        r2, {"topic_id": harm.topic_id, "title": harm.title, "room": "The Annexe", "capacity": harm.capacity}, harm))
    step("delete", lambda: assemblies.delete_workshop(mh))
    step("move", lambda: publish_assignments(assembly, {a: [harm], b: [asb, harm]}))
    step("call off", lambda: assemblies.set_cancelled(assembly, True))
    step("reinstate", lambda: assemblies.set_cancelled(assembly, False))
    return [p.email for p in people], recipes


LINK = re.compile(r"https?://[^\s\"<>]+")


def _received(sink, address: str, tag: str) -> list[tuple]:
    out = []
    for msg in sink.to(address):
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        calendar = next((p for p in msg.walk() if p.get_content_type() == "text/calendar"), None)
        event = None
        if calendar is not None:
            cal, ev = vevent(calendar.get_payload(decode=True).decode())
            event = (str(cal["METHOD"]), int(ev["SEQUENCE"]), str(ev["STATUS"]), ev["DTSTART"].dt, ev["DTEND"].dt,
                     str(ev["LOCATION"]), str(ev["SUMMARY"]), str(ev.get("DESCRIPTION", "")).count("\n"))
        # Links carry each world's tokens and slug, addresses its tag: the rest must be the same.
        clean = [LINK.sub("LINK", part).replace(tag, "TAG") for part in (msg["Subject"], text, html)]
        out.append((*clean, event))
    return out


def test_a_sync_of_many_delegates_is_rendered_when_sent_and_says_the_same(app, db, sink, monkeypatch,
                                                                         email_request_context):
    inline_people, inline_recipes = _scenario("inline")
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 1)  # two delegates are "many"
    deferred_people, deferred_recipes = _scenario("deferred")

    # Every step concerning both delegates was queued as recipes, none of the inline ones (the first
    # invitations, queued at registration as recipes either way, came before).
    assert all(inline_recipes[s] == 0 for s in inline_recipes), inline_recipes
    assert all(deferred_recipes[s] > 0 for s in ("publish", "round time", "call off", "reinstate", "move")), \
        deferred_recipes
    for inline, deferred in zip(inline_people, deferred_people):
        got, want = _received(sink, deferred, "deferred"), _received(sink, inline, "inline")
        assert len(got) == len(want) > 10
        for n, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"{deferred} email {n}: {g[0]!r} differs from {w[0]!r}"


def test_a_deferred_update_still_goes_when_the_delegate_asked_for_a_new_link_meanwhile(app, db, sink, monkeypatch,
                                                                                       email_request_context):
    # The update says what the calendar must show; only its links were replaced (the new one was emailed on its
    # own), so it goes with the new links rather than not at all, which would leave the old time in the calendar.
    assembly = make_assembly(date=date(2027, 3, 28), start_time=time(9, 0), end_time=time(16, 0))
    topic = make_topic("Hidden harm revoke")
    r1 = make_round(assembly, "Morning breakouts", time(10, 30), time(11, 45), position=1)
    ws = make_workshop(r1, topic, "Spotting hidden harm", room="Room 3")
    org = make_org("Shireford Fire revoke", "police")
    data = {"full_name": "Cara Diaz", "email": "cara.revoke@example.org", "job_title": "Officer",
            "organisation_id": org.id, "access_needs": "", "dietary_needs": "", "topic_ids": [topic.id],
            "consent": True}
    person = registration.register(assembly, data).registration
    publish_assignments(assembly, {person: [ws]})
    send_pending()
    monkeypatch.setitem(app.config, "CALENDAR_INLINE_MAX", 0)
    assemblies.save_round(assembly, {"name": r1.name, "starts_at": time(11, 0), "ends_at": time(12, 0)}, r1)
    registration.revoke_manage_links(db.session.get(type(person), person.id))
    before = len(sink.to("cara.revoke@example.org"))
    report = send_pending()
    assert report.not_sent == 0 and report.failed == 0
    sink.wait_for(before + 2)
    updates = [m for m in sink.to("cara.revoke@example.org")[before:]
               if any(p.get_content_type() == "text/calendar" for p in m.walk())]
    assert len(updates) == 1
    calendar = next(p for p in updates[0].walk() if p.get_content_type() == "text/calendar")
    _, ev = vevent(calendar.get_payload(decode=True).decode())
    starts = ev["DTSTART"].dt.astimezone(ZoneInfo(assembly.timezone or "Europe/London"))
    assert (starts.hour, starts.minute, int(ev["SEQUENCE"])) == (11, 0, 1)
    # Its personal link is the one that works now.
    text = updates[0].get_body(preferencelist=("plain",)).get_content()
    token = re.search(r"/manage/([^\s/\"<>]+)", text).group(1)
    assert registration.load_manage_token(token).id == person.id
