"""Carrying an action forward undone while an organiser was changing its copy: nothing is saved, and what they
typed comes back, escaped, to copy from, with what happened and what to do."""
from __future__ import annotations

import html

from eventapp.outcomes import services
from tests.conftest import csrf_from, tickets_from
from tests.outcomes.helpers import build_scene, carried_copy, edit_form

TYPED = "Shared case list <i>live</i> by June \U0001F6A8\r\nThen review \u202eRTL\u202c"


def test_a_change_to_a_copy_whose_carry_was_undone_is_shown_back(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    url = f"/organiser/tracker/{copy.id}/edit"
    page = as_organiser.get(url).get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), **tickets_from(page),
            **edit_form(copy, description=TYPED, owner_organisation_id=scene.health.id, lead_person="Typed Lead",
                        status="in_progress")}
    services.undo_carry(scene.current, copy.id)  # by another organiser, meanwhile

    resp = as_organiser.post(url, data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert "Your change to the action has not been saved" in page and "carrying it forward was undone" in page
    assert f">\n{html.escape(TYPED, quote=False)}</textarea>" in page and "<i>live</i>" not in page
    assert scene.health.name in page and "Typed Lead" in page and "In progress" in page
