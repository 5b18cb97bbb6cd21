"""Fixtures for registration tests: an open assembly with topics, organisations, a form filler, a mail sink."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from eventapp.extensions import db as _db
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import materialise
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.mail_sink import MailSink


@pytest.fixture
def setup(db):
    """An open assembly (capacity 5, 2 per organisation) running 4 topics, and 3 approved organisations."""
    assembly = make_assembly(capacity=5, org_limit=2, privacy_notice="We keep your details for 365 days.")
    rnd = make_round(assembly)
    topics = [make_topic(name) for name in ("Anti-social behaviour", "Criminal exploitation",
                                            "Building public confidence", "Poor mental health")]
    for t in topics:
        make_workshop(rnd, t)
    orgs = [make_org("Shireford Constabulary", "police"), make_org("Northvale District Council", "local_authority"),
            make_org("Mind in Shireford", "mental_health")]
    return SimpleNamespace(assembly=assembly, topics=topics, orgs=orgs)


def person(setup, n: int = 1, org: int = 0, **overrides) -> dict:
    """Service-level data for a delegate."""
    data = {
        "full_name": f"Delegate {n}", "email": f"delegate{n}@example.org", "job_title": "Community safety officer",
        "organisation_id": setup.orgs[org].id, "access_needs": "", "dietary_needs": "",
        "topic_ids": [t.id for t in setup.topics[:3]], "consent": True, "join_waiting_list": True,
    }
    data.update(overrides)
    return data


def form_fields(setup, n: int = 1, org: int = 0, **overrides) -> dict:
    """What a browser posts from the public form."""
    data = {
        "full_name": f"Delegate {n}", "email": f"delegate{n}@example.org", "job_title": "Community safety officer",
        "organisation_name": setup.orgs[org].name, "access_needs": "", "dietary_needs": "",
        "choice_1": str(setup.topics[0].id), "choice_2": str(setup.topics[1].id), "choice_3": str(setup.topics[2].id),
        "choice_4": "0", "consent": "y", "join_waiting_list": "y", "new_organisation_sector": "",
        "new_organisation_name": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


REGISTRATION_KINDS = ("registration_confirmed", "waiting_list", "promoted", "manage_link", "cancelled",
                      "address_changed", "address_changed_old", "correction_not_registered", "confirm_registration",
                      "confirm_registration_reminder")


def outbox(kind: str | None = None, to: str | None = None) -> list[OutboxMessage]:
    """Registration emails in the outbox (calendar invitations, another area's, are left out).

    Emails the mail worker would render when sending (queued as a recipe) are rendered first,
    with the worker's own code, so their content is what the delegate gets.
    """
    materialise()
    stmt = select(OutboxMessage).where(OutboxMessage.kind.in_(REGISTRATION_KINDS)).order_by(OutboxMessage.id)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if to:
        stmt = stmt.where(OutboxMessage.to_email == to)
    return list(_db.session.scalars(stmt))


@pytest.fixture
def mail_sink(app):
    """A real SMTP server the session app delivers to while the test runs."""
    sink = MailSink().start()
    saved = sink.attach(app)
    yield sink
    MailSink.restore(app, saved)
    sink.stop()
