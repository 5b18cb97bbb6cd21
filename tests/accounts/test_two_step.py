"""Two-step sign-in: staff add an authenticator app to their account, and then a right password alone no longer
signs them in; organisers can require it for a role and reset it for a colleague who lost their phone."""
from __future__ import annotations

import base64
import json
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from eventapp.accounts.models import User
from eventapp.audit.models import AuditEvent
from eventapp.extensions import db
from tests.conftest import PASSWORD, Auth, csrf_from, post_form, rate_limited_client
from tests.factories import make_user
from tests.page_messages import message_boxes, where_shown

SECRET_RE = re.compile(r'class="two-step-secret"[^>]*><bdi>([A-Z2-7 ]+)</bdi>')
REQUIRED = "Your role requires two-step sign-in: set it up to continue."
CODES_RE = re.compile(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>")


def switch_on(client) -> tuple[str, list[str]]:
    """Set up two-step sign-in through the account page; the secret and the recovery codes shown."""
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    done = client.post("/account/two-step", data={"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.get_data(as_text=True)
    return secret, CODES_RE.findall(done.get_data(as_text=True))


def next_code(secret: str) -> str:
    # The next time step's code: accepted (a phone's clock may run ahead), and not the one used to switch on.
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str, i: int = 0) -> str:
    """A code that is not the code of any step near now, whatever the clock does while the test runs."""
    totp, now = pyotp.TOTP(secret), int(time.time())
    near = {totp.at(now + 30 * k) for k in range(-3, 4)}
    return next(code for code in (f"{i * 100 + n:06d}" for n in range(100)) if code not in near)


def send_code(client, code: str, follow_redirects: bool = False):
    return post_form(client, "/login/two-step", {"code": code}, follow_redirects=follow_redirects)


def actions(user_id: int) -> list[str]:
    db.session.expire_all()
    return [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.subject.startswith(
        f"account {user_id}:")).order_by(AuditEvent.id))]


def test_setting_up_needs_a_right_code_and_shows_ten_recovery_codes_once(as_facilitator, facilitator):
    page = as_facilitator.get("/account/two-step")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in text and 'class="two-step-code"' in text
    secret = SECRET_RE.search(text).group(1)
    assert all(len(group) == 4 for group in secret.split())  # groups of four to type by hand
    assert 'autocomplete="one-time-code"' in text and 'inputmode="numeric"' in text

    # The same secret on the next visit (the app already holds it), but only a right code switches it on.
    again = as_facilitator.get("/account/two-step").get_data(as_text=True)
    assert SECRET_RE.search(again).group(1) == secret
    wrong = as_facilitator.post("/account/two-step", data={"csrf_token": csrf_from(again), "code": "000000"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(User, facilitator.id).two_step_on

    done = as_facilitator.post("/account/two-step", data={"csrf_token": csrf_from(again),
                                                          "code": pyotp.TOTP(secret.replace(" ", "")).now()})
    codes = CODES_RE.findall(done.get_data(as_text=True))
    assert len(set(codes)) == 10 and done.headers["Cache-Control"] == "no-store"
    user = db.session.get(User, facilitator.id)
    assert user.two_step_on and all(code not in user.recovery_codes for code in codes)  # stored hashed
    status = as_facilitator.get("/account/two-step").get_data(as_text=True)
    assert "Two-step sign-in is on" in status and "10 unused recovery codes" in status
    assert not CODES_RE.search(status)  # shown once only
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "two_step.enabled")).one()
    assert user.totp_secret not in event.subject + event.detail


def test_the_key_being_set_up_is_not_in_the_session_cookie(app, as_facilitator, facilitator):
    page = as_facilitator.get("/account/two-step").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    # The cookie is signed, not encrypted: whoever holds it can read what it keeps.
    cookie = as_facilitator.get_cookie("session").value
    kept = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert "two_step_setup" in kept
    for value in (json.dumps(kept), cookie):
        assert secret not in value and secret.lower() not in value
    # Nor anything that reads as the key in base32 once decoded.
    assert base64.b32decode(secret) not in base64.urlsafe_b64decode(kept["two_step_setup"] + "=")
    # The same key on the next visit, and a code from it switches two-step sign-in on.
    again = as_facilitator.get("/account/two-step").get_data(as_text=True)
    assert SECRET_RE.search(again).group(1).replace(" ", "") == secret
    done = as_facilitator.post("/account/two-step", data={"csrf_token": csrf_from(again),
                                                          "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(CODES_RE.findall(done.get_data(as_text=True))) == 10
    db.session.expire_all()
    assert db.session.get(User, facilitator.id).totp_secret == secret
    with as_facilitator.session_transaction() as session:
        assert "two_step_setup" not in session


def test_sign_in_asks_for_the_code_refuses_a_wrong_or_reused_one_and_keeps_next(app, as_facilitator, facilitator):
    secret, _ = switch_on(as_facilitator)
    Auth(as_facilitator).logout()

    password = post_form(as_facilitator, "/login?next=/facilitator/?tab=notes",
                         {"email": facilitator.email, "password": PASSWORD}, form_url="/login")
    assert password.status_code == 302 and password.headers["Location"] == "/login/two-step"
    # Half signed in: no staff page opens yet.
    assert as_facilitator.get("/facilitator/").headers["Location"].startswith("/login")
    page = as_facilitator.get("/login/two-step").get_data(as_text=True)
    assert "Enter your sign-in code" in page and 'autocomplete="one-time-code"' in page

    wrong = send_code(as_facilitator, "123456")
    assert wrong.status_code == 400 and "That code is not right, or was already used." in wrong.get_data(as_text=True)
    code = next_code(secret)
    right = send_code(as_facilitator, code)
    assert right.status_code == 302 and right.headers["Location"] == "/facilitator/?tab=notes"
    assert as_facilitator.get("/facilitator/").status_code == 200

    # Someone who saw the code over a shoulder, with the password too, cannot use it again.
    other = app.test_client()
    Auth(other).login(facilitator.email)
    reused = send_code(other, code)
    assert reused.status_code == 400 and "already used" in reused.get_data(as_text=True)
    assert other.get("/facilitator/").headers["Location"].startswith("/login")


def test_a_wrong_password_answers_as_before_for_an_account_with_two_step(app, as_facilitator, facilitator):
    switch_on(as_facilitator)
    other = app.test_client()
    refused = Auth(other).login(facilitator.email, "wrong password 123")
    assert refused.status_code == 400
    assert "The email address or password is not correct." in refused.get_data(as_text=True)
    assert other.get("/login/two-step").headers["Location"] == "/login"


def test_a_recovery_code_signs_in_once(app, as_facilitator, facilitator):
    _, codes = switch_on(as_facilitator)
    phone_lost = app.test_client()
    Auth(phone_lost).login(facilitator.email)
    done = send_code(phone_lost, codes[3].upper().replace("-", " "), follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "Signed in as" in text and "You used a recovery code: 9 left." in text
    assert "two_step.recovery_code_used" in actions(facilitator.id)

    again = app.test_client()
    Auth(again).login(facilitator.email)
    assert send_code(again, codes[3]).status_code == 400
    assert send_code(again, codes[4]).status_code == 302


def test_the_half_signed_in_marker_lapses_after_five_minutes(app, as_facilitator, facilitator):
    secret, _ = switch_on(as_facilitator)
    late = app.test_client()
    Auth(late).login(facilitator.email)
    with late.session_transaction() as session:
        session["two_step"] = {**session["two_step"], "t": session["two_step"]["t"] - 301}
    token = csrf_from(late.get("/login").get_data(as_text=True))
    lapsed = late.post("/login/two-step", data={"csrf_token": token, "code": next_code(secret)})
    assert lapsed.headers["Location"] == "/login"
    assert late.get("/login/two-step").headers["Location"] == "/login"
    assert late.get("/facilitator/").headers["Location"].startswith("/login")
    # And a marker whose account has since been signed out everywhere (a new session version) opens nothing.
    Auth(late).login(facilitator.email)
    user = db.session.get(User, facilitator.id)
    user.session_version += 1
    db.session.commit()
    assert late.get("/login/two-step").headers["Location"] == "/login"


def test_too_many_wrong_codes_rest_the_account_even_for_the_right_code(app, as_facilitator, facilitator):
    secret, _ = switch_on(as_facilitator)
    guesser = app.test_client()
    Auth(guesser).login(facilitator.email)
    for _ in range(10):
        assert send_code(guesser, "000000").status_code == 400
    # Signing in again with the password does not give more guesses.
    Auth(guesser).login(facilitator.email)
    rested = send_code(guesser, next_code(secret))
    assert rested.status_code == 400 and "too many wrong codes for this account" in rested.get_data(as_text=True)


def test_an_attempt_that_read_the_account_before_another_was_saved_decides_on_the_account_as_saved(db, facilitator):
    from sqlalchemy.orm.attributes import set_committed_value

    from eventapp.accounts.two_step import CodeRefused, verify_sign_in

    user = db.session.get(User, facilitator.id)
    user.totp_secret = secret = pyotp.random_base32(32)
    db.session.commit()
    code = next_code(secret)
    assert verify_sign_in(user, code) == "app"
    # A second sign-in with the same code that read the account before the first was saved: it saw no step used.
    set_committed_value(user, "totp_last_step", None)
    with pytest.raises(CodeRefused, match="already used"):
        verify_sign_in(user, code)
    # Wrong codes likewise: one that read the count before the last wrong code was saved still adds to it.
    set_committed_value(user, "two_step_failures", 0)
    with pytest.raises(CodeRefused):
        verify_sign_in(user, wrong_code(secret))
    db.session.expire_all()
    assert db.session.get(User, facilitator.id).two_step_failures == 2


def test_wrong_codes_spend_the_networks_sign_in_budget_with_passwords(app, db, facilitator):
    user = db.session.get(User, facilitator.id)
    user.totp_secret = secret = pyotp.random_base32(32)
    db.session.commit()
    with rate_limited_client(app) as client:
        # The password (1 of the 10 a minute), then wrong codes: the tenth attempt is the budget's last.
        assert Auth(client).login(facilitator.email).headers["Location"] == "/login/two-step"
        codes = [send_code(client, wrong_code(secret, i)).status_code for i in range(10)]
        assert codes[:9] == [400] * 9 and codes[9] == 429
        assert "Your code has not been checked yet" in send_code(client, next_code(secret)).get_data(as_text=True)
        # Nor can the password page be used for more guesses from this network.
        again = Auth(client).login(facilitator.email)
        assert again.status_code == 429 and "You are not signed in yet" in again.get_data(as_text=True)


def test_a_right_code_does_not_spend_the_sign_in_budget(app, db, facilitator):
    user = db.session.get(User, facilitator.id)
    user.totp_secret = secret = pyotp.random_base32(32)
    db.session.commit()
    with rate_limited_client(app) as client:
        for i in range(9):
            assert Auth(client).login(facilitator.email).headers["Location"] == "/login/two-step"
        assert send_code(client, next_code(secret)).status_code == 302
        Auth(client).logout()
        # The tenth sign-in of the minute is still let through; only the eleventh is refused.
        assert Auth(client).login(facilitator.email).headers["Location"] == "/login/two-step"
        assert Auth(client).login(facilitator.email).status_code == 429


def test_new_recovery_codes_replace_the_old_ones(app, as_facilitator, facilitator):
    secret, codes = switch_on(as_facilitator)
    page = as_facilitator.get("/account/two-step").get_data(as_text=True)
    renewed = as_facilitator.post("/account/two-step/recovery-codes",
                                  data={"csrf_token": csrf_from(page), "codes-code": next_code(secret)})
    new_codes = CODES_RE.findall(renewed.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert "two_step.recovery_codes" in actions(facilitator.id)
    other = app.test_client()
    Auth(other).login(facilitator.email)
    assert send_code(other, codes[0]).status_code == 400  # the old ones no longer work
    assert send_code(other, new_codes[0]).status_code == 302


def test_switching_off_needs_the_password_and_a_current_code(app, as_facilitator, facilitator):
    secret, _ = switch_on(as_facilitator)
    page = as_facilitator.get("/account/two-step").get_data(as_text=True)
    no_password = as_facilitator.post("/account/two-step/off", data={
        "csrf_token": csrf_from(page), "off-password": "not my password", "off-code": next_code(secret)})
    assert no_password.status_code == 400 and "Your password is not correct." in no_password.get_data(as_text=True)
    no_code = as_facilitator.post("/account/two-step/off", data={
        "csrf_token": csrf_from(page), "off-password": PASSWORD, "off-code": "111111"})
    assert no_code.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, facilitator.id).two_step_on
    off = as_facilitator.post("/account/two-step/off", data={
        "csrf_token": csrf_from(page), "off-password": PASSWORD, "off-code": next_code(secret)},
        follow_redirects=True)
    assert "Two-step sign-in is off" in off.get_data(as_text=True)
    assert "two_step.disabled" in actions(facilitator.id)
    assert Auth(app.test_client()).login(facilitator.email).headers["Location"] == "/facilitator/"


def test_a_role_that_requires_two_step_opens_nothing_until_it_is_set_up(app, monkeypatch, client, organiser):
    monkeypatch.setitem(app.config, "TWO_STEP_REQUIRED_FOR", "organiser")
    signed_in = Auth(client).login(organiser.email, follow_redirects=True).get_data(as_text=True)
    assert signed_in.count(REQUIRED) == 1 and not where_shown(signed_in, "two-step")
    for url in ("/organiser/", "/organiser/users", "/account/password"):
        assert client.get(url).headers["Location"] == "/account/two-step"
    # Each page tried led back to the set-up page: it says why once, with no message per page tried piled above it.
    page = client.get("/organiser/users", follow_redirects=True).get_data(as_text=True)
    assert page.count(REQUIRED) == 1 and "required for your role" not in page
    assert not any("two-step" in text.lower() for box in message_boxes(page) for text in box.texts)
    secret, _ = switch_on(client)
    assert client.get("/organiser/users").status_code == 200
    # Required, so it cannot be switched off by its owner.
    page = client.get("/account/two-step").get_data(as_text=True)
    assert "required for your role, so it cannot be switched off" in page and "off-password" not in page
    refused = client.post("/account/two-step/off", data={"csrf_token": csrf_from(page), "off-password": PASSWORD,
                                                          "off-code": next_code(secret)}, follow_redirects=True)
    assert "cannot be switched off" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, organiser.id).two_step_on
    # Signing out still works for someone not set up yet.
    facilitator = make_user("organiser", email="new@example.org")
    other = app.test_client()
    Auth(other).login(facilitator.email)
    assert post_form(other, "/logout", {}, form_url="/account/two-step").status_code == 302


def test_an_organiser_resets_a_colleagues_two_step_and_ends_their_sessions(app, as_organiser, organiser):
    colleague = make_user("facilitator", email="lost-phone@example.org", name='<b>Lost</b> "Phone"')
    tablet = app.test_client()
    Auth(tablet).login(colleague.email)
    secret, _ = switch_on(tablet)
    assert tablet.get("/facilitator/").status_code == 200

    listed = as_organiser.get("/organiser/users").get_data(as_text=True)
    assert f"/organiser/users/{colleague.id}/reset-two-step" in listed and "<b>Lost</b>" not in listed
    assert f"/organiser/users/{organiser.id}/reset-two-step" not in listed
    confirm = as_organiser.get(f"/organiser/users/{colleague.id}/reset-two-step")
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "&lt;b&gt;Lost&lt;/b&gt; &#34;Phone&#34;" in text
    assert "<b>Lost</b>" not in text
    done = as_organiser.post(f"/organiser/users/{colleague.id}/reset-two-step", data={"csrf_token": csrf_from(text)},
                             follow_redirects=True)
    assert "two-step sign-in is off and they have been signed out everywhere" in done.get_data(as_text=True)
    assert "two_step.reset" in actions(colleague.id)

    assert tablet.get("/facilitator/").headers["Location"].startswith("/login")
    # The password alone signs them in again, and they can set up their new phone.
    assert Auth(tablet).login(colleague.email).headers["Location"] == "/facilitator/"
    assert SECRET_RE.search(tablet.get("/account/two-step").get_data(as_text=True))


def test_an_organiser_cannot_reset_their_own_two_step(as_organiser, organiser):
    switch_on(as_organiser)
    refused = post_form(as_organiser, f"/organiser/users/{organiser.id}/reset-two-step", {},
                        form_url="/organiser/users", follow_redirects=True)
    assert "You cannot reset your own two-step sign-in: ask another organiser." in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, organiser.id).two_step_on


def test_an_unknown_role_in_the_setting_stops_the_app_starting(app, monkeypatch):
    from eventapp.app import SettingsError
    from tests.conftest import make_test_app

    monkeypatch.setenv("FLASK_TWO_STEP_REQUIRED_FOR", "organiser,admins")
    with pytest.raises(SettingsError, match="FLASK_TWO_STEP_REQUIRED_FOR names no role: admins"):
        make_test_app(app.config["SQLALCHEMY_DATABASE_URI"])


def test_the_password_page_says_whether_two_step_sign_in_is_on_and_links_to_it(as_facilitator):
    before = as_facilitator.get("/account/password").get_data(as_text=True)
    assert "Off: your password alone signs you in." in before and ">Set up two-step sign-in</a>" in before
    switch_on(as_facilitator)
    after = as_facilitator.get("/account/password").get_data(as_text=True)
    assert "On: after your password you are asked for a code" in after and ">Manage two-step sign-in</a>" in after


def test_a_secret_being_set_up_is_not_handed_to_the_next_person_on_the_browser(client, auth, facilitator):
    from eventapp.accounts import services

    other = make_user("facilitator", email="next@example.org")

    def secret_offered() -> str:
        return SECRET_RE.search(client.get("/account/two-step").get_data(as_text=True)).group(1)

    auth.login(facilitator.email)
    first = secret_offered()
    auth.logout()
    auth.login(other.email)
    # Else the first person's authenticator app would make the codes of the account set up next.
    second = secret_offered()
    assert second != first
    # Nor when the session was ended from another device, leaving its cookie on this one.
    services.sign_out(db.session.get(User, other.id))
    auth.login(facilitator.email)
    assert secret_offered() not in (first, second)


def _switch_on_twice(client):
    """Switch on, clicked twice: the setup page's form sent a second time, as a double click sends it."""
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1).replace(" ", "")
    data = {"csrf_token": csrf_from(page), "code": pyotp.TOTP(secret).now()}
    first = client.post("/account/two-step", data=data)
    return secret, CODES_RE.findall(first.get_data(as_text=True)), client.post("/account/two-step", data=data)


def test_switch_on_clicked_twice_shows_the_codes_the_first_click_made(app, as_facilitator, facilitator):
    secret, codes, second = _switch_on_twice(as_facilitator)
    assert len(codes) == 10
    text = second.get_data(as_text=True)
    assert second.status_code == 200 and CODES_RE.findall(text) == codes
    assert "your first click switched it on. These are the recovery codes it gave you." in text
    assert second.headers["Cache-Control"] == "no-store"
    assert actions(facilitator.id).count("two_step.enabled") == 1
    # They are the account's codes: one signs in.
    other = app.test_client()
    Auth(other).login(facilitator.email)
    assert send_code(other, codes[3]).status_code == 302


def test_switch_on_sent_again_later_or_from_elsewhere_says_how_to_get_new_codes(app, as_facilitator, facilitator):
    secret, codes, _ = _switch_on_twice(as_facilitator)
    with as_facilitator.session_transaction() as sess:
        seed, at = sess["two_step_codes_shown"]
        sess["two_step_codes_shown"] = [seed, at - 301]  # more than five minutes later
    page = as_facilitator.get("/account/two-step").get_data(as_text=True)
    late = as_facilitator.post("/account/two-step", data={"csrf_token": csrf_from(page), "code": "123456"},
                               follow_redirects=True)
    text = late.get_data(as_text=True)
    assert not CODES_RE.findall(text)
    assert ("Two-step sign-in is on already. Its recovery codes were shown once, when it was switched on: if you did "
            "not keep them, get new ones below with a code from your app (the old ones then stop working).") in text
    assert "Get new recovery codes" in text
    # Another browser signed in to the same account is never shown them.
    other = app.test_client()
    Auth(other).login(facilitator.email)
    assert send_code(other, next_code(secret)).status_code == 302
    elsewhere = other.post("/account/two-step", data={
        "csrf_token": csrf_from(other.get("/account/two-step").get_data(as_text=True)), "code": "123456"},
        follow_redirects=True).get_data(as_text=True)
    assert "Its recovery codes were shown once" in elsewhere and not CODES_RE.findall(elsewhere)


def test_switch_on_clicked_twice_after_the_codes_changed_shows_no_stale_codes(as_facilitator, facilitator):
    secret, codes, _ = _switch_on_twice(as_facilitator)
    page = as_facilitator.get("/account/two-step").get_data(as_text=True)
    renewed = as_facilitator.post("/account/two-step/recovery-codes",
                                  data={"csrf_token": csrf_from(page), "codes-code": next_code(secret)})
    assert len(CODES_RE.findall(renewed.get_data(as_text=True))) == 10
    again = as_facilitator.post("/account/two-step", data={"csrf_token": csrf_from(page), "code": "123456"},
                                follow_redirects=True)
    assert not CODES_RE.findall(again.get_data(as_text=True))
    assert "Its recovery codes were shown once" in again.get_data(as_text=True)


def test_codes_sent_past_the_code_pages_own_limit_are_refused_with_the_page_not_an_error(app, db, facilitator):
    user = db.session.get(User, facilitator.id)
    user.totp_secret = pyotp.random_base32(32)
    db.session.commit()
    with rate_limited_client(app) as client:
        assert Auth(client).login(facilitator.email).headers["Location"] == "/login/two-step"
        # Empty codes: each counts against the page's own limit, none against the sign-in budget.
        assert [send_code(client, "").status_code for _ in range(10)] == [400] * 10
        refused = send_code(client, "")
        assert refused.status_code == 429
        assert "Your code has not been checked yet" in refused.get_data(as_text=True)
