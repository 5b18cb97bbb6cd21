"""The allocation snapshot, the page and publishing read delegates, choices, pins and places as rows, not ORM objects.

A national event has 10,000 delegates: loading each as a Registration with its preferences and organisation,
plus 30,000 placements, built some 100,000 objects and took seconds on every allocation page, publish and run.
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

from sqlalchemy import event

from eventapp.assemblies.models import Assembly
from eventapp.extensions import db
from eventapp.placements import services
from eventapp.placements.models import AllocationPin, AllocationRun
from tests.factories import make_org

from .helpers import delegates, two_round_assembly

PER_DELEGATE = {"Registration", "Preference", "Organisation", "Placement", "AllocationPin"}


@contextmanager
def loaded():
    """Counts ORM instances loaded from the database, by class name."""
    seen: Counter[str] = Counter()

    def on_load(target, context):
        seen[type(target).__name__] += 1

    event.listen(db.Model, "load", on_load, propagate=True)
    try:
        yield seen
    finally:
        event.remove(db.Model, "load", on_load)


def _published_assembly_with_a_pin():
    assembly, topics, rounds, ws = two_round_assembly(capacity=6)
    regs = delegates(assembly, topics, 8, orgs=[make_org(sector="police"), make_org(sector="health")])
    run = services.run_allocation(assembly)
    services.publish(run, assembly)
    db.session.add(AllocationPin(registration_id=regs[0].id, round_id=rounds["1"].id, workshop_id=ws["1A"].id))
    db.session.commit()
    ids = assembly.id, regs[0].id
    db.session.expunge_all()  # nothing already in the session hides a load
    return db.session.get(Assembly, ids[0]), ids[1]


def test_snapshot_builds_no_object_per_delegate(app, db, email_request_context):
    assembly, pinned_id = _published_assembly_with_a_pin()
    with loaded() as seen:
        snap = services.snapshot(assembly)
    assert len(snap.problem.delegates) == 8
    pinned = next(d for d in snap.problem.delegates if d.id == str(pinned_id))
    assert pinned.pinned and all(len(d.current) == 2 for d in snap.problem.delegates)
    assert not PER_DELEGATE & set(seen), dict(seen)


def test_publish_and_allocation_page_build_no_object_per_delegate(app, db, email_request_context, as_organiser):
    assembly, _ = _published_assembly_with_a_pin()
    slug, assembly_id = assembly.slug, assembly.id
    with loaded() as seen:
        page = as_organiser.get(f"/organiser/assemblies/{slug}/allocation/")
    assert page.status_code == 200 and "Pinned by organisers" in page.get_data(as_text=True)
    # The pin listed on the page is the one object it needs (its id makes the remove link).
    assert not (PER_DELEGATE - {"AllocationPin"}) & set(seen) and seen["AllocationPin"] <= 1, dict(seen)
    run_id = services.run_allocation(db.session.get(Assembly, assembly_id)).id
    db.session.expunge_all()
    with loaded() as seen:
        outcome = services.publish(db.session.get(AllocationRun, run_id), db.session.get(Assembly, assembly_id))
    assert outcome.placed == 16
    assert not PER_DELEGATE & set(seen), dict(seen)
