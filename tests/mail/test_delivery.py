"""Delivery over real SMTP: MIME shape, retries with exponential backoff, permanent failures, leases, resend."""
from __future__ import annotations

import email
import email.policy
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update as sa_update

from eventapp.extensions import db
from eventapp.mail import services
from eventapp.mail.models import OutboxMessage
from eventapp.timeutil import utcnow
from tests.mail_sink import free_port


class ScriptedHandler:
    """An SMTP server that refuses some recipients: 5xx always, or 4xx for the first N tries."""

    def __init__(self, permanent=(), flaky: dict | None = None):
        self.permanent = set(permanent)
        self.flaky = dict(flaky or {})
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permanent:
            return "550 5.1.1 Mailbox does not exist"
        if self.flaky.get(address, 0) > 0:
            self.flaky[address] -= 1
            return "451 4.3.0 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted"


@pytest.fixture
def smtp(app):
    """Start a scripted SMTP server on a chosen port; the app sends to it. Stops everything afterwards."""
    state = {"controller": None}
    port = free_port()
    saved_config = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT", "MAIL_RETRY_BASE_SECONDS") if k in app.config}
    mail_state = app.extensions["mail"]
    saved_state = (mail_state.server, mail_state.port, mail_state.suppress)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail_state.server, mail_state.port, mail_state.suppress = "127.0.0.1", port, False

    def start(handler, **server_options):
        state["controller"] = Controller(handler, hostname="127.0.0.1", port=port, **server_options)
        state["controller"].start()
        return handler

    yield start
    if state["controller"] is not None:
        state["controller"].stop()
    for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_RETRY_BASE_SECONDS"):
        app.config.pop(key, None)
    app.config.update(saved_config)  # a setting absent before stays absent: its default applies again
    mail_state.server, mail_state.port, mail_state.suppress = saved_state


def queue(n: int, prefix: str = "person") -> list[OutboxMessage]:
    messages = [services.queue_email("manage_link", f"{prefix}{i}@example.org", f"Person {i}",
                                     context={"registration": None, "assembly": None, "manage_url": "https://x/m",
                                              "valid_days": 60})
                for i in range(n)]
    db.session.commit()
    return messages


@pytest.fixture
def manage_link_template(monkeypatch):
    # A neutral kind with a template that needs nothing from other areas.
    monkeypatch.setattr(services, "render_email", lambda kind, **ctx: (f"Hello {ctx['to_name']}", "Body text\n",
                                                                       "<p>Body</p>"))


def test_smtp_down_then_back_delivers_everything_with_exponential_backoff(app, db, smtp, manage_link_template):
    # Minutes, and the waits brought forward by hand: on a busy machine a fraction of a second could pass
    # before a check and make a retry due too soon.
    app.config["MAIL_RETRY_BASE_SECONDS"] = 60
    messages = queue(20)
    ids = {m.id: m.message_id for m in messages}

    first = services.send_pending()
    assert (first.sent, first.retrying, first.failed) == (0, 20, 0)
    row = db.session.get(OutboxMessage, messages[0].id)
    assert row.status == "pending" and row.attempts == 1 and "refused" in row.last_error.lower()
    delay1 = (row.next_attempt_at - utcnow()).total_seconds()
    assert 0 < delay1 <= 60
    assert services.send_pending().handled == 0  # nothing is due during the backoff

    _retry_due_now()
    second = services.send_pending()
    assert second.retrying == 20
    db.session.expire_all()
    row = db.session.get(OutboxMessage, messages[0].id)
    assert row.attempts == 2
    delay2 = (row.next_attempt_at - utcnow()).total_seconds()
    assert 60 < delay2 <= 120  # doubled
    assert services.send_pending().handled == 0

    handler = smtp(ScriptedHandler())  # the server comes back
    _retry_due_now()
    third = services.send_pending()
    assert third.sent == 20
    assert sorted(m["Message-ID"] for m in handler.messages) == sorted(ids.values())
    db.session.expire_all()
    assert {m.status for m in db.session.query(OutboxMessage)} == {"sent"}


def test_4xx_is_retried_and_5xx_fails_at_once(app, db, smtp, manage_link_template):
    app.config["MAIL_RETRY_BASE_SECONDS"] = 0.05
    handler = smtp(ScriptedHandler(permanent={"person1@example.org"}, flaky={"person2@example.org": 2}))
    messages = queue(3)
    report = services.send_pending()
    assert (report.sent, report.retrying, report.failed) == (1, 1, 1), [(m.to_email, m.last_error) for m in db.session.query(OutboxMessage)]
    bounced = db.session.get(OutboxMessage, messages[1].id)
    assert bounced.status == "failed" and bounced.last_error.startswith("{'person1@example.org': (550")
    for _ in range(2):
        time.sleep(0.25)
        services.send_pending()
    db.session.expire_all()
    flaky = db.session.get(OutboxMessage, messages[2].id)
    assert flaky.status == "sent" and flaky.attempts == 3
    assert [m["To"].addresses[0].addr_spec for m in handler.messages] == ["person0@example.org", "person2@example.org"]


def test_an_address_that_cannot_be_written_fails_alone_and_the_batch_goes_on(app, db, smtp, manage_link_template):
    handler = smtp(ScriptedHandler(), enable_SMTPUTF8=False)
    messages = queue(3)
    messages[1].to_email = "zoë@example.org"  # needs SMTPUTF8, which this server does not offer
    db.session.commit()
    report = services.send_pending()
    assert (report.sent, report.retrying, report.failed) == (2, 0, 1)
    db.session.expire_all()
    unsendable = db.session.get(OutboxMessage, messages[1].id)
    assert unsendable.status == "failed" and "cannot be written" in unsendable.last_error
    assert [m["To"].addresses[0].addr_spec for m in handler.messages] == ["person0@example.org", "person2@example.org"]


def test_an_international_address_is_delivered_by_a_server_that_speaks_smtputf8(app, db, smtp, manage_link_template):
    handler = smtp(ScriptedHandler(), enable_SMTPUTF8=True)  # as Microsoft 365 and Gmail do
    messages = queue(3)
    messages[1].to_email = "zoë.níbhriain@example.org"
    db.session.commit()
    report = services.send_pending()
    assert (report.sent, report.retrying, report.failed) == (3, 0, 0), [
        (m.to_email, m.last_error) for m in db.session.query(OutboxMessage)]
    received = [m["To"].addresses[0].addr_spec.encode("ascii", "surrogateescape").decode("utf-8")
                for m in handler.messages]
    assert sorted(received) == ["person0@example.org", "person2@example.org", "zoë.níbhriain@example.org"]


def test_a_refused_sign_in_to_the_mail_server_fails_no_message(app, db, smtp, manage_link_template):
    """A mistyped FLASK_MAIL_PASSWORD (535) is the connection's problem, not the messages': they wait."""
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.password == b"right password", handled=False)

    smtp(ScriptedHandler(), authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    mail_state = app.extensions["mail"]
    saved = (mail_state.username, mail_state.password)
    mail_state.username, mail_state.password = "assembly", "wrong password"
    try:
        messages = queue(2)
        report = services.send_pending()
    finally:
        mail_state.username, mail_state.password = saved
    assert (report.sent, report.retrying, report.failed) == (0, 2, 0)
    db.session.expire_all()
    for message in messages:
        row = db.session.get(OutboxMessage, message.id)
        assert row.status == "pending" and "535" in row.last_error


class DataRefusingHandler(ScriptedHandler):
    """Accepts every recipient, then answers the message itself with a 4xx or 5xx for some."""

    def __init__(self, refuse: dict[str, str]):
        super().__init__()
        self.refuse = refuse

    async def handle_DATA(self, server, session, envelope):
        reply = self.refuse.get(envelope.rcpt_tos[0])
        if reply:
            return reply
        return await super().handle_DATA(server, session, envelope)


def test_a_refusal_after_the_data_is_kept_per_message(app, db, smtp, manage_link_template):
    app.config["MAIL_RETRY_BASE_SECONDS"] = 0.05
    handler = smtp(DataRefusingHandler({"person0@example.org": "552 5.3.4 Message too big",
                                        "person1@example.org": "451 4.3.0 Try again later"}))
    messages = queue(3)
    report = services.send_pending()
    assert (report.sent, report.retrying, report.failed) == (1, 1, 1)
    db.session.expire_all()
    assert [db.session.get(OutboxMessage, m.id).status for m in messages] == ["failed", "pending", "sent"]
    assert [m["To"].addresses[0].addr_spec for m in handler.messages] == ["person2@example.org"]
    handler.refuse.clear()
    time.sleep(0.1)
    assert services.send_pending().sent == 1


def test_gives_up_after_the_last_attempt(app, db, smtp, manage_link_template):
    app.config.update(MAIL_RETRY_BASE_SECONDS=0, MAIL_MAX_ATTEMPTS=3)
    try:
        smtp(ScriptedHandler(flaky={"person0@example.org": 99}))
        (message,) = queue(1)
        outcomes = [services.send_pending() for _ in range(3)]
        assert [(o.retrying, o.failed) for o in outcomes] == [(1, 0), (1, 0), (0, 1)]
        db.session.expire_all()
        message = db.session.get(OutboxMessage, message.id)
        assert message.status == "failed" and message.last_error.startswith("Gave up after 3 attempts")
    finally:
        app.config.pop("MAIL_MAX_ATTEMPTS")


def test_resend_keeps_the_message_id(app, db, smtp, manage_link_template):
    handler = smtp(ScriptedHandler(permanent={"person0@example.org"}))
    (message,) = queue(1)
    services.send_pending()
    db.session.expire_all()
    message = db.session.get(OutboxMessage, message.id)
    assert message.status == "failed"
    handler.permanent.clear()
    services.resend(message)
    assert services.send_pending().sent == 1
    assert handler.messages[0]["Message-ID"] == message.message_id


def test_a_claimed_message_is_not_sent_by_another_pass_until_its_lease_ends(app, db, smtp, manage_link_template):
    handler = smtp(ScriptedHandler())
    app.config["MAIL_LEASE_SECONDS"] = 0.3
    try:
        queue(3)
        claimed = services.claim_due(10)  # a worker claims, then dies before sending
        assert len(claimed) == 3
        assert services.send_pending().handled == 0
        time.sleep(0.35)
        assert services.send_pending().sent == 3
        assert len(handler.messages) == 3
    finally:
        app.config.pop("MAIL_LEASE_SECONDS")


def test_backoff_grows_exponentially_and_is_capped(app):
    with app.app_context():
        app.config.update(MAIL_RETRY_BASE_SECONDS=60, MAIL_RETRY_MAX_SECONDS=3600)
        try:
            assert [services.backoff_seconds(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
        finally:
            app.config.pop("MAIL_RETRY_BASE_SECONDS")
            app.config.pop("MAIL_RETRY_MAX_SECONDS")


def test_plain_email_mime_shape_and_stable_message_id(app, db, sink):
    msg = services.queue_email("reminder", "zoe@example.org", 'Zoë "Z" O\'Brien\r\nBcc: x@example.org',
                               context={"assembly": type("A", (), {"title": "T", "date": utcnow().date(),
                                                                   "start_time": utcnow().time(),
                                                                   "end_time": utcnow().time(), "venue_name": "V",
                                                                   "venue_address": "", "timezone": "UTC"})(),
                                        "days": 1, "programme": [], "registration": None})
    db.session.commit()
    assert services.send_pending().sent == 1
    (received,) = sink.wait_for(1)
    assert received.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in received.get_payload()] == ["text/plain", "text/html"]
    assert received["Message-ID"] == msg.message_id
    assert received["To"].addresses[0].display_name == 'Zoë "Z" O\'Brien Bcc: x@example.org'
    assert "Bcc" not in received
    raw = services.build_mime(msg).as_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_nothing_is_sent_and_nothing_fails_without_an_smtp_server(app, db, manage_link_template):
    assert not app.config.get("MAIL_SERVER")
    queue(2)
    assert services.send_pending().handled == 0
    assert {m.status for m in db.session.query(OutboxMessage)} == {"pending"}


def test_queueing_is_part_of_the_callers_transaction(app, db, manage_link_template):
    queue(1)
    services.queue_email("manage_link", "gone@example.org", "Gone")
    db.session.rollback()
    assert [m.to_email for m in db.session.query(OutboxMessage)] == ["person0@example.org"]


class PeerRecordingHandler(ScriptedHandler):
    """Also notes which connection (client port) carried each message."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.peers: list[tuple[str, int]] = []

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


def test_a_large_batch_goes_over_several_connections_each_message_once(app, db, smtp, manage_link_template,
                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_CONNECTIONS", 3)
    monkeypatch.setitem(app.config, "MAIL_PER_CONNECTION", 10)
    monkeypatch.setitem(app.config, "MAIL_COMMIT_EVERY", 7)
    handler = smtp(PeerRecordingHandler(flaky={"person5@example.org": 1}, permanent={"person11@example.org"}))
    messages = queue(45)
    report = services.send_pending(100)
    assert (report.sent, report.retrying, report.failed) == (43, 1, 1)
    assert len(set(handler.peers)) == 3
    received = sorted(m["To"].addresses[0].addr_spec for m in handler.messages)
    expected = sorted(f"person{i}@example.org" for i in range(45) if i not in (5, 11))
    assert received == expected  # each once: none lost, none twice
    db.session.expire_all()
    status = {m.to_email: db.session.get(OutboxMessage, m.id).status for m in messages}
    assert status["person5@example.org"] == "pending" and status["person11@example.org"] == "failed"
    assert {s for to, s in status.items() if to not in ("person5@example.org", "person11@example.org")} == {"sent"}


def test_a_small_batch_keeps_one_connection_and_its_order(app, db, smtp, manage_link_template, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_CONNECTIONS", 3)
    monkeypatch.setitem(app.config, "MAIL_PER_CONNECTION", 10)
    handler = smtp(PeerRecordingHandler())
    queue(19)
    assert services.send_pending(100).sent == 19
    assert len(set(handler.peers)) == 1
    assert [m["To"].addresses[0].addr_spec for m in handler.messages] == [f"person{i}@example.org" for i in range(19)]


def test_a_connection_that_cannot_open_leaves_its_share_for_the_next_pass(app, db, smtp, manage_link_template,
                                                                          monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_CONNECTIONS", 2)
    monkeypatch.setitem(app.config, "MAIL_PER_CONNECTION", 5)
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 0.05)
    handler = smtp(ScriptedHandler())
    real_open = services._open_connection
    opened = []

    def second_fails():
        opened.append(1)
        if len(opened) == 2:
            return None, ConnectionRefusedError("connection refused")
        return real_open()

    monkeypatch.setattr(services, "_open_connection", second_fails)
    queue(10)
    report = services.send_pending(100)
    assert (report.sent, report.retrying, report.failed) == (5, 5, 0)
    assert len(handler.messages) == 5
    monkeypatch.setattr(services, "_open_connection", real_open)
    time.sleep(0.1)
    assert services.send_pending(100).sent == 5
    assert sorted(m["To"].addresses[0].addr_spec for m in handler.messages) == sorted(
        f"person{i}@example.org" for i in range(10))


def test_the_worker_says_why_nothing_could_be_sent(app, db, manage_link_template):
    """SMTP down: the operator watching `flask mail worker` sees the reason, not only 'will retry'."""
    port = free_port()  # nobody listens here
    mail_state = app.extensions["mail"]
    saved = (mail_state.server, mail_state.port, mail_state.suppress)
    saved_config = {k: app.config[k] for k in ("MAIL_SERVER", "MAIL_PORT") if k in app.config}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail_state.server, mail_state.port, mail_state.suppress = "127.0.0.1", port, False
    lines = []
    passes = iter([False, True])
    try:
        queue(2)
        services.run_worker(interval=0, stop=lambda: next(passes), echo=lines.append)
    finally:
        mail_state.server, mail_state.port, mail_state.suppress = saved
        app.config.pop("MAIL_SERVER", None)
        app.config.pop("MAIL_PORT", None)
        app.config.update(saved_config)
    assert lines == [f"Sent 0, will retry 2, failed 0. Could not open the connection to 127.0.0.1:{port}: "
                     "[Errno 111] Connection refused"]


def test_a_calendar_email_retried_after_a_newer_one_was_sent_is_not_sent(app, db, smtp):
    """A workshop invitation greylisted (451) waits for its retry; meanwhile the room changes and the update
    goes out. The retry must not then deliver the old room after the new one."""
    from tests.invites.helpers import publish_assignments, vevent
    from tests.invites.test_superseded_wording import TITLE, _move, _world

    # A retry a minute away, brought forward by hand below: a busy machine cannot make it due too soon.
    app.config["MAIL_RETRY_BASE_SECONDS"] = 60
    handler = smtp(ScriptedHandler())
    assembly, rnd, workshop, (person,) = _world("retry")
    handler.flaky[person.email] = 1
    publish_assignments(assembly, {person: [workshop]})  # one delegate: rendered as queued
    first = services.send_pending()
    assert first.retrying == 1, first
    _move(rnd, workshop, "Room B")
    assert services.send_pending().sent == 1  # the update; the invitation's retry is not due yet
    _retry_due_now()
    later = services.send_pending()
    assert (later.sent, later.not_sent) == (0, 1), later

    about = [m for m in handler.messages if TITLE in str(m["Subject"])]
    assert len(about) == 1
    calendar = next(p for p in about[0].walk() if p.get_content_type() == "text/calendar")
    _, event = vevent(calendar.get_payload(decode=True).decode())
    assert str(event["LOCATION"]).startswith("Room B") and int(event["SEQUENCE"]) == 1
    db.session.expire_all()
    stale = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_email == person.email,
                                                           OutboxMessage.status == "skipped")).one()
    assert stale.ics and "Room A" in stale.ics
    assert "newer calendar message" in stale.last_error


def _retry_due_now() -> None:
    """The minute a retry waits has passed."""
    db.session.execute(sa_update(OutboxMessage).where(OutboxMessage.status == "pending")
                       .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def _calendar_about(handler, address: str, title: str) -> list[tuple[str, int, str, str, str]]:
    """(METHOD, SEQUENCE, LOCATION, subject, plain text) of each calendar email received at ``address``
    about the event titled ``title``."""
    from tests.invites.helpers import vevent

    out = []
    for msg in handler.messages:
        if msg["To"].addresses[0].addr_spec != address or title not in str(msg["Subject"]):
            continue
        calendar = next((p for p in msg.walk() if p.get_content_type() == "text/calendar"), None)
        if calendar is None:
            continue
        cal, event = vevent(calendar.get_payload(decode=True).decode())
        out.append((str(cal["METHOD"]), int(event["SEQUENCE"]), str(event["LOCATION"]), str(msg["Subject"]),
                    msg.get_body(preferencelist=("plain",)).get_content()))
    return out


def _workshop_rows(person, title: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.registration_id == person.id, OutboxMessage.subject.contains(title),
        OutboxMessage.dedupe_key.startswith("invite:")).order_by(OutboxMessage.id)))


def test_a_cancellation_after_an_update_that_bounced_names_the_room_the_calendar_shows(app, db, smtp):
    """Room A reached the calendar; the move to Room B bounced (550); then the delegate cancels. One delegate's
    sync renders as queued, yet the cancellation must name Room A, which their calendar holds, not Room B."""
    from eventapp.registration import services as registration
    from tests.invites.helpers import publish_assignments
    from tests.invites.test_superseded_wording import TITLE, _move, _world

    handler = smtp(ScriptedHandler())
    assembly, rnd, workshop, (person,) = _world("bounced")
    publish_assignments(assembly, {person: [workshop]})
    assert services.send_pending().sent == 1
    handler.permanent.add(person.email)  # a full mailbox, for a while
    _move(rnd, workshop, "Room B")
    assert services.send_pending().failed == 1
    handler.permanent.clear()
    registration.cancel_registration(person)
    report = services.send_pending()
    assert (report.failed, report.not_sent) == (0, 0), report

    (_, first, *_), (method, sequence, location, subject, text) = _calendar_about(handler, person.email, TITLE)
    assert first == 0
    # Higher than any SEQUENCE sent or queued for the entry (RFC 5546), so calendars apply it.
    assert (method, sequence) == ("CANCEL", 2)
    assert location.startswith("Room A") and subject.startswith("Cancelled: ")
    assert "Room A" in text and "Room B" not in text
    # The Outbox shows what went: the cancellation as sent, the update that bounced as failed.
    invitation, update, cancellation = _workshop_rows(person, TITLE)
    assert (invitation.status, update.status, cancellation.status) == ("sent", "failed", "sent")
    assert cancellation.kind == "invite_cancelled" and cancellation.render is None
    assert "Room A" in cancellation.ics and "Room B" not in cancellation.ics and "SEQUENCE:2" in cancellation.ics
    assert "Room A" in cancellation.body_text and "Room B" not in cancellation.body_text + cancellation.body_html


def test_a_cancellation_while_an_update_still_waits_for_its_retry_names_the_room_the_calendar_shows(app, db, smtp):
    """As above, the update greylisted (451) and still waiting for its retry when the workshop is deleted: the
    cancellation names Room A, and the update's retry is then not sent (it would put Room B back)."""
    from eventapp.assemblies import services as assemblies
    from tests.invites.helpers import publish_assignments
    from tests.invites.test_superseded_wording import TITLE, _move, _world

    handler = smtp(ScriptedHandler())
    assembly, rnd, workshop, (person,) = _world("greylisted")
    publish_assignments(assembly, {person: [workshop]})
    assert services.send_pending().sent == 1
    handler.flaky[person.email] = 1
    _move(rnd, workshop, "Room B")
    assert services.send_pending().retrying == 1  # its retry is a minute away
    assemblies.delete_workshop(workshop)
    report = services.send_pending()
    assert (report.sent, report.failed, report.not_sent) == (1, 0, 0), report

    *_, (method, sequence, location, _, text) = _calendar_about(handler, person.email, TITLE)
    assert (method, sequence) == ("CANCEL", 2)
    assert location.startswith("Room A") and "Room A" in text and "Room B" not in text
    # The retry falls due: a newer message for the entry reached the address, so it stays unsent.
    invitation, update, cancellation = _workshop_rows(person, TITLE)
    db.session.execute(sa_update(OutboxMessage).where(OutboxMessage.id == update.id)
                       .values(next_attempt_at=utcnow()))
    db.session.commit()
    later = services.send_pending()
    assert (later.sent, later.not_sent) == (0, 1), later
    assert [c[:3] for c in _calendar_about(handler, person.email, TITLE)] == [
        ("REQUEST", 0, location), ("CANCEL", 2, location)]
    assert [r.status for r in _workshop_rows(person, TITLE)] == ["sent", "skipped", "sent"]


def test_no_cancellation_goes_for_a_workshop_whose_invitation_never_arrived(app, db, smtp):
    """The workshop's only invitation bounced (550), then the delegate cancels: their calendar has nothing of it
    to remove, so no cancellation of it is sent (the day's own, which arrived, is)."""
    from eventapp.registration import services as registration
    from tests.invites.helpers import publish_assignments
    from tests.invites.test_superseded_wording import TITLE, _world

    handler = smtp(ScriptedHandler())
    assembly, rnd, workshop, (person,) = _world("never")
    handler.permanent.add(person.email)
    publish_assignments(assembly, {person: [workshop]})
    assert services.send_pending().failed == 1
    handler.permanent.clear()
    registration.cancel_registration(person)
    report = services.send_pending()
    assert (report.failed, report.not_sent) == (0, 1), report

    assert _calendar_about(handler, person.email, TITLE) == []
    assert [c[0] for c in _calendar_about(handler, person.email, assembly.title)] == ["REQUEST", "CANCEL"]
    invitation, cancellation = _workshop_rows(person, TITLE)
    assert (invitation.status, cancellation.status) == ("failed", "skipped")
    assert "never sent" in cancellation.last_error


def test_wording_cancellations_from_what_was_sent_takes_no_statement_per_delegate(app, db, smtp):
    """A workshop of several delegates deleted after its move bounced for all of them: the sync and the
    sending cost as many statements for 6 delegates as for 2, and each cancellation names Room A."""
    from eventapp.assemblies import services as assemblies
    from tests.invites.helpers import publish_assignments
    from tests.invites.test_superseded_wording import TITLE, _move, _world
    from tests.test_query_counts import counting

    handler = smtp(ScriptedHandler())
    counts = []
    for people in (2, 6):
        assembly, rnd, workshop, regs = _world(f"bounced{people}", people)
        addresses = [r.email for r in regs]
        publish_assignments(assembly, {r: [workshop] for r in regs})
        assert services.send_pending().sent == people
        handler.permanent.update(r.email for r in regs)
        _move(rnd, workshop, "Room B")
        assert services.send_pending().failed == people
        handler.permanent.clear()
        db.session.remove()
        with counting() as deleting:
            assemblies.delete_workshop(db.session.merge(workshop))
        with counting() as sending:
            report = services.send_pending()
        assert (report.sent, report.failed, report.not_sent) == (people, 0, 0), report
        counts.append((len(deleting), len(sending)))
        for address in addresses:
            method, sequence, location, _, text = _calendar_about(handler, address, TITLE)[-1]
            assert (method, sequence) == ("CANCEL", 2) and location.startswith("Room A") and "Room B" not in text
    assert counts[0] == counts[1], counts
