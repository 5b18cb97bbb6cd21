"""The message saying what just happened ("Signed in as ...", "Action added.") is read out by a screen reader:
it takes the focus when the page opens, unless the page gives the focus to something else."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from eventapp.checkin.services import scan_token
from eventapp.extensions import db
from eventapp.notes import services
from eventapp.timeutil import local_today
from tests.browser.axe import axe_check
from tests.browser.conftest import ORGANISER_EMAIL, _open_page, login
from tests.browser.test_facilitator import TABLET, _seed
from tests.factories import PASSWORD, make_assembly, make_org
from tests.notes.helpers import make_registration

FOCUSED = "() => { const el = document.activeElement; return el ? [el.className, el.getAttribute('role')] : null; }"


def _focus(page):
    # The message shows as soon as it is parsed; flashes.js (deferred) moves the focus just after: wait for the
    # page's load event, which follows every deferred script, on a busy machine too.
    page.wait_for_load_state("load")
    return page.evaluate(FOCUSED)


def test_the_message_after_signing_in_takes_the_focus(live_server, page):
    login(page, live_server)
    message = page.get_by_role("status").filter(has_text="Signed in as Olu Organiser.")
    message.wait_for()
    assert _focus(page) == ["flashes", "status"]
    assert page.evaluate("() => document.activeElement.innerText.trim()") == "Signed in as Olu Organiser."
    axe_check(page, "organiser's assemblies, just signed in")
    # The next Tab carries on from the message, into the page.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.getElementById('main').contains(document.activeElement)")


def test_a_message_saying_something_failed_is_an_alert_and_takes_the_focus(live_server, page):
    page.goto(live_server("/reset-password/not-a-real-token"))
    alert = page.get_by_role("alert").filter(has_text="That password reset link has expired")
    alert.wait_for()
    assert _focus(page) == ["flashes", "alert"]
    axe_check(page, "expired password reset link")


def test_the_message_after_signing_out_takes_the_focus(live_server, page):
    login(page, live_server)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("status").filter(has_text="You have signed out").wait_for()
    assert _focus(page) == ["flashes", "status"]
    axe_check(page, "home page, just signed out")


def test_a_page_that_gives_the_focus_to_something_else_keeps_it_there(live_server, page):
    # Reception scans a code before signing in: sent to sign in (a message), a typo (the error summary
    # takes the focus), then the code's page, which opens with a message and its own focus (Arrived).
    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Flash Assembly", date=local_today("Europe/London"))
        reg = make_registration(assembly, make_org("Browser Flash Fire Service"), "Iris Browser")
        scan = f"/organiser/assemblies/{assembly.slug}/check-in/scan/{scan_token(reg)}"
        db.session.remove()
    page.goto(live_server(scan))
    page.get_by_role("status").filter(has_text="Please sign in to see that page.").wait_for()
    assert _focus(page) == ["flashes", "status"]
    page.get_by_label("Email address").fill(ORGANISER_EMAIL)
    page.get_by_label("Password").fill(PASSWORD + "typo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="There is a problem").wait_for()
    expect(page.locator(".error-summary")).to_be_focused()
    axe_check(page, "sign-in with a typo")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("status").filter(has_text="Signed in as Olu Organiser.").wait_for()
    expect(page.get_by_role("button", name=re.compile("^Arrived"))).to_be_focused(timeout=5000)
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.activeElement.textContent").startswith("Arrived")
    axe_check(page, "check-in code, just signed in")


def test_a_page_opened_at_a_fragment_stays_there_and_the_message_is_read_out(live_server, browser):
    # "Add action" goes back to the form for the next one (#add-action): the page stays there, the focus
    # is not pulled up to the message, which is read out from a live region filled after the page opened.
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport={**TABLET, "height": 600}, is_mobile=True, has_touch=True)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/actions")
        for n in (1, 2):
            page.get_by_label("What will be done").fill(f"Action number {n}")
            page.get_by_label("Owner organisation").select_option(label=seed["nhs"])
            page.get_by_label("Due date").fill("2027-06-30")
            page.get_by_role("button", name="Add action").click()
            announced = page.locator("[data-flash-announcement][role=status]")
            announced.filter(has_text="Action added.").wait_for(state="attached")
            assert page.url.endswith("#add-action")
            assert _focus(page) != ["flashes", "status"]
            top = page.evaluate("() => document.getElementById('add-action').getBoundingClientRect().top")
            assert abs(top) < 5, f"the form to add the next action is not at the top of the screen ({top}px)"
        axe_check(page, "actions, two just added")
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        assert len(services.workshop_actions(seed["workshop_id"])) == 2
        db.session.remove()
