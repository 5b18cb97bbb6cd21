"""The action tracker at a national event's size (thousands of actions): updating one action's status from a
filtered, paged tracker comes back to the same page of it."""
from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

from eventapp.notes import services as notes
from tests.conftest import post_form
from tests.outcomes.helpers import build_scene


def test_updating_a_status_returns_to_the_same_filtered_page(as_organiser, organiser):
    scene = build_scene(organiser=organiser)
    for i in range(30):
        notes.add_action(scene.old_workshop, {"description": f"Bulk action {i:02d}", "due_date": date(2030, 1, 1),
                                              "owner_organisation_id": scene.police.id, "status": "open",
                                              "topic_ids": []}, None)
    query = f"organisation={scene.police.id}&status=open&page=2"
    html = as_organiser.get(f"/organiser/tracker?{query}").get_data(as_text=True)
    assert "Page 2 of 2" in html
    action = next(a for a in notes.workshop_actions(scene.old_workshop.id) if a.description == "Bulk action 29")
    url = f"/organiser/tracker/{action.id}/status"
    assert f'href="{url}?{query.replace("&", "&amp;")}">Update status' in html
    page = as_organiser.get(f"{url}?{query}").get_data(as_text=True)
    assert f'href="/organiser/tracker?{query.replace("&", "&amp;")}">Back to the action tracker' in page
    resp = post_form(as_organiser, f"{url}?{query}", {"status": "in_progress", "note": "Started"})
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/organiser/tracker"
    assert parse_qs(location.query) == {"organisation": [str(scene.police.id)], "status": ["open"], "page": ["2"]}
    # Only the tracker's own filters travel.
    resp = post_form(as_organiser, f"{url}?next=https://evil.example/&overdue=y", {"status": "done", "note": "x"})
    assert parse_qs(urlsplit(resp.headers["Location"]).query) == {"overdue": ["y"]}


def test_changing_a_carried_actions_owner_returns_to_the_same_filtered_page(as_organiser, db, organiser):
    from eventapp.notes.models import Action
    from tests.outcomes.helpers import carried_copy, edit_form

    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    query = f"organisation={scene.police.id}&status=in_progress"
    html = as_organiser.get(f"/organiser/tracker?{query}").get_data(as_text=True)
    url = f"/organiser/tracker/{copy.id}/edit"
    assert f'href="{url}?{query.replace("&", "&amp;")}">Change owner or due date' in html
    page = as_organiser.get(f"{url}?{query}").get_data(as_text=True)
    assert page.count(f'href="/organiser/tracker?{query.replace("&", "&amp;")}"') == 2  # back, and Cancel
    resp = post_form(as_organiser, f"{url}?{query}", edit_form(copy, lead_person="New Lead"))
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/organiser/tracker" and location.fragment == f"action-{copy.id}"
    assert parse_qs(location.query) == {"organisation": [str(scene.police.id)], "status": ["in_progress"]}
    # Opened from elsewhere (the carry-forward page): back to the copy's assembly.
    db.session.expire_all()
    resp = post_form(as_organiser, url, edit_form(db.session.get(Action, copy.id), lead_person="Another Lead"))
    assert parse_qs(urlsplit(resp.headers["Location"]).query) == {"assembly": [str(scene.current.id)]}
