"""A new delegate registers on a phone, gets the email over SMTP, changes a choice and cancels; axe on every page."""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from eventapp.extensions import db
from tests.browser.axe import axe_check
from tests.mail_sink import MailSink, text_of


def _seed(app, **assembly_fields):
    from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop

    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        assembly = make_assembly(slug=f"browser-reg-{tag}", title=f"Registration test assembly {tag}",
                                 privacy_notice="We keep your details until a year after the assembly.",
                                 **assembly_fields)
        rnd = make_round(assembly, name="Morning breakouts")
        topics = [make_topic(f"{name} {tag}") for name in ("Anti-social behaviour", "Poor mental health",
                                                           "Criminal exploitation", "Public confidence")]
        for t in topics:
            make_workshop(rnd, t)
        org = make_org(f"Shireford Constabulary {tag}", "police")
        out = assembly.slug, [t.name for t in topics], org.name
        db.session.remove()
    return out


def _fill(page, full_name: str, email: str, org_name: str, topics: list[str]) -> None:
    """The registration form's required fields, as a delegate types them."""
    page.get_by_label("Full name").fill(full_name)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Job title").fill("Neighbourhood inspector")
    page.get_by_label("Organisation", exact=True).fill(org_name)
    for label, topic in zip(("1st choice (required)", "2nd choice (required)", "3rd choice (required)"), topics):
        page.get_by_label(label).select_option(label=topic)


def test_delegate_registers_gets_the_email_changes_a_choice_and_cancels(live_server, phone_page):
    page = phone_page
    slug, topics, org_name = _seed(live_server.app)
    sink = MailSink().start()
    saved = sink.attach(live_server.app)
    try:
        page.goto(live_server.url + f"/a/{slug}")
        page.get_by_role("link", name="Register to attend").click()
        page.wait_for_url(f"**/a/{slug}/register")
        axe_check(page, "registration form")

        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("alert").filter(has_text="There is a problem")).to_be_visible()
        axe_check(page, "registration form with errors")

        _fill(page, "Siobhán O'Brien-李", "siobhan.browser@exmaple.org", org_name, topics)  # a typo, corrected below
        page.get_by_label("Dietary needs").fill("Vegetarian")
        page.get_by_label(re.compile("I have read the privacy notice")).check()
        page.get_by_role("button", name="Register").click()
        page.wait_for_url("**/register/check-your-email")
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        axe_check(page, "check your email")
        page.get_by_role("link", name="correct it").click()
        page.wait_for_url(f"**/a/{slug}/register/correct-email")
        axe_check(page, "correct the email address")
        page.get_by_label("The address you typed").fill("siobhan.browser@exmaple.org")
        page.get_by_label("The right email address").fill("siobhan.browser@example.org")
        page.get_by_role("button", name="Correct the address").click()
        page.wait_for_url("**/register/check-your-email")
        expect(page.get_by_text("The address is corrected.")).to_be_visible()
        expect(page.get_by_text("siobhan.browser@example.org")).to_be_visible()

        result = live_server.app.test_cli_runner().invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        messages = [m for m in sink.wait_for(3) if m["Subject"].startswith("Your place at")
                    and m["To"].addresses[0].addr_spec == "siobhan.browser@example.org"]
        assert messages and messages[0]["To"].addresses[0].addr_spec == "siobhan.browser@example.org"
        link = re.search(r"(http://127\.0\.0\.1:\d+/manage/\S+)", text_of(messages[0])).group(1)

        page.goto(link)
        expect(page.get_by_text("Your place is confirmed.")).to_be_visible()
        axe_check(page, "manage page")

        page.get_by_role("link", name=re.compile("Change your details")).click()
        axe_check(page, "edit registration")
        page.get_by_label("1st choice (required)").select_option(label=topics[3])
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(link)
        choices = page.locator(".choices-list li").all_inner_texts()
        assert choices[:3] == [topics[3], topics[1], topics[2]]
        axe_check(page, "manage page after edit")

        page.get_by_role("link", name="Cancel your registration").click()
        axe_check(page, "cancel confirmation")
        page.get_by_role("button", name="Yes, cancel the registration").click()
        page.wait_for_url(link)
        expect(page.get_by_text("This registration is cancelled.")).to_be_visible()
        axe_check(page, "manage page after cancelling")
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    finally:
        MailSink.restore(live_server.app, saved)
        sink.stop()


def test_a_delegate_confirms_their_address_from_the_email_before_getting_a_place(live_server, phone_page):
    page = phone_page
    slug, topics, org_name = _seed(live_server.app, confirm_email_first=True)
    sink = MailSink().start()
    saved = sink.attach(live_server.app)
    try:
        page.goto(live_server.url + f"/a/{slug}/register")
        page.get_by_label("Full name").fill("Amal Haddad")
        page.get_by_label("Email address").fill("amal.browser@example.org")
        page.get_by_label("Job title").fill("Victim support coordinator")
        page.get_by_label("Organisation", exact=True).fill(org_name)
        for n, label in enumerate(("1st choice (required)", "2nd choice (required)", "3rd choice (required)")):
            page.get_by_label(label).select_option(label=topics[n])
        page.get_by_label(re.compile("I have read the privacy notice")).check()
        page.get_by_role("button", name="Register").click()
        page.wait_for_url("**/register/check-your-email")
        expect(page.get_by_text("Until you confirm, you have no place.")).to_be_visible()
        axe_check(page, "check your email (confirm first)")

        result = live_server.app.test_cli_runner().invoke(args=["mail", "send"])
        assert result.exit_code == 0, result.output
        (message,) = [m for m in sink.wait_for(1) if m["Subject"].startswith("Confirm your registration")]
        link = re.search(r"(http://127\.0\.0\.1:\d+/a/\S+/register/confirm/\S+)", text_of(message)).group(1)

        page.goto(link)
        expect(page.get_by_role("heading", name="Confirm your registration")).to_be_visible()
        expect(page.get_by_text("Victim support coordinator")).to_be_visible()
        axe_check(page, "confirm your registration")
        assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
        # Something wrong? The form comes back as it was sent, not blank (WCAG 3.3.7); nothing changes until Register.
        page.get_by_role("button", name="Change these details").click()
        expect(page.get_by_label("Job title")).to_have_value("Victim support coordinator")
        expect(page.get_by_label("Email address")).to_have_value("amal.browser@example.org")
        expect(page.get_by_label("1st choice (required)")).to_have_value(re.compile(r"^[1-9]\d*$"))
        axe_check(page, "changing a form not yet confirmed")
        page.goto(link)
        page.get_by_role("button", name="Confirm my registration").click()
        page.wait_for_url("**/manage/**")
        expect(page.get_by_text("your place is booked")).to_be_visible()
        expect(page.get_by_text("Your place is confirmed.")).to_be_visible()

        # Opened again (from the email, another tab): the registration it made, not an error.
        page.goto(link)
        page.wait_for_url("**/manage/**")
        expect(page.get_by_text("Your address is confirmed already")).to_be_visible()
        axe_check(page, "confirmation link used already")
    finally:
        MailSink.restore(live_server.app, saved)
        sink.stop()


def test_organiser_registration_pages_are_accessible(live_server, page):
    from tests.browser.conftest import login

    slug, _, org_name = _seed(live_server.app)
    login(page, live_server)
    base = live_server.url + f"/organiser/assemblies/{slug}"
    page.goto(base)
    page.get_by_role("link", name="Registrations").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}/registrations")
    expect(page.get_by_text("Nobody has registered yet.")).to_be_visible()
    axe_check(page, "registrations (empty)")
    for path, what in (("/registrations/new", "add a delegate"), ("/registrations/counts", "counts"),
                       ("/registrations/import", "import"), ("/registrations/duplicates", "possible duplicates")):
        page.goto(base + path)
        axe_check(page, what)
    # A delegate added here: their page, with the emails about them.
    page.goto(base + "/registrations/new")
    page.get_by_label("Full name").fill("Kwame Mensah")
    page.get_by_label("Email address").fill("kwame.browser@example.org")
    page.get_by_label("Job title").fill("Housing officer")
    page.get_by_label("Organisation", exact=True).fill(org_name)
    page.get_by_label("1st choice (required)").select_option(index=1)
    page.get_by_label("2nd choice (required)").select_option(index=2)
    page.get_by_label("3rd choice (required)").select_option(index=3)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}/registrations")
    page.get_by_role("link", name="Edit Kwame Mensah").click()
    expect(page.get_by_role("heading", name="Emails to Kwame Mensah")).to_be_visible()
    axe_check(page, "a delegate's page with their emails")
    page.goto(base + "/registrations?q=kwame&needs=")
    page.get_by_label("Needs").select_option("dietary")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No registrations match.")).to_be_visible()
    page.get_by_label("Needs").select_option("")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Download the 1 registration shown as CSV (Excel)")).to_be_visible()
    axe_check(page, "registrations, filtered")
    page.goto(base + "/day-sheets")
    expect(page.get_by_role("heading", name="Reception list")).to_be_visible()
    axe_check(page, "day sheets")
    # Forms waiting for their address to be confirmed, one with a typed-in organisation.
    with live_server.app.app_context():
        from sqlalchemy import select

        from eventapp.assemblies.models import Assembly
        from eventapp.registration.models import PendingRegistration

        assembly_id = db.session.scalar(select(Assembly.id).where(Assembly.slug == slug))
        db.session.add_all([PendingRegistration(assembly_id=assembly_id, full_name="Rana Aziz", email="rana@example.org",
                                                email_key="rana@example.org", data={"organisation_name": org_name}),
                            PendingRegistration(assembly_id=assembly_id, full_name="Tom Hale", email="tom@example.org",
                                                email_key="tom@example.org",
                                                data={"organisation_not_listed": True,
                                                      "new_organisation_name": "Hale Youth Trust"})])
        db.session.commit()
        db.session.remove()
    page.goto(base + "/registrations/unconfirmed")
    expect(page.get_by_text("Hale Youth Trust (new)")).to_be_visible()
    axe_check(page, "registrations waiting for address confirmation")
    page.get_by_role("link", name="Delete the form from tom@example.org").click()
    expect(page.get_by_role("heading", name="Delete the form Tom Hale sent?")).to_be_visible()
    axe_check(page, "delete an unconfirmed form")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text("The unconfirmed registration of Tom Hale is deleted")).to_be_visible()
    expect(page.get_by_text("Hale Youth Trust (new)")).to_have_count(0)


def test_a_form_left_open_too_long_is_sent_again_with_nothing_retyped(live_server, page):
    slug, topics, org_name = _seed(live_server.app)
    page.goto(live_server.url + f"/a/{slug}/register")
    _fill(page, "Siobhán O'Brien-李 <b>", "siobhan.overnight@example.org", org_name, topics)
    page.get_by_label("Access needs").fill("Step-free access\nHearing loop")
    page.get_by_label(re.compile("I have read the privacy notice")).check()
    # What a token the server no longer accepts does (the tab was left open overnight).
    page.locator("input[name=csrf_token]").evaluate("el => { el.value = 'expired' + el.value; }")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Send the form again")).to_be_visible()
    expect(page.get_by_text("Nothing has been saved yet")).to_be_visible()
    axe_check(page, "send the form again")
    page.get_by_role("button", name="Send it again").click()
    page.wait_for_url("**/register/check-your-email")
    expect(page.get_by_text("siobhan.overnight@example.org")).to_be_visible()
    from sqlalchemy import select

    from eventapp.registration.models import Registration

    with live_server.app.app_context():
        reg = db.session.scalar(select(Registration).where(Registration.email == "siobhan.overnight@example.org"))
        assert reg.full_name == "Siobhán O'Brien-李 <b>" and reg.job_title == "Neighbourhood inspector"
        assert reg.access_needs.replace("\r\n", "\n") == "Step-free access\nHearing loop"
        assert len(reg.preferences) == 3
        db.session.remove()


def test_an_organiser_ticks_two_registrations_and_cancels_them_together(live_server, browser):
    from tests.browser.conftest import _open_page, login

    slug, topics, org_name = _seed(live_server.app)
    from eventapp.assemblies.models import Assembly
    from eventapp.organisations.models import Organisation
    from eventapp.registration import services
    from eventapp.registration.models import Registration
    from sqlalchemy import select

    with live_server.app.test_request_context("/"):
        assembly = db.session.scalar(select(Assembly).where(Assembly.slug == slug))
        org = db.session.scalar(select(Organisation).where(Organisation.name == org_name))
        from eventapp.assemblies.models import Topic

        topic_ids = [db.session.scalar(select(Topic.id).where(Topic.name == name)) for name in topics[:3]]
        ids = []
        for name in ("Ayo Withdrawn", "Bea Withdrawn", "Cal Staying"):
            email = name.lower().replace(" ", ".") + f".{slug}@example.org"
            ids.append(services.register(assembly, {"full_name": name, "email": email, "job_title": "Officer",
                                                    "organisation_id": org.id, "topic_ids": topic_ids, "consent": True},
                                         check_window=False).registration.id)
        db.session.remove()
    context, page, csp = _open_page(browser, viewport={"width": 1280, "height": 900})
    try:
        login(page, live_server)
        page.goto(live_server.url + f"/organiser/assemblies/{slug}/registrations")
        page.get_by_role("link", name="Select several registrations to cancel").click()
        page.wait_for_url("**select=1")
        axe_check(page, "registrations list with ticks")
        page.get_by_label("Tick Ayo Withdrawn").check()
        page.get_by_label("Tick Bea Withdrawn").check()
        page.get_by_role("button", name="Cancel the ticked registrations").click()
        expect(page.get_by_role("heading", name="Cancel 2 registrations?")).to_be_visible()
        axe_check(page, "cancel the ticked registrations")
        page.get_by_role("button", name="Yes, cancel 2 registrations").click()
        page.wait_for_url(f"**/organiser/assemblies/{slug}/registrations")
        expect(page.get_by_text("2 registrations cancelled; each delegate is emailed.")).to_be_visible()
    finally:
        context.close()
    assert not csp
    with live_server.app.app_context():
        assert [db.session.get(Registration, i).status for i in ids] == ["cancelled", "cancelled", "confirmed"]
        db.session.remove()


def test_a_job_title_typed_without_spaces_does_not_push_the_list_off_a_desktop_screen(live_server, page):
    from tests.browser.conftest import login

    slug, _, org_name = _seed(live_server.app)
    login(page, live_server)
    base = live_server.url + f"/organiser/assemblies/{slug}"
    page.goto(base + "/registrations/new")
    page.get_by_label("Full name").fill("Aisha Khan")
    page.get_by_label("Email address").fill(f"aisha.{slug}@example.org")
    page.get_by_label("Job title").fill("Neighbourhood" * 15)
    page.get_by_label("Access needs").fill("Step-free access to every room, a hearing loop in the main hall, "
                                           "seats near the front and large-print copies of every handout")
    page.get_by_label("Organisation", exact=True).fill(org_name)
    for i, label in enumerate(("1st choice (required)", "2nd choice (required)", "3rd choice (required)"), start=1):
        page.get_by_label(label).select_option(index=i)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}/registrations")
    # The row's actions stay on the screen, with no sideways scrolling of the whole page.
    expect(page.get_by_role("link", name="Edit Aisha Khan")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    # while an email address, which has no space either, is never cut in two.
    name, email = page.locator("table bdi").nth(0), page.locator("table bdi").nth(1)
    expect(email).to_have_text(f"aisha.{slug}@example.org")
    assert email.bounding_box()["height"] < 1.5 * name.bounding_box()["height"]
