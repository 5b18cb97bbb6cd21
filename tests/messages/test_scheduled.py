"""Organisers schedule an email to delegates for later: who gets it is decided when it goes; it can be cancelled."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import send_pending
from eventapp.messages import services
from eventapp.messages.models import AssemblyMessage
from eventapp.timeutil import utc_to_local, utcnow
from tests.conftest import csrf_from, post_form
from tests.messages.test_messages import _compose, _outbox, people  # noqa: F401 - fixture
from tests.mail_sink import sink  # noqa: F401 - fixture
from tests.notes.helpers import make_registration


def _later(assembly, hours: int = 48) -> dict:
    local = utc_to_local(utcnow() + timedelta(hours=hours), assembly.timezone).replace(minute=0, second=0,
                                                                                       microsecond=0)
    return {"when": "later", "send_on": local.date().isoformat(), "send_time": local.strftime("%H:%M")}


def _schedule(client, assembly, **data):
    url, payload = _compose(client, assembly, **data)
    return client.post(url, data={**payload, "action": "send"}, follow_redirects=True)


def test_a_scheduled_message_waits_and_then_reaches_whoever_the_audience_holds_when_it_goes(
        as_organiser, people, sink):
    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly, **_later(assembly))
    preview = as_organiser.post(url, data={**payload, "action": "preview"}).get_data(as_text=True)
    assert "Send at " in preview and "2 people would get it now" in preview
    page = as_organiser.post(url, data={**payload, "action": "send"}, follow_redirects=True).get_data(as_text=True)
    assert "Your message is scheduled for" in page and "Cancel this scheduled message" in page
    message = db.session.scalar(select(AssemblyMessage))
    assert message.send_at is not None and message.queued_at is None
    assert _outbox(assembly) == []
    send_pending()  # not due yet
    assert _outbox(assembly) == [] and sink.messages == []
    index = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/").get_data(as_text=True)
    assert "Scheduled for" in index

    # Meanwhile Ben cancels and Dana registers.
    people["ben"].status = "cancelled"
    make_registration(assembly, people["ben"].organisation, "Dana Late")
    message.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    send_pending()
    assert [r.to_name for r in _outbox(assembly)] == ["Aisha Khan", "Dana Late"]
    assert sorted(str(m["To"]) for m in sink.wait_for(2))[0].startswith("Aisha Khan")
    db.session.refresh(message)
    assert message.queued_at is not None and message.recipients == 2
    # A second pass (another worker) queues nothing more.
    send_pending()
    assert len(_outbox(assembly)) == 2
    detail = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/{message.id}").get_data(as_text=True)
    assert "scheduled for" in detail and "Cancel this scheduled message" not in detail


def test_cancelling_a_scheduled_message_asks_first_and_then_it_never_goes(as_organiser, people, sink):
    assembly = people["assembly"]
    _schedule(as_organiser, assembly, **_later(assembly))
    message = db.session.scalar(select(AssemblyMessage))
    detail_url = f"/organiser/assemblies/{assembly.slug}/messages/{message.id}"
    detail = as_organiser.get(detail_url).get_data(as_text=True)
    # The detail page's button only leads to the question: nothing is cancelled by it.
    link = re.search(r'<a class="button button-secondary" href="([^"]+)">Cancel this scheduled message</a>', detail)
    assert link is not None
    confirm = as_organiser.get(link.group(1)).get_data(as_text=True)
    db.session.refresh(message)
    assert message.cancelled_at is None and message.is_scheduled
    assert "Cancel the scheduled message" in confirm and "Yes, cancel the message" in confirm
    assert f'href="{detail_url}">No, keep it</a>' in confirm
    page = post_form(as_organiser, link.group(1), {}, follow_redirects=True).get_data(as_text=True)
    assert "The scheduled message is cancelled: nobody will get it." in page
    # A second click (Back, then Yes again) says so, and changes nothing.
    again = as_organiser.post(link.group(1), data={"csrf_token": csrf_from(confirm)},
                              follow_redirects=True).get_data(as_text=True)
    assert "was cancelled already" in again
    message.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    send_pending()
    assert _outbox(assembly) == [] and sink.messages == []


def test_a_message_already_gone_cannot_be_cancelled(as_organiser, people):
    assembly = people["assembly"]
    _schedule(as_organiser, assembly)
    message = db.session.scalar(select(AssemblyMessage))
    try:
        services.cancel_scheduled(message)
    except services.DomainError as err:
        assert "can no longer be cancelled" in err.message
    else:
        raise AssertionError("a sent message was cancelled")
    assert len(_outbox(assembly)) == 2


def test_a_time_past_or_the_skipped_spring_hour_is_refused_with_the_form_kept(as_organiser, people):
    assembly = people["assembly"]
    past = utc_to_local(utcnow() - timedelta(hours=2), assembly.timezone)
    page = _schedule(as_organiser, assembly, when="later", send_on=past.date().isoformat(),
                     send_time=past.strftime("%H:%M"), subject="Kept subject").get_data(as_text=True)
    assert "That time has passed." in page and "Kept subject" in page
    skipped = datetime(utcnow().year + 1, 3, 31)
    while skipped.weekday() != 6:  # the last Sunday of March: 01:00-02:00 does not happen in London
        skipped -= timedelta(days=1)
    page = _schedule(as_organiser, assembly, when="later", send_on=skipped.date().isoformat(),
                     send_time="01:30").get_data(as_text=True)
    assert "does not happen on that day" in page
    page = _schedule(as_organiser, assembly, when="later", send_on="", send_time="").get_data(as_text=True)
    assert "Enter the day to send it" in page
    assert db.session.scalar(select(AssemblyMessage)) is None
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "message")) is None


def test_the_worker_without_a_public_address_sends_scheduled_copies_without_a_personal_link(
        as_organiser, people, sink, monkeypatch):
    assembly = people["assembly"]
    _schedule(as_organiser, assembly, **_later(assembly))
    message = db.session.scalar(select(AssemblyMessage))
    message.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    def no_host():
        raise RuntimeError("Unable to build URLs outside an active request without SERVER_NAME")

    # What url_for does in `flask mail worker` when FLASK_PUBLIC_BASE_URL is not set.
    monkeypatch.setattr(services, "_manage_link_template", no_host)
    send_pending()
    received = sink.wait_for(2)
    assert len(received) == 2
    from tests.mail_sink import text_of

    assert all("/manage/" not in text_of(m) and "Park at the rear." in text_of(m) for m in received)


def test_a_scheduled_message_of_an_assembly_called_off_meanwhile_is_not_sent(as_organiser, people, sink):
    assembly = people["assembly"]
    _schedule(as_organiser, assembly, **_later(assembly))
    message = db.session.scalar(select(AssemblyMessage))
    message.send_at = utcnow() - timedelta(seconds=1)
    assembly.cancelled_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    send_pending()
    assert _outbox(assembly) == [] and sink.messages == []
    db.session.refresh(message)
    assert message.cancelled_at is not None
    detail = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/{message.id}").get_data(as_text=True)
    assert "because the assembly was cancelled" in detail


def test_a_scheduled_message_that_cannot_be_queued_does_not_stop_other_email(as_organiser, people, sink, monkeypatch,
                                                                                caplog):
    assembly = people["assembly"]
    _schedule(as_organiser, assembly, **_later(assembly))
    message = db.session.scalar(select(AssemblyMessage))
    message.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    _schedule(as_organiser, assembly, subject="Sent at once")  # two copies in the outbox now

    def broken(assembly, message):
        raise RuntimeError("template error")

    monkeypatch.setattr(services, "_queue_copies", broken)
    send_pending()
    assert sorted(str(m["Subject"]) for m in sink.wait_for(2)) == ["Sent at once", "Sent at once"]
    assert "Scheduled message" in caplog.text
    db.session.refresh(message)
    assert message.is_scheduled  # tried again on the next pass


def test_a_day_or_time_typed_wrong_is_explained_with_an_example_and_kept(as_organiser, people):
    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly, when="later", send_on="11/03/2027", send_time="9am")
    response = as_organiser.post(url, data={**payload, "action": "preview"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Not a valid" not in page
    assert "Enter the day as year-month-day, e.g. 2027-03-11." in page
    assert "Enter the time as hours and minutes on the 24-hour clock, e.g. 09:00 or 14:30." in page
    assert 'value="11/03/2027"' in page and 'value="9am"' in page
    assert db.session.scalar(select(AssemblyMessage)) is None
