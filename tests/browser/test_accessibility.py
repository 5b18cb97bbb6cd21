"""What axe does not see by itself: focus after a failed submit, and pages at 320 CSS pixels (WCAG 1.4.10)."""
from __future__ import annotations

import uuid

import pytest

from eventapp.extensions import db
from tests.browser.conftest import _open_page

NARROW = {"width": 320, "height": 640}


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def any_js_page(request, browser):
    context, page, _ = _open_page(browser, viewport=NARROW, java_script_enabled=request.param)
    yield page
    context.close()


def _seed_register(app) -> str:
    from tests.factories import make_assembly, make_round, make_topic, make_workshop

    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        assembly = make_assembly(slug=f"a11y-focus-{tag}", title=f"Focus assembly {tag}")
        rnd = make_round(assembly)
        for name in ("One", "Two", "Three"):
            make_workshop(rnd, make_topic(f"Focus {name} {tag}"))
        slug = assembly.slug
        db.session.remove()
    return slug


def test_the_error_summary_takes_focus_after_a_failed_submit(live_server, any_js_page):
    # A screen-reader or keyboard user lands on the list of problems, not at the top of the page
    # (WCAG 3.3.1, 2.4.3); it must work with JavaScript off too.
    page = any_js_page
    slug = _seed_register(live_server.app)
    page.goto(live_server.url + f"/a/{slug}/register")
    page.get_by_role("button", name="Register").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    # Its first link takes the user to the field.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "full_name"
