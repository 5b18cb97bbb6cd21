"""The page that moves one delegate reads that delegate, not every delegate of the assembly.

At 10,000 delegates it loaded them all with their choices and organisations (and 30,000
placements) to show one form: 2.5 s a page. Counted like tests/test_query_counts.py, but
without merging selectin batches: a batch per 500 delegates is reading the delegates.
"""
from __future__ import annotations

from datetime import time

from eventapp.placements.services import publish, run_allocation
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.production.world import add_registrations
from tests.test_query_counts import counting


def _move_page_statements(client, n: int, *, published: bool) -> tuple[int, str]:
    assembly = make_assembly(capacity=2000)
    topics = [make_topic() for _ in range(3)]
    for position, (start, end) in enumerate([(time(10), time(11)), (time(12), time(13))], start=1):
        rnd = make_round(assembly, f"Round {position}", starts_at=start, ends_at=end, position=position)
        for topic in topics:
            make_workshop(rnd, topic, capacity=2000, room=f"Room {topic.id}")
    orgs = [make_org(sector="police"), make_org(sector="health")]
    regs = add_registrations(assembly, orgs, topics, n)
    run = run_allocation(assembly)
    if published:
        publish(run, assembly)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{regs[0].id}"
    client.get(url)  # anything cached per process (templates) is warm for both counts
    with counting() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def test_move_page_statement_count_does_not_grow_with_delegates(as_organiser, email_request_context):
    for published in (False, True):
        small, page = _move_page_statements(as_organiser, 10, published=published)
        large, big_page = _move_page_statements(as_organiser, 1_100, published=published)
        assert large == small, f"published={published}: {small} statements for 10 delegates, {large} for 1,100"
        # Same form: the delegate's name, both rounds' choices, their current workshops selected.
        for html in (page, big_page):
            assert "Delegate 00000" in html and "Round 1" in html and "Round 2" in html
            assert html.count("selected") >= 2
