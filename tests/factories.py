"""Small factory functions for test data. Each commits, like a service would."""
from __future__ import annotations

import itertools
from datetime import date, datetime, time

from eventapp.accounts.models import User
from eventapp.assemblies.models import AgendaItem, Assembly, Round, Topic, Workshop
from eventapp.extensions import db
from eventapp.organisations.models import Organisation, name_key

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(role: str = "organiser", email: str | None = None, name: str = "Test User",
              password: str = PASSWORD) -> User:
    user = User(email=email or f"user{next(_seq)}@example.org", role=role, name=name)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_org(name: str | None = None, sector: str = "police", status: str = "approved") -> Organisation:
    name = name or f"Organisation {next(_seq)}"
    org = Organisation(name=name, name_key=name_key(name), sector=sector, status=status)
    db.session.add(org)
    db.session.commit()
    return org


def make_topic(name: str | None = None) -> Topic:
    name = name or f"Topic {next(_seq)}"
    topic = Topic(name=name, name_key=name_key(name))
    db.session.add(topic)
    db.session.commit()
    return topic


def make_assembly(**kw) -> Assembly:
    n = next(_seq)
    values = dict(
        title=f"Community Safety Assembly {n}", slug=f"assembly-{n}", date=date(2027, 3, 18),
        start_time=time(9, 0), end_time=time(16, 0), venue_name="Shireford Guildhall", capacity=150,
        status="open", registration_opens_at=datetime(2020, 1, 1, 9, 0),
        registration_closes_at=datetime(2099, 1, 1, 17, 0),
    )
    values.update(kw)
    assembly = Assembly(**values)
    db.session.add(assembly)
    db.session.commit()
    return assembly


def make_round(assembly: Assembly, name: str | None = None, starts_at: time = time(11, 0),
               ends_at: time = time(12, 15), position: int | None = None) -> Round:
    rnd = Round(assembly=assembly, name=name or f"Round {next(_seq)}", starts_at=starts_at, ends_at=ends_at,
                position=position or len(assembly.rounds) + 1)
    db.session.add(rnd)
    db.session.commit()
    return rnd


def make_workshop(rnd: Round, topic: Topic | None = None, title: str | None = None, capacity: int = 20,
                  room: str = "Room 1", facilitators: list[User] | None = None) -> Workshop:
    topic = topic or make_topic()
    workshop = Workshop(round=rnd, topic=topic, title=title or topic.name, capacity=capacity, room=room,
                        facilitators=facilitators or [])
    db.session.add(workshop)
    db.session.commit()
    return workshop


def make_agenda_item(assembly: Assembly, title: str = "Welcome", starts_at: time = time(9, 30)) -> AgendaItem:
    item = AgendaItem(assembly=assembly, title=title, starts_at=starts_at)
    db.session.add(item)
    db.session.commit()
    return item


PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def make_document(assembly: Assembly, title: str = "Agenda", visibility: str = "public", data: bytes | None = None,
                  filename: str = "agenda.pdf"):
    """A document attached through the service, as an organiser's upload would be."""
    from eventapp.documents.services import add_document

    return add_document(assembly.id, filename=filename, title=title, visibility=visibility,
                        data=data if data is not None else PDF_BYTES + title.encode("utf-8", "replace"))
