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


def test_the_confirmation_reminder_says_at_what_time_the_link_stops_working(setup, email_request_context):
    # The link dies at the time of day the form was sent, seven days on: "until Thursday" alone reads as
    # "all Thursday", and a delegate confirming that evening would find it dead.
    from eventapp.registration.models import PendingRegistration
    from eventapp.timeutil import utc_to_local

    setup.assembly.confirm_email_first = True
    db.session.commit()
    services.request_registration(setup.assembly, person(setup, n=1))
    db.session.commit()
    pending = db.session.scalars(select(PendingRegistration)).one()
    expires = utc_to_local(pending.created_at + timedelta(days=services.CONFIRM_DAYS), "Europe/London")
    materialise()
    [mail] = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "confirm_registration_reminder")).all()
    when = f"{expires:%A} {expires.day} {expires:%B %Y}, {expires:%H:%M} (UK time)"
    assert f"The link works until {when}." in mail.body_text
    assert f"The link works until {when}." in _words(mail.body_html)


def test_a_line_break_typed_in_a_title_venue_or_room_does_not_split_the_emails_sentences(setup, email_request_context):
    from eventapp.assemblies import services as assemblies

    a = setup.assembly
    assemblies.save_assembly({**{f: getattr(a, f) for f in assemblies.ASSEMBLY_FIELDS},
                              "title": "Shireford\r\nCommunity Safety Assembly", "venue_name": "The Guildhall\n(Main hall)"},
                             a)
    workshop = a.rounds[0].workshops[0]
    assemblies.save_workshop(a.rounds[0], {"title": "Hidden\nharm", "topic_id": workshop.topic_id, "room": "Room 2\r\nupstairs",
                                            "capacity": 20}, workshop)
    services.register(a, person(setup, n=1))
    db.session.commit()
    materialise()
    [mail] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "registration_confirmed")).all()
    assert "Your place at Shireford Community Safety Assembly is confirmed." in mail.body_text
    assert "Where: The Guildhall (Main hall)\n" in mail.body_text
    [invite] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invite")).all()
    assert "You have a place at Shireford Community Safety Assembly. This email" in invite.body_text
    assert "Your programme for Shireford Community Safety Assembly (" in invite.body_text
    # Stored as typed (hostile text is kept faithfully); only the email's sentences show it on one line.
    assert (a.title, a.venue_name, workshop.title, workshop.room) == (
        "Shireford\r\nCommunity Safety Assembly", "The Guildhall\n(Main hall)", "Hidden\nharm", "Room 2\r\nupstairs")


def test_cancelling_a_place_at_a_called_off_assembly_promises_no_place_to_others_nor_a_new_registration(
        setup, email_request_context):
    from eventapp.assemblies import services as assemblies

    first = services.register(setup.assembly, person(setup, n=1)).registration
    second = services.register(setup.assembly, person(setup, n=2, org=1)).registration
    db.session.commit()
    services.cancel_registration(first)
    assemblies.set_cancelled(setup.assembly, True)
    services.cancel_registration(second)
    materialise()
    ordinary, called_off = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "cancelled")
                                              .order_by(OutboxMessage.id)).all()
    assert "has been cancelled and your place offered to the next person.\n\nIf this was a mistake" in ordinary.body_text
    assert "register again" in _words(ordinary.body_html)
    said = ("has been cancelled. The assembly itself has been called off, so nothing more is needed from you.")
    assert f"{said}\n\nAssembly organisers" in called_off.body_text
    assert said in _words(called_off.body_html)
    for part in (called_off.body_text, _words(called_off.body_html)):
        assert "next person" not in part and "register again" not in part
