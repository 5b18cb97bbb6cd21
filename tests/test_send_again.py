"""A form refused because its page was open too long (an expired CSRF token) can be sent again, nothing lost."""
from __future__ import annotations

import html
import re

from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.organisations.models import Organisation
from eventapp.registration.models import Registration
from tests.conftest import csrf_from
from tests.factories import PASSWORD
from tests.registration.conftest import form_fields, setup  # noqa: F401 (a fixture)

HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
HOSTILE = "<script>alert(1)</script> O'Brien & \"Sons\" \u202eRTL \U0001F600 ; DROP TABLE registration;--"


def _old_form(client, url: str, monkeypatch) -> str:
    """The form's token as a page opened nine hours ago would have it."""
    real = TimestampSigner.get_timestamp
    # Only the form's token is old; the session cookie is signed now.
    monkeypatch.setattr(TimestampSigner, "get_timestamp",
                        lambda self: real(self) - 9 * 3600 if self.salt == b"wtf-csrf-token" else real(self))
    token = csrf_from(client.get(url).get_data(as_text=True))
    monkeypatch.undo()
    return token


def _hidden(page: str) -> list[tuple[str, str]]:
    return [(name, html.unescape(value)) for name, value in HIDDEN_RE.findall(page)]


def test_an_expired_public_form_is_offered_back_with_everything_typed(client, setup, monkeypatch):
    url = f"/a/{setup.assembly.slug}/register"
    token = _old_form(client, url, monkeypatch)
    typed = form_fields(setup, full_name=HOSTILE, access_needs="Step-free\r\nhearing loop " + "x" * 1_900)
    resp = client.post(url, data={"csrf_token": token, **typed}, headers={"Origin": "http://localhost"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Send the form again" in page and "Nothing has been saved yet" in page
    assert "<script>alert(1)" not in page  # escaped in the hidden field
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert db.session.query(Registration).count() == 0
    fields = _hidden(page)
    assert fields[0][0] == "csrf_token" and fields[0][1] != token
    assert dict(fields[1:]) == typed
    resp = client.post(url, data=dict(fields))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/register/check-your-email")
    reg = db.session.scalar(select(Registration))
    assert reg.full_name == HOSTILE and reg.access_needs.replace("\r\n", "\n") == typed["access_needs"].replace("\r\n", "\n")


def test_a_form_from_another_site_is_refused_without_an_offer(client, setup, monkeypatch):
    url = f"/a/{setup.assembly.slug}/register"
    token = _old_form(client, url, monkeypatch)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
                    {"Origin": "null"}, {}):
        resp = client.post(url, data={"csrf_token": token, **form_fields(setup)}, headers=headers)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, headers
        assert "Send it again" not in page and "delegate1@example.org" not in page, headers
        assert "The form had expired or came from another site" in page
    assert db.session.query(Registration).count() == 0


def test_a_sign_in_form_is_never_offered_back_with_its_password(client, organiser, monkeypatch):
    token = _old_form(client, "/login", monkeypatch)
    resp = client.post("/login", data={"csrf_token": token, "email": organiser.email, "password": PASSWORD},
                       headers={"Sec-Fetch-Site": "same-origin"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and PASSWORD not in page and "Send it again" not in page


def test_a_lapsed_staff_session_is_told_to_sign_in_in_another_tab_first(client, auth, organiser, monkeypatch):
    auth.login(organiser.email)
    token = _old_form(client, "/organiser/organisations/new", monkeypatch)
    client.delete_cookie("session")  # the browser dropped the lapsed session cookie
    typed = {"name": "Shireford Youth Trust", "sector": "voluntary_community", "status": "approved"}
    resp = client.post("/organiser/organisations/new", data={"csrf_token": token, **typed},
                       headers={"Sec-Fetch-Site": "same-origin", "Referer": "http://localhost/organiser/organisations/new"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "You have also been signed out" in page
    assert 'href="/login" target="_blank"' in page and 'href="/organiser/organisations/new"' in page
    fields = dict(_hidden(page))
    # Signing in in the other tab keeps this session's token valid: the form then goes through.
    auth.login(organiser.email)
    resp = client.post("/organiser/organisations/new", data=fields)
    assert resp.status_code == 302
    assert db.session.scalar(select(Organisation).where(Organisation.name == "Shireford Youth Trust")) is not None


def test_the_start_again_link_never_leads_to_another_site(client, setup, monkeypatch):
    # A Referer on this host whose path starts with "//" (a 404 page opened from a crafted link) names
    # another site to a browser: "start again" must not send the person there.
    url = f"/a/{setup.assembly.slug}/register"
    token = _old_form(client, url, monkeypatch)
    for referrer in ("http://localhost//evil.example/register", "http://localhost/\\evil.example/x"):
        resp = client.post(url, data={"csrf_token": token, **form_fields(setup)},
                           headers={"Origin": "http://localhost", "Referer": referrer})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and "Send the form again" in page
        assert "evil.example" not in page, referrer
