"""The Outbox in a real browser: list, message with its HTML in a sandboxed frame, resend; axe on every page."""
from __future__ import annotations

import uuid
from datetime import date, time

from playwright.sync_api import expect

from eventapp.assemblies.models import Assembly
from eventapp.extensions import db
from eventapp.invites.services import sync_calendar
from eventapp.mail.models import OutboxMessage
from eventapp.organisations.models import Organisation
from eventapp.registration.models import Registration
from eventapp.timeutil import utcnow
from tests.browser.axe import axe_check
from tests.browser.conftest import login


def seed(live_server) -> tuple[str, int, int]:
    tag = uuid.uuid4().hex[:8]
    with live_server.app.test_request_context("/", base_url=live_server.url):
        assembly = Assembly(title=f"Outbox assembly {tag}", slug=f"outbox-{tag}", date=date(2027, 3, 18),
                            start_time=time(9), end_time=time(16), venue_name="Shireford Guildhall", status="open")
        org = Organisation(name=f"Outbox org {tag}", name_key=f"outbox org {tag}", sector="police", status="approved")
        db.session.add_all([assembly, org])
        db.session.flush()
        reg = Registration(assembly_id=assembly.id, organisation_id=org.id, full_name="Zoë <b>O'Brien</b> עברית",
                           email=f"zoe-{tag}@example.org", email_key=f"zoe-{tag}@example.org", status="confirmed")
        db.session.add(reg)
        db.session.flush()
        sync_calendar([reg.id])
        failed = OutboxMessage(kind="registration_confirmed", to_email=f"bounce-{tag}@example.org", to_name="Bounce",
                               subject=f"Bounced {tag}", body_text="Text", body_html="<p>HTML</p>",
                               message_id=f"<bounce-{tag}@example.org>", status="failed", attempts=1,
                               next_attempt_at=utcnow(), last_error="550 5.1.1 Mailbox does not exist",
                               assembly_id=assembly.id)
        db.session.add(failed)
        db.session.commit()
        invite = db.session.query(OutboxMessage).filter_by(to_email=reg.email).one()
        return tag, invite.id, failed.id


def test_outbox_list_message_and_resend(live_server, page, phone_page):
    tag, invite_id, failed_id = seed(live_server)
    login(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Outbox", exact=True).click()
    page.wait_for_url("**/organiser/outbox/")
    axe_check(page, "outbox list")
    page.get_by_label("Recipient or subject").fill(tag)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=f"Bounced {tag}")).to_be_visible()
    axe_check(page, "outbox list filtered")

    page.goto(f"{live_server.url}/organiser/outbox/{invite_id}")
    expect(page.get_by_role("heading", name="Calendar (REQUEST)")).to_be_visible()
    frame = page.frame_locator("iframe.mail-html")
    expect(frame.get_by_text("Zoë <b>O'Brien</b> עברית")).to_be_visible()
    axe_check(page, "outbox message (invitation)")

    page.goto(f"{live_server.url}/organiser/outbox/{failed_id}")
    expect(page.get_by_text("550 5.1.1 Mailbox does not exist")).to_be_visible()
    page.get_by_role("button", name="Resend this message").click()
    expect(page.get_by_role("status").filter(has_text="queued again")).to_be_visible()
    axe_check(page, "outbox message after resend")

    login(phone_page, live_server)
    phone_page.goto(f"{live_server.url}/organiser/outbox/?q={tag}")
    axe_check(phone_page, "outbox list (phone)")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone_page.goto(f"{live_server.url}/organiser/outbox/{invite_id}")
    axe_check(phone_page, "outbox message (phone)")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
