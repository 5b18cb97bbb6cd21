"""A carried action given a new owner and due date this year: every list shows the same owner and date, the
ones its partner page and this year's page show, not last year's."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

from tests.conftest import post_form
from tests.outcomes.helpers import build_scene, carried_copy, edit_form

DESCRIPTION = "Set up a single shared ASB case list"


def _row(html: str, end: str = "</tr>") -> str:
    return html.split(DESCRIPTION)[1].split(end)[0]


def test_a_reassigned_carried_action_shows_its_new_owner_and_due_date_everywhere(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    new_due = date.today() + timedelta(days=20)
    r = post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit",
                  edit_form(copy, owner_organisation_id=scene.health.id, lead_person="New Lead",
                            due_date=new_due.isoformat()))
    assert r.status_code == 302
    old_due = scene.overdue_action.due_date.isoformat()

    for url in (f"/organiser/tracker?assembly={scene.previous.id}", f"/organiser/actions?assembly={scene.previous.id}",
                f"/organiser/assemblies/{scene.previous.slug}/report"):
        row = _row(as_organiser.get(url).get_data(as_text=True))
        assert scene.health.name in row and "New Lead" in row and new_due.isoformat() in row, url
        assert scene.police.name not in row and old_due not in row, url

    report = f"/organiser/assemblies/{scene.previous.slug}/report"
    rows = list(csv.reader(io.StringIO(as_organiser.get(report + ".csv").get_data(as_text=True).lstrip("\ufeff"))))
    (row,) = [r for r in rows if r[0] == "action" and r[1] == DESCRIPTION]
    assert (row[6], row[7], row[8]) == (scene.health.name, "New Lead", new_due.isoformat())
    (action,) = [a for a in json.loads(as_organiser.get(report + ".json").get_data(as_text=True))["actions"]
                 if a["description"] == DESCRIPTION]
    assert (action["owner_organisation"], action["lead_person"], action["due_date"]) == (
        scene.health.name, "New Lead", new_due.isoformat())

    # Last year's public page says what this year's page and the new owner's partner page say.
    public = _row(as_organiser.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True), "</li>")
    this_year = _row(as_organiser.get(f"/a/{scene.current.slug}/updates").get_data(as_text=True), "</li>")
    for page in (public, this_year):
        assert f"Owner: {scene.health.name}" in page and f"{new_due.day} {new_due:%B %Y}" in page
        assert scene.police.name not in page


def test_a_carried_actions_old_record_is_not_changed_unseen(as_organiser, db, organiser):
    # Last year's workshop still lists the action (and the all-actions list links there): a change saved on
    # that frozen record would show nowhere, as partners, public pages and reports read the copy.
    from eventapp.notes.models import Action

    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    original = scene.overdue_action
    url = f"/facilitator/workshops/{scene.old_workshop.id}/actions/{original.id}/edit"
    r = as_organiser.get(url)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/organiser/tracker/{copy.id}/edit")
    r = as_organiser.get(f"/organiser/tracker/{original.id}/edit")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/organiser/tracker/{copy.id}/edit")
    # A page opened before it was carried: refused with what was typed kept, and where it is tracked now.
    r = post_form(as_organiser, url, edit_form(original, owner_organisation_id=scene.health.id,
                                               lead_person="Typed Lead Name"),
                  form_url=f"/facilitator/workshops/{scene.old_workshop.id}/actions")
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert f"carried forward into {scene.current.title}" in html and "Typed Lead Name" in html
    db.session.expire_all()
    assert db.session.get(Action, original.id).owner_organisation_id == scene.police.id
