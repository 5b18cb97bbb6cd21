"""A carried action marked internal on its latest copy: last year's report and the tracker say "Internal only" on
its original row too, as they show its owner and status from that copy."""
from __future__ import annotations

from tests.conftest import post_form
from tests.outcomes.helpers import build_scene, carried_copy, edit_form


def _row(page: str, description: str) -> str:
    return page.split(description, 1)[1].split("</tr>", 1)[0]


def test_the_internal_badge_follows_the_latest_copy(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    original = scene.overdue_action
    copy = carried_copy(scene, organiser.id)
    report_url = f"/organiser/assemblies/{scene.previous.slug}/report"
    tracker_url = f"/organiser/tracker?assembly={scene.previous.id}"
    assert "Internal only" not in _row(as_organiser.get(report_url).get_data(as_text=True), original.description)
    assert post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit",
                     edit_form(copy, internal="y")).status_code == 302

    assert "Internal only" in _row(as_organiser.get(report_url).get_data(as_text=True), original.description)
    assert "Internal only" in _row(as_organiser.get(tracker_url).get_data(as_text=True), original.description)
    (entry,) = [a for a in as_organiser.get(f"{report_url}.json").json["actions"]
                if a["description"] == original.description]
    assert entry["internal"] is True
