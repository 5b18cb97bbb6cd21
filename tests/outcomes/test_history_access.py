"""The topic history page shows a facilitator only what has been published from other workshops."""
from __future__ import annotations

from datetime import timedelta
from html import escape as html_escape

import pytest

from eventapp.assemblies import services as assemblies

from eventapp.notes import services as notes
from tests.factories import make_user, make_workshop
from tests.outcomes.helpers import INTERNAL_ACTION_MARK, build_scene
from tests.outcomes.test_partners import token_for


def _action(workshop, org, description, internal=False):
    return notes.add_action(workshop, {"description": description, "owner_organisation_id": org.id,
                                       "lead_person": "", "due_date": workshop.round.assembly.date + timedelta(days=30),
                                       "status": "open", "internal": internal, "topic_ids": [workshop.topic_id]},
                            None)


def test_another_workshops_internal_and_unreviewed_actions_stay_off_the_history_page(as_facilitator, db, facilitator,
                                                                                    organiser):
    scene = build_scene(facilitator=facilitator, organiser=organiser)
    # Another facilitator's workshop on the same topic, running at this year's assembly.
    other = make_workshop(scene.new_workshop.round, topic=scene.new_workshop.topic,
                          facilitators=[make_user("facilitator", email="other.facilitator@example.org")])
    internal = _action(other, scene.police, "Escalate the HMO landlord case QZX-OTHER-INTERNAL", internal=True)
    draft = _action(other, scene.police, "Half-typed idea QZX-OTHER-DRAFT")
    url = f"/facilitator/workshops/{scene.new_workshop.id}/history"
    html = as_facilitator.get(url).get_data(as_text=True)
    assert "Publish a who-to-call guide" in html  # approved last year: still shown
    assert INTERNAL_ACTION_MARK not in html  # last year's internal action
    assert "QZX-OTHER-INTERNAL" not in html and "QZX-OTHER-DRAFT" not in html
    # Nor can its status be changed from this workshop's page.
    page_token = token_for(html, scene.open_action.id)[f"a{scene.open_action.id}-csrf_token"]
    for action in (internal, draft, scene.internal_action):
        r = as_facilitator.post(f"{url}/{action.id}", data={f"a{action.id}-csrf_token": page_token,
                                                            f"a{action.id}-status": "done"})
        assert r.status_code == 404
        assert db.session.get(type(action), action.id).status == "open"


HOSTILE_NOTE = "Guide <b>not bold</b> \U0001F6A8\r\nsecond line \u202eRTL\u202c"


@pytest.mark.parametrize("deleted", [False, True], ids=["taken-off", "deleted"])
def test_a_status_sent_after_being_taken_off_the_workshop_or_its_deletion_is_shown_back(client, auth, db,
                                                                                       facilitator, deleted):
    scene = build_scene(facilitator=facilitator)
    a = scene.open_action.id
    url = f"/facilitator/workshops/{scene.new_workshop.id}/history"
    auth.login(facilitator.email)
    hidden = token_for(client.get(url).get_data(as_text=True), a)
    if deleted:
        assemblies.delete_workshop(scene.new_workshop)
    else:
        scene.new_workshop.facilitators.remove(facilitator)  # by an organiser, meanwhile
        db.session.commit()
    resp = client.post(f"{url}/{a}", data={**hidden, f"a{a}-status": "done", f"a{a}-note": HOSTILE_NOTE})
    page = resp.get_data(as_text=True)
    assert resp.status_code == (404 if deleted else 403)
    assert "Your status change has not been saved" in page and "Nothing you typed has been saved" in page
    assert "<b>not bold</b>" not in page
    assert f">\n{html_escape(HOSTILE_NOTE, quote=False)}</textarea>" in page and ">\nDone</textarea>" in page
    assert ("This workshop has been deleted" if deleted else "You are no longer named as a facilitator") in page
    assert db.session.get(type(scene.open_action), a).status == "open"
