"""Test data for allocation: an assembly with two rounds, topics and confirmed delegates."""
from __future__ import annotations

from eventapp.extensions import db
from eventapp.registration.models import Preference, Registration, email_key
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop


def make_registration(assembly, org, name: str, topics, status: str = "confirmed", position=None) -> Registration:
    email = f"{name.lower().replace(' ', '.')}@example.org"
    reg = Registration(assembly_id=assembly.id, organisation_id=org.id, full_name=name, email=email,
                       email_key=email_key(email), status=status,
                       waiting_position=position if status == "waiting" else None)
    reg.preferences = [Preference(topic_id=t.id, rank=i + 1) for i, t in enumerate(topics)]
    db.session.add(reg)
    db.session.commit()
    return reg


def two_round_assembly(capacity: int = 2):
    """Rounds 1 and 2, topics A, B, C; A and B in round 1, B and C in round 2."""
    assembly = make_assembly()
    a, b, c = make_topic("Anti-social behaviour"), make_topic("Poor mental health"), make_topic("Hidden harm")
    r1 = make_round(assembly, "Morning", position=1)
    r2 = make_round(assembly, "Afternoon", position=2)
    ws = {
        "1A": make_workshop(r1, a, "ASB (morning)", capacity=capacity, room="Hall"),
        "1B": make_workshop(r1, b, "Mental health (morning)", capacity=capacity, room="Room 1"),
        "2B": make_workshop(r2, b, "Mental health (afternoon)", capacity=capacity, room="Room 1"),
        "2C": make_workshop(r2, c, "Hidden harm (afternoon)", capacity=capacity, room="Room 2"),
    }
    return assembly, {"A": a, "B": b, "C": c}, {"1": r1, "2": r2}, ws


def delegates(assembly, topics, n: int, orgs=None, choices="ABC"):
    orgs = orgs or [make_org(sector="police"), make_org(sector="health")]
    return [make_registration(assembly, orgs[i % len(orgs)], f"Delegate {i:02d}", [topics[c] for c in choices])
            for i in range(n)]
