"""Publishing an allocation issues the same number of SQL statements for 10 delegates as for 300.

A national event publishes 30,000 places (10,000 delegates, 3 rounds): one INSERT per place
made publishing (and every re-publish, which rewrites them all) take tens of seconds.
"""
from __future__ import annotations

from datetime import time

from sqlalchemy import func, select

from eventapp.placements.models import Placement
from eventapp.placements.services import publish, run_allocation
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.production.world import add_registrations
from tests.test_query_counts import counting


def _publish_statements(n: int) -> tuple[int, int]:
    assembly = make_assembly(capacity=1000)
    topics = [make_topic() for _ in range(3)]
    for position, (start, end) in enumerate([(time(10), time(11)), (time(12), time(13))], start=1):
        rnd = make_round(assembly, f"Round {position}", starts_at=start, ends_at=end, position=position)
        for topic in topics:
            make_workshop(rnd, topic, capacity=1000)
    orgs = [make_org(sector="police"), make_org(sector="health")]
    add_registrations(assembly, orgs, topics, n)
    run = run_allocation(assembly)
    with counting() as first:
        publish(run, assembly)
    # Again, with nothing changed: every place is rewritten, no delegate is emailed.
    run = run_allocation(assembly)
    with counting() as again:
        outcome = publish(run, assembly)
    assert outcome.changed == []
    placed = select(func.count()).select_from(Placement).where(Placement.round_id.in_(
        [r.id for r in assembly.rounds]))
    from eventapp.extensions import db

    assert db.session.scalar(placed) == 2 * n
    return len(first), len(again)


def test_publish_statement_count_does_not_grow_with_places(app, db, email_request_context):
    small = _publish_statements(10)
    large = _publish_statements(300)
    assert large == small, f"publish: {small} statements for 10 delegates, {large} for 300"
