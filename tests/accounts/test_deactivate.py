"""Organisers deactivate the account of someone who has left (or a reception volunteer after the day), and
reactivate it: a deactivated account cannot sign in, and the sessions it had end at once."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
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


def _facilitators(n: int) -> list[User]:
    return [make_user("facilitator", email=f"fac{i:02d}@example.org", name=f"Facilitator {i:02d}") for i in range(n)]


def test_deactivating_and_reactivating_on_page_2_of_a_filtered_list_come_back_to_the_row(as_organiser):
    people = _facilitators(30)
    who = people[27]
    listing = as_organiser.get("/organiser/users?role=facilitator&page=2").get_data(as_text=True)
    deactivate = f"/organiser/users/{who.id}/deactivate?role=facilitator&amp;page=2"
    assert f'<tr id="user-{who.id}">' in listing and f'href="{deactivate}"' in listing
    confirm = as_organiser.get(deactivate.replace("&amp;", "&")).get_data(as_text=True)
    assert 'href="/organiser/users?role=facilitator&amp;page=2">No, go back</a>' in confirm
    done = as_organiser.post(deactivate.replace("&amp;", "&"), data={"csrf_token": csrf_from(confirm)})
    assert done.headers["Location"] == f"/organiser/users?role=facilitator&page=2#user-{who.id}"
    page = as_organiser.get(done.headers["Location"]).get_data(as_text=True)
    assert "Page 2 of 2 (30 in all)" in page
    assert "Facilitator 27 can no longer sign in, and has been signed out everywhere." in page
    row = page.split(f'<tr id="user-{who.id}">')[1].split("</tr>")[0]
    assert "<strong>Deactivated</strong>" in row
    reactivate = f"/organiser/users/{who.id}/reactivate?role=facilitator&amp;page=2"
    assert f'action="{reactivate}"' in row
    back = post_form(as_organiser, reactivate.replace("&amp;", "&"), {}, form_url="/organiser/users")
    assert back.headers["Location"] == f"/organiser/users?role=facilitator&page=2#user-{who.id}"
    page = as_organiser.get(back.headers["Location"]).get_data(as_text=True)
    assert "Facilitator 27 can sign in again." in page and "Page 2 of 2" in page


def test_an_account_the_filters_now_leave_out_is_explained_on_the_same_page(as_organiser):
    people = _facilitators(28)
    url = f"/organiser/users/{people[26].id}/deactivate?state=active&page=2"
    done = post_form(as_organiser, url, {})
    assert done.headers["Location"] == "/organiser/users?state=active&page=2"
    page = as_organiser.get(done.headers["Location"]).get_data(as_text=True)
    assert "Facilitator 26 can no longer sign in" in page
    assert "Facilitator 26 does not match the filters, so is not in the list below." in page


def test_deactivating_the_last_account_on_the_last_page_of_can_sign_in_lands_on_the_page_now_last(as_organiser):
    # The organiser (Test User) and 25 facilitators can sign in: 26, two pages, the second holding Facilitator 24 only.
    people = _facilitators(25)
    assert "Page 2 of 2 (26 in all)" in as_organiser.get("/organiser/users?state=active&page=2").get_data(as_text=True)
    done = post_form(as_organiser, f"/organiser/users/{people[24].id}/deactivate?state=active&page=2", {})
    assert done.headers["Location"] == "/organiser/users?state=active&page=2"
    again = as_organiser.get(done.headers["Location"])
    assert again.status_code == 302 and again.headers["Location"] == "/organiser/users?state=active"
    page = as_organiser.get(again.headers["Location"]).get_data(as_text=True)
    assert "Facilitator 24 does not match the filters, so is not in the list below." in page
    assert "No users match" not in page and "Facilitator 23" in page
    # A page number past the end, typed or kept in a bookmark, also shows the last page.
    typed = as_organiser.get("/organiser/users?role=facilitator&page=9")
    assert typed.headers["Location"] == "/organiser/users?role=facilitator"


@pytest.mark.parametrize("hostile", ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_no_value_sent_with_deactivate_or_reactivate_can_lead_off_the_site(as_organiser, hostile):
    (who,) = _facilitators(1)
    query = urlencode({"next": hostile, "page": hostile, "q": hostile, "role": hostile})
    for action in ("deactivate", "reactivate"):
        resp = post_form(as_organiser, f"/organiser/users/{who.id}/{action}?{query}", {}, form_url="/organiser/users")
        location = urlsplit(resp.headers["Location"])
        assert resp.status_code == 302 and location.scheme == location.netloc == ""
        assert location.path == "/organiser/users" and "next=" not in location.query


def test_the_deactivate_page_for_your_own_account_refuses_before_asking(as_organiser, organiser):
    page = as_organiser.get(f"/organiser/users/{organiser.id}/deactivate?role=organiser&page=1")
    assert page.status_code == 302 and page.headers["Location"] == "/organiser/users?role=organiser&page=1"
    listing = as_organiser.get(page.headers["Location"]).get_data(as_text=True)
    assert "You cannot deactivate your own account: ask another organiser." in listing
    assert "Yes, deactivate" not in listing
    assert db.session.get(User, organiser.id).active


def test_add_a_user_and_its_cancel_keep_the_lists_filters(as_organiser):
    listing = as_organiser.get("/organiser/users?q=desk&role=reception&state=active").get_data(as_text=True)
    assert 'href="/organiser/users/new?q=desk&amp;role=reception&amp;state=active"' in listing
    form = as_organiser.get("/organiser/users/new?q=desk&role=reception&state=active").get_data(as_text=True)
    assert 'href="/organiser/users?q=desk&amp;role=reception&amp;state=active">Cancel</a>' in form
    added = post_form(as_organiser, "/organiser/users/new?q=desk&role=reception&state=active",
                      {"name": "Desk Volunteer", "email": "desk@example.org", "role": "reception",
                       "password": "a long initial one"})
    assert added.headers["Location"].startswith("/organiser/users?q=desk&role=reception&state=active#user-")


def test_a_printed_users_list_still_says_which_accounts_can_sign_in(as_organiser, organiser):
    import re

    other = make_user("facilitator", email="gone@example.org", name="Gone Facilitator")
    post_form(as_organiser, f"/organiser/users/{other.id}/deactivate", {}, form_url="/organiser/users")
    page = as_organiser.get("/organiser/users").get_data(as_text=True)
    # Print hides .row-actions (the links and buttons): the account's state must be outside them.
    cells = dict(re.findall(r'<tr id="user-(\d+)">.*?<td([^>]*data-label="Account"[^>]*)>', page, re.S))
    assert cells and all("row-actions" not in attrs for attrs in cells.values())
    states = [cell.split('class="row-actions"')[0]
              for cell in re.findall(r'<td [^>]*data-label="Account"[^>]*>(.*?)</td>', page, re.S)]
    assert len(states) == 2 and "Can sign in" in states[0] + states[1] and "Deactivated" in states[0] + states[1]
