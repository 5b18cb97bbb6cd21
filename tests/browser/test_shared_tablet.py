"""A venue tablet shared by facilitators: what one of them typed but did not save is never shown to the next,
is deleted when its author signs out (after saying so, if it was not saved), is no longer kept by their pages
still open in other tabs once they sign out, and survives a sign-in that merely ended. Where the browser
refuses its storage, nothing is kept on the device and every form still works."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from eventapp.accounts import services as accounts
from eventapp.accounts.models import User
from eventapp.assemblies.models import Workshop
from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import NotesRevision
from tests.browser.axe import axe_check
from tests.browser.conftest import _open_page, login
from tests.browser.test_facilitator import TABLET, _fill_new_action, _no_action_put_back, _open_tablet, _seed
from tests.factories import PASSWORD

DRAFT_KEYS = "() => Object.keys(localStorage).filter(k => k.includes('-draft:')).sort()"
# What a browser that refuses its storage does: Chromium with site data blocked throws on reaching
# localStorage; Safari's old private windows gave it but refused every write.
NO_STORAGE = {
    "blocked": "Object.defineProperty(window, 'localStorage', {get() {"
               " throw new DOMException('The access is denied for this document.', 'SecurityError'); }});",
    "refusing every write": "Storage.prototype.setItem = function () {"
                            " throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };",
}


def _colleague(app, seed) -> str:
    """A second facilitator of the same workshop; returns their email."""
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        other = User(email=f"colleague-{tag}@example.org", name=f"Chris Colleague {tag}", role="facilitator")
        other.set_password(PASSWORD)
        workshop = db.session.get(Workshop, seed["workshop_id"])
        workshop.facilitators.append(other)
        db.session.commit()
        email = other.email
        db.session.remove()
        return email


def _urls(live_server, seed) -> tuple[str, str]:
    base = f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}"
    return base + "/actions", base + "/notes"


def _type_unsaved(page, live_server, seed, action: str, notes: str) -> None:
    """An action typed but not added, and notes typed while autosave cannot reach the server (it stays out of
    reach for this page until unrouted). Leaving the notes page then asks "Leave site?": answered Leave."""
    page.on("dialog", lambda dialog: dialog.accept())
    actions_url, notes_url = _urls(live_server, seed)
    page.goto(actions_url)
    page.get_by_label("What will be done").fill(action)
    page.goto(notes_url)
    page.route("**/notes/autosave", lambda route: route.abort("internetdisconnected"))
    page.get_by_label("Summary", exact=True).fill(notes)
    page.get_by_role("status").filter(has_text="No connection").wait_for(timeout=15_000)


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def _no_notes_put_back(page, notes_url: str) -> None:
    """The notes page opened afresh (and given time to put a draft back): empty, and nothing said to be put back."""
    page.goto(notes_url)
    page.wait_for_timeout(500)
    assert page.get_by_label("Summary", exact=True).input_value() == ""
    assert page.get_by_text("put back").count() == 0


def _user_id(live_server, email: str) -> int:
    with live_server.app.app_context():
        user_id = db.session.scalar(select(User.id).filter_by(email=email))
        db.session.remove()
    return user_id


def _signed_out_elsewhere_and_colleague_signs_in(live_server, context, user_id: int, colleague: str) -> None:
    """The first person's sign-in ends ("sign out everywhere" from their phone) and the colleague signs in in
    another tab of this browser; the first person's pages stay open."""
    with live_server.app.app_context():
        accounts.sign_out(db.session.get(User, user_id))
        db.session.remove()
    other = context.new_page()
    login(other, live_server, colleague)
    other.close()


def _saved(live_server, seed) -> tuple[list[str], str | None]:
    """What the app holds for the workshop: its actions' texts, and its notes' summary (None: no notes)."""
    with live_server.app.app_context():
        actions = [action.description for action in services.workshop_actions(seed["workshop_id"])]
        notes = services.notes_for(seed["workshop_id"])
        summary = notes.section("summary").body if notes else None
        db.session.remove()
    return actions, summary


def _signed_out(page):
    page.get_by_text("You have signed out").wait_for()
    expect(page.get_by_role("link", name="Staff sign in")).to_be_visible()


def test_a_draft_is_never_put_back_for_the_next_person_and_waits_for_the_one_who_typed_it(live_server, browser):
    seed = _seed(live_server.app)
    colleague = _colleague(live_server.app, seed)
    actions_url, notes_url = _urls(live_server, seed)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        _type_unsaved(page, live_server, seed, "Fran's action, not added yet", "Fran's notes, not saved yet")
        drafts = page.evaluate(DRAFT_KEYS)
        assert len(drafts) == 2
        # Fran walks away; her sign-in ends (8 hours unused) and Chris picks the tablet up.
        context.clear_cookies()
        login(page, live_server, colleague)
        _no_action_put_back(page, actions_url)
        _no_notes_put_back(page, notes_url)
        # Even stored under Chris's own key (as drafts were before they named their author), Fran's text stays hers.
        fran_action = next(k for k in drafts if k.startswith("eventapp-action-draft:"))
        chris_id = page.evaluate("() => document.body.dataset.user")
        page.evaluate("([from, to]) => localStorage.setItem(to, localStorage.getItem(from))",
                      [fran_action, fran_action.replace(fran_action.split(":")[1], chris_id, 1)])
        _no_action_put_back(page, actions_url)
        # Chris has nothing unsaved: signing out asks nothing, and leaves Fran's drafts for her.
        _sign_out(page)
        _signed_out(page)
        assert page.get_by_role("alert").count() == 0
        assert page.evaluate(DRAFT_KEYS) == drafts
        # Fran signs in again: her text is put back for her to save.
        login(page, live_server, seed["email"])
        page.goto(actions_url)
        assert page.get_by_label("What will be done").input_value() == "Fran's action, not added yet"
        expect(page.get_by_role("status").filter(has_text="had not been saved")).to_be_visible()
        page.unroute("**/notes/autosave")
        page.goto(notes_url)
        assert page.get_by_label("Summary", exact=True).input_value() == "Fran's notes, not saved yet"
        page.get_by_role("status").filter(has_text="Draft saved automatically").wait_for(timeout=15_000)
    finally:
        context.close()
    assert not csp
    assert _saved(live_server, seed)[1] == "Fran's notes, not saved yet"


def test_signing_out_with_nothing_unsaved_signs_out_at_once(live_server, browser):
    seed = _seed(live_server.app)
    actions_url, _ = _urls(live_server, seed)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(actions_url)
        _fill_new_action(page, seed, "Share the referral map")
        page.get_by_role("button", name="Add action").click()
        page.get_by_text("Action added.").wait_for()
        # drafts.js forgets the saved draft once the page has loaded (a deferred script): a click
        # before that, on a machine running the suite's other processes, raced it.
        page.wait_for_load_state("load")
        _sign_out(page)
        _signed_out(page)
        assert page.evaluate(DRAFT_KEYS) == []
    finally:
        context.close()
    assert not csp


def test_signing_out_with_unsaved_drafts_says_so_and_deletes_them_only_when_asked(live_server, browser):
    seed = _seed(live_server.app)
    actions_url, notes_url = _urls(live_server, seed)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        _type_unsaved(page, live_server, seed, "Typed, not added", "Typed, not saved")
        _sign_out(page)
        warning = page.get_by_role("alert").filter(has_text="You have 2 drafts on this device that have not been saved")
        warning.wait_for()
        assert page.evaluate("() => document.activeElement.id") == "sign-out-warning"
        # Where they are, to open and save them.
        assert warning.get_by_role("link", name=f"New action, {seed['title']}").get_attribute("href") == \
            f"/facilitator/workshops/{seed['workshop_id']}/actions"
        expect(warning.get_by_role("link", name=f"Session notes, {seed['title']}")).to_be_visible()
        axe_check(page, "sign-out warning")
        # Stay: still signed in, nothing deleted, and back on the Sign out button.
        page.get_by_role("button", name="Stay signed in").click()
        assert page.get_by_role("alert").count() == 0
        assert page.evaluate("() => document.activeElement.textContent") == "Sign out"
        assert len(page.evaluate(DRAFT_KEYS)) == 2
        page.goto(actions_url)
        assert page.get_by_label("What will be done").input_value() == "Typed, not added"
        # Asked again, and this time deleted: signed out, with nothing left on the device.
        _sign_out(page)
        page.get_by_role("button", name="Sign out and delete them").click()
        _signed_out(page)
        assert page.evaluate(DRAFT_KEYS) == []
        login(page, live_server, seed["email"])
        page.goto(actions_url)
        assert page.get_by_label("What will be done").input_value() == ""
        _no_notes_put_back(page, notes_url)
    finally:
        context.close()
    assert not csp
    assert _saved(live_server, seed) == ([], None)


def test_signing_out_from_the_notes_page_itself_asks_once(live_server, browser):
    # The notes page asks "Leave site?" about unsaved text: not again after Sign out has asked.
    seed = _seed(live_server.app)
    _, notes_url = _urls(live_server, seed)
    context, page, csp = _open_tablet(browser)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    try:
        login(page, live_server, seed["email"])
        page.goto(notes_url)
        page.route("**/notes/autosave", lambda route: route.abort("internetdisconnected"))
        page.get_by_label("Summary", exact=True).fill("Half a sentence")
        page.get_by_role("status").filter(has_text="No connection").wait_for(timeout=15_000)
        _sign_out(page)
        page.get_by_role("alert").filter(has_text="You have 1 draft on this device").wait_for()
        page.get_by_role("button", name="Sign out and delete it").click()
        _signed_out(page)
        assert page.evaluate(DRAFT_KEYS) == []
    finally:
        context.close()
    assert not csp and dialogs == []


@pytest.mark.parametrize("ended", ["unused for hours", "signed out on another device"])
def test_a_form_sent_after_the_sign_in_ended_keeps_its_draft_until_it_is_saved(live_server, browser, ended):
    seed = _seed(live_server.app)
    actions_url, _ = _urls(live_server, seed)
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(actions_url)
        _fill_new_action(page, seed, "Typed as the sign-in ran out")
        if ended == "unused for hours":
            context.clear_cookies()  # the session cookie lapsed, its form token with it
            heading = "Send the form again"
        else:
            with live_server.app.app_context():
                accounts.sign_out(db.session.scalar(select(User).filter_by(email=seed["email"])))
                db.session.remove()
            heading = "Sign in again to save this"
        page.get_by_role("button", name="Add action").click()
        page.get_by_role("heading", name=heading).wait_for()
        expect(page.get_by_text("You have also been signed out")).to_be_visible()
        assert len(page.evaluate(DRAFT_KEYS)) == 1  # still on the device
        # As the page says: sign in again in a new tab, come back and send it again.
        other = context.new_page()
        login(other, live_server, seed["email"])
        other.close()
        page.get_by_role("button", name="Send it again").click()
        page.get_by_text("Action added.").wait_for()
        # The text is on screen before drafts.js (deferred) has run and forgotten the saved draft.
        page.wait_for_load_state("domcontentloaded")
        assert page.evaluate(DRAFT_KEYS) == []
        _sign_out(page)
        _signed_out(page)
    finally:
        context.close()
    assert not csp
    assert _saved(live_server, seed)[0] == ["Typed as the sign-in ran out"]


def test_without_javascript_sign_out_is_a_plain_form(live_server, browser):
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport=TABLET, java_script_enabled=False)
    try:
        login(page, live_server, seed["email"])
        _sign_out(page)
        _signed_out(page)
    finally:
        context.close()
    assert not csp


def _tab(context, csp: list[str]):
    """Another tab in the same browser, its CSP violations reported like the first's."""
    tab = context.new_page()
    tab.on("console", lambda msg: csp.append(f"{tab.url}: {msg.text}")
           if msg.type == "error" and "Content Security Policy" in msg.text else None)
    return tab


def test_signing_out_in_one_tab_stops_the_others_keeping_what_is_typed_and_leaves_it_on_screen(live_server, browser):
    seed = _seed(live_server.app)
    colleague = _colleague(live_server.app, seed)
    actions_url, notes_url = _urls(live_server, seed)
    context, first, csp = _open_tablet(browser)
    try:
        login(first, live_server, seed["email"])
        notes, actions = _tab(context, csp), _tab(context, csp)
        # Fran has the notes (autosave out of reach, so they wait on the device) and an action open in other tabs.
        notes.route("**/notes/autosave", lambda route: route.abort("internetdisconnected"))
        notes.goto(notes_url)
        notes.get_by_label("Summary", exact=True).fill("Typed before signing out")
        expect(notes.get_by_role("status").filter(has_text="No connection")).to_be_visible(timeout=15_000)
        actions.goto(actions_url)
        actions.get_by_label("What will be done").fill("Action typed before signing out")
        assert len(first.evaluate(DRAFT_KEYS)) == 2
        # She signs out in the first tab, deleting them.
        _sign_out(first)
        first.get_by_role("button", name="Sign out and delete them").click()
        _signed_out(first)
        assert first.evaluate(DRAFT_KEYS) == []
        # The other tabs are told at once, and keep the text on screen.
        expect(notes.locator("#autosave-status")).to_have_text(re.compile("You have signed out, so autosave has stopped"))
        expect(actions.get_by_role("status").filter(has_text="no longer kept on this device")).to_be_visible()
        assert notes.get_by_label("Summary", exact=True).input_value() == "Typed before signing out"
        assert actions.get_by_label("What will be done").input_value() == "Action typed before signing out"
        # Typing there again, and a whole autosave interval later, keeps nothing on the device.
        notes.get_by_label("Summary", exact=True).fill("Typed before signing out, and after")
        _fill_new_action(actions, seed, "Action typed before signing out, and after")
        notes.wait_for_timeout(4_500)
        for tab in (first, notes, actions):
            assert tab.evaluate(DRAFT_KEYS) == []
        assert notes.get_by_label("Summary", exact=True).input_value() == "Typed before signing out, and after"
        # Chris picks the tablet up: nothing of Fran's is shown to him.
        login(first, live_server, colleague)
        _no_action_put_back(first, actions_url)
        _no_notes_put_back(first, notes_url)
        _sign_out(first)
        _signed_out(first)
        # Fran's Save in her tab goes to the sign-in-again page, which still holds her text.
        actions.get_by_role("button", name="Add action").click()
        expect(actions.get_by_role("heading", name="Sign in again to save this")).to_be_visible()
        assert actions.evaluate(DRAFT_KEYS) == []
        login(first, live_server, seed["email"])
        actions.get_by_role("button", name="Send it again").click()
        expect(actions.get_by_text("Action added.")).to_be_visible()
    finally:
        context.close()
    assert not csp
    # The notes were never autosaved: autosave was out of reach.
    assert _saved(live_server, seed) == (["Action typed before signing out, and after"], None)


@pytest.mark.parametrize("storage", sorted(NO_STORAGE))
def test_where_the_browser_refuses_its_storage_every_form_still_saves_and_sign_out_is_at_once(live_server, browser,
                                                                                              storage):
    seed = _seed(live_server.app)
    actions_url, notes_url = _urls(live_server, seed)
    a = seed["people"][0]
    context, page, csp = _open_tablet(browser)
    context.add_init_script(NO_STORAGE[storage])
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        login(page, live_server, seed["email"])
        page.goto(actions_url)
        _fill_new_action(page, seed, "Added without storage")
        page.get_by_role("button", name="Add action").click()
        expect(page.get_by_text("Action added.")).to_be_visible()
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance")
        page.locator(f"label[for=mark-r{a}-present]").click()
        page.get_by_role("button", name="Save attendance").click()
        expect(page.get_by_text("Attendance saved (1 change).")).to_be_visible()
        page.goto(notes_url)
        page.get_by_label("Summary", exact=True).fill("Autosaved without storage")
        expect(page.locator("#autosave-status")).to_have_text(re.compile("^Draft saved automatically"),
                                                             timeout=15_000)
        page.get_by_label("Summary", exact=True).fill("Saved without storage")
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("Notes saved.")).to_be_visible()
        # Nothing can be on the device, so nothing to ask about.
        _sign_out(page)
        _signed_out(page)
        assert page.get_by_role("alert").count() == 0
    finally:
        context.close()
    assert not csp and errors == []
    assert _saved(live_server, seed) == (["Added without storage"], "Saved without storage")


def test_notes_typed_by_one_facilitator_are_saved_as_the_next_only_when_they_confirm(live_server, browser):
    seed = _seed(live_server.app)
    colleague = _colleague(live_server.app, seed)
    _, notes_url = _urls(live_server, seed)
    with live_server.app.app_context():
        fran, chris = (db.session.scalar(select(User).filter_by(email=e)) for e in (seed["email"], colleague))
        fran_id, chris_id, fran_name, chris_name = fran.id, chris.id, fran.display_name, chris.display_name
        db.session.remove()
    summary = "Fran's summary"
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(notes_url)
        page.get_by_label("Summary", exact=True).fill(summary)
        page.get_by_role("status").filter(has_text="Draft saved automatically").wait_for(timeout=15_000)
        # Fran's sign-in ends ("sign out everywhere" from her phone) and Chris signs in on this tablet, in
        # another tab; Fran's notes page is still open and she goes on typing.
        _signed_out_elsewhere_and_colleague_signs_in(live_server, context, fran_id, colleague)
        summary += ", and what she typed after Chris signed in"
        page.get_by_label("Summary", exact=True).fill(summary)
        page.get_by_label("Ideas", exact=True).fill("Fran's idea")
        # Autosave does not save it as Chris's: it stops and says why.
        expect(page.get_by_role("status")).to_contain_text(f"This page was opened by {fran_name}", timeout=15_000)
        expect(page.get_by_role("status")).to_contain_text("Autosave has stopped.")
        # Save: nothing saved, everything typed still there, and whose it was.
        page.get_by_role("button", name="Save draft").click()
        alert = page.get_by_role("alert").filter(has_text="Nothing has been saved")
        expect(alert).to_contain_text(f"This page was opened by {fran_name}, who is no longer signed in here.")
        expect(alert).to_contain_text(f"to save it under your name ({chris_name}), or sign out so {fran_name} can")
        expect(alert).to_be_focused()
        expect(page.get_by_label("Summary", exact=True)).to_have_value(summary)
        expect(page.get_by_label("Ideas", exact=True)).to_have_value("Fran's idea")
        axe_check(page, "notes typed by someone else")
        with live_server.app.app_context():
            notes = services.notes_for(seed["workshop_id"])
            assert notes.section("summary").body == "Fran's summary" and notes.updated_by_id == fran_id
            db.session.remove()
        # Chris checks the text and presses Save: now it is saved, under Chris's name.
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("Notes saved.", exact=True)).to_be_visible()
        expect(page.get_by_label("Summary", exact=True)).to_have_value(summary)
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        notes = services.notes_for(seed["workshop_id"])
        assert notes.section("summary").body == summary and notes.section("ideas").body == "Fran's idea"
        revisions = db.session.scalars(select(NotesRevision).where(NotesRevision.notes_id == notes.id)
                                       .order_by(NotesRevision.version)).all()
        assert [(r.kind, r.user_id) for r in revisions] == [("autosave", fran_id), ("save", chris_id)]
        db.session.remove()


def test_once_the_next_person_saves_notes_refused_to_autosave_the_first_persons_copy_is_gone(live_server, browser):
    seed = _seed(live_server.app)
    colleague = _colleague(live_server.app, seed)
    _, notes_url = _urls(live_server, seed)
    fran_id = _user_id(live_server, seed["email"])
    fran_key = f"eventapp-notes-draft:{fran_id}:{seed['workshop_id']}"
    elsewhere = f"eventapp-notes-draft:{fran_id}:999999"  # Fran's notes of another workshop, kept meanwhile
    kept = "(key) => JSON.parse(localStorage.getItem(key) || 'null')"
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        page.goto(notes_url)
        page.evaluate("([key, user]) => localStorage.setItem(key, JSON.stringify({at: Date.now(), user: user,"
                      " fields: [['summary', 'Another workshop']]}))", [elsewhere, str(fran_id)])
        page.get_by_label("Summary", exact=True).fill("Fran's summary")
        page.get_by_role("status").filter(has_text="Draft saved automatically").wait_for(timeout=15_000)
        # Fran's sign-in ends and Chris signs in in another tab; Fran types on, kept on the device as she types.
        _signed_out_elsewhere_and_colleague_signs_in(live_server, context, fran_id, colleague)
        page.get_by_label("Summary", exact=True).fill("Fran's summary, typed on")
        expect(page.get_by_role("status")).to_contain_text("Autosave has stopped.", timeout=15_000)
        assert dict(page.evaluate(kept, fran_key)["fields"])["summary"] == "Fran's summary, typed on"
        # Refused as Chris's: from then on the page keeps nothing more on the device, however much is typed.
        page.get_by_label("Ideas", exact=True).fill("Typed after autosave stopped")
        page.wait_for_timeout(4500)  # past an autosave interval
        assert dict(page.evaluate(kept, fran_key)["fields"]) == {**dict(page.evaluate(kept, fran_key)["fields"]),
                                                                  "summary": "Fran's summary, typed on", "ideas": ""}
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_role("alert").filter(has_text="Nothing has been saved")).to_be_visible()
        assert page.evaluate(kept, fran_key) is not None  # not saved yet: Fran's copy stays
        # Chris confirms: saved, and Fran's copy of this workshop's notes leaves the device; the other stays.
        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_text("Notes saved.", exact=True)).to_be_visible()
        expect(page.get_by_label("Ideas", exact=True)).to_have_value("Typed after autosave stopped")
        assert page.evaluate(DRAFT_KEYS) == [elsewhere]
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        notes = services.notes_for(seed["workshop_id"])
        assert notes.section("ideas").body == "Typed after autosave stopped"
        db.session.remove()


def test_once_the_next_person_saves_an_action_or_the_register_refused_as_theirs_the_first_persons_copy_is_gone(
        live_server, browser):
    seed = _seed(live_server.app)
    colleague = _colleague(live_server.app, seed)
    actions_url, _ = _urls(live_server, seed)
    register_url = f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/attendance"
    a = seed["people"][0]
    fran_id = _user_id(live_server, seed["email"])
    fran_action = f"eventapp-action-draft:{fran_id}:{seed['workshop_id']}:new"
    fran_register = f"eventapp-register-draft:{fran_id}:{seed['workshop_id']}"
    context, page, csp = _open_tablet(browser)
    try:
        login(page, live_server, seed["email"])
        # Fran types an action in one tab and marks the register in another: both kept on the device.
        page.goto(actions_url)
        _fill_new_action(page, seed, "Fran's action")
        register = _tab(context, csp)
        register.goto(register_url)
        register.locator(f"label[for=mark-r{a}-present]").click()
        assert page.evaluate(DRAFT_KEYS) == sorted([fran_action, fran_register])
        # Fran's sign-in ends and Chris signs in on this tablet; Fran's pages are then sent.
        _signed_out_elsewhere_and_colleague_signs_in(live_server, context, fran_id, colleague)
        page.get_by_role("button", name="Add action").click()
        expect(page.get_by_role("alert").filter(has_text="Nothing has been saved")).to_be_visible()
        register.get_by_role("button", name="Save attendance").click()
        expect(register.get_by_role("alert").filter(has_text="Nothing has been saved")).to_be_visible()
        register.wait_for_load_state("domcontentloaded")
        # Not saved yet: Fran's copies stay.
        assert page.evaluate(DRAFT_KEYS) == sorted([fran_action, fran_register])
        # Chris checks the action and adds it: Fran's copy of it leaves the device, her register marks stay.
        page.get_by_role("button", name="Add action").click()
        expect(page.get_by_text("Action added.")).to_be_visible()
        page.wait_for_load_state("domcontentloaded")
        assert page.evaluate(DRAFT_KEYS) == [fran_register]
        # Chris saves the register: Fran's marks leave the device too.
        register.get_by_role("button", name="Save attendance").click()
        expect(register.get_by_text("Attendance saved (1 change).")).to_be_visible()
        register.wait_for_load_state("domcontentloaded")
        assert page.evaluate(DRAFT_KEYS) == []
        # Fran signs in again: nothing of hers is put back to be saved twice.
        _sign_out(page)
        _signed_out(page)
        login(page, live_server, seed["email"])
        _no_action_put_back(page, actions_url)
    finally:
        context.close()
    assert not csp
    assert _saved(live_server, seed)[0] == ["Fran's action"]
