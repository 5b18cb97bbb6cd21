"""public_outcomes: the only door from notes to the public, and internal text never passes it."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date

from eventapp.notes import services

from .helpers import notes_form, scene

SECRET = "INTERNAL-ONLY: named family at risk"


def _everything(outcomes) -> str:
    return repr([asdict(o) for o in outcomes])


def test_nothing_is_public_before_approval(facilitator):
    s = scene(facilitator)
    services.save_notes(s.workshop, notes_form(summary="Public summary"), 0, None, submit=True)
    services.add_action(s.workshop, {"description": "Public action", "owner_organisation_id": s.police.id,
                                     "due_date": date(2027, 6, 30)}, None)
    assert services.public_outcomes(s.assembly) == []


def test_only_approved_non_internal_sections_and_actions_come_out(facilitator):
    s = scene(facilitator)
    notes, _ = services.save_notes(s.workshop, notes_form(
        summary="Public summary", working="Joint patrols work", barriers=SECRET, ideas="Unapproved idea",
        internal=("barriers",)), 0, None, submit=True)
    public = services.add_action(s.workshop, {"description": "Publish the referral map", "lead_person": "Rana Begum",
                                              "owner_organisation_id": s.police.id, "due_date": date(2027, 6, 30),
                                              "topic_ids": [s.workshop.topic_id]}, None)
    secret = services.add_action(s.workshop, {"description": SECRET + " (action)", "internal": True,
                                              "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    # The organiser even tries to approve the internal parts: they stay out.
    services.approve_notes(notes, ["summary", "working", "barriers"], [public.id, secret.id], None)
    (outcome,) = services.public_outcomes(s.assembly)
    assert outcome.workshop_title == "Spotting hidden harm"
    assert [(x.key, x.body) for x in outcome.sections] == [("summary", "Public summary"),
                                                           ("working", "Joint patrols work")]
    assert [(a.description, a.owner_organisation, a.status) for a in outcome.actions] == [
        ("Publish the referral map", "Shire Police", "open")]
    assert outcome.actions[0].topics == [s.workshop.topic.name]
    dump = _everything(services.public_outcomes(s.assembly))
    assert SECRET not in dump and "Unapproved idea" not in dump
    assert "Rana Begum" not in dump  # people's names stay out of public output


def test_edits_after_approval_withdraw_the_notes_until_approved_again(facilitator):
    s = scene(facilitator)
    notes, _ = services.save_notes(s.workshop, notes_form(summary="Approved text"), 0, None, submit=True)
    services.approve_notes(notes, ["summary"], [], None)
    assert services.public_outcomes(s.assembly)[0].sections[0].body == "Approved text"
    # The facilitator later marks the summary internal: it must vanish at once.
    services.save_notes(s.workshop, notes_form(summary="Approved text", internal=("summary",)), notes.version, None)
    assert services.public_outcomes(s.assembly) == []


def test_other_assemblies_do_not_leak_in(facilitator):
    s1, s2 = scene(facilitator), scene(facilitator)
    notes, _ = services.save_notes(s2.workshop, notes_form(summary="Second assembly only"), 0, None, submit=True)
    services.approve_notes(notes, ["summary"], [], None)
    assert services.public_outcomes(s1.assembly) == []
    assert len(services.public_outcomes(s2.assembly)) == 1
