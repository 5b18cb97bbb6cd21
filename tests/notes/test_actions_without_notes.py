"""A workshop whose facilitator wrote no notes still agreed actions: the review page lists them and the organiser
publishes them, as "Needs your attention" says; actions waiting for a draft's submission are counted apart."""
from __future__ import annotations

from datetime import date, timedelta

from eventapp.assemblies.services import needs_attention
from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import SessionNotes
from tests.conftest import post_form
from tests.factories import make_assembly, make_org, make_round, make_topic, make_user, make_workshop

AGREED = "Publish a who-to-call guide <b>now</b>"


def _workshop_with_actions(fac):
    assembly = make_assembly(date=date.today() - timedelta(days=3), status="closed")
    workshop = make_workshop(make_round(assembly), make_topic(), facilitators=[fac])
    org = make_org("Shire Police")
    public = services.add_action(workshop, {"description": AGREED, "owner_organisation_id": org.id,
                                            "lead_person": "", "due_date": date.today() + timedelta(days=30),
                                            "status": "open", "internal": False, "topic_ids": []}, fac.id)
    services.add_action(workshop, {"description": "Internal follow-up", "owner_organisation_id": org.id,
                                   "lead_person": "", "due_date": date.today() + timedelta(days=9), "status": "open", "internal": True,
                                   "topic_ids": []}, fac.id)
    return assembly, workshop, public


def _attention(assembly) -> list[str]:
    db.session.refresh(assembly)
    return [a.text for a in needs_attention(assembly)]


def test_actions_of_a_workshop_with_no_notes_are_published_from_its_review_page(as_organiser, db, organiser):
    fac = make_user("facilitator")
    assembly, workshop, action = _workshop_with_actions(fac)
    assert _attention(assembly) == ["1 action waits for your approval before the public page shows them."]

    url = f"/organiser/assemblies/{assembly.slug}/notes/{workshop.id}"
    page = as_organiser.get(url).get_data(as_text=True)
    assert "No notes have been written for this workshop" in page
    assert "Publish a who-to-call guide &lt;b&gt;now&lt;/b&gt;" in page
    assert f'name="actions" value="{action.id}" id="publish-action-{action.id}" checked' in page
    assert "Approve the actions for publication" in page
    r = post_form(as_organiser, url, {"actions": [str(action.id)]})
    assert r.status_code == 302

    assert _attention(assembly) == []
    public = as_organiser.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)
    assert "who-to-call guide" in public and "Internal follow-up" not in public

    # The facilitator writes notes after all: they go to the organisers for review, from version 0 as usual.
    notes, changed = services.save_notes(workshop, {"summary": "Late summary"}, 0, fac.id)
    assert changed and notes.status == "submitted" and notes.version == 1
    assert "who-to-call guide" in as_organiser.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)


def test_actions_waiting_for_a_draft_are_counted_as_waiting_for_its_facilitator(as_organiser, db):
    fac = make_user("facilitator")
    assembly, workshop, _ = _workshop_with_actions(fac)
    services.save_notes(workshop, {"summary": "Still typing"}, 0, fac.id)
    assert _attention(assembly) == [
        "1 action waits for the facilitator to submit the workshop's notes, then for your approval."]
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/notes/{workshop.id}").get_data(as_text=True)
    assert "they can be approved once submitted" in page and ">Approve" not in page
    assert db.session.query(SessionNotes).one().approved_at is None
