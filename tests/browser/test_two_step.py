"""Two-step sign-in in a browser: set up by typing the key (no camera, no JavaScript, 320 CSS pixels wide), then
signing in with a code, with and without JavaScript; and an organiser resetting a colleague's. Axe on every page of it."""
from __future__ import annotations

import time
import uuid

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.axe import axe_check
from tests.browser.conftest import _open_page, login
from tests.factories import PASSWORD, make_user

NARROW = {"width": 320, "height": 640}
HOSTILE = '<img src=x onerror=alert(1)> "Rhiannon" O\'Neil-Featherstonehaugh'


def _user(app, role: str = "facilitator") -> str:
    email = f"two-step-{uuid.uuid4().hex[:8]}@example.org"
    with app.app_context():
        make_user(role, email=email, name=HOSTILE)
        from eventapp.extensions import db

        db.session.remove()
    return email


def _check(page, what: str, js: bool) -> None:
    """At 320 CSS pixels nothing scrolls sideways, and axe finds nothing (both need the page's JavaScript)."""
    if not js:
        return
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"{what} scrolls sideways at 320px: {width}px wide"
    axe_check(page, what)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_set_up_by_typing_the_key_then_sign_in_with_a_code_at_320px(live_server, browser, js):
    email = _user(live_server.app)
    context, page, csp_violations = _open_page(browser, viewport=NARROW, java_script_enabled=js)
    try:
        login(page, live_server, email)
        # From the menu's Password page, which says it is off.
        page.get_by_role("link", name="Password").click()
        expect(page.get_by_text("Off: your password alone signs you in.")).to_be_visible()
        page.get_by_role("link", name="Set up two-step sign-in").click()
        expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
        expect(page.locator("svg.two-step-code")).to_be_visible()
        _check(page, "set-up page", js)
        key = page.locator("#two-step-secret").inner_text()
        assert len(key.split()) == 8 and all(len(group) == 4 for group in key.split())
        secret = key.replace(" ", "")

        page.get_by_label("Code from your app").fill("000000")
        page.get_by_role("button", name="Switch on two-step sign-in").click()
        expect(page.get_by_text("That code is not right").first).to_be_visible()
        _check(page, "two-step set-up (wrong code)", js)
        page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Switch on two-step sign-in").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        expect(page.locator(".recovery-codes li")).to_have_count(10)
        _check(page, "recovery codes", js)

        page.get_by_role("button", name="Sign out").click()
        page.goto(live_server.url + "/login?next=/account/two-step")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
        code = page.get_by_label("Code")
        expect(code).to_have_attribute("autocomplete", "one-time-code")
        expect(code).to_have_attribute("inputmode", "numeric")
        _check(page, "code page", js)
        code.fill(pyotp.TOTP(secret).at(time.time() + 30))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Two-step sign-in", exact=True)).to_be_visible()
        expect(page.get_by_text("10 unused recovery codes")).to_be_visible()
        _check(page, "two-step status", js)
    finally:
        context.close()
    assert not csp_violations, "\n".join(csp_violations)


def test_an_organiser_resets_a_colleagues_two_step(live_server, page):
    email = _user(live_server.app)
    with live_server.app.app_context():
        from eventapp.accounts.models import User
        from eventapp.extensions import db

        user = db.session.query(User).filter_by(email=email).one()
        user.totp_secret = pyotp.random_base32(32)
        db.session.commit()
        user_id = user.id
        db.session.remove()
    login(page, live_server)
    page.goto(live_server.url + f"/organiser/users?q={email}")
    page.get_by_role("link", name="Reset two-step").click()
    expect(page.get_by_role("heading", name="s two-step sign-in?")).to_contain_text(HOSTILE)
    axe_check(page, "reset two-step confirmation")
    page.get_by_role("button", name="Yes, reset two-step sign-in").click()
    expect(page.get_by_text("two-step sign-in is off and they have been signed out everywhere")).to_be_visible()
    expect(page.locator(f"#user-{user_id}")).not_to_contain_text("Two-step sign-in on")
    axe_check(page, "users after a reset")
