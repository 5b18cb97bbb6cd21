"""The tracker's and all-actions list's filters go by where a carried action stands now (its latest copy), as
its row shows: owner, due date and status alike."""
from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import post_form
from tests.outcomes.helpers import build_scene, carried_copy, edit_form

DESCRIPTION = "Set up a single shared ASB case list"


def test_filters_by_organisation_and_due_date_go_by_the_latest_copy(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    new_due = date.today() + timedelta(days=20)
    old_due = scene.overdue_action.due_date
    r = post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit",
                  edit_form(copy, owner_organisation_id=scene.health.id, due_date=new_due.isoformat(),
                            status="done"))
    assert r.status_code == 302

    last_year = f"assembly={scene.previous.id}"
    for page in ("/organiser/tracker", "/organiser/actions"):
        def shown(query: str) -> bool:
            return DESCRIPTION in as_organiser.get(f"{page}?{last_year}&{query}").get_data(as_text=True)

        assert shown(f"organisation={scene.health.id}"), page
        assert not shown(f"organisation={scene.police.id}"), page
        assert shown(f"due_from={new_due.isoformat()}"), page
        assert not shown(f"due_to={old_due.isoformat()}"), page
        assert shown(f"organisation={scene.health.id}&status=done&due_to={new_due.isoformat()}"), page
        assert not shown("status=in_progress"), page
        # Other actions are filtered by their own record, as before.
        assert "Publish a who-to-call guide" in as_organiser.get(
            f"{page}?{last_year}&organisation={scene.police.id}").get_data(as_text=True)
