"""The message saying what just happened ("Signed in as ...", "Action added.") is read out by a screen reader:
it takes the focus when the page opens, unless the page gives the focus to something else. A page opened at
the #fragment of what the message is about shows it there, and that message takes the focus in view."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from eventapp.checkin.services import scan_token
from eventapp.extensions import db
from eventapp.notes import services
from eventapp.outcomes.services import make_partner_token
from eventapp.timeutil import local_today
from tests.browser.axe import axe_check
from tests.browser.conftest import ORGANISER_EMAIL, _open_page, login
from tests.browser.test_facilitator import TABLET, _seed
from tests.factories import PASSWORD, make_assembly, make_org, make_user
from tests.notes.helpers import make_registration
from tests.outcomes.helpers import build_scene

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


def test_after_adding_an_action_the_message_beside_the_form_takes_the_focus_and_the_form_stays_in_view(
        live_server, browser):
    # "Add action" goes back to the form for the next one (#add-action): "Action added." is shown beside
    # the form and takes the focus there, so it is read out and the page does not jump to the top.
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
            page.wait_for_url("**#add-action")
            message = page.locator("#add-action + .flashes")
            expect(message).to_have_text("Action added.")
            expect(message).to_have_attribute("role", "status")
            expect(message).to_be_focused()
            expect(page.locator("#add-action")).to_be_in_viewport()
            expect(page.locator(".flashes")).to_have_count(1)  # not repeated at the top
        # The next Tab carries on from the message, into the form.
        page.keyboard.press("Tab")
        expect(page.get_by_label("What will be done")).to_be_focused()
        axe_check(page, "actions, two just added")
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        assert len(services.workshop_actions(seed["workshop_id"])) == 2
        db.session.remove()


def test_after_adding_a_walk_in_the_message_beside_the_register_takes_the_focus(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport={**TABLET, "height": 600}, is_mobile=True, has_touch=True)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance")
        page.get_by_label("Or a new person: full name").fill("Wanda <b>Walkin</b>")
        page.get_by_label("Their organisation").fill("Refuge")
        page.get_by_role("button", name="Add to the register").click()
        page.wait_for_url("**#register")
        message = page.locator("#register + .flashes")
        expect(message).to_have_text("Wanda <b>Walkin</b> added to the register as present.")
        expect(message).to_be_focused()
        expect(page.locator("#register")).to_be_in_viewport()
        expect(page.get_by_text("Wanda <b>Walkin</b>", exact=True)).to_have_count(1)  # the register's new row
        axe_check(page, "attendance, walk-in just added")
    finally:
        context.close()
    assert not csp


def test_saving_attendance_is_confirmed_beside_the_register(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport={**TABLET, "height": 600}, is_mobile=True, has_touch=True)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance")
        page.locator(f"label[for=mark-r{seed['people'][0]}-present]").click()
        page.get_by_role("button", name="Save attendance").click()
        page.wait_for_url("**#register")
        message = page.locator("#register + .flashes")
        expect(message).to_have_text("Attendance saved (1 change).")
        expect(message).to_have_attribute("role", "status")
        expect(message).to_be_focused()
        expect(page.locator("#register")).to_be_in_viewport()
        expect(page.locator(".flashes")).to_have_count(1)  # not repeated at the top
        axe_check(page, "attendance, just saved")
    finally:
        context.close()
    assert not csp


def test_a_changed_action_is_confirmed_in_its_row_of_the_list(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport={**TABLET, "height": 600}, is_mobile=True, has_touch=True)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/actions")
        for n in (1, 2, 3):
            page.get_by_label("What will be done").fill(f"Action number {n}\n\n" + "A long explanation. " * 30)
            page.get_by_label("Owner organisation").select_option(label=seed["nhs"])
            page.get_by_label("Due date").fill("2027-06-30")
            page.get_by_role("button", name="Add action").click()
            page.wait_for_url("**#add-action")
        page.get_by_role("link", name="Change action 3").click()
        page.get_by_label("Status").select_option("in_progress")
        page.get_by_role("button", name="Save action").click()
        page.wait_for_url(re.compile(r"/actions#action-\d+$"))
        row = page.locator(page.url[page.url.index("#"):])
        expect(row).to_contain_text("Action number 3")
        message = row.locator(".flashes")
        expect(message).to_have_text("Action saved.")
        expect(message).to_be_focused()
        expect(message).to_be_in_viewport()
        expect(page.locator(".flashes")).to_have_count(1)
        axe_check(page, "actions, one just changed")
    finally:
        context.close()
    assert not csp


def test_a_partners_update_is_confirmed_at_the_action_they_updated(live_server, phone_page):
    with live_server.app.app_context():
        scene = build_scene(organiser=make_user("organiser", name="Flash organiser"))
        token, action_id = make_partner_token(scene.police.id), scene.open_action.id
        db.session.remove()
    phone_page.goto(live_server(f"/partner/{token}"))
    section = phone_page.locator(f"#action-{action_id}")
    section.get_by_label("New status").select_option("in_progress")
    section.get_by_role("button", name=re.compile("^Send update")).click()
    phone_page.wait_for_url(f"**#action-{action_id}")
    message = section.locator(".flashes")
    expect(message).to_have_text("Thank you: your update has been recorded.")
    expect(message).to_be_focused()
    expect(section.get_by_role("heading")).to_be_in_viewport()
    axe_check(phone_page, "partner view, update just sent")


def test_a_saved_topic_is_confirmed_in_its_row_of_the_list(live_server, page):
    login(page, live_server)
    page.goto(live_server("/organiser/topics/new"))
    page.get_by_label("Topic", exact=True).fill("Zz flash topic &amp; <i>co</i>")
    page.get_by_role("button", name="Save topic").click()
    page.wait_for_url(re.compile(r"#topic-\d+$"))
    row = page.locator(page.url[page.url.index("#"):])
    message = row.locator(".flashes")
    expect(message).to_have_text("Topic saved.")
    expect(message).to_be_focused()
    expect(row).to_be_in_viewport()
    expect(row).to_contain_text("Zz flash topic &amp; <i>co</i>")
    axe_check(page, "topics, one just saved")


def test_a_status_set_on_the_history_page_is_confirmed_at_that_action(live_server, phone_page):
    with live_server.app.app_context():
        facilitator = make_user("facilitator", name="History Facilitator")
        scene = build_scene(facilitator=facilitator, organiser=make_user("organiser", name="History organiser"))
        email, workshop_id, action_id = facilitator.email, scene.new_workshop.id, scene.overdue_action.id
        db.session.remove()
    login(phone_page, live_server, email)
    phone_page.goto(live_server(f"/facilitator/workshops/{workshop_id}/history"))
    action = phone_page.locator(f"#action-{action_id}")
    action.get_by_label("New status").select_option("in_progress")
    action.get_by_label("What has happened (optional)").fill("Drafting the guide with the districts")
    action.get_by_role("button", name=re.compile("^Save status")).click()
    phone_page.wait_for_url(f"**#action-{action_id}")
    message = action.locator(".flashes")
    expect(message).to_have_text("Status updated.")
    expect(message).to_be_focused()
    expect(action).to_be_in_viewport()
    axe_check(phone_page, "earlier outcomes, a status just updated")


def test_a_status_updated_from_the_tracker_is_confirmed_in_that_actions_row(live_server, page):
    with live_server.app.app_context():
        scene = build_scene(organiser=make_user("organiser", name="Tracker organiser"))
        assembly_id, action_id = scene.previous.id, scene.open_action.id
        db.session.remove()
    login(page, live_server)
    page.goto(live_server(f"/organiser/tracker?assembly={assembly_id}"))
    page.locator(f"#action-{action_id}").get_by_role("link", name=re.compile("^Update status")).click()
    page.get_by_label("New status").select_option("in_progress")
    page.get_by_role("button", name=re.compile("^Save status")).click()
    page.wait_for_url(f"**/organiser/tracker?assembly={assembly_id}#action-{action_id}")
    row = page.locator(f"#action-{action_id}")
    message = row.locator(".flashes")
    expect(message).to_have_text("Status updated.")
    expect(message).to_be_focused()
    expect(message).to_be_in_viewport()
    expect(page.locator(".flashes")).to_have_count(1)  # not repeated at the top
    axe_check(page, "action tracker, a status just updated")
