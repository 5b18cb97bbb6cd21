"""The mail worker reads what a batch of registration emails and invitations needs at once, not per email.

A sync of many delegates queues its invitations, updates and cancellations as recipes (a national
event's first publish: 40,000), and an import queues 10,000 registration emails: read one by one,
each cost the worker two or three statements of its own.
"""
from __future__ import annotations

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail import services as mail
from eventapp.mail.models import OutboxMessage
from eventapp.registration import services as registration
from tests.registration.conftest import person, setup  # noqa: F401 - fixture
from tests.test_query_counts import counting


def _send_counted(sink) -> tuple[mail.SendReport, list[str]]:
    db.session.expire_all()  # as the worker finds them: nothing loaded yet
    with counting() as statements:
        report = mail.send_pending()
    sink.wait_for(report.sent)
    return report, statements


def _register(setup, first: int, count: int) -> None:  # noqa: F811
    for n in range(first, first + count):
        registration.register(setup.assembly, person(setup, n))


def _pending() -> int:
    return db.session.scalar(select(db.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == "pending", OutboxMessage.render.is_not(None)))


def test_a_batch_of_registration_emails_and_invitations_costs_the_same_statements_at_4_and_at_40(
        app, setup, sink, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 100)
    setup.assembly.capacity, setup.assembly.org_limit = 100, None  # everyone confirmed: two emails each
    db.session.commit()
    _register(setup, 1, 2)
    assert _pending() == 4
    small, few = _send_counted(sink)
    _register(setup, 10, 20)
    assert _pending() == 40
    large, many = _send_counted(sink)
    assert (small.sent, large.sent) == (4, 40), (small, large)
    assert len(many) <= len(few), (len(few), len(many))  # 111 against 24 when each email read its own
