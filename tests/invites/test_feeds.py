"""Personal calendar feed from the manage page, the public agenda .ics, reminders and the mail CLI."""
from __future__ import annotations

import re
import threading
import time as _time
from datetime import time, timedelta

from eventapp.extensions import db
from eventapp.invites import services as invites
from eventapp.registration import services as registration
from tests.factories import make_agenda_item
from tests.invites.helpers import icaljs, outbox, publish_assignments
from tests.invites.test_sync import register, world  # noqa: F401 - fixture


def test_manage_page_offers_a_feed_that_shows_the_current_programme(world, client):  # noqa: F811
    reg = register(world, "Ana Lopez", "ana@example.org")
    publish_assignments(world.assembly, {reg: [world.ws.asb, world.ws.harm]})
    page = client.get(f"/manage/{registration.make_manage_token(reg)}").get_data(as_text=True)
    https = re.search(r'href="(https?://[^"]+/calendar/[^"]+\.ics)"', page).group(1)
    webcal = re.search(r'href="(webcal://[^"]+)"', page).group(1)
    assert webcal == "webcal://" + https.split("://", 1)[1]
    path = "/" + https.split("/", 3)[3]
    response = client.get(path)
    assert response.mimetype == "text/calendar" and "no-store" in response.headers["Cache-Control"]
    (js,) = icaljs([response.get_data(as_text=True)])
    assert js["method"] is None
    assert [e["summary"] for e in js["events"]] == ["Community Safety Assembly 2027", "Workshop: ASB in town centres",
                                                    "Workshop: Spotting hidden harm"]
    # A move shows up in the feed at once.
    publish_assignments(world.assembly, {reg: [world.ws.mh, world.ws.harm]})
    (js,) = icaljs([client.get(path).get_data(as_text=True)])
    assert "Workshop: Mental health crisis" in [e["summary"] for e in js["events"]]
    # Revoking the personal links revokes the feed too; a forged token finds nothing.
    registration.revoke_manage_links(reg)
    assert client.get(path).status_code == 404
    assert client.get("/calendar/forged.ics").status_code == 404


def test_cancelled_or_waiting_delegates_get_no_subscribe_link(world, client):  # noqa: F811
    reg = register(world, "Ana Lopez", "ana@example.org")
    registration.cancel_registration(reg)
    page = client.get(f"/manage/{registration.make_manage_token(reg)}").get_data(as_text=True)
    assert "/calendar/" not in page
    assert invites.delegate_calendar(reg).count("BEGIN:VEVENT") == 0


def test_public_agenda_ics(world, client):  # noqa: F811
    make_agenda_item(world.assembly, "Welcome from the Commissioner", time(9, 30))
    page = client.get(f"/a/{world.assembly.slug}").get_data(as_text=True)
    assert f'/a/{world.assembly.slug}/agenda.ics' in page
    response = client.get(f"/a/{world.assembly.slug}/agenda.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    (js,) = icaljs([response.get_data(as_text=True)])
    summaries = [e["summary"] for e in js["events"]]
    assert summaries[0] == "Community Safety Assembly 2027" and "Welcome from the Commissioner" in summaries
    assert len(summaries) == 2 + 4 and len({e["uid"] for e in js["events"]}) == 6
    # BST begins on that day: 09:30 local is 08:30 UTC.
    welcome = next(e for e in js["events"] if e["summary"] == "Welcome from the Commissioner")
    assert welcome["dtstart"] == "2027-03-28T08:30:00.000Z"
    world.assembly.status = "draft"
    db.session.commit()
    assert client.get(f"/a/{world.assembly.slug}/agenda.ics").status_code == 404


def test_reminders_are_queued_once_with_the_programme(world, app):  # noqa: F811
    a = register(world, "Ana Lopez", "ana@example.org")
    register(world, "Ben Okafor", "ben@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb]})
    today = world.assembly.date - timedelta(days=3)
    assert invites.queue_reminders(3, today=today) == 2
    assert invites.queue_reminders(3, today=today) == 0
    assert invites.queue_reminders(2, today=today) == 0  # no assembly two days from then
    (reminder,) = outbox("ana@example.org", ["reminder"])
    assert reminder.subject == "Reminder: Community Safety Assembly 2027 is in 3 days"
    assert "ASB in town centres" in reminder.body_text and "Council Chamber" in reminder.body_text


def test_cli_reminders_and_send_without_smtp(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "reminders", "--days", "3"])
    assert result.exit_code == 0 and "Queued 0 reminders." in result.output
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code != 0 and "No SMTP server configured" in result.output


def test_cli_send_delivers_through_smtp(app, db, sink, world):  # noqa: F811
    register(world, "Ana Lopez", "ana@example.org")
    pending = len(outbox())
    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert f"Sent {pending}, will retry 0, failed 0." in result.output
    assert len(sink.wait_for(pending)) == pending


def test_mail_sink_stores_what_it_receives(tmp_path, app):
    import smtplib

    from eventapp.mail.sink import run_sink
    from tests.mail_sink import free_port

    port, stopping = free_port(), threading.Event()
    thread = threading.Thread(target=run_sink, args=("127.0.0.1", port, tmp_path / "box"),
                              kwargs={"stop": stopping.is_set}, daemon=True)
    thread.start()
    deadline = _time.monotonic() + 10
    while _time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nHello\r\n")
            break
        except OSError:
            _time.sleep(0.05)
    stopping.set()
    thread.join(timeout=10)
    (stored,) = list((tmp_path / "box").glob("*.eml"))
    assert b"Subject: hi" in stored.read_bytes()


def test_no_reminder_for_a_cancelled_assembly(world, app):  # noqa: F811
    from eventapp.assemblies import services as assemblies

    register(world, "Ana Lopez", "ana@example.org")
    assemblies.set_cancelled(world.assembly, True)
    today = world.assembly.date - timedelta(days=3)
    # "A reminder that … is on Sunday 28 March": not for an assembly that has been called off.
    assert invites.queue_reminders(3, today=today) == 0
    assert outbox("ana@example.org", ["reminder"]) == []
    assemblies.set_cancelled(world.assembly, False)
    assert invites.queue_reminders(3, today=today) == 1


def test_the_public_agenda_of_a_cancelled_assembly_cancels_the_day_in_subscribers_calendars(world, client):  # noqa: F811
    # Someone who subscribed from the public page must not see the day, and its sessions, as still on.
    from eventapp.assemblies import services as assemblies

    make_agenda_item(world.assembly, "Welcome from the Commissioner", time(9, 30))
    url = f"/a/{world.assembly.slug}/agenda.ics"
    (before,) = icaljs([client.get(url).get_data(as_text=True)])
    day_uid = before["events"][0]["uid"]
    assemblies.set_cancelled(world.assembly, True)
    text = client.get(url).get_data(as_text=True)
    (after,) = icaljs([text])
    assert [(e["uid"], e["summary"]) for e in after["events"]] == [
        (day_uid, "Cancelled: Community Safety Assembly 2027")]
    assert "STATUS:CANCELLED\r\n" in text and "STATUS:CONFIRMED" not in text
    # Reinstated: the day and its sessions are back.
    assemblies.set_cancelled(world.assembly, False)
    (again,) = icaljs([client.get(url).get_data(as_text=True)])
    assert len(again["events"]) == len(before["events"]) and "STATUS:CANCELLED" not in client.get(url).get_data(
        as_text=True)


def test_the_tomorrow_reminder_counts_days_where_the_assembly_is_held(world, app, monkeypatch):  # noqa: F811
    # Run by cron at half past midnight on a British summer night, when the server's UTC clock still
    # says yesterday: "tomorrow" must be the day after the delegates' today, not the day itself.
    from datetime import date, datetime

    from eventapp import timeutil

    world.assembly.date = date(2027, 6, 10)
    db.session.commit()
    register(world, "Ana Lopez", "ana@example.org")
    now = datetime(2027, 6, 8, 23, 30)  # 00:30 on 9 June in London
    monkeypatch.setattr(timeutil, "utcnow", lambda: now)
    monkeypatch.setattr(invites, "utcnow", lambda: now)
    assert invites.queue_reminders(1) == 1
    (reminder,) = outbox("ana@example.org", ["reminder"])
    assert reminder.subject == "Reminder: Community Safety Assembly 2027 is tomorrow"
    # On the day itself nobody is told it is tomorrow.
    world.assembly.date = date(2027, 6, 9)
    db.session.commit()
    assert invites.queue_reminders(1) == 0


def test_the_feed_shows_the_invitations_own_events_not_copies(world, client):  # noqa: F811
    # A delegate who accepted the emailed invitations and subscribes too must see each event once:
    # the feed's UID and SEQUENCE are those of the latest invitation for that slot.
    from eventapp.assemblies import services as assemblies
    from tests.invites.helpers import invites as invitations

    reg = register(world, "Ana Lopez", "ana@example.org")
    publish_assignments(world.assembly, {reg: [world.ws.asb, world.ws.harm]})
    path = "/" + invites.feed_url(reg).split("/", 3)[3]

    def latest_sent() -> dict[str, int]:
        out: dict[str, int] = {}
        for js in icaljs([m.ics for m in invitations("ana@example.org")]):
            (event,) = js["events"]
            out[event["uid"]] = max(out.get(event["uid"], -1), event["sequence"])
        return out

    def in_feed() -> dict[str, int]:
        (js,) = icaljs([client.get(path).get_data(as_text=True)])
        return {e["uid"]: e["sequence"] for e in js["events"]}

    assert in_feed() == latest_sent() and len(latest_sent()) == 3
    # Moved within the morning round, and the afternoon workshop's room changed: same UIDs, SEQUENCE 1.
    publish_assignments(world.assembly, {reg: [world.ws.mh, world.ws.harm]})
    assemblies.save_workshop(world.r2, {"topic_id": world.topics[2].id, "title": "Spotting hidden harm",
                                        "room": "Room 9", "capacity": 20}, world.ws.harm)
    assert in_feed() == latest_sent() and sorted(latest_sent().values()) == [0, 1, 1]
