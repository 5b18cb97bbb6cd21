"""Reception checks a delegate in from a phone at the door: find, tap Arrived, undo (axe on each state)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from eventapp.extensions import db
from eventapp.timeutil import local_today
from tests.browser.axe import axe_check
from tests.browser.conftest import login
from tests.factories import make_assembly, make_org, make_user
from tests.notes.helpers import make_registration


def test_reception_checks_a_delegate_in_on_a_phone(live_server, phone_page):
    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Check-in Assembly", date=local_today("Europe/London"))
        org = make_org("Browser Check-in Probation Service")
        for name in ("Farah Browser", "Gareth Browser", "Hana Browser"):
            make_registration(assembly, org, name, access_needs="Hearing loop" if name.startswith("G") else "")
        make_user("reception", email="browser.desk@example.org", name="Browser Desk")
        db.session.remove()
    page = phone_page
    # A reception account (check-in only) lands on the day's assemblies.
    login(page, live_server, email="browser.desk@example.org")
    expect(page.get_by_role("heading", name="Check-in", level=1)).to_be_visible()
    axe_check(page, "reception's check-in home")
    page.get_by_role("link", name="Open check-in for Browser Check-in Assembly").click()
    page.wait_for_load_state()
    assert "0 of 3" in page.locator(".lead").inner_text()
    axe_check(page, "check-in, nobody arrived")
    page.get_by_label("Name, email or organisation").fill("gareth")
    page.get_by_role("button", name="Find").click()
    page.wait_for_load_state()
    expect(page.get_by_text("Access: Hearing loop")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Arrived\W+Gareth Browser$")).click()
    page.wait_for_load_state()
    assert "Gareth Browser has arrived" in page.get_by_role("status").inner_text()
    assert "1 of 3" in page.locator(".lead").inner_text()
    # Ready for the next person: the search box is empty and has the focus.
    search = page.get_by_label("Name, email or organisation")
    assert search.input_value() == ""
    expect(search).to_be_focused(timeout=5000)
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), "scrolls sideways at 390 px"
    axe_check(page, "check-in, one arrived")
    page.get_by_role("button", name=re.compile(r"^Undo\W+Gareth Browser has not arrived$")).click()
    page.wait_for_load_state()
    assert "Gareth Browser is no longer marked as arrived." in page.content()
    assert "0 of 3" in page.locator(".lead").inner_text()


def test_a_delegates_certificate_prints_on_one_page(live_server, phone_page):
    from datetime import timedelta

    from eventapp.checkin.services import mark_arrived
    from eventapp.registration.services import make_manage_token

    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Certificate Assembly",
                                 date=local_today("Europe/London") - timedelta(days=1))
        reg = make_registration(assembly, make_org("Browser Certificate Council"), "Imran Browser")
        mark_arrived(assembly, reg.id)
        with live_server.app.test_request_context():
            token = make_manage_token(reg)
        db.session.remove()
    page = phone_page
    page.goto(live_server(f"/manage/{token}"))
    page.get_by_role("link", name="Your certificate of attendance").click()
    expect(page.get_by_role("heading", name="Certificate of attendance")).to_be_visible()
    assert "Imran Browser" in page.locator(".certificate").inner_text()
    axe_check(page, "certificate of attendance")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1


def test_an_organiser_deactivates_the_desk_account_after_the_day(live_server, page):
    with live_server.app.app_context():
        make_user("reception", email="browser.desk.done@example.org", name="Browser Desk Done")
        db.session.remove()
    login(page, live_server)
    page.goto(live_server("/organiser/users?q=browser.desk.done"))
    axe_check(page, "users, filtered")
    page.get_by_role("link", name="Deactivate Browser Desk Done").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=re.compile("Deactivate Browser Desk Done"))).to_be_visible()
    axe_check(page, "deactivate an account")
    page.get_by_role("button", name="Yes, deactivate").click()
    page.wait_for_load_state()
    assert "Browser Desk Done can no longer sign in" in page.content()
    expect(page.get_by_role("button", name="Reactivate Browser Desk Done")).to_be_visible()
    axe_check(page, "users, one deactivated")
