"""The audit log in a browser: reached from the users page, filtered without JavaScript, accessible, and
readable on a phone."""
from __future__ import annotations

import uuid
from datetime import datetime

from playwright.sync_api import expect

from eventapp.audit.models import AuditEvent
from eventapp.extensions import db
from tests.browser.axe import axe_check
from tests.browser.conftest import login


def _seed(app) -> str:
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        db.session.add_all([
            AuditEvent(action="registration.edit", actor_name="Olu Organiser", at=datetime(2027, 3, 18, 9, 30),
                       subject=f"registration 7: Siobhán O'Brien-Llewellyn-Featherstonehaugh {tag}",
                       detail="changed: email, job title, access needs, dietary needs, organisation, choices"),
            AuditEvent(action="privacy.purge", at=datetime(2027, 3, 19, 2, 0), subject=f"assembly purge-{tag}",
                       detail="12 registrations anonymised; 40 emails and 2 unconfirmed forms deleted"),
        ])
        db.session.commit()
        db.session.remove()
    return tag


def test_an_organiser_finds_who_changed_a_delegate(live_server, page):
    tag = _seed(live_server.app)
    login(page, live_server)
    page.goto(live_server.url + "/organiser/users")
    page.get_by_role("link", name="audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_label("Subject contains").fill(tag)
    page.get_by_label("Action").select_option(label="Delegate's details changed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/organiser/audit?*")
    rows = page.get_by_role("row").filter(has_text=tag)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Olu Organiser")
    expect(rows.first).to_contain_text("changed: email, job title")
    expect(page.get_by_role("link", name="Download the 1 entry shown as CSV (Excel)")).to_be_visible()
    axe_check(page, "audit log (filtered)")
    page.get_by_label("Action").select_option(label="Account deactivated")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No entries match.")).to_be_visible()
    axe_check(page, "audit log (nothing matches)")


def test_the_audit_log_fits_a_phone(live_server, phone_page):
    tag = _seed(live_server.app)
    login(phone_page, live_server)
    phone_page.goto(live_server.url + f"/organiser/audit?q={tag}")
    expect(phone_page.get_by_role("row").filter(has_text=tag)).to_have_count(2)
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    axe_check(phone_page, "audit log (phone)")
