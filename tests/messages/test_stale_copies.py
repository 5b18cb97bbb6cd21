"""A copy of an organiser's message waits in the outbox until the worker sends it: a delegate who has left its
audience meanwhile (cancelled, erased, given a place off the waiting list...) is not sent it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail import services as mail
from eventapp.mail.models import OutboxMessage
from eventapp.messages import services
from eventapp.registration import services as registration
from eventapp.registration.models import Registration
from tests.mail_sink import sink, text_of  # noqa: F401 - fixture
from tests.messages.test_messages import people  # noqa: F401 - fixture


def _send(assembly, audience="confirmed", key="k1"):
    return services.send_message(assembly, {"audience": audience, "subject": "Parking at the Guildhall",
                                            "body": "Park at the rear."}, key, None)


def _copies(assembly) -> dict[str, OutboxMessage]:
    db.session.expire_all()
    return {r.to_name: r for r in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "message", OutboxMessage.assembly_id == assembly.id))}


def _received(sink, n) -> dict[str, str]:
    return {str(m["To"]): text_of(m) for m in sink.wait_for(n) if str(m["Subject"]) == "Parking at the Guildhall"}


def test_today_a_copy_queued_to_everyone_confirmed_reaches_a_delegate_who_cancelled_before_it_went(people, sink):
    assembly, ben = people["assembly"], people["ben"]
    _send(assembly)
    registration.cancel_registration(db.session.get(Registration, ben.id))
    report = mail.send_pending()
    copies = _copies(assembly)
    # Today: the cancelled delegate is sent the message all the same ("because you registered for ...").
    assert copies["Ben Jones"].status == "sent" and copies["Ben Jones"].last_error == ""
    assert "Ben Jones <ben.jones.1@example.org>" in _received(sink, report.sent)
    assert report.not_sent == 0
