"""Nothing typed by a facilitator is lost: a sign-out elsewhere, an expired form, a colleague's save."""
from __future__ import annotations

import html
import re
from datetime import date

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Action, Attendance
from tests.conftest import csrf_from, post_form, tickets_from
from tests.page_messages import where_shown

from .helpers import scene

HIDDEN_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FROM_OUR_PAGE = {"Sec-Fetch-Site": "same-origin"}
TYPED = "Single point of contact in A&E <b>not bold</b>\r\nsecond line \U0001F6A8 \u202eRTL\u202c \u0645\u0631\u062d\u0628\u0627"


def _hidden(page: str) -> list[tuple[str, str]]:
    return [(name, html.unescape(value)) for name, value in HIDDEN_RE.findall(page)]


def _action_form(s, **kw):
    data = {"description": TYPED, "owner_organisation_id": str(s.police.id), "lead_person": "Insp. Rana Begum",
            "due_date": "2027-06-30", "status": "open", "topic_ids": [str(s.workshop.topic_id)]}
    data.update(kw)
    return data


def _signed_out_elsewhere(client, auth, url: str) -> dict[str, str]:
    """Open the form signed in, then sign out in another tab: the form's token stays valid.

    Returns the form's hidden fields: its token and who it was shown to."""
    page = client.get(url).get_data(as_text=True)
    auth.logout()
    return {"csrf_token": csrf_from(page), **tickets_from(page)}


def _send_again_after_signing_in(client, auth, facilitator, resp):
    page = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert "Sign in again to save this" in page and "Nothing has been saved yet" in page
    assert "You have also been signed out" in page and 'href="/login" target="_blank"' in page
    assert "<b>not bold</b>" not in page  # escaped in the hidden field
    assert resp.headers["Cache-Control"] == "private, no-store"
    fields = _hidden(page)
    assert fields[0][0] == "csrf_token"
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    # "Send it again" pressed before signing in: the same offer again, not the sign-in page.
    again = client.post(action, data=MultiDict(fields), headers=FROM_OUR_PAGE)
    assert again.status_code == 401 and _hidden(again.get_data(as_text=True))[1:] == fields[1:]
    auth.login(facilitator.email)  # in the other tab
    return client.post(action, data=MultiDict(fields))


def test_an_action_typed_while_signed_out_in_another_tab_is_offered_back_and_saved(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    url = f"/facilitator/workshops/{s.workshop.id}/actions"
    hidden = _signed_out_elsewhere(client, auth, url)
    resp = client.post(url, data={**hidden, **_action_form(s)}, headers=FROM_OUR_PAGE)
    assert db.session.scalar(select(func.count(Action.id))) == 0
    resp = _send_again_after_signing_in(client, auth, facilitator, resp)
    assert resp.status_code == 302
    (action,) = services.workshop_actions(s.workshop.id)
    assert action.description.replace("\r\n", "\n") == TYPED.replace("\r\n", "\n")
    assert action.lead_person == "Insp. Rana Begum" and action.due_date == date(2027, 6, 30)


def test_an_action_changed_while_signed_out_everywhere_is_offered_back_and_saved(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    url = f"/facilitator/workshops/{s.workshop.id}/actions"
    post_form(client, url, _action_form(s, description="First wording"))
    action = db.session.scalar(select(Action))
    edit = f"{url}/{action.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    token = csrf_from(page)
    # "Sign out on this device and any other" from a phone: this tablet's cookie still names the person.
    facilitator.session_version += 1
    db.session.commit()
    resp = client.post(edit, data={"csrf_token": token, **tickets_from(page), "version": "1",
                                   **_action_form(s, status="in_progress")},
                       headers=FROM_OUR_PAGE)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 401 and "Sign in again to save this" in page
    auth.login(facilitator.email)
    resp = client.post(edit, data=MultiDict(_hidden(page)))
    assert resp.status_code == 302
    db.session.expire_all()
    action = db.session.get(Action, action.id)
    assert action.status == "in_progress" and action.description.replace("\r\n", "\n") == TYPED.replace("\r\n", "\n")


def test_a_walk_in_typed_while_signed_out_in_another_tab_is_offered_back(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    url = f"/facilitator/workshops/{s.workshop.id}/attendance"
    hidden = _signed_out_elsewhere(client, auth, url)
    resp = client.post(url + "/walk-in", data={**hidden, "registration_id": "0",
                                               "name": "Siobh\u00e1n O'Brien", "organisation": "Food bank"},
                       headers=FROM_OUR_PAGE)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 401 and "Siobh\u00e1n O&#39;Brien" in page
    auth.login(facilitator.email)
    assert client.post(url + "/walk-in", data=MultiDict(_hidden(page))).status_code == 302
    assert db.session.scalar(select(Attendance.walk_in_name)) == "Siobh\u00e1n O'Brien"


def test_a_signed_out_post_from_another_site_still_just_goes_to_sign_in(client, facilitator):
    s = scene(facilitator)
    url = f"/facilitator/workshops/{s.workshop.id}/actions"
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for headers in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        resp = client.post(url, data={"csrf_token": token, **_action_form(s)}, headers=headers)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next="), headers


def test_two_tablets_disagreeing_about_one_person_never_overwrite_each_other_silently(client, auth, facilitator):
    s = scene(facilitator)
    a, b, c = s.allocated
    auth.login(facilitator.email)
    url = f"/facilitator/workshops/{s.workshop.id}/attendance"
    walk_in = services.add_walk_in(s.workshop, facilitator.id, name="Siobh\u00e1n O'Brien", organisation="Food bank")
    # Tablet 1 loads the register; tablet 2 then marks Aisha present and the walk-in not here.
    post_form(client, url, {f"mark-r{a.id}": "present", f"was-r{a.id}": "unmarked",
                            f"mark-a{walk_in.id}": "absent", f"was-a{walk_in.id}": "walk_in"})
    # Tablet 1, still showing the old register, marks Aisha absent and Ben present (the walk-in untouched).
    resp = post_form(client, url, {f"mark-r{a.id}": "absent", f"was-r{a.id}": "unmarked",
                                   f"mark-a{walk_in.id}": "walk_in", f"was-a{walk_in.id}": "walk_in",
                                   f"mark-r{b.id}": "present", f"was-r{b.id}": "unmarked"},
                     follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Attendance saved (1 change)." in page
    assert "Marked on another device while this page was open, so left as marked there: Aisha Khan." in page
    # Both beside the register the page opens at, read out as an alert (one of them is a problem).
    [box] = where_shown(page, "Marked on another device")
    assert box.beside("register") and box.role == "alert" and len(box.texts) == 2
    marks = {(m.registration_id, m.walk_in_name): m.status for m in db.session.scalars(select(Attendance))}
    assert marks == {(a.id, ""): "present", (b.id, ""): "present", (None, "Siobh\u00e1n O'Brien"): "absent"}
    # Seen, and changed again on purpose: now it is saved.
    resp = post_form(client, url, {f"mark-r{a.id}": "absent", f"was-r{a.id}": "present"}, follow_redirects=True)
    assert "Attendance saved (1 change)." in resp.get_data(as_text=True)
    assert db.session.scalar(select(Attendance.status).where(Attendance.registration_id == a.id)) == "absent"


def test_an_edit_after_the_organisers_approved_is_saved_and_says_it_waits_for_their_approval(client, auth, facilitator,
                                                                                             organiser):
    s = scene(facilitator)
    notes_url = f"/facilitator/workshops/{s.workshop.id}/notes"
    services.save_notes(s.workshop, {"summary": "Approved summary"}, 0, facilitator.id, submit=True)
    auth.login(facilitator.email)
    stale = client.get(notes_url).get_data(as_text=True)  # the tablet's page, open since before the approval
    notes = services.notes_for(s.workshop.id)
    services.approve_notes(notes, ["summary"], [], organiser.id)
    resp = client.post(notes_url, data={"csrf_token": csrf_from(stale), **tickets_from(stale), "version": "1",
                                        "intent": "save",
                                        "summary": "Approved summary, and a late addition"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Notes saved." in page
    assert "The organisers had already approved these notes for publication: the parts you changed are not on " \
           "the public page until they approve them again" in page
    assert "Approved summary, and a late addition" in page and "Submitted for review" in page
    # Saving again what is already stored says nothing more.
    resp = client.post(notes_url, data={"csrf_token": csrf_from(stale), **tickets_from(stale), "version": "2",
                                        "intent": "save",
                                        "summary": "Approved summary, and a late addition"}, follow_redirects=True)
    assert "No changes to save." in resp.get_data(as_text=True)
    assert "already approved" not in resp.get_data(as_text=True)
