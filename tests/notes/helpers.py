"""A workshop with its facilitator, allocated delegates and a second workshop run by someone else."""
from __future__ import annotations

from dataclasses import dataclass

from eventapp.assemblies.models import Assembly, Workshop
from eventapp.extensions import db
from eventapp.placements.models import Placement
from eventapp.registration.models import Registration, email_key
from tests.factories import make_assembly, make_org, make_round, make_topic, make_user, make_workshop


@dataclass
class Scene:
    assembly: Assembly
    workshop: Workshop
    other: Workshop
    allocated: list[Registration]
    elsewhere: Registration
    police: object
    health: object


def make_registration(assembly, org, name: str, status: str = "confirmed", access_needs: str = "") -> Registration:
    email = f"{name.lower().replace(' ', '.')}.{assembly.id}@example.org"
    reg = Registration(assembly_id=assembly.id, organisation_id=org.id, full_name=name, email=email,
                       email_key=email_key(email), status=status, access_needs=access_needs,
                       waiting_position=1 if status == "waiting" else None)
    db.session.add(reg)
    db.session.commit()
    return reg


def place(reg: Registration, workshop: Workshop) -> None:
    db.session.add(Placement(registration_id=reg.id, round_id=workshop.round_id, topic_id=workshop.topic_id,
                             workshop_id=workshop.id))
    db.session.commit()


def _org(name: str, sector: str):
    from sqlalchemy import select

    from eventapp.organisations.models import Organisation, name_key

    return db.session.scalar(select(Organisation).where(Organisation.name_key == name_key(name))) or make_org(
        name, sector=sector)


def scene(facilitator, other_facilitator=None, **assembly_kw) -> Scene:
    """Morning round: 'Hidden harm' run by ``facilitator`` with three delegates, 'Exploitation' by another."""
    other_facilitator = other_facilitator or make_user("facilitator", name="Other Facilitator")
    assembly = make_assembly(**assembly_kw)
    rnd = make_round(assembly, "Morning")
    workshop = make_workshop(rnd, make_topic(), "Spotting hidden harm", facilitators=[facilitator])
    other = make_workshop(rnd, make_topic(), "Criminal exploitation", facilitators=[other_facilitator])
    police, health = _org("Shire Police", "police"), _org("County NHS Trust", "health")
    allocated = [
        make_registration(assembly, police, "Aisha Khan", access_needs="Step-free access, please"),
        make_registration(assembly, health, "Ben Jones"),
        make_registration(assembly, health, "Chloé Martin"),
    ]
    for reg in allocated:
        place(reg, workshop)
    elsewhere = make_registration(assembly, police, "Dev Patel")
    place(elsewhere, other)
    return Scene(assembly, workshop, other, allocated, elsewhere, police, health)


SECTION_KEYS = ["summary", "working", "not_working", "barriers", "ideas", "free_notes"]


def notes_form(version: int = 0, intent: str = "save", internal: tuple[str, ...] = (), **sections) -> dict:
    data = {"version": str(version), "intent": intent}
    for key in SECTION_KEYS:
        data[key] = sections.get(key, "")
        if key in internal:
            data[f"{key}_internal"] = "y"
    return data
