"""An email queued as a recipe is rendered when the worker sends it, from the registration as it is then.

If what it says is no longer true by then (the delegate cancelled, was moved to the waiting list or
given a place, the assembly was called off, the address or the link was replaced), it is not sent:
the Outbox says why. Never "your place is confirmed" to someone already cancelled.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from eventapp.assemblies import services as assemblies
from eventapp.extensions import db
from eventapp.mail import services
from eventapp.mail.models import OutboxMessage
from eventapp.registration import services as registration
from eventapp.registration.models import Registration
from tests.mail_sink import text_of
from tests.registration.conftest import person, setup  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
def _sink(sink):
    yield sink


def _sent_to(sink, address: str) -> dict[str, str]:
    """Subject -> plain text of what reached ``address``."""
    return {str(m["Subject"]): text_of(m) for m in sink.to(address)}


def _rows(kind: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                   .order_by(OutboxMessage.id)))


def _send_all(sink) -> services.SendReport:
    report = services.send_pending()
    sink.wait_for(report.sent)
    return report


def test_the_normal_case_sends_the_confirmation_and_the_invitation(setup, sink):  # noqa: F811
    registration.register(setup.assembly, person(setup, 1))
    report = _send_all(sink)
    assert (report.sent, report.failed) == (2, 0)
    sent = _sent_to(sink, "delegate1@example.org")
    title = setup.assembly.title
    assert "is confirmed" in sent[f"Your place at {title} is confirmed"]
    assert any(subject.startswith(f"Invitation: {title}") for subject in sent)
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {"sent"}


def test_a_delegate_who_cancels_before_the_worker_sends_gets_only_the_cancellation(setup, sink):  # noqa: F811
    result = registration.register(setup.assembly, person(setup, 1))
    registration.cancel_registration(db.session.get(Registration, result.registration.id))
    report = _send_all(sink)
    sent = _sent_to(sink, "delegate1@example.org")
    title = setup.assembly.title
    assert f"Your place at {title} is confirmed" not in sent
    assert not any(subject.startswith("Invitation:") for subject in sent)
    # Nor a calendar cancellation for an invitation that never went out.
    assert not any(m.get_content_type() == "multipart/mixed" for m in sink.to("delegate1@example.org"))
    assert "has been cancelled" in sent[f"Your registration for {title} is cancelled"]
    assert report.sent == 1 and report.failed == 0
    (confirmation,) = _rows("registration_confirmed")
    assert confirmation.status == "skipped" and confirmation.sent_at is None
    assert "cancelled" in confirmation.last_error
    (invitation,) = _rows("invite")
    assert invitation.status == "skipped" and invitation.last_error
    (withdrawal,) = _rows("invite_cancelled")
    assert withdrawal.status == "skipped" and "never sent" in withdrawal.last_error
    # Not something the organiser can (or needs to) send again, nor a failure left behind.
    assert services.retry_failed() == (0, 0)
    with pytest.raises(services.DomainError, match="not sent"):
        services.resend(confirmation)
    # Nor counted as an email that could not be sent.
    assert not any("could not be sent" in a.text for a in assemblies.needs_attention(setup.assembly))


def test_a_delegate_moved_to_the_waiting_list_before_the_worker_sends_is_not_told_they_have_a_place(
        setup, sink):  # noqa: F811
    result = registration.register(setup.assembly, person(setup, 1))
    registration.move_to_waiting_list(db.session.get(Registration, result.registration.id))
    _send_all(sink)
    sent = _sent_to(sink, "delegate1@example.org")
    assert f"Your place at {setup.assembly.title} is confirmed" not in sent
    assert "position 1" in sent[f"You are on the waiting list for {setup.assembly.title}"]
    (confirmation,) = _rows("registration_confirmed")
    assert confirmation.status == "skipped" and "waiting list" in confirmation.last_error


def test_a_delegate_given_a_place_before_the_worker_sends_is_not_told_they_are_waiting(setup, sink):  # noqa: F811
    setup.assembly.capacity = 0
    db.session.commit()
    result = registration.register(setup.assembly, person(setup, 1))
    assert result.outcome == "waiting"
    setup.assembly.capacity = 5
    db.session.commit()
    registration.promote_waiting(setup.assembly)
    _send_all(sink)
    sent = _sent_to(sink, "delegate1@example.org")
    assert f"You are on the waiting list for {setup.assembly.title}" not in sent
    (waiting,) = _rows("waiting_list")
    assert waiting.status == "skipped" and "given a place" in waiting.last_error


def test_nothing_about_a_place_goes_out_for_an_assembly_called_off_before_the_worker_sends(setup, sink):  # noqa: F811
    registration.register(setup.assembly, person(setup, 1))
    assemblies.set_cancelled(setup.assembly, True)
    _send_all(sink)
    sent = _sent_to(sink, "delegate1@example.org")
    assert f"Your place at {setup.assembly.title} is confirmed" not in sent
    assert not any(subject.startswith("Invitation:") for subject in sent)
    (confirmation,) = _rows("registration_confirmed")
    assert confirmation.status == "skipped" and "called off" in confirmation.last_error


def test_the_outbox_shows_why_an_email_was_not_sent(setup, sink, client, auth, organiser):  # noqa: F811
    result = registration.register(setup.assembly, person(setup, 1))
    registration.cancel_registration(db.session.get(Registration, result.registration.id))
    _send_all(sink)
    (confirmation,) = _rows("registration_confirmed")
    auth.login(organiser.email)
    listed = client.get("/organiser/outbox/").get_data(as_text=True)
    assert "Not sent" in listed
    page = client.get(f"/organiser/outbox/{confirmation.id}").get_data(as_text=True)
    assert "Not sent" in page and "cancelled" in page
    assert "Resend this message" not in page


def test_every_email_tells_auto_responders_to_stay_quiet(setup, sink):  # noqa: F811
    # One organiser message to 300 delegates must not bring 300 out-of-office replies.
    registration.register(setup.assembly, person(setup, 1))
    _send_all(sink)
    received = sink.to("delegate1@example.org")
    assert len(received) == 2  # a plain email and a calendar invitation
    for message in received:
        assert message.get_all("Auto-Submitted") == ["auto-generated"]
        assert message.get_all("X-Auto-Response-Suppress") == ["OOF, AutoReply"]


@pytest.mark.parametrize("open_", [True, False])
def test_the_cancellation_offers_to_register_again_only_while_registration_is_open(setup, sink, open_):  # noqa: F811
    result = registration.register(setup.assembly, person(setup, 1))
    if not open_:
        setup.assembly.registration_closes_at = datetime(2021, 1, 1, 9, 0)
        db.session.commit()
    registration.cancel_registration(db.session.get(Registration, result.registration.id))
    (cancelled,) = _rows("cancelled")
    assert ("register again" in cancelled.body_text) is open_
    assert ("register again" in cancelled.body_html) is open_
    assert (f"/a/{setup.assembly.slug}" in cancelled.body_text) is open_


def test_flask_mail_send_says_how_many_were_not_sent_and_counts_them_against_its_limit(app, setup, sink):  # noqa: F811
    first = registration.register(setup.assembly, person(setup, 1))
    registration.register(setup.assembly, person(setup, 2))
    registration.cancel_registration(db.session.get(Registration, first.registration.id))
    db.session.commit()
    runner = app.test_cli_runner()
    # delegate1: confirmation and invitation out of date, the withdrawal pointless, the cancellation sent;
    # delegate2: confirmation and invitation sent.
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 3, will retry 0, failed 0, not sent (out of date) 3." in result.output
    sink.wait_for(3)


def test_flask_mail_send_stops_at_its_limit_when_only_out_of_date_emails_are_due(app, setup, sink,  # noqa: F811
                                                                                  monkeypatch):
    result = registration.register(setup.assembly, person(setup, 1))
    registration.cancel_registration(db.session.get(Registration, result.registration.id))
    db.session.commit()
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 1)
    out = app.test_cli_runner().invoke(args=["mail", "send", "--limit", "2"])
    assert out.exit_code == 0, out.output
    # One at a time, oldest first: the confirmation and the invitation (both out of date), then the limit.
    assert "Sent 0, will retry 0, failed 0, not sent (out of date) 2." in out.output
    assert [m.status for m in _rows("registration_confirmed") + _rows("invite")] == ["skipped", "skipped"]
    left = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.status == "pending")).all()
    assert sorted(left) == ["cancelled", "invite_cancelled"]
