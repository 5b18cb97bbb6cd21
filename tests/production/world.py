"""A small but complete assembly for tests that visit every page: one of everything a URL can name.

Used by the security matrix, the fuzz test and the query-count test. Everything is made
through the same models the services use and committed (the ``db`` fixture rolls it back).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from eventapp.assemblies.models import Assembly, Topic, Workshop
from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.notes.models import Action
from eventapp.placements.models import AllocationPin, Placement
from eventapp.placements.services import run_allocation
from eventapp.registration.models import Preference, Registration, email_key
from tests.factories import (make_agenda_item, make_assembly, make_org, make_round, make_topic, make_user,
                             make_workshop)

ROLES = ("anonymous", "delegate", "other_facilitator", "facilitator", "organiser", "reception")


@dataclass
class World:
    assembly: Assembly
    workshop: Workshop          # run by ``facilitator``
    other_workshop: Workshop    # run by ``other_facilitator``
    registration: Registration  # confirmed, placed in ``workshop``
    organiser: object
    facilitator: object
    other_facilitator: object
    reception: object           # checks delegates in on the day, nothing else
    ids: dict = field(default_factory=dict)
    manage_token: str = ""
    feed_token: str = ""
    partner_token: str = ""  # the partner organisation lead's personal link (to ``org_id``)
    reset_token: str = ""    # a password reset link emailed to ``facilitator``
    confirm_token: str = ""  # the link that confirms an unconfirmed form (``pending_id``) of ``assembly``


def add_registrations(assembly, orgs, topics, n: int, *, start: int = 0, status: str = "confirmed",
                      placed_in: list[Workshop] | None = None) -> list[Registration]:
    """``n`` registrations with three ranked choices each, in one commit (fast for 1,000s)."""
    regs = []
    top = db.session.scalar(select(db.func.max(Registration.waiting_position))
                            .where(Registration.assembly_id == assembly.id)) or 0
    for i in range(start, start + n):
        email = f"delegate{i}.{assembly.id}@example.org"
        if status == "waiting":
            top += 1
        reg = Registration(assembly_id=assembly.id, organisation_id=orgs[i % len(orgs)].id,
                           full_name=f"Delegate {i:05d}", email=email, email_key=email_key(email),
                           job_title="Community safety officer", status=status,
                           waiting_position=top if status == "waiting" else None)
        reg.preferences = [Preference(topic_id=t.id, rank=r + 1) for r, t in enumerate(topics[:3])]
        regs.append(reg)
    db.session.add_all(regs)
    db.session.flush()
    for reg in regs:
        for w in placed_in or []:
            db.session.add(Placement(registration_id=reg.id, round_id=w.round_id, topic_id=w.topic_id,
                                     workshop_id=w.id))
    db.session.commit()
    return regs


def build_world() -> World:
    from eventapp.invites.services import feed_token
    from eventapp.registration.services import make_manage_token

    organiser = make_user("organiser", email="organiser@example.org", name="Olu Organiser")
    facilitator = make_user("facilitator", email="facilitator@example.org", name="Fran Facilitator")
    other = make_user("facilitator", email="other.facilitator@example.org", name="Oscar Other")
    desk = make_user("reception", email="desk@example.org", name="Dee Desk")
    # An account nobody signs in with: the one organisers deactivate and reactivate.
    spare = make_user("facilitator", email="spare@example.org", name="Sam Spare")
    assembly = make_assembly(capacity=50, privacy_notice="We keep your details for a year.")
    rnd = make_round(assembly, "Morning", position=1)
    topics = [make_topic(f"World topic {n}") for n in range(4)]
    workshop = make_workshop(rnd, topics[0], "Spotting hidden harm", facilitators=[facilitator])
    other_workshop = make_workshop(rnd, topics[1], "Criminal exploitation", facilitators=[other], room="Room 2")
    make_workshop(rnd, topics[2], "Building confidence", room="Room 3")
    make_workshop(rnd, topics[3], "Mental health", room="Room 4")
    org = make_org("World Constabulary", "police")
    org2 = make_org("World District Council", "local_authority")
    item = make_agenda_item(assembly)
    (reg,) = add_registrations(assembly, [org], topics, 1, start=0, placed_in=[workshop])
    add_registrations(assembly, [org2], topics, 1, start=1, placed_in=[other_workshop])
    run = run_allocation(assembly)
    pin = AllocationPin(registration_id=reg.id, round_id=rnd.id, workshop_id=workshop.id)
    db.session.add(pin)
    from eventapp.registration.services import _queue

    from flask import current_app

    with current_app.test_request_context():
        _queue(reg, "manage_link")
    db.session.flush()
    message = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1))
    action = Action(assembly_id=assembly.id, workshop_id=workshop.id, description="Share the referral map",
                    owner_organisation_id=org.id, lead_person="Pat", due_date=date(2027, 5, 1), status="open",
                    internal=False, created_by_id=facilitator.id, version=1)
    db.session.add(action)
    db.session.commit()
    world = World(assembly=assembly, workshop=workshop, other_workshop=other_workshop, registration=reg,
                  organiser=organiser, facilitator=facilitator, other_facilitator=other,
                  reception=desk)
    from eventapp.registration.models import PendingRegistration
    from eventapp.registration.services import _confirm_serializer

    pending = PendingRegistration(assembly_id=assembly.id, full_name="Pending Person", email="pending@example.org",
                                  email_key="pending@example.org",
                                  data={"full_name": "Pending Person", "email": "pending@example.org",
                                        "job_title": "Officer", "organisation_id": org.id,
                                        "topic_ids": [t.id for t in topics[:3]], "consent": True,
                                        "join_waiting_list": True})
    db.session.add(pending)
    db.session.commit()
    with current_app.test_request_context():
        world.confirm_token = _confirm_serializer().dumps({"p": pending.id, "k": pending.email_key})
    world.ids = {
        "pending_id": pending.id,
        "slug": assembly.slug, "workshop_id": workshop.id, "item_id": item.id, "round_id": rnd.id,
        "reg_id": reg.id, "registration_id": reg.id, "pin_id": pin.id, "message_id": message.id,
        "action_id": action.id, "org_id": org.id, "topic_id": topics[0].id, "run_id": run.id,
        "user_id": spare.id,
    }
    try:
        from eventapp.outcomes import services as outcomes
    except ImportError:  # the outcomes area is not there yet
        outcomes = None
    if outcomes is not None:
        update = outcomes.save_update(assembly, {"title": "What we agreed", "published_on": date(2027, 3, 20),
                                                 "body": "Partners agreed a referral map."})
        outcomes.save_contact(org, "Lee Lead", "lead@example.org")
        world.ids["update_id"] = update.id
        world.partner_token = outcomes.make_partner_token(org.id)
    from eventapp.messages.models import AssemblyMessage

    sent = AssemblyMessage(assembly_id=assembly.id, send_key="world", audience="confirmed",
                           audience_label="Confirmed delegates", subject="Parking", body="Park at the rear.",
                           recipients=0, sent_by_id=organiser.id)
    db.session.add(sent)
    db.session.commit()
    world.ids["email_id"] = sent.id
    from tests.factories import make_document

    world.ids["doc_id"] = make_document(assembly, "World agenda").id
    from eventapp.accounts.services import make_reset_token

    world.reset_token = make_reset_token(facilitator)
    world.manage_token = make_manage_token(reg)
    world.feed_token = feed_token(reg)
    return world


def outbox_messages() -> int:
    return db.session.scalar(select(db.func.count(OutboxMessage.id))) or 0


def grow(world: World, n: int, *, start: int) -> None:
    """Add ``n`` of every listed thing: organisations, staff, topics, assemblies, delegates
    (confirmed, placed in the world's workshop, three choices each), emails and actions."""
    from datetime import time

    from eventapp.accounts.models import User
    from eventapp.audit.models import AuditEvent
    from eventapp.notes.models import Action
    from eventapp.organisations.models import Organisation, name_key

    orgs = [Organisation(name=f"Grown org {i:05d}", name_key=name_key(f"Grown org {i:05d}"),
                         sector=("police", "health", "local_authority")[i % 3],
                         status="pending" if i % 7 == 0 else "approved") for i in range(start, start + n)]
    topics = [Topic(name=f"Grown topic {i:05d}", name_key=name_key(f"Grown topic {i:05d}"))
              for i in range(start, start + n)]
    users = []
    for i in range(start, start + n):
        user = User(email=f"staff{i}@example.org", role=("facilitator", "organiser")[i % 2], name=f"Staff {i:05d}")
        user.password_hash = world.organiser.password_hash  # hashing 1,000 passwords is not the point
        users.append(user)
    assemblies = [Assembly(title=f"Grown assembly {i}", slug=f"grown-{i}", date=date(2027, 1, 1 + i % 28),
                           start_time=time(9), end_time=time(16), status=("open", "draft", "closed")[i % 3])
                  for i in range(start, start + n)]
    db.session.add_all(orgs + topics + users + assemblies)
    db.session.flush()
    # Workshops too: a second round of the world's assembly, one per grown topic, at most 40
    # (10 against 40 shows a query per workshop as well; the registration form offers one
    # ranked choice per topic, so 1,000 topics would make it a page of a million options).
    from eventapp.assemblies.models import Round

    grown_round = db.session.scalar(select(Round).where(Round.assembly_id == world.assembly.id,
                                                        Round.name == "Grown round"))
    if grown_round is None:
        grown_round = Round(assembly_id=world.assembly.id, name="Grown round", starts_at=time(14),
                            ends_at=time(15), position=9)
        db.session.add(grown_round)
        db.session.flush()
    db.session.add_all(Workshop(round_id=grown_round.id, topic_id=t.id, title=t.name, capacity=10,
                                room=f"Room {i}") for i, t in enumerate(topics[:max(0, 40 - start)]))
    world_topics = [w.topic for w in world.workshop.round.workshops]
    add_registrations(world.assembly, orgs, world_topics, n, start=10_000 + start, placed_in=[world.workshop])
    for i in range(start, start + n):
        db.session.add(OutboxMessage(kind="manage_link", to_email=f"delegate{i}@example.org", to_name=f"Delegate {i}",
                                     subject=f"Your link {i}", body_text="Text", body_html="<p>HTML</p>",
                                     message_id=f"<grown{i}.{world.assembly.id}@example.org>",
                                     status=("pending", "sent", "failed")[i % 3], assembly_id=world.assembly.id,
                                     last_error="550 no such user" if i % 3 == 2 else ""))
        action = Action(assembly_id=world.assembly.id, workshop_id=world.workshop.id, description=f"Action {i}",
                        owner_organisation_id=orgs[i - start].id, lead_person=f"Lead {i}",
                        due_date=date(2027, 6, 1 + i % 28), status="open", internal=False,
                        created_by_id=world.facilitator.id, version=1)
        action.topics = [world_topics[i % len(world_topics)], topics[i - start]]
        db.session.add(action)
        db.session.add(AuditEvent(actor_id=(world.organiser.id, None)[i % 2], actor_name=("Olu Organiser", "")[i % 2],
                                  action=("registration.edit", "privacy.purge")[i % 2],
                                  assembly_id=(world.assembly.id, assemblies[i - start].id)[i % 2],
                                  subject=f"registration {i}: Delegate {i}", detail="changed: email"))
    db.session.commit()
