"""A facilitator taken off a workshop while typing its notes: the text stays on screen, on this device and on
the page Save leads to, where it can be copied; with JavaScript or without."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from eventapp.accounts.models import User
from eventapp.assemblies.models import Workshop
from eventapp.extensions import db
from tests.browser.axe import axe_check
from tests.browser.conftest import _open_page, login
from tests.browser.test_facilitator import TABLET, _seed

TYPED = "Agreed <b>one</b> referral route \U0001F6A8\nsecond line \u202eRTL\u202c"


def _take_off_workshop(app, seed) -> None:
    with app.app_context():
        workshop = db.session.get(Workshop, seed["workshop_id"])
        workshop.facilitators = [u for u in workshop.facilitators if u.email != seed["email"]]
        db.session.commit()
        db.session.remove()


def _device_copy(page, seed) -> str:
    # What notes.js keeps on this device: read through the page's own storage, as the next page would.
    return page.evaluate("(suffix) => Object.keys(localStorage).filter((k) => k.endsWith(suffix))"
                         ".map((k) => localStorage.getItem(k)).join('')", f":{seed['workshop_id']}")


@pytest.mark.parametrize("js", [True, False], ids=["javascript", "no-javascript"])
def test_notes_typed_by_a_facilitator_taken_off_the_workshop_are_not_lost(live_server, browser, js):
    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport=TABLET, java_script_enabled=js)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/notes")
        _take_off_workshop(live_server.app, seed)
        summary = page.get_by_label("Summary", exact=True)
        summary.fill(TYPED)
        if js:
            status = page.get_by_role("status").filter(has_text="no longer named as a facilitator")
            expect(status).to_contain_text("Autosave has stopped", timeout=15_000)
            expect(summary).to_have_value(TYPED)
            assert "referral route" in _device_copy(page, seed)
        page.get_by_role("button", name="Save draft").click()

        expect(page.get_by_role("heading", name="Your notes have not been saved", level=1)).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text(f"no longer named as a facilitator of {seed['title']}")
        expect(page.get_by_label("Summary", exact=True)).to_have_value(TYPED)
        expect(page.get_by_label("Summary", exact=True)).not_to_be_editable()
        expect(page.locator("b", has_text="one")).to_have_count(0)
        if js:  # axe runs in the page: with JavaScript on
            axe_check(page, "notes not saved")
            # The copy on this device stays: it is put back if they are named on the workshop again.
            assert "referral route" in _device_copy(page, seed)
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        from eventapp.notes import services
        assert services.notes_for(seed["workshop_id"]) is None
        assert db.session.scalar(select(User).where(User.email == seed["email"])) is not None
        db.session.remove()


def test_an_action_typed_by_a_facilitator_taken_off_the_workshop_is_not_lost(live_server, browser):
    from tests.browser.test_facilitator import _fill_new_action

    seed = _seed(live_server.app)
    context, page, csp = _open_page(browser, viewport=TABLET)
    try:
        login(page, live_server, seed["email"])
        page.goto(f"{live_server.url}/facilitator/workshops/{seed['workshop_id']}/actions")
        _take_off_workshop(live_server.app, seed)
        _fill_new_action(page, seed, TYPED)
        page.get_by_role("button", name="Add action").click()

        expect(page.get_by_role("heading", name="Your action has not been added", level=1)).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text(f"no longer named as a facilitator of {seed['title']}")
        expect(page.get_by_label("What will be done", exact=True)).to_have_value(TYPED)
        expect(page.get_by_label("Owner organisation", exact=True)).to_have_value(seed["nhs"])
        expect(page.locator("b", has_text="one")).to_have_count(0)
        axe_check(page, "action not saved")
        # drafts.js's copy on this device stays: put back if they are named on the workshop again.
        copy = page.evaluate("(key) => Object.keys(localStorage).filter((k) => k.endsWith(key))"
                             ".map((k) => localStorage.getItem(k)).join('')", f":{seed['workshop_id']}:new")
        assert "referral route" in copy
    finally:
        context.close()
    assert not csp
