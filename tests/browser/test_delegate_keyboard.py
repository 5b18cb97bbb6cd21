"""A delegate on a small phone, keyboard only (Tab, Shift+Tab, Enter, Space, arrows): the public page,
the form with mistakes, the error summary, the email, the personal link, a change and a cancellation.

Besides axe on every page: nothing scrolls sideways, every stop of the Tab order shows where focus
is, a link on a line of its own is a tap target of at least 24x24 CSS px (WCAG 2.5.8), an
error-summary link shows the field with its label and message (WCAG 3.3.1, 3.3.2), and a second
failed submit still takes the user to the summary (WCAG 2.4.3).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import axe_check
from tests.browser.conftest import _open_page
from tests.browser.test_registration import _seed
from tests.mail_sink import MailSink, text_of

# Links that stand on their own: not a few words inside a sentence (those are exempt from 2.5.8).
LONE_SMALL_LINKS_JS = """() => [...document.querySelectorAll('a[href]')].filter((a) => {
    const r = a.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(a).position === 'absolute') return false;
    const own = a.textContent.replace(/\\s+/g, ' ').trim();
    const around = a.parentElement.textContent.replace(/\\s+/g, ' ').trim();
    return around === own && (r.width < 24 || r.height < 24);
}).map((a) => `${a.textContent.trim()} (${Math.round(a.getBoundingClientRect().width)}x${Math.round(a.getBoundingClientRect().height)})`)"""

FOCUSED_JS = """() => {
    const el = document.activeElement, s = getComputedStyle(el), r = el.getBoundingClientRect();
    return {text: (el.labels && el.labels[0] ? el.labels[0].textContent : el.textContent).replace(/\\s+/g, ' ').trim(),
            tag: el.tagName, id: el.id, ring: s.outlineStyle !== 'none' || s.boxShadow !== 'none',
            onScreen: r.width > 0 && r.left >= 0 && r.right <= innerWidth + 1};
}"""


@pytest.fixture(params=[320, 390], ids=["320px", "390px"])
def small_phone(request, browser):
    context, page, csp_violations = _open_page(browser, viewport={"width": request.param, "height": 640},
                                               is_mobile=True, has_touch=True)
    yield page
    context.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)


def _fits(page, what: str) -> None:
    # Against the screen's width, not innerWidth: a phone widens its layout viewport (zooms the
    # whole page out) to fit content that is too wide, and innerWidth grows with it.
    screen = page.viewport_size["width"]
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll <= screen, f"{what} is {scroll}px wide on a {screen}px screen (WCAG 1.4.10)"


def _check(page, what: str, titles: dict[str, str]) -> None:
    axe_check(page, what)
    _fits(page, what)
    small = page.evaluate(LONE_SMALL_LINKS_JS)
    assert not small, f"{what}: links on their own line smaller than 24x24px: {small}"
    title = page.title()
    assert titles.setdefault(title, what) == what, f"{what} has the same title as {titles[title]}: {title!r}"


def _not_spellchecked(page) -> None:
    # An address is not a word: no red underline under it, and a phone keyboard neither
    # capitalises its first letter nor "corrects" it.
    assert page.locator("#email").evaluate("(e) => [e.spellcheck, e.autocapitalize]") == [False, "none"]


def _tab_to(page, text: str, *, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the focused element's text or label starts with text; every
    stop on the way must show a focus ring on screen (WCAG 2.4.7, 2.4.11)."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(FOCUSED_JS)
        assert focused["ring"], f"no visible focus indicator on {focused}"
        assert focused["onScreen"], f"the focused element is off screen: {focused}"
        if focused["text"].startswith(text):
            return
    raise AssertionError(f"{text!r} is not reachable with the keyboard from {page.url}")


def _press_and_wait(page, key: str = "Enter") -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def _follow_error_link(page, field_label: str, *, backwards: bool = False) -> str:
    """Tab (from the error summary) or Shift+Tab (from a field below it) to the summary's link for
    field_label and press Enter: the field takes focus, and its label and error message are on screen."""
    _tab_to(page, field_label, backwards=backwards)
    page.keyboard.press("Enter")
    shown = page.evaluate("""() => {
        const el = document.activeElement, field = el.closest('.field');
        const label = el.labels[0].getBoundingClientRect(), error = field.querySelector('.error-message').getBoundingClientRect();
        return {id: el.id, label: label.top >= 0 && label.bottom <= innerHeight, error: error.top >= 0 && error.bottom <= innerHeight};
    }""")
    assert shown["label"] and shown["error"], f"after the {field_label!r} error link the label or message is off screen: {shown}"
    return shown["id"]


def _summary_has_focus(page) -> None:
    assert page.title().startswith("Error: ")
    # autofocus is applied at the first rendering after load, not at once (polled here: with
    # JavaScript off, Playwright's wait_for_function never runs).
    for _ in range(40):
        if page.evaluate("document.activeElement.classList.contains('error-summary')"):
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError(f"focus is on {page.evaluate(FOCUSED_JS)}, not on the error summary")
    top = page.evaluate("document.activeElement.getBoundingClientRect().top")
    assert 0 <= top < page.viewport_size["height"], f"the error summary is off screen (top {top}px)"


def test_a_delegate_registers_changes_and_cancels_with_the_keyboard_on_a_small_phone(live_server, small_phone):
    page = small_phone
    slug, topics, org_name = _seed(live_server.app)
    # A long address without hyphens (a place to break the line), as many public-sector addresses are.
    email = f"kofi.boateng.youthoffendingservice.{slug.rsplit('-', 1)[1]}@shirefordcouncil.example.org"
    titles: dict[str, str] = {}
    sink = MailSink().start()
    saved = sink.attach(live_server.app)
    try:
        page.goto(live_server.url + f"/a/{slug}")
        _check(page, "public assembly page", titles)
        _tab_to(page, "Register to attend")
        _press_and_wait(page)
        assert page.url.endswith(f"/a/{slug}/register")
        _check(page, "registration form", titles)
        _not_spellchecked(page)
        # Tabbing from select to select, a screen reader announces the group with its description:
        # which end of the ranking is the favourite, and how many are needed.
        expect(page.get_by_role("group", name="Workshop choices")).to_have_accessible_description(
            re.compile(r"your 1st choice is the one you want most\. Give at least 3"))

        # Everything empty: the summary takes focus and is announced.
        _tab_to(page, "Register")
        _press_and_wait(page)
        _summary_has_focus(page)
        expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_be_visible()
        _check(page, "registration form with errors", titles)
        assert _follow_error_link(page, "Full name") == "full_name"
        page.keyboard.type("Kofi Boateng")
        page.keyboard.press("Tab")
        page.keyboard.type("kofi.at.example.org")  # no @
        _tab_to(page, "Organisation")
        page.keyboard.type(org_name)
        _tab_to(page, "1st choice")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Tab")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        _tab_to(page, "Dietary needs")
        page.keyboard.type("Halal")
        _tab_to(page, "I have read the privacy notice")
        page.keyboard.press("Space")
        _tab_to(page, "Register")
        _press_and_wait(page)

        # The second failed submit, after an error link put #full_name in the address: the summary
        # still takes focus (it was left off screen), and everything typed is still there.
        _summary_has_focus(page)
        assert [page.locator(f"#{name}").input_value() for name in ("full_name", "email", "organisation_name",
                                                                     "dietary_needs")] == \
            ["Kofi Boateng", "kofi.at.example.org", org_name, "Halal"]
        assert page.locator("#consent").is_checked()
        assert page.locator("#choice_1 option:checked").inner_text() == topics[0]
        assert page.locator("#choice_2 option:checked").inner_text() == topics[2]  # the list is in name order
        errors = page.locator(".error-summary a").all_inner_texts()
        assert errors == ["Email address: Enter an email address in the form name@example.org.",
                          "Job title: Enter your job title.",
                          "3rd choice (required): Choose your 3rd choice of workshop topic."], errors
        _check(page, "registration form with errors", titles)
        assert _follow_error_link(page, "Email address") == "email"
        page.keyboard.press("Control+A")
        page.keyboard.type(email)
        assert _follow_error_link(page, "Job title:", backwards=True) == "job_title"
        page.keyboard.type("Youth offending officer")
        assert _follow_error_link(page, "3rd choice", backwards=True) == "choice_3"
        for _ in range(3):
            page.keyboard.press("ArrowDown")
        _tab_to(page, "Register")
        _press_and_wait(page)

        page.wait_for_url("**/register/check-your-email")
        expect(page.get_by_text(email)).to_be_visible()
        _check(page, "check your email", titles)

        result = live_server.app.test_cli_runner().invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        (message,) = [m for m in sink.wait_for(2) if m["Subject"].startswith("Your place at")
                      and m["To"].addresses[0].addr_spec == email]
        link = re.search(r"(http://127\.0\.0\.1:\d+/manage/\S+)", text_of(message)).group(1)

        page.goto(link)
        expect(page.get_by_text("Your place is confirmed.")).to_be_visible()
        _check(page, "personal manage page", titles)
        _tab_to(page, "Change your details")
        _press_and_wait(page)
        _check(page, "change your registration", titles)
        # Beside Save, a link named "Cancel" read as "cancel my registration": it only goes back.
        expect(page.get_by_role("link", name="Back without saving")).to_be_visible()
        assert not page.get_by_role("link", name="Cancel", exact=True).count()
        _tab_to(page, "1st choice")
        page.keyboard.press("End")  # the last topic by name
        _tab_to(page, "Save")
        _press_and_wait(page)
        page.wait_for_url(link)
        expect(page.get_by_text("Your changes are saved.")).to_be_visible()
        assert page.locator(".choices-list li").all_inner_texts()[:3] == [topics[3], topics[2], topics[1]]

        _tab_to(page, "Cancel your registration")
        _press_and_wait(page)
        _check(page, "cancel your registration", titles)
        _tab_to(page, "No, keep it")
        _tab_to(page, "Yes, cancel the registration", backwards=True)
        _press_and_wait(page)
        expect(page.get_by_text("This registration is cancelled.")).to_be_visible()
        axe_check(page, "manage page after cancelling")
        _fits(page, "manage page after cancelling")
    finally:
        MailSink.restore(live_server.app, saved)
        sink.stop()


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_summary_takes_focus_again_after_an_error_link_was_followed(live_server, browser, js):
    """...and the rest of the way to a confirmed place, with JavaScript on and off (axe needs it on)."""
    # Following "Email address: ..." puts #email in the address; the form used to post back to that
    # address, and a fragment there makes the browser skip autofocus: the next failed submit left the
    # user at a field far below a summary they could not see or hear.
    context, page, _ = _open_page(browser, viewport={"width": 320, "height": 640}, java_script_enabled=js)
    sink = MailSink().start()
    saved = sink.attach(live_server.app)
    try:
        slug, _, org_name = _seed(live_server.app, confirm_email_first=True)
        page.goto(live_server.url + f"/a/{slug}/register")
        _tab_to(page, "Full name")
        page.keyboard.type("Amal Haddad")
        page.keyboard.press("Tab")
        page.keyboard.type("amal.example.org")
        _press_and_wait(page)  # Enter in a text box submits the form
        _summary_has_focus(page)
        _follow_error_link(page, "Email address")
        assert page.url.endswith("#email")
        page.keyboard.press("Control+A")
        email = f"amal.fragment.{slug.rsplit('-', 1)[1]}@example.org"
        page.keyboard.type(email)
        _press_and_wait(page)
        _summary_has_focus(page)
        assert page.locator("#email").input_value() == email

        # On to the end, keyboard only: the address to confirm, then the confirm page.
        _follow_error_link(page, "Job title:")
        page.keyboard.type("Victim support coordinator")
        page.keyboard.press("Tab")
        page.keyboard.type(org_name)
        for n in (1, 2, 3):
            _tab_to(page, f"{n}")
            for _ in range(n):
                page.keyboard.press("ArrowDown")
        _tab_to(page, "I have read the privacy notice")
        page.keyboard.press("Space")
        _tab_to(page, "Register")
        _press_and_wait(page)
        assert page.url.endswith("/register/check-your-email")
        expect(page.get_by_text("Until you confirm, you have no place.")).to_be_visible()
        _fits(page, "check your email (confirm first)")

        result = live_server.app.test_cli_runner().invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        (message,) = [m for m in sink.wait_for(1) if m["To"].addresses[0].addr_spec == email]
        page.goto(re.search(r"(http://127\.0\.0\.1:\d+/a/\S+/register/confirm/\S+)", text_of(message)).group(1))
        assert page.title().startswith("Confirm your registration")
        _fits(page, "confirm your registration")
        _tab_to(page, "Confirm my registration")
        _press_and_wait(page)
        expect(page.get_by_text("Your place is confirmed.")).to_be_visible()
        _fits(page, "manage page after confirming")
    finally:
        MailSink.restore(live_server.app, saved)
        sink.stop()
        context.close()


def test_a_long_email_address_does_not_widen_the_fresh_link_page(live_server, small_phone):
    # "If we hold a registration for <address>": the address in the sentence widened the page.
    page = small_phone
    page.goto(live_server.url + "/manage/new-link")
    _not_spellchecked(page)
    _tab_to(page, "Email address")
    page.keyboard.type("community.safety.partnership.coordinator@shirefordconstabulary.example.org")
    _press_and_wait(page)
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    _fits(page, "a fresh personal link is sent")
    axe_check(page, "a fresh personal link is sent")


def test_an_organisation_typed_in_the_first_box_is_kept_when_not_listed_is_ticked(live_server, small_phone):
    # The natural order on a phone: type the organisation, find no suggestion, tick "My organisation
    # is not listed". The form used to answer "Enter your organisation's name." as if nothing was typed.
    page = small_phone
    slug, topics, _ = _seed(live_server.app)
    tag = slug.rsplit("-", 1)[1]
    page.goto(live_server.url + f"/a/{slug}/register")
    _tab_to(page, "Full name")
    page.keyboard.type("Tom Hale")
    page.keyboard.press("Tab")
    page.keyboard.type(f"tom.hale.{tag}@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("Youth worker")
    page.keyboard.press("Tab")
    page.keyboard.type(f"Hale Youth Trust {tag}")
    _tab_to(page, "My organisation is not listed")
    page.keyboard.press("Space")
    _tab_to(page, "Your organisation's sector")
    page.keyboard.press("End")
    for n in (1, 2, 3):
        _tab_to(page, f"{n}")
        for _ in range(n):
            page.keyboard.press("ArrowDown")
    _tab_to(page, "I have read the privacy notice")
    page.keyboard.press("Space")
    _tab_to(page, "Register")
    _press_and_wait(page)
    assert not page.locator(".error-summary").count(), page.locator(".error-summary").inner_text()
    page.wait_for_url("**/register/check-your-email")
    from sqlalchemy import select

    from eventapp.extensions import db
    from eventapp.registration.models import Registration

    with live_server.app.app_context():
        reg = db.session.scalar(select(Registration).where(Registration.email == f"tom.hale.{tag}@example.org"))
        assert reg.organisation.name == f"Hale Youth Trust {tag}" and reg.organisation.status == "pending"
        db.session.remove()
