"""A facilitator on a tablet takes attendance, writes notes, adds actions and submits; an organiser approves."""
from __future__ import annotations

import uuid
from datetime import date, time

from sqlalchemy import select

from playwright.sync_api import expect

from eventapp.accounts.models import User
from eventapp.assemblies.models import Assembly, Round, Topic, Workshop
from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Attendance
from eventapp.organisations.models import Organisation, name_key
from eventapp.placements.models import Placement
from eventapp.registration.models import Registration, email_key
from tests.browser.axe import axe_check
from tests.browser.conftest import _open_page, login
from tests.factories import PASSWORD

TABLET = {"width": 820, "height": 1180}


def _seed(app) -> dict:
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        fac = User(email=f"fac-{tag}@example.org", name=f"Fran Facilitator {tag}", role="facilitator")
        fac.set_password(PASSWORD)
        police = Organisation(name=f"Shire Police {tag}", name_key=name_key(f"Shire Police {tag}"), sector="police")
        nhs = Organisation(name=f"NHS Trust {tag}", name_key=name_key(f"NHS Trust {tag}"), sector="health")
        topic = Topic(name=f"Hidden harm {tag}", name_key=name_key(f"Hidden harm {tag}"))
        other_topic = Topic(name=f"Exploitation {tag}", name_key=name_key(f"Exploitation {tag}"))
        assembly = Assembly(title=f"Tablet assembly {tag}", slug=f"tablet-{tag}", date=date(2027, 3, 18),
                            start_time=time(9), end_time=time(16), venue_name="Guildhall", status="closed")
        rnd = Round(assembly=assembly, name="Morning breakouts", position=1, starts_at=time(11), ends_at=time(12))
        workshop = Workshop(round=rnd, topic=topic, title=f"Spotting hidden harm {tag}", room="Library",
                            capacity=10, facilitators=[fac])
        other = Workshop(round=rnd, topic=other_topic, title=f"Exploitation {tag}", room="Hall", capacity=10)
        db.session.add_all([fac, police, nhs, topic, other_topic, assembly, rnd, workshop, other])
        db.session.flush()
        people = []
        for i, (name, org) in enumerate([("Aisha Khan", police), ("Ben Jones", nhs), ("Chloé Martin", nhs),
                                         ("Dev Patel", police)]):
            email = f"p{i}-{tag}@example.org"
            reg = Registration(assembly_id=assembly.id, organisation_id=org.id, full_name=f"{name} {tag}",
                               email=email, email_key=email_key(email), status="confirmed",
                               access_needs="Hearing loop" if i == 0 else "")
            db.session.add(reg)
            db.session.flush()
            target = workshop if i < 3 else other
            db.session.add(Placement(registration_id=reg.id, round_id=rnd.id, topic_id=target.topic_id,
                                     workshop_id=target.id))
            people.append(reg.id)
        db.session.commit()
        return {"tag": tag, "email": fac.email, "workshop_id": workshop.id, "slug": assembly.slug,
                "people": people, "police": police.name, "nhs": nhs.name, "title": workshop.title}


def _open_tablet(browser):
    """A fresh browser context the size and kind of the venue's tablets: (context, page, its CSP violations)."""
    return _open_page(browser, viewport=TABLET, is_mobile=True, has_touch=True)


def _fill_new_action(page, seed, what: str) -> None:
    """Types a new action on the actions page (the seeded NHS trust's, due 30 June 2027), not yet added."""
    page.get_by_label("What will be done").fill(what)
    page.get_by_label("Owner organisation").select_option(label=seed["nhs"])
    page.get_by_label("Due date").fill("2027-06-30")


def _no_action_put_back(page, actions_url: str) -> None:
    """The actions page opened afresh: an empty new-action form, and no draft said to be put back."""
    page.goto(actions_url)
    assert page.get_by_label("What will be done").input_value() == ""
    assert page.get_by_text("had not been saved").count() == 0
    assert page.locator("form p.autosave-status").count() == 0  # drafts.js's note, filled in later


def test_facilitator_on_a_tablet_records_the_session_and_organiser_approves(live_server, browser):
    seed = _seed(live_server.app)
    tag, wid = seed["tag"], seed["workshop_id"]
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        expect(page.get_by_role("heading", name="My workshops", level=1)).to_be_visible()
        expect(page.get_by_text("Hearing loop")).to_be_visible()
        axe_check(page, "facilitator home (tablet)")

        # Attendance: big toggles, then a walk-in from the registrations.
        page.get_by_role("link", name=f"Take attendance for {seed['title']}").click()
        page.wait_for_url(f"**/facilitator/workshops/{wid}/attendance")
        axe_check(page, "attendance register")
        a, b, c, d = seed["people"]
        toggle = page.locator(f"label[for=mark-r{a}-present]")
        box = toggle.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44  # touch target
        toggle.click()
        page.locator(f"label[for=mark-r{b}-present]").click()
        page.locator(f"label[for=mark-r{c}-absent]").click()
        page.get_by_role("button", name="Save attendance").click()
        page.wait_for_url(f"**/facilitator/workshops/{wid}/attendance#register")
        expect(page.get_by_text("Attendance saved (3 changes).")).to_be_visible()
        page.get_by_label("Registered delegate", exact=True).select_option(str(d))
        page.get_by_role("button", name="Add to the register").click()
        expect(page.get_by_text(f"Dev Patel {tag} added to the register as present.")).to_be_visible()
        assert "2 of 3 allocated present, 1 walk-in" in page.locator("#counts").inner_text()
        axe_check(page, "attendance after saving")
        # A wrong tap is undone: back to "not yet marked".
        undo = page.locator(f"label[for=mark-r{c}-unmarked]")
        assert undo.bounding_box()["height"] >= 44
        undo.click()
        page.get_by_role("button", name="Save attendance").click()
        expect(page.get_by_text("Attendance saved (1 change).")).to_be_visible()
        assert "0 absent, 1 not yet marked" in page.locator("#counts").inner_text()

        # Notes: typing then waiting saves without pressing Save.
        page.get_by_role("link", name="Notes", exact=True).click()
        page.wait_for_url(f"**/facilitator/workshops/{wid}/notes")
        axe_check(page, "notes form")
        page.get_by_label("Summary", exact=True).fill("We mapped how each partner spots hidden harm. 🚨")
        page.get_by_text("Draft saved automatically").wait_for(timeout=15_000)
        with live_server.app.app_context():
            stored = services.notes_for(wid)
            assert stored.section("summary").body == "We mapped how each partner spots hidden harm. 🚨"
            assert stored.status == "draft"
            db.session.remove()
        page.get_by_label("What is working", exact=True).fill("Joint visits with housing officers.")
        page.get_by_label("Barriers (for example to information sharing)", exact=True).fill("Named family discussed.")
        page.get_by_label("Internal only: never publish the barriers").check()
        page.get_by_role("button", name="Save and submit for review").click()
        page.wait_for_url(f"**/facilitator/workshops/{wid}/notes")
        expect(page.get_by_text("Notes saved and submitted to the organisers for review.")).to_be_visible()
        axe_check(page, "notes after submitting")

        # Two actions.
        page.get_by_role("link", name="Actions", exact=True).click()
        page.wait_for_url(f"**/facilitator/workshops/{wid}/actions")
        axe_check(page, "actions (empty)")
        for text, org, due in (("Publish a joint referral map", seed["police"], "2027-06-30"),
                               ("Single point of contact in A&E", seed["nhs"], "2027-09-01")):
            page.get_by_label("What will be done").fill(text)
            page.get_by_label("Owner organisation").select_option(label=org)
            page.get_by_label("Due date").fill(due)
            with page.expect_navigation():
                page.get_by_role("button", name="Add action").click()
            assert page.get_by_text("Action added.").is_visible(), page.locator("main").inner_text()[:2000]
        expect(page.get_by_role("cell", name="Single point of contact in A&E")).to_be_visible()
        axe_check(page, "actions (two)")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()

        # The organiser reads, sees the counts, and approves.
        login(page, live_server)
        page.goto(f"{live_server.url}/organiser/assemblies/{seed['slug']}")
        page.get_by_role("link", name="Notes, attendance and actions").click()
        page.wait_for_url(f"**/organiser/assemblies/{seed['slug']}/notes")
        assert "Walk-ins" in page.locator("#attendance-totals").inner_text()
        axe_check(page, "organiser notes overview")
        page.get_by_role("link", name=f"Review {seed['title']}").click()
        expect(page.get_by_text("Named family discussed.")).to_be_visible()
        axe_check(page, "organiser review")
        page.get_by_role("button", name="Approve for publication").click()
        page.wait_for_url(f"**/organiser/assemblies/{seed['slug']}/notes")
        expect(page.get_by_text(f"Notes for {seed['title']} approved for publication.")).to_be_visible()
        axe_check(page, "overview after approval")
        page.get_by_role("link", name="All actions from this assembly").click()
        expect(page.get_by_text("Publish a joint referral map")).to_be_visible()
        axe_check(page, "all actions")
    finally:
        context.close()
    assert not csp, "Content-Security-Policy violations:\n" + "\n".join(csp)

    with live_server.app.app_context():
        assembly = db.session.scalar(select(Assembly).where(Assembly.slug == seed["slug"]))
        (outcome,) = services.public_outcomes(assembly)
        assert [s.key for s in outcome.sections] == ["summary", "working"]
        assert len(outcome.actions) == 2
        assert "Named family" not in repr(outcome)
        assert db.session.scalar(select(Attendance).where(Attendance.registration_id == d)).status == "walk_in"
        db.session.remove()


def test_without_javascript_the_save_button_still_saves(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport=TABLET, java_script_enabled=False)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/notes")
        page.get_by_label("Summary", exact=True).fill("Saved with the button, no JavaScript")
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Notes saved.")).to_be_visible()
        assert page.get_by_text("Draft saved automatically").count() == 0
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        assert services.notes_for(seed["workshop_id"]).section("summary").body == "Saved with the button, no JavaScript"
        db.session.remove()


def test_autosave_stops_and_says_so_when_someone_else_saved(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/notes")
        with live_server.app.app_context():
            workshop = db.session.get(Workshop, seed["workshop_id"])
            services.save_notes(workshop, {"summary": "A colleague's text"}, 0, None)
            db.session.remove()
        page.get_by_label("Summary", exact=True).fill("My text")
        message = page.get_by_role("status").filter(has_text="Autosave has stopped")
        message.wait_for(timeout=15_000)
        axe_check(page, "notes with autosave stopped")
        # Save shows both texts to merge, and nothing was overwritten.
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_load_state()
        expect(page.get_by_role("heading", name="Someone else saved these notes")).to_be_visible()
        expect(page.get_by_text("A colleague's text")).to_be_visible()
        assert page.get_by_label("Summary", exact=True).input_value() == "My text"
        axe_check(page, "merge page")
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        assert services.notes_for(seed["workshop_id"]).section("summary").body == "A colleague's text"
        db.session.remove()


def test_autosave_resumes_when_the_page_comes_back_from_the_back_forward_cache(live_server, browser):
    # Save pressed, the submission failed (no signal in the room), Back: the browser may restore
    # the page as it was, script state included. Autosave must run again, not wait for a submit.
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/notes")
        # The submission never leaves (as when it failed); the page's own submit handler has run.
        page.evaluate("document.querySelector('form[data-autosave-url]')"
                      ".addEventListener('submit', function (e) { e.preventDefault(); })")
        page.get_by_role("button", name="Save draft").click()
        page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
        page.get_by_label("Summary", exact=True).fill("Typed after coming back")
        page.get_by_text("Draft saved automatically").wait_for(timeout=15_000)
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        assert services.notes_for(seed["workshop_id"]).section("summary").body == "Typed after coming back"
        db.session.remove()


def test_an_autosave_whose_reply_was_lost_carries_on_without_a_conflict(live_server, browser):
    # The wifi drops just after an autosave reaches the server: it is saved, but the tablet never hears.
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    lost = []

    def drop_the_reply(route):
        if lost:
            route.continue_()
            return
        route.fetch()  # the request reaches the app and is saved...
        lost.append(route.request.url)
        route.abort("connectionreset")  # ...and the page sees a dropped connection

    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/notes")
        page.route("**/notes/autosave", drop_the_reply)
        page.get_by_label("Summary", exact=True).fill("Typed before the wifi dropped")
        page.get_by_role("status").filter(has_text="No connection").wait_for(timeout=15_000)
        page.get_by_label("Summary", exact=True).fill("Typed before the wifi dropped, and after")
        page.get_by_role("status").filter(has_text="Draft saved automatically").wait_for(timeout=15_000)
        page.get_by_label("Summary", exact=True).fill("Typed before the wifi dropped, and after, and more")
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Notes saved.")).to_be_visible()
    finally:
        context.close()
    assert lost and not csp
    with live_server.app.app_context():
        notes = services.notes_for(seed["workshop_id"])
        assert notes.section("summary").body == "Typed before the wifi dropped, and after, and more"
        assert notes.version == 3
        db.session.remove()


def test_a_field_reached_with_the_keyboard_is_never_hidden_behind_the_save_bar(live_server, browser):
    # WCAG 2.2 focus not obscured: the sticky Save bar covers the foot of a phone's screen, so the
    # page keeps that much room when it scrolls a focused field into view.
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport={"width": 390, "height": 700}, is_mobile=True, has_touch=True)
    try:
        login(page, live_server, seed["email"])
        page.goto(live_server(f"/facilitator/workshops/{seed['workshop_id']}/notes"))
        bar = page.locator(".sticky-actions")
        checked = 0
        for _ in range(40):
            page.keyboard.press("Tab")
            focused = page.evaluate("""() => { const e = document.activeElement;
                if (!e || !['TEXTAREA', 'INPUT'].includes(e.tagName) || e.type === 'hidden') return null;
                const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, name: e.name}; }""")
            if focused is None or focused["name"] == "csrf_token":
                continue
            top_of_bar = bar.bounding_box()["y"]
            assert focused["top"] < top_of_bar, f"{focused['name']} is hidden behind the save bar"
            checked += 1
        assert checked >= 6
    finally:
        context.close()


def test_review_page_fits_a_phone_when_an_action_holds_a_long_web_address(live_server, phone_page):
    seed = _seed(live_server.app)
    url = "https://docs.google.com/document/d/1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefghIJKLmnop/edit"
    with live_server.app.app_context():
        workshop = db.session.get(Workshop, seed["workshop_id"])
        police = db.session.scalar(select(Organisation).where(Organisation.name == seed["police"]))
        services.save_notes(workshop, {"summary": f"See {url}"}, 0, None, submit=True)
        services.add_action(workshop, {"description": f"Publish the map at {url}", "owner_organisation_id": police.id,
                                       "due_date": date(2027, 6, 30)}, None)
        services.add_action(workshop, {"description": f"Internal: check {url}", "owner_organisation_id": police.id,
                                       "due_date": date(2027, 6, 30), "internal": True}, None)
        db.session.remove()
    login(phone_page, live_server)
    phone_page.goto(live_server(f"/organiser/assemblies/{seed['slug']}/notes/{seed['workshop_id']}"))
    expect(phone_page.get_by_text("Publish the map at")).to_be_visible()
    # No sideways scrolling: the page is no wider than the phone.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_long_or_right_to_left_name_stays_on_a_phones_register(live_server, phone_page):
    s = _seed(live_server.app)
    long_name = "Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschaferswessen"
    with live_server.app.app_context():
        first, second = (db.session.get(Registration, i) for i in s["people"][:2])
        first.full_name = long_name
        second.full_name = "\u202eEvil Override"
        db.session.commit()
        db.session.remove()
    login(phone_page, live_server, s["email"])
    phone_page.goto(live_server(f"/facilitator/workshops/{s['workshop_id']}/attendance"))
    expect(phone_page.get_by_text(long_name)).to_be_visible()
    # The page does not scroll sideways, and the override does not turn the organisation after it around.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= phone_page.viewport_size["width"]
    name = phone_page.locator(".register-name", has_text="Evil Override")
    assert name.locator("bdi").count() == 1


def test_without_javascript_a_refused_walk_in_opens_at_the_walk_in_form_and_its_problem(live_server, browser):
    # Below a long register: landing at the top of the page would show no sign that nothing was added.
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport={"width": 320, "height": 640}, java_script_enabled=False)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance")
        page.get_by_role("button", name="Add to the register").click()
        page.wait_for_load_state()
        expect(page.get_by_role("heading", name="Add a walk-in")).to_be_in_viewport()
        expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    finally:
        context.close()
    assert not csp


def test_on_a_phone_a_stacked_tables_caption_spans_the_table(live_server, phone_page):
    # Not squeezed into a narrow centred column ("Allocated / attendees / (3)") above the first row.
    s = _seed(live_server.app)
    login(phone_page, live_server, s["email"])
    phone_page.goto(live_server("/facilitator/"))
    caption = phone_page.locator("caption", has_text="Allocated attendees (3)")
    expect(caption).to_be_visible()
    box, table = caption.bounding_box(), caption.locator("..").bounding_box()
    assert box["width"] >= table["width"] - 1 and box["x"] <= table["x"] + 1
    line = caption.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
    assert box["height"] < 2 * line
