"""A tablet shared by facilitators: a form one person opened and typed in is never saved under the name of
whoever is signed in when it is sent. It comes back (409) holding everything typed, says whose it was, and
is saved under the new name only when that person presses Save on it."""
from __future__ import annotations

import re
from datetime import date

import pytest
from markupsafe import escape
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Action, ActionRevision, Attendance
from tests.conftest import csrf_from, tickets_from
from tests.factories import make_user

from .helpers import notes_form, scene

ANN = "Ann <b>O'Hara</b> & \"Co\""
BEN = "Ben <i>Ng</i>"
TYPED = "<script>alert('typed')</script> & \"quoted\" \u202eRTL\u202c \U0001F6A8"


def _people():
    ann = make_user("facilitator", email="ann@example.org", name=ANN)
    ben = make_user("facilitator", email="ben@example.org", name=BEN)
    return ann, ben


# --- the rule ---------------------------------------------------------------------------------------


def test_a_ticket_names_the_person_it_was_given_to_and_nothing_else_passes_for_one(app, db):
    ann, ben = _people()
    ticket = services.typed_by_ticket(ann.id)
    assert services.ticket_typist(ticket) == ann.id
    assert services.ticket_typist(None) is None and services.ticket_typist("") is None
    assert services.ticket_typist(ticket[:-4] + ("AAAA" if not ticket.endswith("AAAA") else "BBBB")) is None
    # The notes' keep ticket is signed for another purpose: it does not pass for a typed-by one.
    assert services.ticket_typist(services.keep_ticket(1, ann.id)) is None


def test_check_typed_by_passes_the_same_person_and_refuses_anyone_else_naming_both(app, db):
    ann, ben = _people()
    services.check_typed_by(ann.id, ann.id)
    with pytest.raises(services.TypedByOther) as refused:
        services.check_typed_by(ben.id, ann.id, "Add action")
    assert refused.value.message == (
        f"This page was opened by {ANN}, who is no longer signed in here. Nothing has been saved. Check the text "
        f"and press Add action to save it under your name ({BEN}), or sign out so {ANN} can sign in and save it.")
    assert (refused.value.shown_to, refused.value.signed_in) == (ANN, BEN)
    # An old page, or a ticket that is not ours: whose it was is unknown, so it is refused all the same.
    with pytest.raises(services.TypedByOther) as unknown:
        services.check_typed_by(ben.id, None)
    assert unknown.value.shown_to is None and "cannot tell who typed it" in unknown.value.message
    assert f"save it under your name ({BEN})" in unknown.value.message


# --- each form ---------------------------------------------------------------------------------------


class Case:
    """One staff form: where it is, what is typed in it, and what of it is stored (and by whom)."""

    def __init__(self, s):
        self.s = s

    def page_url(self) -> str:
        return self.url()


class NotesCase(Case):
    button = "Save"

    def url(self):
        return f"/facilitator/workshops/{self.s.workshop.id}/notes"

    def data(self):
        return notes_form(summary=TYPED)

    def stored(self):
        notes = services.notes_for(self.s.workshop.id)
        if notes is None:
            return None
        return notes.section("summary").body, notes.updated_by_id

    def shown(self, html):
        return str(escape(TYPED)) in html


class AddActionCase(Case):
    button = "Add action"

    def url(self):
        return f"/facilitator/workshops/{self.s.workshop.id}/actions"

    def data(self):
        return {"description": TYPED, "owner_organisation_id": str(self.s.police.id), "lead_person": "Insp. Begum",
                "due_date": "2027-06-30", "status": "open"}

    def stored(self):
        actions = services.workshop_actions(self.s.workshop.id)
        return (actions[0].description, actions[0].created_by_id) if actions else None

    def shown(self, html):
        return str(escape(TYPED)) in html and 'value="Insp. Begum"' in html and 'value="2027-06-30"' in html and \
            '<a href="#add-action">Go to the text</a>' in html


class EditActionCase(Case):
    button = "Save action"

    def __init__(self, s):
        super().__init__(s)
        self.action = services.add_action(s.workshop, {"description": "First wording", "owner_organisation_id":
                                                       s.police.id, "due_date": date(2027, 6, 30)}, None)

    def url(self):
        return f"/facilitator/workshops/{self.s.workshop.id}/actions/{self.action.id}/edit"

    def data(self):
        return {"version": "1", "description": TYPED, "owner_organisation_id": str(self.s.health.id),
                "due_date": "2027-07-31", "status": "in_progress"}

    def stored(self):
        db.session.expire_all()
        action = db.session.get(Action, self.action.id)
        if action.version == 1:
            return None
        rev = db.session.scalar(select(ActionRevision).where(ActionRevision.action_id == action.id)
                                .order_by(ActionRevision.version.desc()))
        return action.description, rev.user_id

    def shown(self, html):
        return str(escape(TYPED)) in html and 'value="2027-07-31"' in html and \
            re.search(rf'<option selected value="{self.s.health.id}">', html) is not None


class AttendanceCase(Case):
    button = "Save attendance"

    def url(self):
        return f"/facilitator/workshops/{self.s.workshop.id}/attendance"

    def data(self):
        aisha, ben = self.s.allocated[:2]
        return {f"mark-r{aisha.id}": "present", f"was-r{aisha.id}": "unmarked",
                f"mark-r{ben.id}": "absent", f"was-r{ben.id}": "unmarked"}

    def stored(self):
        marks = {a.registration_id: (a.status, a.recorded_by_id) for a in db.session.scalars(select(Attendance))}
        if not marks:
            return None
        aisha, ben = self.s.allocated[:2]
        (a_status, a_by), (b_status, b_by) = marks[aisha.id], marks[ben.id]
        assert a_by == b_by
        return f"{a_status},{b_status}", a_by

    def shown(self, html):
        aisha, ben = self.s.allocated[:2]
        return (re.search(rf'id="mark-r{aisha.id}-present" [^>]*checked', html) is not None
                and re.search(rf'id="mark-r{ben.id}-absent" [^>]*checked', html) is not None
                and '<a href="#register">Go to the text</a>' in html)


class WalkInCase(Case):
    button = "Add to the register"

    def url(self):
        return f"/facilitator/workshops/{self.s.workshop.id}/attendance/walk-in"

    def page_url(self):
        return f"/facilitator/workshops/{self.s.workshop.id}/attendance"

    def data(self):
        return {"registration_id": "0", "name": TYPED, "organisation": "Food bank"}

    def stored(self):
        row = db.session.scalar(select(Attendance))
        return (row.walk_in_name, row.recorded_by_id) if row else None

    def shown(self, html):
        return f'value="{escape(TYPED)}"' in html and 'value="Food bank"' in html and \
            '<a href="#walk-in">Go to the text</a>' in html


CASES = {"notes": NotesCase, "add action": AddActionCase, "edit action": EditActionCase,
         "attendance": AttendanceCase, "walk-in": WalkInCase}
EXPECTED_TEXT = {"notes": TYPED, "add action": TYPED, "edit action": TYPED, "attendance": "present,absent",
                 "walk-in": TYPED}


def _setup(kind):
    ann, ben = _people()
    s = scene(ann)
    s.workshop.facilitators.append(ben)
    db.session.commit()
    return ann, ben, CASES[kind](s)


def _opened_by(client, auth, person, case) -> dict[str, str]:
    """Sign in, open the form: its hidden fields (form token and who it is shown to)."""
    auth.login(person.email)
    page = client.get(case.page_url()).get_data(as_text=True)
    return {"csrf_token": csrf_from(page), **tickets_from(page)}


def _form_fields(html: str, url: str) -> dict[str, str]:
    """The hidden token and ticket of the form on the page that posts to url, as pressing its button sends them."""
    form = re.search(rf'<form method="post" action="{re.escape(url)}[^"]*"[^>]*>(.*?)</form>', html, re.S)
    assert form is not None, f"no form posting to {url}"
    return {"csrf_token": csrf_from(form.group(1)), **tickets_from(form.group(1))}


def _ann_opens_then_ben_signs_in(client, auth, kind):
    """Ann opens the form and walks away; Ben signs in on the same tablet. Ann, Ben, the form, and the hidden
    fields of Ann's page."""
    ann, ben, case = _setup(kind)
    hidden = _opened_by(client, auth, ann, case)
    auth.logout()
    auth.login(ben.email)
    return ann, ben, case, hidden


def _shown_back(client, case, hidden) -> tuple[str, dict[str, str]]:
    """Ann's page sent with Ben signed in: the page shown back, and the hidden fields of its form."""
    html = client.post(case.url(), data={**hidden, **case.data()}).get_data(as_text=True)
    return html, _form_fields(html, case.url())


def _normalised(value):
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


@pytest.mark.parametrize("kind", list(CASES))
def test_a_form_opened_by_one_person_and_sent_after_another_signed_in_is_not_saved_until_they_confirm(
        client, auth, kind):
    # Ann walks away; Ben signs in on the same tablet; Ann's page is then sent.
    ann, ben, case, hidden = _ann_opens_then_ben_signs_in(client, auth, kind)
    resp = client.post(case.url(), data={**hidden, **case.data()})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert case.stored() is None
    assert case.shown(html), "what Ann typed is in the page"
    assert "<script>alert" not in html and "<b>O'Hara" not in html and "<i>Ng" not in html
    alert = re.search(r'<div class="error-summary" id="typed-by" role="alert" [^>]*tabindex="-1"[^>]*>(.*?)</div>',
                      html, re.S)
    assert alert is not None
    assert (f"This page was opened by {escape(ANN)}, who is no longer signed in here. Nothing has been saved. "
            f"Check the text and press {case.button} to save it under your name ({escape(BEN)}), or sign out so "
            f"{escape(ANN)} can sign in and save it.") in alert.group(1)
    # The page now names Ben: pressing its button saves what Ann typed, as Ben's.
    again = _form_fields(html, case.url())
    resp = client.post(case.url(), data={**again, **case.data()})
    assert resp.status_code == 302
    text, by = case.stored()
    assert _normalised(text) == _normalised(EXPECTED_TEXT[kind]) and by == ben.id


@pytest.mark.parametrize("kind", list(CASES))
def test_the_person_who_opened_the_form_saves_it_at_once(client, auth, kind):
    ann, ben, case = _setup(kind)
    hidden = _opened_by(client, auth, ann, case)
    resp = client.post(case.url(), data={**hidden, **case.data()})
    assert resp.status_code == 302
    text, by = case.stored()
    assert _normalised(text) == _normalised(EXPECTED_TEXT[kind]) and by == ann.id


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("ticket", ["missing", "forged", "another workshop's"])
def test_a_form_that_does_not_say_who_it_was_shown_to_is_not_saved(client, auth, kind, ticket):
    ann, ben, case = _setup(kind)
    hidden = _opened_by(client, auth, ann, case)
    name = "keep" if kind == "notes" else "typed_by"
    if ticket == "missing":
        del hidden[name]
    elif ticket == "forged":
        hidden[name] = hidden[name][:-4] + ("AAAA" if not hidden[name].endswith("AAAA") else "BBBB")
    else:
        # A notes ticket is for one workshop's notes; a keep ticket is not a typed-by ticket.
        hidden[name] = services.keep_ticket(case.s.other.id, ann.id)
    resp = client.post(case.url(), data={**hidden, **case.data()})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and case.stored() is None and case.shown(html)
    assert "so we cannot tell who typed it. Nothing has been saved." in html


def test_autosave_of_a_page_opened_by_someone_else_stops_and_says_why(client, auth):
    ann, ben, case, hidden = _ann_opens_then_ben_signs_in(client, auth, "notes")
    url = case.url() + "/autosave"
    resp = client.post(url, data={**hidden, **notes_form(summary=TYPED)})
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["ok"] is False and body["error"] == "typed_by"
    assert body["message"].startswith(f"This page was opened by {ANN}, who is no longer signed in here.")
    assert body["message"].endswith("Autosave has stopped.")
    assert services.notes_for(case.s.workshop.id) is None
    # Ben's own page autosaves as Ben.
    page = client.get(case.url()).get_data(as_text=True)
    mine = {"csrf_token": csrf_from(page), **tickets_from(page)}
    resp = client.post(url, data={**mine, **notes_form(summary="Ben's own")})
    assert resp.status_code == 200 and resp.get_json()["ok"] is True
    assert case.stored() == ("Ben's own", ben.id)


def _saved_marker(html: str) -> list[str]:
    return re.findall(r'<span hidden data-draft-saved="([^"]+)"></span>', html)


def test_notes_saved_as_the_next_person_tell_the_device_to_forget_the_first_persons_copy_once(client, auth):
    ann, ben, case, hidden = _ann_opens_then_ben_signs_in(client, auth, "notes")
    html, again = _shown_back(client, case, hidden)
    assert services.ticket_typist(again["typed_for"]) == ann.id  # the page shown back names who typed it
    assert _saved_marker(html) == []
    resp = client.post(case.url(), data={**again, **case.data()})
    assert resp.status_code == 302 and case.stored() == (TYPED, ben.id)
    # The page after the Save names Ann's copy of this workshop's notes (static/notes.js removes it), once.
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert _saved_marker(page) == [f"eventapp-notes-draft:{ann.id}:{case.s.workshop.id}"]
    assert 'name="typed_for"' not in page
    assert _saved_marker(client.get(case.url()).get_data(as_text=True)) == []
    # Ben's own notes saved later name nobody else's copy.
    mine = _form_fields(client.get(case.url()).get_data(as_text=True), case.url())
    resp = client.post(case.url(), data={**mine, **notes_form(version=1, summary="Ben's own")})
    assert resp.status_code == 302 and case.stored() == ("Ben's own", ben.id)
    assert _saved_marker(client.get(resp.headers["Location"]).get_data(as_text=True)) == []


DRAFT_KEYS = {"add action": "eventapp-action-draft:{user}:{workshop}:new",
              "edit action": "eventapp-action-draft:{user}:{workshop}:{action}",
              "attendance": "eventapp-register-draft:{user}:{workshop}"}


@pytest.mark.parametrize("kind", list(DRAFT_KEYS))
def test_a_form_saved_as_the_next_person_tells_the_device_to_forget_the_first_persons_draft_once(client, auth, kind):
    ann, ben, case, hidden = _ann_opens_then_ben_signs_in(client, auth, kind)
    key = DRAFT_KEYS[kind].format(workshop=case.s.workshop.id, action=getattr(case, "action", None) and case.action.id,
                                  user="{user}")
    html, again = _shown_back(client, case, hidden)
    assert services.ticket_typist(again["typed_for"]) == ann.id  # the form shown back names who typed it
    assert _saved_marker(html) == []
    resp = client.post(case.url(), data={**again, **case.data()})
    assert resp.status_code == 302 and case.stored()[1] == ben.id
    # The page after the Save names Ben's draft and Ann's (static/drafts.js removes both), once.
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert _saved_marker(page) == [key.format(user=ben.id), key.format(user=ann.id)]
    assert 'name="typed_for"' not in page
    assert _saved_marker(client.get(case.page_url()).get_data(as_text=True)) == []


@pytest.mark.parametrize("kind", list(DRAFT_KEYS))
def test_a_form_saved_by_the_person_who_typed_it_names_only_their_own_draft(client, auth, kind):
    ann, ben, case = _setup(kind)
    hidden = _opened_by(client, auth, ann, case)
    assert "typed_for" not in hidden
    resp = client.post(case.url(), data={**hidden, **case.data()})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    key = DRAFT_KEYS[kind].format(user=ann.id, workshop=case.s.workshop.id,
                                  action=getattr(case, "action", None) and case.action.id)
    assert _saved_marker(page) == [key]


def test_a_form_shown_back_and_sent_again_with_a_mistake_still_names_the_first_typist(client, auth):
    ann, ben, case, hidden = _ann_opens_then_ben_signs_in(client, auth, "add action")
    _, again = _shown_back(client, case, hidden)
    resp = client.post(case.url(), data={**again, **case.data(), "due_date": "not a date"})
    assert resp.status_code == 400 and case.stored() is None
    third = _form_fields(resp.get_data(as_text=True), case.url())
    assert services.ticket_typist(third["typed_for"]) == ann.id
    resp = client.post(case.url(), data={**third, **case.data()})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"eventapp-action-draft:{ann.id}:{case.s.workshop.id}:new" in _saved_marker(page)


def test_a_walk_in_sent_back_does_not_make_the_register_forget_the_first_persons_marks(client, auth):
    # Ann's unsaved marks are not on the page shown back for a walk-in: saving the register then is Ben's own.
    ann, ben, case, hidden = _ann_opens_then_ben_signs_in(client, auth, "walk-in")
    html = client.post(case.url(), data={**hidden, **case.data()}).get_data(as_text=True)
    register_url = case.page_url()
    again = _form_fields(html, register_url)
    assert "typed_for" not in again
    aisha = case.s.allocated[0]
    resp = client.post(register_url, data={**again, f"mark-r{aisha.id}": "present", f"was-r{aisha.id}": "unmarked"})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert _saved_marker(page) == [f"eventapp-register-draft:{ben.id}:{case.s.workshop.id}"]
