"""Organisers deactivate the account of someone who has left (or a reception volunteer after the day), and
reactivate it: a deactivated account cannot sign in, and the sessions it had end at once."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.accounts.models import User
from eventapp.extensions import db
from tests.conftest import Auth, csrf_from, post_form
from tests.factories import make_user


def test_a_deactivated_facilitator_is_signed_out_at_once_and_cannot_sign_in_until_reactivated(app, as_organiser,
                                                                                                facilitator):
    tablet = app.test_client()
    Auth(tablet).login(facilitator.email)
    assert tablet.get("/facilitator/").status_code == 200

    page = as_organiser.get("/organiser/users").get_data(as_text=True)
    assert f"/organiser/users/{facilitator.id}/deactivate" in page
    confirm = as_organiser.get(f"/organiser/users/{facilitator.id}/deactivate")
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Deactivate <bdi>Siobhán O&#39;Brien</bdi>" in text
    assert "What they recorded (notes, actions, attendance, check-ins) stays" in text
    done = as_organiser.post(f"/organiser/users/{facilitator.id}/deactivate", data={"csrf_token": csrf_from(text)},
                             follow_redirects=True)
    assert "can no longer sign in, and has been signed out everywhere." in done.get_data(as_text=True)
    assert "Deactivated" in done.get_data(as_text=True)

    # The tablet's session ends on its next request; signing in again says only what a wrong password says.
    assert tablet.get("/facilitator/").headers["Location"].startswith("/login")
    refused = Auth(tablet).login(facilitator.email)
    assert refused.status_code == 400
    assert "The email address or password is not correct." in refused.get_data(as_text=True)

    listed = as_organiser.get("/organiser/users?state=inactive").get_data(as_text=True)
    assert "facilitator@example.org" in listed and "organiser@example.org" not in listed
    back = post_form(as_organiser, f"/organiser/users/{facilitator.id}/reactivate", {}, form_url="/organiser/users",
                     follow_redirects=True)
    assert "can sign in again." in back.get_data(as_text=True)
    assert Auth(tablet).login(facilitator.email).status_code == 302


def test_an_organiser_cannot_deactivate_themselves_nor_the_last_organiser(as_organiser, organiser):
    page = as_organiser.get("/organiser/users").get_data(as_text=True)
    assert f"/organiser/users/{organiser.id}/deactivate" not in page  # no link to offer it
    sent = post_form(as_organiser, f"/organiser/users/{organiser.id}/deactivate", {}, form_url="/organiser/users",
                     follow_redirects=True)
    assert "You cannot deactivate your own account: ask another organiser." in sent.get_data(as_text=True)
    assert db.session.get(User, organiser.id).active

    # A second organiser, signed out, deactivated by the first: fine. The first is then the last one left.
    other = make_user("organiser", email="second@example.org", name="Second Organiser")
    post_form(as_organiser, f"/organiser/users/{other.id}/deactivate", {}, form_url="/organiser/users")
    db.session.expire_all()
    assert not db.session.get(User, other.id).active

    from eventapp.accounts import services
    from eventapp.domain import DomainError

    try:
        services.deactivate_user(organiser.id, by_user_id=other.id)
    except DomainError as err:
        assert "only organiser account that can sign in" in err.message
    else:
        raise AssertionError("the last organiser was deactivated")
    assert db.session.get(User, organiser.id).active


def test_deactivating_is_for_organisers_only_and_unknown_accounts_are_404(client, auth, facilitator, organiser):
    auth.login(facilitator.email)
    assert client.get(f"/organiser/users/{organiser.id}/deactivate").status_code == 403
    auth.logout()
    auth.login(organiser.email)
    assert client.get("/organiser/users/999999/deactivate").status_code == 404
    assert post_form(client, "/organiser/users/999999/reactivate", {}, form_url="/organiser/users").status_code == 404


def test_an_organiser_adds_a_reception_account_and_finds_it_by_role(as_organiser):
    form = as_organiser.get("/organiser/users/new").get_data(as_text=True)
    assert '<option value="reception">Reception (check-in only)</option>' in form
    sent = post_form(as_organiser, "/organiser/users/new", {"name": "Desk Volunteer", "email": "desk@example.org",
                                                           "role": "reception", "password": "a long initial one"})
    assert sent.status_code == 302
    assert db.session.scalar(select(User.role).where(User.email == "desk@example.org")) == "reception"
    listed = as_organiser.get("/organiser/users?role=reception").get_data(as_text=True)
    assert "Desk Volunteer" in listed and "Reception (check-in only)" in listed
    assert "organiser@example.org" not in listed
