"""What axe does not see by itself: focus after a failed submit, and pages at 320 CSS pixels (WCAG 1.4.10)."""
from __future__ import annotations

import uuid
from datetime import date, time

import pytest
from playwright.sync_api import expect

from eventapp.assemblies.models import Assembly
from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.organisations.models import Organisation
from eventapp.outcomes.models import PartnerContact
from eventapp.timeutil import utcnow
from tests.browser.axe import axe_check
from tests.browser.conftest import _open_page, login

# Compared with NARROW["width"], not clientWidth: a mobile viewport widens (zooms the page out) to
# fit content that is too wide, and clientWidth grows with it.
NARROW = {"width": 320, "height": 640}


@pytest.fixture
def narrow_page(browser):
    """A small phone, or a desktop at 400% zoom: 320 CSS pixels wide."""
    context, page, csp_violations = _open_page(browser, viewport=NARROW, is_mobile=True, has_touch=True)
    yield page
    context.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)


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
    # Waits: the browser applies autofocus at its next rendering update, which can come after the load event.
    expect(page.locator(".error-summary")).to_be_focused()
    # Its first link takes the user to the field.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "full_name"


def _seed_long_addresses(app) -> tuple[int, int]:
    tag = uuid.uuid4().hex[:8]
    long_email = f"community.safety.partnership.team-{tag}@constabulary.example.org"
    with app.app_context():
        assembly = Assembly(title=f"Narrow assembly {tag}", slug=f"narrow-{tag}", date=date(2027, 3, 18),
                            start_time=time(9), end_time=time(16), venue_name="Shireford Guildhall", status="open")
        org = Organisation(name=f"Narrow org {tag}", name_key=f"narrow org {tag}", sector="police", status="approved")
        db.session.add_all([assembly, org, Organisation(name=f"Other org {tag}", name_key=f"other org {tag}",
                                                        sector="police", status="approved")])
        db.session.flush()
        db.session.add(PartnerContact(organisation_id=org.id, contact_name="Pat", contact_email=long_email))
        message = OutboxMessage(kind="registration_confirmed", to_email=long_email, to_name="Pat",
                                subject=f"Narrow {tag}", body_text="A line of the email.\n" * 80,
                                body_html="<p>HTML</p>", message_id=f"<{uuid.uuid4().hex}{tag}@localhost>",
                                status="pending", next_attempt_at=utcnow(), assembly_id=assembly.id)
        db.session.add(message)
        db.session.commit()
        out = org.id, message.id
        db.session.remove()
    return out


def test_organiser_pages_with_long_addresses_fit_a_320px_screen(live_server, narrow_page):
    page = narrow_page
    org_id, message_id = _seed_long_addresses(live_server.app)
    login(page, live_server)
    for path in (f"/organiser/outbox/{message_id}", f"/organiser/organisations/{org_id}/merge",
                 f"/organiser/partners/{org_id}"):
        page.goto(live_server.url + path)
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= NARROW["width"], f"{path} scrolls sideways at 320px: {width[0]}px wide"
        axe_check(page, path)


def _seed_counts(app) -> str:
    from eventapp.registration.models import Registration

    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        assembly = Assembly(title=f"Counts assembly {tag}", slug=f"counts-{tag}", date=date(2027, 3, 18),
                            start_time=time(9), end_time=time(16), venue_name="Shireford Guildhall", status="open")
        name = f"Neighbourhood Watch and Crime Commissioner {tag}"
        org = Organisation(name=name, name_key=name.lower(), sector="local_authority", status="approved")
        db.session.add_all([assembly, org])
        db.session.flush()
        db.session.add(Registration(assembly_id=assembly.id, organisation_id=org.id, full_name="Pat Counter",
                                    email=f"pat-{tag}@example.org", email_key=f"pat-{tag}@example.org",
                                    status="confirmed"))
        db.session.commit()
        slug = assembly.slug
        db.session.remove()
    return slug


def _header_on_screen(page, name: str) -> bool:
    box = page.get_by_role("columnheader", name=name).first.bounding_box()
    return box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 320


def test_tables_of_figures_keep_their_column_headings_at_320px(live_server, narrow_page):
    # Stacked into one column on a phone, a row read "Police 23 0": which figure is which?
    page = narrow_page
    slug = _seed_counts(live_server.app)
    login(page, live_server)
    for path, headers in ((f"/organiser/assemblies/{slug}/registrations/counts", ("Confirmed", "Waiting")),
                          (f"/organiser/assemblies/{slug}/report", ("Registered", "Attended", "Actions"))):
        page.goto(live_server.url + path)
        for name in headers:
            assert _header_on_screen(page, name), f"column heading {name!r} is off screen on {path} at 320px"
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= NARROW["width"], f"{path} scrolls sideways at 320px: {width[0]}px wide"
        axe_check(page, path)


def test_checkboxes_beside_a_long_label_stay_full_size_at_320px(live_server, narrow_page):
    # In the flex row a long label squeezed the box to 13px wide (WCAG 2.5.8 asks for 24px).
    page = narrow_page
    slug = _seed_register(live_server.app)
    page.goto(live_server.url + f"/a/{slug}/register")
    for name in ("consent", "join_waiting_list", "organisation_not_listed"):
        box = page.locator(f"input[type=checkbox][name={name}]").bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, f"{name} checkbox is {box['width']}x{box['height']}px"


def test_the_allocation_figures_keep_their_column_headings_at_320px(live_server, narrow_page):
    from tests.browser.test_allocation import _seed as seed_allocation

    page = narrow_page
    slug, _ = seed_allocation(live_server.app)
    login(page, live_server)
    page.goto(f"{live_server.url}/organiser/assemblies/{slug}/allocation/")
    page.get_by_role("button", name="Run the allocation").click()
    expect(page.get_by_role("heading", name="Compared with first come, first served")).to_be_visible()
    for name in ("This allocation", "First come, first served", "Placed", "1st choice"):
        header = page.get_by_role("columnheader", name=name).first
        header.scroll_into_view_if_needed()
        box = header.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320, f"column heading {name!r} is off screen"
    # The fill-and-mix table stacks: each cell says which column it was in.
    cell = page.locator("td[data-label='Organisations']").first
    cell.scroll_into_view_if_needed()
    label = page.evaluate("(el) => getComputedStyle(el, '::before').content", cell.element_handle())
    assert label == '"Organisations: "', label
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= NARROW["width"], f"the allocation page scrolls sideways at 320px: {width[0]}px wide"
    axe_check(page, "allocation proposal at 320px")


def test_the_partner_list_keeps_its_column_headings_at_320px(live_server, narrow_page):
    from tests.outcomes.helpers import build_scene

    page = narrow_page
    with live_server.app.app_context():
        build_scene()  # organisations that own open actions
        db.session.remove()
    login(page, live_server)
    page.goto(f"{live_server.url}/organiser/partners")
    header = page.get_by_role("columnheader", name="Open actions")
    header.scroll_into_view_if_needed()
    box = header.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320, "'Open actions' is off screen"
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= NARROW["width"], f"the partner list scrolls sideways at 320px: {width[0]}px wide"
    axe_check(page, "partner list at 320px")



def test_the_accessibility_statement_and_cookies_page_at_320_pixels(live_server, narrow_page):
    page = narrow_page
    for path, heading in (("/accessibility", "Accessibility statement"), ("/cookies", "Cookies")):
        page.goto(live_server.url + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), path
        axe_check(page, heading)
    page.get_by_role("link", name="Accessibility").click()
    page.wait_for_url("**/accessibility")


def test_every_tab_stop_inside_a_date_field_shows_the_focus(live_server, page):
    # WCAG 2.4.7: Tab stops at a date field's day, month and year, then at its calendar button. On that last
    # stop the field matched neither :focus nor :focus-visible (the button inside it had the focus): no outline.
    login(page, live_server)
    page.goto(live_server("/organiser/tracker"))
    page.locator("#due_from").focus()
    stops = 0
    while page.evaluate("document.activeElement.id") == "due_from":
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", f"Tab stop {stops + 1} of the date field shows no focus"
        page.keyboard.press("Tab")
        stops += 1
    assert stops >= 4, f"only {stops} Tab stops in the date field"


def test_the_actions_in_a_table_row_are_targets_at_least_24px_high_on_a_desktop(live_server, page):
    # WCAG 2.5.8: Edit, Move to waiting list and Cancel wrap onto lines of their own in the row's last cell.
    # As inline text the links were 19px high, and Cancel's 24px circle reached into the button above it.
    slug = _seed_counts(live_server.app)
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}/registrations"))
    targets = page.locator("td.row-actions").first.locator("a, button")
    expect(targets.first).to_be_visible()
    sizes = {t.inner_text(): t.bounding_box() for t in targets.all()}
    assert len(sizes) >= 3, sizes
    for name, box in sizes.items():
        assert box["height"] >= 24 and box["width"] >= 24, f"{name!r} is {box['width']}x{box['height']}px"
