"""A carried copy marked internal this year: nothing of the action is public any more, on last year's updates
page, its feed, this year's list of carried actions or the owner's partner page."""
from __future__ import annotations

from datetime import date, timedelta

from eventapp.outcomes import services
from tests.conftest import post_form
from tests.factories import make_assembly
from tests.outcomes.helpers import build_scene, carried_copy, edit_form

DESCRIPTION = "Set up a single shared ASB case list"
NEW_LEAD = "Quentin Privatelead"


def _public_pages(client, *assemblies) -> dict[str, str]:
    return {url: client.get(url).get_data(as_text=True)
            for a in assemblies for url in (f"/a/{a.slug}/updates", f"/a/{a.slug}/updates.atom")}


def test_a_copy_marked_internal_shows_nothing_on_public_pages_or_the_feed(client, as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    new_due = date.today() + timedelta(days=41)
    # Published before: last year's page and feed name the action.
    assert all(DESCRIPTION in body for body in _public_pages(client, scene.previous).values())
    r = post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit",
                  edit_form(copy, owner_organisation_id=scene.health.id, lead_person=NEW_LEAD,
                            due_date=new_due.isoformat(), internal="y"))
    assert r.status_code == 302

    for url, body in _public_pages(client, scene.previous, scene.current).items():
        assert DESCRIPTION not in body, url
        assert new_due.isoformat() not in body and f"{new_due.day} {new_due:%B %Y}" not in body, url
        assert NEW_LEAD not in body, url
    for org in (scene.police, scene.health):
        partner = client.get(f"/partner/{services.make_partner_token(org.id)}").get_data(as_text=True)
        assert DESCRIPTION not in partner
    # The organisers still see it, marked internal.
    tracker = as_organiser.get(f"/organiser/tracker?assembly={scene.current.id}").get_data(as_text=True)
    assert DESCRIPTION in tracker and "Internal only" in tracker.split(DESCRIPTION)[1].split("</tr>")[0]


def test_a_copy_carried_again_and_marked_internal_leaves_the_middle_years_carried_list(client, as_organiser, db,
                                                                                        organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    third = make_assembly(series_id=scene.current.series_id, status="open",
                          date=scene.current.date + timedelta(days=365))
    assert services.carry_forward(third, [copy.id], organiser.id) == 1
    assert DESCRIPTION in client.get(f"/a/{scene.current.slug}/updates").get_data(as_text=True)
    (latest,) = [a for a in services.partner_actions(scene.police.id) if a.assembly_id == third.id
                 and a.description == DESCRIPTION]
    r = post_form(as_organiser, f"/organiser/tracker/{latest.id}/edit", edit_form(latest, internal="y"))
    assert r.status_code == 302

    for url, body in _public_pages(client, scene.previous, scene.current, third).items():
        assert DESCRIPTION not in body, url
