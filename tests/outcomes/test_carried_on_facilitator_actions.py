"""Last year's facilitator opens their workshop's Actions page: a carried action shows its owner, due date and
status as they stand now (its latest copy), says where it is tracked, and offers no form that can only be refused."""
from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import post_form
from tests.outcomes.helpers import build_scene, carried_copy, edit_form

DESCRIPTION = "Set up a single shared ASB case list"


def test_last_years_actions_page_shows_a_carried_action_as_it_stands_now(client, auth, as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    new_due = date.today() + timedelta(days=20)
    r = post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit",
                  edit_form(copy, owner_organisation_id=scene.health.id, lead_person="New Lead",
                            due_date=new_due.isoformat(), status="done"))
    assert r.status_code == 302
    url = f"/facilitator/workshops/{scene.old_workshop.id}/actions"
    # The organiser's Change link leads to the copy where it is tracked.
    row = as_organiser.get(url).get_data(as_text=True).split(DESCRIPTION)[1].split("</tr>")[0]
    assert f"/organiser/tracker/{copy.id}/edit" in row
    auth.logout()

    auth.login(scene.old_workshop.facilitators[0].email)
    page = client.get(url).get_data(as_text=True)
    row = page.split(DESCRIPTION)[1].split("</tr>")[0]
    assert scene.health.name in row and "New Lead" in row and f"{new_due.day} {new_due:%B %Y}" in row
    assert "Done" in row and f"now tracked in {scene.current.title}" in row
    assert scene.police.name not in row and "In progress" not in row
    assert f"actions/{scene.overdue_action.id}/edit" not in row
    assert f"Carried forward to {scene.current.title}: the organisers change it there" in row
    # The others keep their Change link.
    assert f"actions/{scene.open_action.id}/edit" in page


def test_a_facilitator_opening_a_carried_actions_form_by_its_address_is_refused(client, auth, db, organiser):
    # The Actions page offers no Change link for it; the address typed (or a bookmark) shows no form either.
    from eventapp.notes.models import Action

    scene = build_scene(organiser=organiser)
    carried_copy(scene, organiser.id)
    original = scene.overdue_action
    url = f"/facilitator/workshops/{scene.old_workshop.id}/actions/{original.id}/edit"
    auth.login(scene.old_workshop.facilitators[0].email)
    r = client.get(url)
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert f"carried forward into {scene.current.title}" in html and 'name="description"' not in html
    # A form opened before it was carried: refused, what was typed shown back, nothing saved.
    r = post_form(client, url, edit_form(original, lead_person="Typed Lead Name"),
                  form_url=f"/facilitator/workshops/{scene.old_workshop.id}/actions")
    html = r.get_data(as_text=True)
    assert r.status_code == 409
    assert f"carried forward into {scene.current.title}" in html and "Typed Lead Name" in html
    db.session.expire_all()
    assert db.session.get(Action, original.id).lead_person != "Typed Lead Name"
    # The workshop's other actions still open.
    assert client.get(f"/facilitator/workshops/{scene.old_workshop.id}/actions/{scene.open_action.id}/edit") \
        .status_code == 200
