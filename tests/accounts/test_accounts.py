"""Sign in, sign out, change password, account lists, and who may see what."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from eventapp.accounts.models import User
from eventapp.extensions import limiter
from tests.conftest import Auth, csrf_from, make_test_app, post_form
from tests.factories import PASSWORD, make_assembly, make_user

SAME_MESSAGE = "The email address or password is not correct."


def _summary(html: str) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    return match.group(0) if match else ""


# --- sign in and out ----------------------------------------------------------------


def test_login_lands_organiser_on_console_and_logout_ends_session(client, auth, organiser):
    resp = auth.login(organiser.email)
    assert resp.status_code == 302 and resp.headers["Location"] == "/organiser/"
    assert client.get("/organiser/").status_code == 200
    resp = auth.logout()
    assert resp.status_code == 302
    resp = client.get("/organiser/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_a_session_cookie_copied_before_signing_out_opens_nothing_afterwards(app, client, auth, organiser):
    auth.login(organiser.email)
    copied = client.get_cookie("session").value
    resp = auth.logout()
    assert "You have signed out, on this device and any other." in client.get(
        resp.headers["Location"]).get_data(as_text=True)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    resp = thief.get("/organiser/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_a_session_in_use_all_day_stays_signed_in_and_one_left_for_eight_hours_does_not(client, auth, organiser,
                                                                                          monkeypatch):
    import time

    started = time.time()
    clock = {"now": started}
    monkeypatch.setattr(time, "time", lambda: clock["now"])
    auth.login(organiser.email)
    assert client.get("/organiser/").status_code == 200
    # Used every hour or so from 8:00 to 17:30: still signed in at 17:30.
    for hour in range(1, 10):
        clock["now"] = started + hour * 3600 + 120
        assert client.get("/organiser/").status_code == 200, f"signed out after {hour} hours of use"
    # Then left alone for more than eight hours: signed out.
    clock["now"] += 8 * 3600 + 60
    response = client.get("/organiser/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_login_is_case_insensitive_on_email(client, auth, organiser):
    assert auth.login("  ORGANISER@Example.org ").status_code == 302


def test_facilitator_lands_on_their_workshops(client, auth, facilitator):
    resp = auth.login(facilitator.email, follow_redirects=True)
    assert resp.status_code == 200
    assert "<h1>My workshops</h1>" in resp.get_data(as_text=True)


def test_wrong_password_and_unknown_email_look_the_same(client, auth, organiser):
    wrong_password = auth.login(organiser.email, "not the password at all")
    unknown_email = auth.login("nobody@example.org", "not the password at all")
    assert wrong_password.status_code == unknown_email.status_code == 400
    a, b = _summary(wrong_password.get_data(as_text=True)), _summary(unknown_email.get_data(as_text=True))
    assert SAME_MESSAGE in a
    assert a == b
    # Still signed out.
    assert client.get("/organiser/").status_code == 302


def test_inactive_account_cannot_sign_in(client, auth, db):
    user = make_user("organiser", email="left@example.org")
    user.active = False
    db.session.commit()
    resp = auth.login("left@example.org")
    assert resp.status_code == 400
    assert SAME_MESSAGE in resp.get_data(as_text=True)


def test_empty_login_form_shows_field_errors(client):
    resp = post_form(client, "/login", {"email": "", "password": ""})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "Enter your email address." in body and "Enter your password." in body
    assert 'aria-invalid="true"' in body


def test_passwords_are_stored_hashed(db, organiser):
    stored = db.session.scalar(select(User.password_hash).where(User.id == organiser.id))
    assert PASSWORD not in stored
    assert stored.startswith("scrypt:")
    other = make_user("facilitator", email="same-password@example.org")
    assert other.password_hash != stored  # salted


@pytest.mark.parametrize("target, expected", [
    ("/organiser/topics", "/organiser/topics"),
    ("https://evil.example/steal", "/organiser/"),
    ("//evil.example/steal", "/organiser/"),
    ("/\\evil.example/steal", "/organiser/"),
    ("/\t/evil.example", "/organiser/"),
    ("javascript:alert(1)", "/organiser/"),
    ("evil.example", "/organiser/"),
])
def test_next_redirect_stays_on_site(client, organiser, target, expected):
    page = client.get("/login")
    resp = client.post("/login", query_string={"next": target},
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), "email": organiser.email,
                             "password": PASSWORD})
    assert resp.status_code == 302
    assert resp.headers["Location"] == expected


def test_login_redirects_back_to_the_page_asked_for(client, organiser):
    resp = client.get("/organiser/topics")
    assert resp.status_code == 302
    login_url = resp.headers["Location"]
    assert login_url.startswith("/login?next=")
    page = client.get(login_url)
    assert "Please sign in to see that page." in page.get_data(as_text=True)
    resp = client.post(login_url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                        "email": organiser.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/organiser/topics"


def test_signed_in_user_visiting_login_goes_home(as_organiser):
    resp = as_organiser.get("/login")
    assert resp.status_code == 302 and resp.headers["Location"] == "/organiser/"


# --- change password ----------------------------------------------------------------


def test_change_password_ends_other_sessions(app, client, auth, organiser):
    other = app.test_client()
    Auth(other).login(organiser.email)
    auth.login(organiser.email)
    assert other.get("/organiser/").status_code == 200

    resp = post_form(client, "/account/password", {"current_password": PASSWORD, "password": "a brand new passphrase",
                                                   "confirm": "a brand new passphrase"})
    assert resp.status_code == 302
    assert client.get("/organiser/").status_code == 200  # this session stays signed in
    assert other.get("/organiser/").status_code == 302  # the other one is signed out
    auth.logout()
    assert auth.login(organiser.email, PASSWORD).status_code == 400
    assert auth.login(organiser.email, "a brand new passphrase").status_code == 302


@pytest.mark.parametrize("data, message", [
    ({"current_password": "wrong password!", "password": "a brand new passphrase",
      "confirm": "a brand new passphrase"}, "Your current password is not correct."),
    ({"current_password": PASSWORD, "password": "short", "confirm": "short"}, "Use 10 to 200 characters."),
    ({"current_password": PASSWORD, "password": "a brand new passphrase", "confirm": "something else"},
     "The two passwords do not match."),
])
def test_change_password_refusals(as_organiser, organiser, data, message):
    resp = post_form(as_organiser, "/account/password", data)
    assert resp.status_code == 400
    assert message in resp.get_data(as_text=True)
    assert organiser.check_password(PASSWORD)


def test_change_password_needs_sign_in(client):
    resp = client.get("/account/password")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


# --- who may see what -------------------------------------------------------------------

ORGANISER_PAGES = [
    "/organiser/", "/organiser/assemblies/new", "/organiser/topics", "/organiser/topics/new",
    "/organiser/organisations/", "/organiser/organisations/new", "/organiser/users", "/organiser/users/new",
]


@pytest.mark.parametrize("path", ORGANISER_PAGES)
def test_organiser_pages_send_anonymous_visitors_to_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ORGANISER_PAGES)
def test_organiser_pages_refuse_facilitators(as_facilitator, path):
    resp = as_facilitator.get(path)
    assert resp.status_code == 403
    assert "You do not have access to this page" in resp.get_data(as_text=True)


def test_assembly_pages_refuse_facilitators(as_facilitator, db):
    assembly = make_assembly()
    for path in (f"/organiser/assemblies/{assembly.slug}", f"/organiser/assemblies/{assembly.slug}/edit",
                 f"/organiser/assemblies/{assembly.slug}/rounds/new"):
        assert as_facilitator.get(path).status_code == 403, path
    resp = post_form(as_facilitator, f"/organiser/assemblies/{assembly.slug}/edit",
                     {"title": "Hijacked", "slug": assembly.slug}, form_url="/facilitator/")
    assert resp.status_code == 403
    db.session.refresh(assembly)
    assert assembly.title != "Hijacked"


# --- organiser's user list ------------------------------------------------------------


def test_organiser_adds_a_facilitator(as_organiser, db):
    resp = post_form(as_organiser, "/organiser/users/new", {"name": "Kwame Mensah", "email": "Kwame@Example.org",
                                                           "role": "facilitator", "password": "a long initial one"})
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "kwame@example.org"))
    assert user.role == "facilitator" and user.check_password("a long initial one")
    body = as_organiser.get("/organiser/users?role=facilitator").get_data(as_text=True)
    assert "Kwame Mensah" in body


def test_user_form_refuses_duplicates_and_keeps_input(as_organiser, organiser):
    resp = post_form(as_organiser, "/organiser/users/new", {"name": "Twin", "email": organiser.email.upper(),
                                                           "role": "organiser", "password": "a long initial one"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "An account with that email already exists." in body
    assert 'value="Twin"' in body


def test_user_form_refuses_bad_email_and_role(as_organiser):
    resp = post_form(as_organiser, "/organiser/users/new", {"name": "X", "email": "not-an-email",
                                                           "role": "admin", "password": "a long initial one"})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "Enter an email address like name@example.org." in body
    assert "Choose a role from the list." in body


def test_user_list_filters_and_paginates(as_organiser, db):
    hashed = make_user("facilitator", email="fac00@example.org", name="Facilitator 00").password_hash
    # One slow hash shared by all: 30 scrypt runs would dominate the test's time.
    db.session.add_all(User(email=f"fac{i:02d}@example.org", name=f"Facilitator {i:02d}", role="facilitator",
                            password_hash=hashed) for i in range(1, 30))
    db.session.commit()
    first = as_organiser.get("/organiser/users?role=facilitator").get_data(as_text=True)
    assert "Page 1 of 2 (30 in all)" in first
    second = as_organiser.get("/organiser/users?role=facilitator&page=2").get_data(as_text=True)
    assert "Facilitator 29" in second and "Facilitator 00" not in second
    found = as_organiser.get("/organiser/users?q=fac07").get_data(as_text=True)
    assert "Facilitator 07" in found and "Facilitator 08" not in found


# --- rate limiting ----------------------------------------------------------------------


@pytest.fixture
def limited_app(app):
    limited = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True)
    yield limited
    limiter.reset()
    limiter.enabled = False
    from eventapp.extensions import db as _db

    with limited.app_context():
        _db.engine.dispose()


def test_login_is_rate_limited(limited_app):
    client = limited_app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    statuses = [
        client.post("/login", data={"csrf_token": token, "email": "guess@example.org", "password": f"guess {i}"}).status_code
        for i in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    resp = client.post("/login", data={"csrf_token": token, "email": "guess@example.org", "password": "again"})
    assert resp.status_code == 429
    page = resp.get_data(as_text=True)
    # The sign-in form again, saying why and when to try again: the address kept, never the password.
    assert ("You are not signed in yet: there have been many attempts to sign in from your network in a short time. "
            "Your email address is kept here; type your password again. Please wait a minute, then sign in "
            "again.") in _summary(page)
    assert 'value="guess@example.org"' in page and "again" not in page.split('name="password"')[1].split(">")[0]
    # Reading the page is not limited.
    assert client.get("/login").status_code == 200


def test_production_hash_is_full_strength_scrypt(tmp_path):
    from eventapp import create_app

    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 32})
    with app.app_context():
        user = User(email="x@example.org", role="organiser")
        user.set_password("a long enough password")
    assert user.password_hash.startswith("scrypt:32768:8:1$")
    assert user.check_password("a long enough password")
    assert not user.check_password("a long enough passwore")


# --- guessing the current password from a signed-in session ------------------------------

_WRONG = {"current_password": "a wrong guess!", "password": "a brand new passphrase",
          "confirm": "a brand new passphrase"}


def test_wrong_current_passwords_spend_the_networks_sign_in_budget(app, db, organiser):
    from tests.conftest import rate_limited_client

    with rate_limited_client(app) as client:
        assert Auth(client).login(organiser.email).status_code == 302  # 1 of the 10 a minute
        # A mistake in the new password checks nothing, so spends nothing.
        for _ in range(3):
            assert post_form(client, "/account/password", {**_WRONG, "current_password": PASSWORD,
                                                           "confirm": "not the same"}).status_code == 400
        assert [post_form(client, "/account/password", _WRONG).status_code for _ in range(9)] == [400] * 9
        refused = post_form(client, "/account/password", {**_WRONG, "current_password": PASSWORD})
        assert refused.status_code == 429
        assert ("Your password has not been changed: there have been many wrong passwords from your network, or "
                "for your account, in a short time. Nothing you typed is kept here. Please wait a minute, then type "
                "them again.") in _summary(refused.get_data(as_text=True))
        # Nor can the sign-in page be used for more guesses from this network.
        assert Auth(client.application.test_client()).login(organiser.email).status_code == 429
    assert db.session.get(User, organiser.id).check_password(PASSWORD)


def test_wrong_current_passwords_are_limited_per_account_across_networks(app, db, organiser):
    from tests.conftest import rate_limited_client

    with rate_limited_client(app) as first:
        second = first.application.test_client()
        second.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert Auth(first).login(organiser.email).status_code == 302
        assert Auth(second).login(organiser.email).status_code == 302
        assert [post_form(first, "/account/password", _WRONG).status_code for _ in range(9)] == [400] * 9
        # The second network has spent one attempt of its own, but the account has had ten wrong passwords.
        assert post_form(second, "/account/password", _WRONG).status_code == 400
        assert post_form(second, "/account/password", {**_WRONG, "current_password": PASSWORD}).status_code == 429
    assert db.session.get(User, organiser.id).check_password(PASSWORD)


def test_a_right_current_password_spends_nothing(app, db, organiser):
    from tests.conftest import rate_limited_client

    with rate_limited_client(app) as client:
        assert Auth(client).login(organiser.email).status_code == 302
        assert [post_form(client, "/account/password", _WRONG).status_code for _ in range(8)] == [400] * 8
        changed = post_form(client, "/account/password", {**_WRONG, "current_password": PASSWORD})
        assert changed.status_code == 302
        assert post_form(client, "/account/password", _WRONG).status_code == 400  # the tenth of the minute


def test_add_a_user_clicked_twice_says_it_was_added_and_shows_it(as_organiser, db, organiser):
    page = as_organiser.get("/organiser/users/new?role=facilitator").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "name": "Kwame Mensah", "email": "kwame@example.org",
            "role": "facilitator", "password": "a long initial one"}
    first = as_organiser.post("/organiser/users/new?role=facilitator", data=data)
    second = as_organiser.post("/organiser/users/new?role=facilitator", data={**data, "email": "Kwame@Example.org"})
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    user = db.session.scalar(select(User).where(User.email == "kwame@example.org"))
    assert second.headers["Location"].endswith(f"#user-{user.id}")
    listing = as_organiser.get(second.headers["Location"]).get_data(as_text=True)
    assert "Account created for Kwame Mensah (by your first click; the second added nothing)." in listing
    assert "already exists" not in listing
    assert db.session.scalar(select(func.count()).select_from(User)) == 2


def test_adding_an_address_another_browser_or_long_ago_added_is_still_refused(app, as_organiser, db, organiser):
    data = {"name": "Kwame Mensah", "email": "kwame@example.org", "role": "facilitator",
            "password": "a long initial one"}
    assert post_form(as_organiser, "/organiser/users/new", data).status_code == 302
    other = app.test_client()
    Auth(other).login(organiser.email)
    assert "An account with that email already exists." in post_form(other, "/organiser/users/new", data).get_data(
        as_text=True)
    with as_organiser.session_transaction() as sess:
        user_id, at = sess["added_user"]
        sess["added_user"] = [user_id, at - 61]
    late = post_form(as_organiser, "/organiser/users/new", data)
    assert late.status_code == 400 and "An account with that email already exists." in late.get_data(as_text=True)


def test_the_sign_in_page_says_who_it_is_for_reception_included(client):
    page = client.get("/login").get_data(as_text=True)
    assert "For assembly staff: organisers, workshop facilitators and reception (check-in)." in page
