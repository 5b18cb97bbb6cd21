"""What a delegate reads in their emails: the facts they act on, the same in the text and the HTML part."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.invites import services as invites
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import materialise
from eventapp.registration import services
from tests.registration.conftest import person


def _words(html: str) -> str:
    """The HTML part as a reader hears it: tags out, entities as characters, spaces collapsed."""
    from html import unescape

    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_emails_naming_the_days_hours_say_in_which_time_zone(setup, email_request_context):
    # The invitations say "09:00-16:00 (UK time)"; a delegate travelling from abroad, or an assembly held
    # abroad, must read the same in the other emails that give the hours.
    setup.assembly.capacity = 1
    db.session.commit()
    first = services.register(setup.assembly, person(setup, n=1)).registration
    services.register(setup.assembly, person(setup, n=2, org=1))
    invites.queue_reminders(1, today=setup.assembly.date - timedelta(days=1))
    services.cancel_registration(first)
    db.session.commit()
    materialise()
    kinds = ("registration_confirmed", "promoted", "reminder")
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind.in_(kinds))).all()
    assert sorted({m.kind for m in mails}) == sorted(kinds)
    for m in mails:
        assert "09:00 to 16:00 (UK time)" in m.body_text, m.kind
        assert "09:00 to 16:00 (UK time)" in _words(m.body_html), m.kind
