"""An organiser emails the confirmed delegates from a phone: write, check, send (axe on each page)."""
from __future__ import annotations

import re

from sqlalchemy import select

from playwright.sync_api import expect

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.messages.models import AssemblyMessage
from tests.browser.axe import axe_check
from tests.browser.conftest import login
from tests.factories import make_assembly, make_org
from tests.notes.helpers import make_registration

BODY = "Park at the rear of the Guildhall.\n\nBring your badge;\nlunch is at 12:30."


def test_an_organiser_writes_checks_and_sends_an_email_on_a_phone(live_server, phone_page):
    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Messages Assembly")
        org = make_org("Browser Messages Police")
        for name in ("Amira Browser", "Bilal Browser"):
            make_registration(assembly, org, name)
        slug = assembly.slug
        db.session.remove()
    page = phone_page
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}"))
    page.get_by_role("link", name="Email delegates").click()
    axe_check(page, "emails to delegates, none yet")
    page.get_by_role("link", name="Write an email").click()
    axe_check(page, "write an email")
    page.get_by_label("Send to").select_option(label="Confirmed delegates (2)")
    page.get_by_label("Subject").fill("Parking and lunch")
    page.get_by_label("Message").fill(BODY)
    page.get_by_role("button", name="Check the email").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Check the email before you send it")).to_be_visible()
    assert "Dear Amira Browser," in page.locator("pre.mail-text").inner_text()
    axe_check(page, "check the email")
    page.get_by_role("button", name="Send to 2 people").click()
    page.wait_for_load_state()
    assert "Your message to 2 people is in the outbox." in page.content()
    axe_check(page, "an email sent")
    with live_server.app.app_context():
        message = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.subject == "Parking and lunch"))
        # The line breaks survived the round trip through the check page's hidden fields.
        assert message.body == BODY and message.recipients == 2
        copies = db.session.scalars(select(OutboxMessage.to_name).where(OutboxMessage.kind == "message",
                                                                        OutboxMessage.assembly_id == message.assembly_id))
        assert sorted(copies) == ["Amira Browser", "Bilal Browser"]
        db.session.remove()


def test_an_organiser_schedules_an_email_for_later_and_cancels_it(live_server, phone_page):
    from datetime import timedelta

    from eventapp.timeutil import utc_to_local, utcnow

    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Scheduled Assembly")
        make_registration(assembly, make_org("Browser Scheduled Police"), "Cara Browser")
        slug, tz = assembly.slug, assembly.timezone
        db.session.remove()
    when = utc_to_local(utcnow() + timedelta(days=3), tz)
    page = phone_page
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}/messages/new"))
    page.get_by_label("Subject").fill("Joining instructions")
    page.get_by_label("Message").fill("Doors open at 8:30.")
    page.get_by_label("Later, at the day and time below").check()
    page.get_by_label("Day", exact=True).fill(when.date().isoformat())
    page.get_by_label("Time", exact=True).fill("09:00")
    page.get_by_role("button", name="Check the email").click()
    page.wait_for_load_state()
    send = page.get_by_role("button", name=re.compile(r"^Send at 09:00 on "))
    expect(send).to_be_visible()
    axe_check(page, "check a scheduled email")
    send.click()
    page.wait_for_load_state()
    assert "Your message is scheduled for 09:00 on" in page.content()
    axe_check(page, "a scheduled email")
    page.get_by_role("link", name="Cancel this scheduled message").click()
    page.wait_for_load_state()
    axe_check(page, "cancel a scheduled email?")
    page.get_by_role("button", name="Yes, cancel the message").click()
    page.wait_for_load_state()
    assert "nobody will get it" in page.content()
    with live_server.app.app_context():
        message = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.subject == "Joining instructions"))
        assert message.cancelled_at is not None and message.queued_at is None
        db.session.remove()
