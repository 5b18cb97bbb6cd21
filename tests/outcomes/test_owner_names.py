"""Every list of actions isolates the owner organisation's name and the lead person (typed by delegates and
facilitators) with <bdi>, so a right-to-left name ending in digits does not reorder the text around it."""
from __future__ import annotations

from datetime import date

import pytest

from eventapp.notes import services as notes
from tests.factories import make_org
from tests.outcomes.helpers import build_scene

OWNER = "\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7"
LEAD = "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2"


@pytest.mark.parametrize("page", ["tracker", "all actions", "report", "workshop actions"])
def test_an_actions_owner_and_lead_are_isolated_in_each_list(as_organiser, db, organiser, page):
    scene = build_scene(organiser=organiser)
    owner = make_org(OWNER, sector="voluntary_community")
    notes.add_action(scene.old_workshop, {"description": "Open a night shelter", "owner_organisation_id": owner.id,
                                          "lead_person": LEAD, "due_date": date(2030, 1, 1), "status": "open",
                                          "topic_ids": []}, None)
    url = {"tracker": f"/organiser/tracker?assembly={scene.previous.id}",
           "all actions": f"/organiser/actions?assembly={scene.previous.id}",
           "report": f"/organiser/assemblies/{scene.previous.slug}/report",
           "workshop actions": f"/facilitator/workshops/{scene.old_workshop.id}/actions"}[page]
    html = as_organiser.get(url).get_data(as_text=True)
    assert f'<bdi>{OWNER}</bdi><br><span class="meta">Lead: <bdi>{LEAD}</bdi></span>' in html
