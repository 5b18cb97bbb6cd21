"""Accessibility checks that need only the HTML (the browser ones are in tests/browser/test_accessibility.py)."""
from __future__ import annotations

import re

from eventapp.outcomes import services
from tests.conftest import post_form
from tests.outcomes.helpers import build_scene
from tests.outcomes.test_partners import token_for


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def test_a_partner_status_form_with_an_error_says_so_in_the_page_title(client, db, organiser):
    # WCAG 3.3.1: the title is the first thing a screen reader reads on the page that comes back.
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    a = scene.open_action.id
    r = client.post(f"{url}/actions/{a}", data={**token_for(client.get(url).get_data(as_text=True), a)})
    html = r.get_data(as_text=True)
    assert "There is a problem" in html
    assert _title(html).startswith("Error: ")
    assert not _title(client.get(url).get_data(as_text=True)).startswith("Error")


def test_a_failed_sign_in_says_so_in_the_page_title(client, db, organiser):
    html = post_form(client, "/login", {"email": organiser.email, "password": "wrong"}).get_data(as_text=True)
    assert "There is a problem" in html
    assert _title(html).startswith("Error: ")
    assert _title(client.get("/login").get_data(as_text=True)) == "Staff sign in &ndash; eventapp"


def test_an_organiser_form_with_an_error_says_so_in_the_page_title(as_organiser):
    html = post_form(as_organiser, "/organiser/topics/new", {"name": ""}).get_data(as_text=True)
    assert "There is a problem" in html
    assert _title(html).startswith("Error: ")


def test_pages_that_already_said_error_say_it_once(client, db):
    from tests.factories import make_assembly, make_round, make_topic, make_workshop

    assembly = make_assembly(slug="a11y-title")
    rnd = make_round(assembly)
    for name in ("One", "Two", "Three"):
        make_workshop(rnd, make_topic(f"A11y {name}"))
    html = post_form(client, f"/a/{assembly.slug}/register", {}).get_data(as_text=True)
    assert _title(html).startswith("Error: Register for")


def test_a_delegates_own_details_say_what_they_are_for_autofill(client, as_organiser, db):
    # WCAG 1.3.5: the delegate's organisation is "organization" like their name, email and job title;
    # an organiser typing someone else's details gets no autofill of their own.
    from tests.factories import make_assembly, make_round, make_topic, make_workshop

    assembly = make_assembly(slug="a11y-autocomplete")
    rnd = make_round(assembly)
    for name in ("One", "Two", "Three"):
        make_workshop(rnd, make_topic(f"Autocomplete {name}"))

    def autocomplete(html: str, name: str) -> str:
        tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html).group(0)
        return re.search(r'autocomplete="([^"]*)"', tag).group(1)

    public = client.get(f"/a/{assembly.slug}/register").get_data(as_text=True)
    assert {n: autocomplete(public, n) for n in ("full_name", "email", "job_title", "organisation_name")} == {
        "full_name": "name", "email": "email", "job_title": "organization-title", "organisation_name": "organization"}
    staff = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/registrations/new").get_data(as_text=True)
    assert autocomplete(staff, "organisation_name") == "off"
