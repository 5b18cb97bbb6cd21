"""An action added or changed by a facilitator taken off the workshop, or whose workshop was deleted, while they
typed: nothing is saved, and what they typed comes back, escaped, in boxes to copy from, with why."""
from __future__ import annotations

import html
from datetime import date

import pytest
from sqlalchemy import func, select

from eventapp.assemblies import services as assemblies
from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Action
from tests.conftest import csrf_from, tickets_from

from .helpers import scene

TYPED = "Joint referral map <b>not bold</b> \U0001F6A8\r\nsecond line \u202eRTL\u202c"
LEAD = "Insp. <i>Rana</i> Begum"


def _open(client, url: str) -> dict[str, str]:
    page = client.get(url).get_data(as_text=True)
    return {"csrf_token": csrf_from(page), **tickets_from(page)}


def _form(s, hidden: dict, **kw) -> dict:
    return {**hidden, "description": TYPED, "owner_organisation_id": str(s.health.id), "lead_person": LEAD,
            "due_date": "2027-06-30", "status": "in_progress", "topic_ids": [str(s.workshop.topic_id)],
            "internal": "y", **kw}


def _shown_back(resp, heading: str) -> str:
    page = resp.get_data(as_text=True)
    assert heading in page and "Nothing you typed has been saved" in page
    assert "<b>not bold</b>" not in page and "<i>Rana</i>" not in page
    assert f">\n{html.escape(TYPED, quote=False)}</textarea>" in page
    assert "What will be done (internal only)" in page
    assert f">\n{html.escape(LEAD, quote=False)}</textarea>" in page
    assert ">\nCounty NHS Trust</textarea>" in page and ">\n2027-06-30</textarea>" in page
    assert ">\nIn progress</textarea>" in page
    return page


def _existing(s) -> Action:
    return services.add_action(s.workshop, {"description": "Original wording", "owner_organisation_id": s.police.id,
                                            "due_date": date(2027, 6, 30)}, None)


def _form_opened(client, auth, facilitator, editing: bool):
    """The facilitator signed in with the add form (or an existing action's change form) open: (scene, action,
    its address, the form's hidden fields)."""
    s = scene(facilitator)
    action = _existing(s)
    url = f"/facilitator/workshops/{s.workshop.id}/actions" + (f"/{action.id}/edit" if editing else "")
    auth.login(facilitator.email)
    return s, action, url, _open(client, url)


@pytest.mark.parametrize("editing", [False, True], ids=["add", "edit"])
def test_an_action_sent_after_being_taken_off_the_workshop_is_shown_back(client, auth, facilitator, editing):
    s, action, url, hidden = _form_opened(client, auth, facilitator, editing)
    s.workshop.facilitators.remove(facilitator)  # by an organiser, meanwhile
    db.session.commit()

    resp = client.post(url, data=_form(s, hidden, version=str(action.version)))
    assert resp.status_code == 403
    page = _shown_back(resp, "Your change to the action has not been saved" if editing
                       else "Your action has not been added")
    assert f"no longer named as a facilitator of {s.workshop.title}, so you cannot save its actions" in page
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Action.id))) == 1
    assert db.session.get(Action, action.id).description == "Original wording"
    # Opening the form again is still refused: only what they sent comes back.
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("editing", [False, True], ids=["add", "edit"])
def test_an_action_sent_after_the_workshop_was_deleted_is_shown_back(client, auth, facilitator, editing):
    s, action, url, hidden = _form_opened(client, auth, facilitator, editing)
    form = _form(s, hidden, version=str(action.version))
    assemblies.delete_workshop(s.workshop)

    resp = client.post(url, data=form)
    assert resp.status_code == 404
    assert "This workshop has been deleted, so its actions can no longer be saved" in _shown_back(
        resp, "Your change to the action has not been saved" if editing else "Your action has not been added")
    assert client.get(url).status_code == 404


def test_an_action_for_a_workshop_never_theirs_is_refused_and_nothing_added(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    hidden = _open(client, f"/facilitator/workshops/{s.workshop.id}/actions")
    resp = client.post(f"/facilitator/workshops/{s.other.id}/actions", data=_form(s, hidden))
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count(Action.id))) == 0


def test_a_change_sent_after_the_action_was_deleted_is_shown_back(client, auth, facilitator):
    s = scene(facilitator)
    action = _existing(s)
    url = f"/facilitator/workshops/{s.workshop.id}/actions/{action.id}/edit"
    auth.login(facilitator.email)
    form = _form(s, _open(client, url), version=str(action.version))
    db.session.delete(action)  # meanwhile; the workshop stays
    db.session.commit()

    resp = client.post(url, data=form)
    assert resp.status_code == 404
    page = _shown_back(resp, "Your change to the action has not been saved")
    assert "This action has been deleted while you were changing it" in page
    assert db.session.scalar(select(func.count(Action.id))) == 0
    assert client.get(url).status_code == 404
