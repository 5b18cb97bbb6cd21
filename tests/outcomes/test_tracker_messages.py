"""The tracker's "Status updated." and "Action saved." show beside the action's row, where the page opens,
not at the top of the page; at the top, once, only where the tracker's filters no longer show that row."""
from __future__ import annotations

from tests.conftest import post_form
from tests.outcomes.helpers import build_scene, carried_copy, edit_form
from tests.page_messages import message_boxes, where_shown


def test_status_updated_is_said_beside_the_actions_row_in_the_tracker(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    a = scene.open_action.id
    resp = post_form(as_organiser, f"/organiser/tracker/{a}/status?assembly={scene.previous.id}",
                     {"status": "in_progress", "note": "Started"})
    assert resp.headers["Location"] == f"/organiser/tracker?assembly={scene.previous.id}#action-{a}"
    html = as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, "Status updated.")
    assert box.beside(f"action-{a}") and box.anchor == f"action-{a}" and not box.at_top and box.role == "status"
    assert len(message_boxes(html)) == 1
    # Shown once.
    assert message_boxes(as_organiser.get(resp.headers["Location"]).get_data(as_text=True)) == []


def test_status_updated_is_said_at_the_top_once_when_the_filters_no_longer_show_the_action(as_organiser, db,
                                                                                         organiser):
    scene = build_scene(organiser=organiser)
    a = scene.open_action.id
    resp = post_form(as_organiser, f"/organiser/tracker/{a}/status?status=open", {"status": "done", "note": ""})
    assert resp.headers["Location"] == f"/organiser/tracker?status=open#action-{a}"
    html = as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'id="action-{a}"' not in html
    [box] = where_shown(html, "Status updated.")
    assert box.at_top and len(message_boxes(html)) == 1 and html.count("Status updated.") == 1


def test_action_saved_for_a_carried_action_is_said_beside_its_row_in_the_tracker(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    resp = post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit",
                     edit_form(copy, owner_organisation_id=scene.health.id, lead_person="New Lead", status="in_progress"))
    assert resp.headers["Location"] == f"/organiser/tracker?assembly={scene.current.id}#action-{copy.id}"
    html = as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, "Action saved.")
    assert box.beside(f"action-{copy.id}") and not box.at_top and box.role == "status"
    assert len(message_boxes(html)) == 1
