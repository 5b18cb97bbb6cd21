"""The public updates page, the report, the action tracker, carry-forward and the partner view in a browser (axe)."""
from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import expect

from eventapp.extensions import db
from eventapp.outcomes import services
from tests.browser.axe import axe_check
from tests.browser.conftest import login
from tests.factories import make_user
from tests.outcomes.helpers import DELEGATE_NAME, INTERNAL_MARK, LEAD_PERSON, build_scene


def _seed(app) -> dict:
    with app.app_context():
        organiser = make_user("organiser", name="Seed organiser")
        scene = build_scene(organiser=organiser)
        services.save_update(scene.previous, {"title": "Six months on", "published_on": date(2026, 9, 1),
                                              "body": "Progress on **every** action.\n\n- one\n- two"})
        # An address of this seed's own: the browser tests share one database, and a search for
        # it must find this organisation alone.
        contact = f"police-{scene.current.slug}@example.org"
        services.save_contact(scene.police, "Police", contact)
        seeded = {"prev": scene.previous.slug, "cur": scene.current.slug, "police": scene.police.id, "contact": contact,
                  "token": services.make_partner_token(scene.police.id)}
        db.session.remove()
    return seeded


def test_public_updates_page_and_partner_view(live_server, page, phone_page):
    s = _seed(live_server.app)
    for p in (page, phone_page):
        p.goto(live_server(f"/a/{s['prev']}"))
        p.get_by_role("link", name="Updates and outcomes from this assembly").click()
        p.wait_for_url(f"**/a/{s['prev']}/updates")
        expect(p.get_by_role("heading", name="Six months on")).to_be_visible()
        expect(p.get_by_role("heading", name="What the workshops agreed")).to_be_visible()
        text = p.content()
        assert INTERNAL_MARK not in text and DELEGATE_NAME not in text and LEAD_PERSON not in text
        axe_check(p, "public updates page")
    with live_server.app.app_context():
        from eventapp.assemblies.models import Assembly
        from sqlalchemy import select

        services.carry_forward(db.session.scalar(select(Assembly).where(Assembly.slug == s["cur"])), None, None)
        db.session.remove()
    phone_page.goto(live_server(f"/a/{s['prev']}/updates"))
    phone_page.get_by_role("link", name="Community Safety Assembly").first.click()
    phone_page.wait_for_url(f"**/a/{s['cur']}/updates#carried")
    expect(phone_page.get_by_role("heading", name="Carried forward from earlier assemblies")).to_be_visible()
    axe_check(phone_page, "this year's updates page with carried actions")
    phone_page.goto(live_server(f"/partner/{s['token']}"))
    axe_check(phone_page, "partner view")
    section = phone_page.locator("section.partner-action.overdue").first
    assert "(overdue)" in section.inner_text()
    section.get_by_label("New status").select_option("done")
    section.get_by_label("What has happened (optional)").fill("Case list live in all districts")
    section.get_by_role("button", name="Send update").click()
    phone_page.wait_for_load_state()
    assert "Thank you: your update has been recorded." in phone_page.content()
    assert "Case list live in all districts" in phone_page.content()
    axe_check(phone_page, "partner view after an update")
    # Done by mistake: the partner takes it back from the same page.
    expect(phone_page.get_by_text("You marked this action Done on")).to_be_visible()
    phone_page.get_by_role("button", name=re.compile("^Reopen")).first.click()
    phone_page.wait_for_load_state()
    expect(phone_page.get_by_text("Reopened: the action is back on your list")).to_be_visible()
    axe_check(phone_page, "partner view after reopening")


def test_organiser_tracker_report_and_carry_forward(live_server, page):
    s = _seed(live_server.app)
    login(page, live_server)
    page.goto(live_server("/organiser/tracker"))
    axe_check(page, "tracker")
    page.get_by_label("Only overdue actions").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/organiser/tracker?*overdue=y*")
    rows = page.locator("table.tracker tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        assert "Overdue" in rows.nth(i).inner_text()
    axe_check(page, "tracker, overdue only")

    page.goto(live_server(f"/organiser/assemblies/{s['prev']}/report"))
    assert page.locator("svg.chart[role=img]").count() == 3
    axe_check(page, "report")
    page.emulate_media(media="print")
    assert not page.get_by_role("link", name="Download as CSV").is_visible()
    page.emulate_media(media="screen")

    page.goto(live_server(f"/organiser/assemblies/{s['cur']}/carry-forward"))
    axe_check(page, "carry forward")
    page.get_by_role("button", name="Carry forward the chosen actions").click()
    page.wait_for_load_state()
    assert "carried forward into" in page.content()
    axe_check(page, "carry forward, done")
    # A year on: give a carried action a new due date.
    page.get_by_role("link", name="Change owner or due date").first.click()
    page.wait_for_url("**/organiser/tracker/*/edit")
    axe_check(page, "change a carried action")
    page.get_by_label("Due date").fill(date(date.today().year + 1, 1, 31).isoformat())
    page.get_by_role("button", name="Save action").click()
    page.wait_for_url("**/organiser/tracker?assembly=*")
    assert "Action saved." in page.content() and f"{date.today().year + 1}-01-31" in page.content()
    axe_check(page, "tracker after a change")

    page.goto(live_server(f"/organiser/assemblies/{s['prev']}/updates"))
    page.get_by_role("link", name="Delete Six months on").click()
    axe_check(page, "delete confirmation")
    page.get_by_role("button", name="Yes, delete").click()
    page.wait_for_load_state()
    assert "Update deleted." in page.content()
    page.goto(live_server(f"/organiser/partners/{s['police']}"))
    axe_check(page, "partner contact")


def test_partner_links_to_a_filtered_selection(live_server, page):
    s = _seed(live_server.app)
    login(page, live_server)
    page.goto(live_server("/organiser/partners"))
    page.get_by_label("Organisation or contact email").fill(s["contact"])
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/organiser/partners?q=police*")
    axe_check(page, "partners, filtered")
    page.get_by_role("link", name="Email the partner link to this organisation").click()
    page.wait_for_url("**/organiser/partners/send-links?q=police*")
    expect(page.get_by_role("heading", name="Email the partner link to 1 organisation?")).to_be_visible()
    axe_check(page, "email partner links: confirmation")
    page.get_by_role("button", name="Yes, email 1 link").click()
    page.wait_for_url("**/organiser/partners?q=police*")
    assert "Partner links queued for 1 organisation." in page.content()
    page.goto(live_server("/organiser/partners?show=no_contact"))
    # Other tests' organisations without a contact share the database: one or several are shown.
    page.get_by_role("link", name=re.compile(r"^Email the partner link to (this organisation|all \d+ shown)$")).click()
    expect(page.get_by_role("heading", name="No partner link to send")).to_be_visible()
    axe_check(page, "email partner links: nobody to email")
    assert s["police"]


def _before(cell) -> str:
    # What a stacked cell shows ahead of its value (the column name, from data-label), as the phone renders it.
    return cell.evaluate("td => getComputedStyle(td, '::before').content")


def test_on_a_phone_each_action_says_which_date_is_due_and_which_word_is_the_status(live_server, phone_page):
    # Stacked on a narrow screen, a bare "2026-10-15" and "Open" under the action say nothing of what they are.
    with live_server.app.app_context():
        facilitator = make_user("facilitator", name="Phone Facilitator")
        scene = build_scene(facilitator=facilitator, organiser=make_user("organiser", name="Seed organiser"))
        from eventapp.notes import services as notes_services

        notes_services.add_action(scene.new_workshop, {
            "description": "Phone-sized action", "owner_organisation_id": scene.police.id, "lead_person": "",
            "due_date": date(2027, 5, 1), "status": "in_progress", "internal": False, "topic_ids": []}, facilitator.id)
        email, workshop_id = facilitator.email, scene.new_workshop.id
        slug, previous_id = scene.previous.slug, scene.previous.id
        db.session.remove()
    login(phone_page, live_server)
    phone_page.goto(live_server(f"/organiser/tracker?assembly={previous_id}"))
    row = phone_page.locator("table.tracker tbody tr").first
    expect(row).to_be_visible()
    assert [_before(row.locator("td").nth(i)) for i in range(1, 6)] == [
        '"Owner: "', '"Due: "', '"Status: "', '"Topics: "', '"Assembly: "']
    phone_page.goto(live_server(f"/organiser/assemblies/{slug}/report"))
    row = phone_page.get_by_role("table", name=re.compile("All actions")).locator("tbody tr").first
    assert _before(row.locator("td").nth(2)) == '"Due: "' and _before(row.locator("td").nth(3)) == '"Status: "'
    # An overdue row is marked by one bar down its whole length, not a second one beside its first cell.
    overdue = phone_page.locator("tr.overdue").first
    assert overdue.locator("td").first.evaluate("td => getComputedStyle(td).boxShadow") == "none"
    assert overdue.evaluate("tr => getComputedStyle(tr).borderLeftWidth") == "6px"

    phone_page.context.clear_cookies()
    login(phone_page, live_server, email)
    phone_page.goto(live_server(f"/facilitator/workshops/{workshop_id}/actions"))
    row = phone_page.locator("tr", has_text="Phone-sized action")
    expect(row).to_be_visible()
    assert _before(row.locator("td").nth(2)) == '"Due: "' and _before(row.locator("td").nth(3)) == '"Status: "'
