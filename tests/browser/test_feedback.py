"""A delegate gives feedback on a phone after the day (keyboard and axe), and the organiser reads it."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from eventapp.extensions import db
from eventapp.timeutil import local_today, utcnow
from tests.browser.axe import axe_check
from tests.browser.conftest import login
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.notes.helpers import make_registration, place


def test_a_delegate_gives_feedback_on_a_phone_and_the_organiser_reads_it(live_server, phone_page, page):
    from eventapp.registration.services import make_manage_token

    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Feedback Assembly", date=local_today("Europe/London") - timedelta(days=2))
        workshop = make_workshop(make_round(assembly, "Morning"), make_topic("Browser feedback topic"),
                                 "Browser hidden harm")
        reg = make_registration(assembly, make_org("Browser Feedback Council", sector="county_council"),
                                "Jo Browser")
        place(reg, workshop)
        assembly.allocation_published_at = utcnow() - timedelta(days=5)
        db.session.commit()
        with live_server.app.test_request_context():
            token = make_manage_token(reg)
        slug = assembly.slug
        db.session.remove()

    phone = phone_page
    phone.goto(live_server(f"/manage/{token}"))
    phone.get_by_role("link", name="Give your feedback").click()
    phone.wait_for_load_state()
    axe_check(phone, "feedback form (phone)")
    assert phone.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), "scrolls sideways at 390 px"
    # Sent without the one required answer: the error summary takes the focus and links to the question.
    phone.get_by_label("What should the next assembly cover, or do differently?").fill("More on <b>housing</b>")
    phone.get_by_role("button", name="Send your feedback").click()
    phone.wait_for_load_state()
    expect(phone.locator(".error-summary")).to_be_focused(timeout=5000)
    axe_check(phone, "feedback form with an error (phone)")
    assert phone.get_by_label("What should the next assembly cover, or do differently?").input_value() == \
        "More on <b>housing</b>"
    # Radios by keyboard, as a screen reader user would answer.
    phone.get_by_role("group", name="How useful was the assembly for your work?").get_by_label("Useful", exact=True).check()
    phone.get_by_role("group", name="How useful was \u201cBrowser hidden harm\u201d (Morning)?") \
        .get_by_label("Very useful", exact=True).press("Space")
    phone.get_by_role("button", name="Send your feedback").click()
    phone.wait_for_load_state()
    assert "Thank you: your feedback is saved." in phone.content()
    axe_check(phone, "personal page after feedback (phone)")

    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}"))
    page.get_by_role("link", name="Delegates\u2019 feedback").click()
    page.wait_for_load_state()
    assert "1 delegate of 1 confirmed has answered." in page.content()
    expect(page.get_by_text("More on <b>housing</b>")).to_be_visible()
    assert "Jo Browser" not in page.content()
    # "Useful" for the day (4), "Very useful" (5) for the workshop chosen with the space bar.
    assert "(average 4.0 of 5)" in page.content()
    expect(page.get_by_role("row", name="Browser hidden harm Morning 1 100% 5.0 of 5")).to_be_visible()
    axe_check(page, "feedback results")
