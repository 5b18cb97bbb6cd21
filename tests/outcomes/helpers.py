"""Two assemblies of one series on the same topic: last year's (approved notes, actions) and this year's."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import uuid4

from eventapp.assemblies.models import Assembly, Series, Workshop
from eventapp.extensions import db
from eventapp.notes import services as notes
from eventapp.notes.models import Action, Attendance
from eventapp.outcomes import services as outcomes
from eventapp.placements.models import Placement
from eventapp.registration.models import Registration, email_key
from tests.factories import make_assembly, make_org, make_round, make_topic, make_user, make_workshop

# Seeded into internal-only sections, internal actions and personal fields: must never appear publicly.
INTERNAL_MARK = "QZX-INTERNAL-7731"
INTERNAL_ACTION_MARK = "QZX-INTERNAL-ACTION-5520"
DELEGATE_NAME = "Zebediah Quillfeather"
DELEGATE_EMAIL = "zq.secret.delegate@example.org"
WALK_IN_NAME = "Ottoline Vexbridge"
LEAD_PERSON = "Ximena Obscurant"
PUBLIC_MARK = "PUBLIC-OUTCOME-4410"


@dataclass
class Scene:
    previous: Assembly
    current: Assembly
    old_workshop: Workshop
    new_workshop: Workshop
    police: object
    health: object
    open_action: Action
    overdue_action: Action
    done_action: Action
    internal_action: Action
    registration: Registration


def build_scene(facilitator=None, organiser=None) -> Scene:
    today = date.today()
    # id(object()) repeats once the object is freed; live-server tests commit, so names must never repeat.
    series = Series(name=f"Series {uuid4().hex}")
    db.session.add(series)
    db.session.commit()
    previous = make_assembly(series_id=series.id, status="archived", date=today - timedelta(days=300))
    current = make_assembly(series_id=series.id, status="open", date=today + timedelta(days=60))
    topic = make_topic("Anti-social behaviour " + previous.slug)
    old_fac = make_user("facilitator", name="Old Facilitator")
    old_ws = make_workshop(make_round(previous), topic=topic, facilitators=[old_fac])
    new_ws = make_workshop(make_round(current), topic=topic, facilitators=[facilitator] if facilitator else [])
    police = make_org("Shireford Police " + previous.slug, sector="police")
    health = make_org("Shireford Health " + previous.slug, sector="health")

    reg = Registration(assembly_id=previous.id, organisation_id=police.id, full_name=DELEGATE_NAME,
                       email=DELEGATE_EMAIL, email_key=email_key(DELEGATE_EMAIL), status="confirmed")
    other = Registration(assembly_id=previous.id, organisation_id=health.id, full_name="Second Delegate",
                         email=f"second.{previous.id}@example.org", email_key=f"second.{previous.id}@example.org",
                         status="confirmed")
    db.session.add_all([reg, other])
    db.session.flush()
    db.session.add(Placement(registration_id=reg.id, round_id=old_ws.round_id, topic_id=topic.id,
                             workshop_id=old_ws.id))
    db.session.add(Placement(registration_id=other.id, round_id=old_ws.round_id, topic_id=topic.id,
                             workshop_id=old_ws.id))
    db.session.add(Attendance(workshop_id=old_ws.id, registration_id=reg.id, status="present"))
    db.session.add(Attendance(workshop_id=old_ws.id, registration_id=other.id, status="absent"))
    db.session.add(Attendance(workshop_id=old_ws.id, walk_in_name=WALK_IN_NAME, walk_in_organisation="Elsewhere",
                              status="walk_in"))
    db.session.commit()

    saved, _ = notes.save_notes(old_ws, {
        "summary": f"Shared case list agreed {PUBLIC_MARK}", "summary_internal": False,
        "free_notes": f"Confidential {INTERNAL_MARK} about {DELEGATE_NAME}", "free_notes_internal": True,
    }, 0, old_fac.id, submit=True)

    def action(description, org, due_in, status="open", internal=False):
        return notes.add_action(old_ws, {"description": description, "owner_organisation_id": org.id,
                                         "lead_person": LEAD_PERSON, "due_date": today + timedelta(days=due_in),
                                         "status": status, "internal": internal, "topic_ids": [topic.id]},
                                old_fac.id)

    open_action = action("Publish a who-to-call guide", police, 20)
    overdue_action = action("Set up a single shared ASB case list", police, -30, "in_progress")
    done_action = action("Train officers in mental health first aid", health, -60, "done")
    internal_action = action(f"Review the data-sharing agreement {INTERNAL_ACTION_MARK}", health, -5, internal=True)
    notes.approve_notes(saved, ["summary", "free_notes"],
                        [open_action.id, overdue_action.id, done_action.id, internal_action.id],
                        organiser.id if organiser else None)
    return Scene(previous, current, old_ws, new_ws, police, health, open_action, overdue_action, done_action,
                 internal_action, reg)


def carried_copy(scene: Scene, by_id) -> Action:
    """Carries last year's overdue action forward into this year's assembly: its copy, which the police now track."""
    outcomes.carry_forward(scene.current, [scene.overdue_action.id], by_id)
    (copy,) = [a for a in outcomes.partner_actions(scene.police.id) if a.description == scene.overdue_action.description]
    return copy


def edit_form(action: Action, **changes) -> dict:
    """The tracker's edit form of an action as it stands (its topics ticked), with `changes` typed in."""
    return {"version": str(action.version), "description": action.description,
            "owner_organisation_id": action.owner_organisation_id, "lead_person": action.lead_person,
            "due_date": action.due_date.isoformat(), "status": action.status,
            "topic_ids": [t.id for t in action.topics], **changes}
