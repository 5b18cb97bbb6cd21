"""The organiser's first steps in a real browser, with axe on every page visited."""
from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.browser.axe import axe_check
from tests.browser.conftest import login


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_login_page_is_accessible_on_a_phone(live_server, phone_page):
    phone_page.goto(live_server.url + "/login")
    axe_check(phone_page, "login (phone)")
    # The page must not scroll sideways on a narrow screen.
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_organiser_builds_an_assembly_and_sees_it_public(live_server, page, phone_page):
    from eventapp.extensions import db
    from tests.factories import make_topic

    slug = unique("browser-assembly")
    topic_name = f"Hidden harm {slug}"
    # The live server's topics are every test's: whatever ran before, more than a page of them sort before this one.
    with live_server.app.app_context():
        for i in range(26):
            make_topic(f"Anti-social behaviour {slug} {i:02d}")
        db.session.remove()

    page.goto(live_server.url + "/login")
    axe_check(page, "login")
    login(page, live_server)
    expect(page.get_by_role("heading", name="Assemblies", level=1)).to_be_visible()
    axe_check(page, "organiser assemblies list")

    page.get_by_role("link", name="Create an assembly").first.click()
    page.wait_for_url("**/organiser/assemblies/new")
    axe_check(page, "new assembly form")
    page.get_by_label("Title").fill("Shireford Community Safety Assembly")
    page.get_by_label("Web address").fill(slug)
    page.get_by_label("Venue", exact=True).fill("Shireford Guildhall")
    page.get_by_label("Date").fill("2027-03-18")
    page.get_by_label("Starts at").fill("09:30")
    page.get_by_label("Ends at").fill("16:00")
    page.get_by_label("Status").select_option("open")
    page.get_by_role("button", name="Save assembly").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}")
    expect(page.get_by_role("heading", name="Shireford Community Safety Assembly", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="created")).to_be_visible()
    axe_check(page, "assembly detail (empty)")

    page.get_by_role("link", name="Add a round").click()
    axe_check(page, "new round form")
    page.get_by_label("Name").fill("Morning breakouts")
    page.get_by_label("Starts at").fill("11:00")
    page.get_by_label("Ends at").fill("12:15")
    page.get_by_role("button", name="Save round").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}")
    expect(page.get_by_role("heading", name="Morning breakouts, 11:00–12:15")).to_be_visible()

    page.get_by_role("link", name="Topics").click()
    axe_check(page, "topics list")
    page.get_by_role("link", name="Add a topic").click()
    axe_check(page, "new topic form")
    page.get_by_label("Topic").fill(topic_name)
    page.get_by_role("button", name="Save topic").click()
    # Back on the list, at the page and the row where the new topic is.
    page.wait_for_url("**/organiser/topics?page=*#topic-*")
    expect(page.get_by_role("cell", name=topic_name, exact=True)).to_be_in_viewport()
    expect(page.get_by_role("status").filter(has_text="Topic saved.")).to_be_visible()
    axe_check(page, "topics list (a page on, at the topic saved)")

    page.goto(live_server.url + f"/organiser/assemblies/{slug}")
    page.get_by_role("link", name="Add a workshop to Morning breakouts").click()
    axe_check(page, "new workshop form")
    page.get_by_label("Topic", exact=True).select_option(label=topic_name)
    page.get_by_label("Title").fill("Spotting hidden harm")
    page.get_by_label("Room").fill("Council Chamber")
    page.get_by_label("Capacity").fill("24")
    page.get_by_role("button", name="Save workshop").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}")
    expect(page.get_by_role("cell", name="Spotting hidden harm", exact=True)).to_be_visible()
    axe_check(page, "assembly detail (with a workshop)")

    page.get_by_role("link", name=f"/a/{slug}").click()
    page.wait_for_url(f"**/a/{slug}")
    expect(page.get_by_role("heading", name="Spotting hidden harm")).to_be_visible()
    expect(page.get_by_text("Room: Council Chamber")).to_be_visible()
    axe_check(page, "public assembly page (organiser)")

    # The public, signed-out view on a phone.
    phone_page.goto(live_server.url + f"/a/{slug}")
    expect(phone_page.get_by_role("heading", name="Shireford Community Safety Assembly", level=1)).to_be_visible()
    expect(phone_page.get_by_role("heading", name="Spotting hidden harm")).to_be_visible()
    axe_check(phone_page, "public assembly page (phone)")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone_page.goto(live_server.url + "/")
    expect(phone_page.get_by_role("link", name="Shireford Community Safety Assembly").first).to_be_visible()
    axe_check(phone_page, "home page (phone)")

    # Calling it off: a confirmation first, then a notice on both pages, and the way back.
    page.goto(live_server.url + f"/organiser/assemblies/{slug}")
    page.get_by_role("link", name="Cancel the assembly").click()
    axe_check(page, "cancel assembly confirmation")
    page.get_by_role("button", name="Yes, cancel the assembly").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}")
    expect(page.get_by_text("The assembly was cancelled;")).to_be_visible()
    axe_check(page, "assembly detail (cancelled)")
    phone_page.goto(live_server.url + f"/a/{slug}")
    expect(phone_page.get_by_text("This assembly has been cancelled.")).to_be_visible()
    axe_check(phone_page, "public assembly page (cancelled, phone)")
    page.get_by_role("link", name="Reinstate it").click()
    page.get_by_role("button", name="Yes, reinstate it").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}")
    expect(page.get_by_text("The assembly was reinstated;")).to_be_visible()


def test_bad_assembly_form_shows_errors_and_keeps_input(live_server, page):
    login(page, live_server)
    page.goto(live_server.url + "/organiser/assemblies/new")
    page.get_by_label("Title").fill("Assembly with <b>mistakes</b>")
    page.get_by_label("Web address").fill("Not A Slug!")
    page.get_by_label("Date").fill("2027-03-18")
    page.get_by_label("Starts at").fill("16:00")
    page.get_by_label("Ends at").fill("09:00")
    page.get_by_role("button", name="Save assembly").click()
    page.wait_for_load_state()

    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading", name="There is a problem")).to_be_visible()
    expect(summary.get_by_role("link", name="Venue: Enter the venue.")).to_be_visible()
    assert page.get_by_label("Title").input_value() == "Assembly with <b>mistakes</b>"
    assert page.get_by_label("Web address").input_value() == "Not A Slug!"
    assert page.get_by_label("Starts at").input_value() == "16:00"
    # The invalid field is announced as such and linked from the summary.
    assert page.get_by_label("Venue", exact=True).get_attribute("aria-invalid") == "true"
    summary.get_by_role("link", name="Venue: Enter the venue.").click()
    assert page.evaluate("document.activeElement.id") == "venue_name"
    axe_check(page, "assembly form with errors")

    # Fix the venue only: the service's rules (slug shape, end after start) speak next.
    page.get_by_label("Venue", exact=True).fill("Shireford Guildhall")
    page.get_by_role("button", name="Save assembly").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert").get_by_text("Use lower-case letters")).to_be_visible()
    assert page.get_by_label("Venue", exact=True).input_value() == "Shireford Guildhall"
    axe_check(page, "assembly form with a rule refused")


def test_rest_of_the_console_is_accessible_and_approve_merge_work(live_server, page, phone_page):
    from eventapp.extensions import db
    from tests.factories import make_agenda_item, make_assembly, make_org, make_round, make_user, make_workshop

    tag = uuid.uuid4().hex[:8]
    with live_server.app.app_context():
        keep = make_org(f"Shireford Fire and Rescue {tag}", sector="fire_rescue")
        make_org(f"Shireford Fire & Rescue {tag}", sector="fire_rescue", status="pending")
        assembly = make_assembly(slug=f"console-{tag}", title=f"Console tour {tag}")
        rnd = make_round(assembly, name="Morning")
        fac = make_user("facilitator", email=f"fac-{tag}@example.org", name=f"Zoë Clarke {tag}")
        make_workshop(rnd, title=f"Barriers to sharing {tag}", facilitators=[fac])
        item = make_agenda_item(assembly, title="Welcome")
        slug, keep_name, item_id, round_id = assembly.slug, keep.name, item.id, rnd.id
        db.session.remove()

    login(page, live_server)
    page.get_by_role("link", name="Organisations").click()
    page.get_by_label("Name").fill(tag)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"**/organiser/organisations/?q={tag}*")
    axe_check(page, "organisations list (filtered)")
    page.get_by_role("button", name=f"Approve Shireford Fire & Rescue {tag}").click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text="approved")).to_be_visible()
    assert not page.get_by_role("button", name=f"Approve Shireford Fire & Rescue {tag}").count()

    page.get_by_role("link", name=f"Merge Shireford Fire & Rescue {tag}").click()
    axe_check(page, "merge form")
    page.get_by_label("Merge into").select_option(label=f"{keep_name} (Fire and rescue)")
    page.get_by_role("button", name="Merge and remove").click()
    # Back to the filtered list it started from, at the row of the one kept.
    page.wait_for_url(f"**/organiser/organisations/?q={tag}#organisation-*")
    expect(page.get_by_role("status").filter(has_text="was merged into")).to_be_visible()
    expect(page.locator(":target")).to_contain_text(keep_name)

    page.get_by_role("link", name="Add an organisation").click()
    page.get_by_role("button", name="Save organisation").click()
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_be_visible()
    axe_check(page, "organisation form with errors")

    for path, what in [
        (f"/organiser/assemblies/{slug}/agenda/new", "new agenda item form"),
        (f"/organiser/assemblies/{slug}/agenda/{item_id}/edit", "edit agenda item form"),
        (f"/organiser/assemblies/{slug}/rounds/{round_id}/delete", "delete confirmation"),
        (f"/organiser/assemblies/{slug}/edit", "edit assembly form"),
        (f"/organiser/assemblies/{slug}/copy", "copy to a new assembly form"),
        ("/organiser/users", "users list"),
        ("/organiser/users/new", "new user form"),
        ("/account/password", "change password form"),
        ("/facilitator/", "my workshops (organiser)"),
        ("/organiser/no-such-page", "404 page"),
    ]:
        page.goto(live_server.url + path)
        axe_check(page, what)

    # The facilitator's view, on a phone.
    login(phone_page, live_server, email=f"fac-{tag}@example.org")
    expect(phone_page.get_by_role("heading", name="My workshops")).to_be_visible()
    expect(phone_page.get_by_text(f"Barriers to sharing {tag}").first).to_be_visible()
    axe_check(phone_page, "facilitator home (phone)")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone_page.goto(live_server.url + "/organiser/")
    expect(phone_page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    axe_check(phone_page, "403 page (phone)")


def test_console_list_fits_a_phone(live_server, phone_page):
    login(phone_page, live_server)
    for path in ("/organiser/", "/organiser/organisations/", "/organiser/topics"):
        phone_page.goto(live_server.url + path)
        axe_check(phone_page, f"{path} (phone)")
        assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path


def test_deactivating_a_user_on_page_2_of_a_filtered_list_comes_back_to_their_row(live_server, page):
    from eventapp.extensions import db
    from tests.factories import make_user

    tag = uuid.uuid4().hex[:8]
    with live_server.app.app_context():
        for i in range(27):
            make_user("facilitator", email=f"fac{i:02d}-{tag}@example.org", name=f"Facilitator {tag} {i:02d}")
        db.session.remove()

    login(page, live_server)
    page.goto(live_server.url + f"/organiser/users?q={tag}")
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(f"**/organiser/users?q={tag}&page=2")
    page.get_by_role("link", name=f"Deactivate Facilitator {tag} 26").click()
    axe_check(page, "deactivate confirmation")
    page.get_by_role("button", name="Yes, deactivate").click()
    page.wait_for_url(f"**/organiser/users?q={tag}&page=2#user-*")
    expect(page.get_by_role("status").filter(has_text="can no longer sign in")).to_be_visible()
    row = page.locator(":target")
    expect(row).to_contain_text(f"Facilitator {tag} 26")
    expect(row).to_contain_text("Deactivated")
    expect(page.get_by_label("Name or email")).to_have_value(tag)
    axe_check(page, "users list (page 2, at the account deactivated)")
    row.get_by_role("button", name=f"Reactivate Facilitator {tag} 26").click()
    page.wait_for_url(f"**/organiser/users?q={tag}&page=2#user-*")
    expect(page.get_by_role("status").filter(has_text="can sign in again")).to_be_visible()
