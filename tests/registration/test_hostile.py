"""A corpus of hostile strings through every field: never a 500, never unescaped output."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import materialise
from eventapp.mail.services import build_mime
from eventapp.registration.models import Registration
from tests.conftest import post_form
from tests.registration.conftest import form_fields, outbox

CORPUS = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "Name\r\nBcc: evil@example.org",
    "nul\x00byte",
    "bell\x07and\x1b[31mescape",
    "Zoë 👩🏽‍⚕️ Siobhán O'Brien-Ní Bhriain",
    "\u202eevil RTL override \u200f مرحبا",
    "李小龍",
    "A" * 10_000,
    "=cmd|' /C calc'!A0",
    "{{ 7*7 }}{% raw %}",
    "' OR 1=1 --",
    "\ufeff%s%n%x",
    "   ",
]
FIELDS = ["full_name", "email", "job_title", "organisation_name", "new_organisation_name", "access_needs",
          "dietary_needs", "choice_1", "choice_4", "consent", "new_organisation_sector"]
DANGEROUS = re.compile(r"<script>alert|<img src=x|\x00|\x07|\x1b|>49<| 49 ")


def _assert_safe(html: str):
    assert not DANGEROUS.search(html), DANGEROUS.search(html).group(0)


def test_hostile_strings_in_every_public_form_field(client, setup, as_organiser):
    # No digits in the title: " 49 " in a page would otherwise be "Assembly 49 " from the
    # factories' counter, not "{{ 7*7 }}" evaluated.
    setup.assembly.title = "Hostile input assembly"
    db.session.commit()
    accepted = 0
    for i, value in enumerate(CORPUS):
        for name in FIELDS:
            overrides = {"n": f"{i}x{name}", name: value}
            if name == "new_organisation_name":
                overrides.update(organisation_name="", organisation_not_listed="y", new_organisation_sector="other")
            resp = post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, **overrides))
            assert resp.status_code in (302, 400), (name, value[:40], resp.status_code)
            html = resp.get_data(as_text=True)
            _assert_safe(html)
            # NUL is refused for the whole app up front (a friendly 400 page, see security.py).
            if resp.status_code == 400 and value.strip() and "\x00" not in value and name in ("full_name", "job_title", "access_needs"):
                assert "There is a problem" in html
            accepted += resp.status_code == 302
    assert accepted > 0
    # Everything that was stored renders escaped for the organiser, in emails and in the CSV.
    for page in range(1, 20):
        # Pages past the last one go back to it.
        resp = client.get(f"/organiser/assemblies/{setup.assembly.slug}/registrations?status=all&page={page}",
                          follow_redirects=True)
        assert resp.status_code == 200
        _assert_safe(resp.get_data(as_text=True))
    stored = db.session.scalars(select(Registration)).all()
    names = {r.full_name for r in stored}
    assert "<script>alert(1)</script>" in names and "李小龍" in names  # stored faithfully
    assert "Zoë 👩🏽‍⚕️ Siobhán O'Brien-Ní Bhriain" in names
    assert all("\r" not in r.full_name and "\x00" not in r.full_name for r in stored)
    html = client.get(f"/organiser/assemblies/{setup.assembly.slug}/registrations?q=script").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    materialise()  # render what the mail worker would, as it would
    for message in db.session.scalars(select(OutboxMessage)):
        _assert_safe(message.body_html)
        mime = build_mime(message)
        for header in ("To", "Subject"):
            assert "\n" not in str(mime[header]) and "\r" not in str(mime[header])
        assert "Bcc" not in mime
    csv_text = client.get(f"/organiser/assemblies/{setup.assembly.slug}/registrations.csv").get_data(as_text=True)
    assert "\n=cmd" not in csv_text and ",=cmd" not in csv_text and "\x00" not in csv_text


def test_hostile_strings_through_the_manage_page_edit(client, setup):
    setup.assembly.title = "Hostile input assembly"  # no digits: see test_hostile_strings_in_every_public_form_field
    db.session.commit()
    post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, n=1))
    path = re.search(r"http://localhost(/manage/\S+)", outbox(to="delegate1@example.org")[0].body_text).group(1)
    for value in CORPUS:
        for name in FIELDS:
            if name == "consent":
                continue
            resp = post_form(client, path + "/edit", form_fields(setup, n=1, **{name: value}))
            assert resp.status_code in (302, 400), (name, value[:40])
            _assert_safe(resp.get_data(as_text=True))
            page = client.get(path)
            assert page.status_code == 200
            _assert_safe(page.get_data(as_text=True))
    # Hostile tokens are a friendly page, never a 500.
    for value in ["<script>", "..%2f..%2f", "A" * 5000, "\u202e", "%00"]:
        resp = client.get("/manage/" + value)
        assert resp.status_code in ((400, 404) if value == "%00" else (404, 410))
        _assert_safe(resp.get_data(as_text=True))


@pytest.mark.parametrize("query", ["<script>alert(1)</script>", "%", "_", "\x00", "' OR 1=1 --", "A" * 5000])
def test_hostile_search_and_filters_for_the_organiser(as_organiser, setup, query):
    setup.assembly.title = "Hostile input assembly"  # no digits: see test_hostile_strings_in_every_public_form_field
    db.session.commit()
    base = f"/organiser/assemblies/{setup.assembly.slug}/registrations"
    for params in ({"q": query}, {"status": query}, {"sector": query}, {"organisation": query}, {"page": query}):
        resp = as_organiser.get(base, query_string=params)
        assert resp.status_code == (400 if "\x00" in query else 200)
        _assert_safe(resp.get_data(as_text=True))
