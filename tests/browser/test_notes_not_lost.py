"""Notes typed on a tablet with a bad connection: nothing lost, nothing saved twice, and the page says so honestly."""
from __future__ import annotations

from playwright.sync_api import expect

from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import NotesRevision
from tests.browser.conftest import login
from tests.browser.test_facilitator import _fill_new_action, _no_action_put_back, _open_tablet, _seed


def _notes_url(live_server, seed) -> str:
    return f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/notes"


def _stored(live_server, seed):
    with live_server.app.app_context():
        notes = services.notes_for(seed["workshop_id"])
        out = (notes.section("summary").body if notes and notes.section("summary") else None,
               notes.version if notes else 0)
        db.session.remove()
        return out


def _no_signal(context, page):
    context.set_offline(True)
    # Playwright's offline mode can let a closing tab's last request through: this tab's never arrive.
    page.route("**/notes/autosave", lambda route: route.abort("internetdisconnected"))


def _tab_dies(context, page):
    """The battery dies or the tab is swiped away while offline: nothing more leaves this tab, then the signal returns."""
    # A save the route is still holding is answered only while Playwright waits, and one released by close()
    # after the signal is back reached the server in CI: stop new saves, let held ones fail, then close.
    page.evaluate("() => { window.fetch = function () { return Promise.reject(new TypeError('offline')); }; }")
    page.wait_for_timeout(300)
    page.close()
    context.set_offline(False)


def test_text_typed_offline_survives_closing_the_tab_and_is_saved_when_it_is_opened_again(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    typed = "Typed with no signal in the hall \U0001F4F6\nsecond line"
    try:
        login(page, live_server, seed["email"])
        page.goto(_notes_url(live_server, seed))
        _no_signal(context, page)
        page.get_by_label("Summary", exact=True).fill(typed)
        page.get_by_label("Internal only: never publish the summary").check()
        page.get_by_role("status").filter(has_text="No connection").wait_for(timeout=15_000)
        assert "kept on this device" in page.get_by_role("status").inner_text()
        _tab_dies(context, page)
        page = context.new_page()
        page.goto(_notes_url(live_server, seed))
        assert page.get_by_label("Summary", exact=True).input_value() == typed
        assert page.get_by_label("Internal only: never publish the summary").is_checked()
        message = page.get_by_role("status").filter(has_text="had not been saved yet was put back")
        message.filter(has_text="Draft saved automatically").wait_for(timeout=15_000)
        # Opened again once saved: the stored text, and no claim of anything restored.
        page.goto(_notes_url(live_server, seed))
        page.wait_for_timeout(500)
        assert page.get_by_label("Summary", exact=True).input_value() == typed
        assert page.get_by_text("put back").count() == 0
    finally:
        context.close()
    assert not csp
    # Forms send line breaks as CRLF, as the Save button does.
    assert _stored(live_server, seed) == (typed.replace("\n", "\r\n"), 1)
    with live_server.app.app_context():
        notes = services.notes_for(seed["workshop_id"])
        assert notes.section("summary").internal is True
        db.session.remove()


def test_a_draft_kept_on_the_tablet_never_overwrites_a_colleagues_later_save(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(_notes_url(live_server, seed))
        _no_signal(context, page)
        page.get_by_label("Summary", exact=True).fill("My offline text")
        page.get_by_role("status").filter(has_text="No connection").wait_for(timeout=15_000)
        _tab_dies(context, page)
        with live_server.app.app_context():
            from eventapp.assemblies.models import Workshop

            services.save_notes(db.session.get(Workshop, seed["workshop_id"]), {"summary": "A colleague's text"},
                                0, None)
            db.session.remove()
        page = context.new_page()
        page.goto(_notes_url(live_server, seed))
        assert page.get_by_label("Summary", exact=True).input_value() == "My offline text"
        page.get_by_role("status").filter(has_text="Autosave has stopped").wait_for(timeout=15_000)
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_load_state()
        expect(page.get_by_role("heading", name="Someone else saved these notes")).to_be_visible()
        expect(page.get_by_text("A colleague's text")).to_be_visible()
        assert page.get_by_label("Summary", exact=True).input_value() == "My offline text"
    finally:
        context.close()
    assert not csp
    assert _stored(live_server, seed) == ("A colleague's text", 1)


def test_a_server_error_does_not_stop_autosave_and_the_retry_saves_once(live_server, browser):
    # A proxy answers 502/503 while the app restarts: the next autosave must go through.
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    answered = []

    def restarting(route):
        if not answered:
            answered.append(503)
            route.fulfill(status=503, content_type="text/html", body="<h1>Service Unavailable</h1>")
        else:
            route.continue_()

    try:
        login(page, live_server, seed["email"])
        page.goto(_notes_url(live_server, seed))
        page.route("**/notes/autosave", restarting)
        page.get_by_label("Summary", exact=True).fill("Typed while the server restarted")
        page.get_by_role("status").filter(has_text="will try again").wait_for(timeout=15_000)
        page.get_by_role("status").filter(has_text="Draft saved automatically").wait_for(timeout=15_000)
    finally:
        context.close()
    assert answered == [503] and not csp
    assert _stored(live_server, seed) == ("Typed while the server restarted", 1)


def test_save_pressed_while_an_autosave_is_on_its_way_is_not_a_conflict_with_yourself(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    held = []

    def slow_wifi(route):
        if held:
            route.continue_()
            return
        route.fetch()  # the autosave reaches the app and is saved; its answer is still on its way
        held.append(route)

    try:
        login(page, live_server, seed["email"])
        page.goto(_notes_url(live_server, seed))
        page.route("**/notes/autosave", slow_wifi)
        page.get_by_label("Summary", exact=True).fill("First words")
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(100)
        assert held and _stored(live_server, seed) == ("First words", 1)
        page.get_by_label("Summary", exact=True).fill("First words, and the rest")
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Notes saved.")).to_be_visible()
        assert page.get_by_role("heading", name="Someone else saved these notes").count() == 0
    finally:
        context.close()
    assert not csp
    assert _stored(live_server, seed) == ("First words, and the rest", 2)
    with live_server.app.app_context():
        assert db.session.query(NotesRevision).filter_by(notes_id=services.notes_for(seed["workshop_id"]).id).count() == 2
        db.session.remove()


def test_an_action_typed_before_the_tab_was_reloaded_or_closed_is_put_back_and_saved(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    actions_url = f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/actions"
    typed = "Map referral routes between A&E and <b>housing</b> \U0001F3E0"
    try:
        login(page, live_server, seed["email"])
        page.goto(actions_url)
        _fill_new_action(page, seed, typed)
        page.reload()  # a swipe on the tablet reloads the page before Add was pressed
        assert page.get_by_label("What will be done").input_value() == typed
        assert page.get_by_label("Owner organisation").input_value() != "0"
        assert page.get_by_label("Due date").input_value() == "2027-06-30"
        expect(page.get_by_role("status").filter(has_text="had not been saved")).to_be_visible()
        page.get_by_role("button", name="Add action").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Action added.")).to_be_visible()
        assert page.get_by_label("What will be done").input_value() == ""
        _no_action_put_back(page, actions_url)
        # Changing it, then closing the tab before Save: opened again, the change is there to save.
        page.get_by_role("link", name="Change action 1").click()
        page.get_by_label("What will be done").fill(typed + " by June")
        page.get_by_label("Status").select_option("in_progress")
        edit_url = page.url
        page.close()
        page = context.new_page()
        page.goto(edit_url)
        assert page.get_by_label("What will be done").input_value() == typed + " by June"
        assert page.get_by_label("Status").input_value() == "in_progress"
        page.get_by_role("button", name="Save action").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Action saved.")).to_be_visible()
        page.goto(edit_url)
        assert page.get_by_text("had not been saved").count() == 0
        assert page.locator("form p.autosave-status").count() == 0  # drafts.js's note, filled in later
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        (action,) = services.workshop_actions(seed["workshop_id"])
        assert action.description == typed + " by June" and action.status == "in_progress"
        assert action.owner_organisation.name == seed["nhs"] and action.version == 2
        db.session.remove()


def test_marks_not_yet_saved_survive_adding_a_walk_in_and_are_saved_after(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    a, b, c, d = seed["people"]
    register_url = f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance"
    try:
        login(page, live_server, seed["email"])
        page.goto(register_url)
        page.locator(f"label[for=mark-r{a}-present]").click()
        page.locator(f"label[for=mark-r{b}-absent]").click()
        # Someone walks in before Save attendance was pressed.
        page.get_by_label("Or a new person: full name").fill("Late Arrival")
        page.get_by_role("button", name="Add to the register").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Late Arrival added to the register as present.")).to_be_visible()
        assert page.locator(f"#mark-r{a}-present").is_checked() and page.locator(f"#mark-r{b}-absent").is_checked()
        assert page.locator(f"#mark-r{c}-unmarked").is_checked()
        expect(page.get_by_role("status").filter(has_text="had not been saved")).to_be_visible()
        assert "0 of 3 allocated present, 1 walk-in" in page.locator("#counts").inner_text()  # not saved yet
        page.get_by_role("button", name="Save attendance").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Attendance saved (2 changes).")).to_be_visible()
        assert "1 of 3 allocated present, 1 walk-in; 1 absent" in page.locator("#counts").inner_text()
        page.goto(register_url)
        assert page.get_by_text("had not been saved").count() == 0
        assert page.locator("form p.autosave-status").count() == 0  # drafts.js's note, filled in later
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        from sqlalchemy import select

        from eventapp.notes.models import Attendance

        marks = {m.registration_id or m.walk_in_name: m.status for m in db.session.scalars(
            select(Attendance).where(Attendance.workshop_id == seed["workshop_id"]))}
        assert marks == {a: "present", b: "absent", "Late Arrival": "walk_in"}
        db.session.remove()


def test_a_mark_put_back_after_a_reload_still_never_overwrites_another_tablets(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    a = seed["people"][0]
    register_url = f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance"
    try:
        login(page, live_server, seed["email"])
        page.goto(register_url)
        page.locator(f"label[for=mark-r{a}-absent]").click()
        with live_server.app.app_context():  # the other tablet marks her present meanwhile
            from eventapp.assemblies.models import Workshop

            services.record_attendance(db.session.get(Workshop, seed["workshop_id"]), {f"r{a}": "present"}, None)
            db.session.remove()
        page.reload()
        assert page.locator(f"#mark-r{a}-absent").is_checked()
        page.get_by_role("button", name="Save attendance").click()
        page.wait_for_load_state()
        assert page.get_by_text("Marked on another device while this page was open, so left as marked there: "
                                f"Aisha Khan {seed['tag']}.").is_visible()
        assert page.locator(f"#mark-r{a}-present").is_checked()
    finally:
        context.close()
    assert not csp


def test_the_message_that_a_draft_was_put_back_is_announced(live_server, browser):
    # WCAG 4.1.3: a live region added with its text already in it is not read out by screen readers; it must
    # be on the page empty first, its text put in after (as flashes.js does).
    seed = _seed(live_server.app)
    context, page, csp = _open_tablet(browser)
    context.add_init_script("""
        window.statusTextWhenAdded = [];
        new MutationObserver(function (records) {
          records.forEach(function (r) { r.addedNodes.forEach(function (n) {
            if (n.nodeType === 1 && n.getAttribute('role') === 'status') {
              window.statusTextWhenAdded.push(n.textContent);
            }
          }); });
        }).observe(document, {childList: true, subtree: true});
    """)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/actions")
        _fill_new_action(page, seed, "Typed, then the page reloaded")
        page.reload()
        expect(page.get_by_role("status").filter(has_text="had not been saved")).to_be_visible()
        added = page.evaluate("window.statusTextWhenAdded")
        assert added and all(text == "" for text in added), f"status messages added with their text: {added}"
    finally:
        context.close()
    assert not csp
