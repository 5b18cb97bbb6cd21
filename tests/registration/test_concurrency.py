"""Many people registering at once: capacity and the per-organisation limit hold, the queue keeps arrival order.

On PostgreSQL (when TEST_DATABASE_URL is set): 200 threads, capacity 50, 3 per organisation,
plus a control run with the row lock removed that over-books. On SQLite a smaller run of
the same test (its BEGIN IMMEDIATE serialises writers, so there is no lock to remove).
"""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from eventapp.assemblies.models import Assembly
from eventapp.extensions import db as _db
from eventapp.registration import services
from eventapp.registration.models import Registration
from tests.concurrency import BACKENDS, at_once, own_database
from tests.conftest import TEST_DATABASE_URL, make_test_app
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop


@pytest.fixture
def database(request, tmp_path):
    with own_database(request.param, tmp_path, "concurrency") as url:
        yield url


def _stampede(uri: str, monkeypatch, *, threads: int, capacity: int, org_limit: int, orgs: int, locked: bool = True):
    app = make_test_app(uri, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 30, "max_overflow": 0, "pool_timeout": 300},
                        PUBLIC_BASE_URL="https://events.example.org")
    with app.app_context():
        upgrade()
        assembly = make_assembly(capacity=capacity, org_limit=org_limit)
        rnd = make_round(assembly)
        topic_ids = [make_workshop(rnd, make_topic()).topic_id for _ in range(3)]
        org_ids = [make_org().id for _ in range(orgs)]
        assembly_id = assembly.id
        _db.session.remove()

    arrivals: list[str] = []
    arrivals_guard = threading.Lock()
    local = threading.local()
    real_lock, real_counts = services._lock_places, services._place_reason

    def lock(assembly_id):
        if locked:
            got = real_lock(assembly_id)
        else:  # the control: read the same columns without locking the row
            got = _db.session.execute(select(Assembly.capacity, Assembly.org_limit, Assembly.confirmed_count,
                                             Assembly.waiting_count).where(Assembly.id == assembly_id)).one()
        with arrivals_guard:
            arrivals.append(local.email)
        return got

    def slow_counts(*args):
        # Widen the gap between counting and inserting, so a missing lock shows.
        result = real_counts(*args)
        time.sleep(0.005)
        return result

    # register() locks through _lock_places and decides through _place_reason.
    monkeypatch.setattr(services, "_lock_places", lock)
    monkeypatch.setattr(services, "_place_reason", slow_counts)

    def worker(i: int, ready):
        local.email = f"person{i}@example.org"
        data = {"full_name": f"Person {i}", "email": local.email, "job_title": "Officer",
                "organisation_id": org_ids[i % orgs], "topic_ids": topic_ids, "consent": True,
                "join_waiting_list": True}
        ready()
        services.register(_db.session.get(Assembly, assembly_id), data)

    _, errors = at_once(app, threads, worker, timeout=300)
    with app.app_context():
        regs = list(_db.session.scalars(select(Registration).where(Registration.assembly_id == assembly_id)))
        _db.session.remove()
        _db.engine.dispose()
    return regs, arrivals, errors


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_simultaneous_registrations_never_overbook_and_queue_in_arrival_order(database, monkeypatch):
    pg = database.startswith("postgresql")
    threads, capacity, limit, orgs = (200, 50, 3, 20) if pg else (40, 10, 3, 8)
    regs, arrivals, errors = _stampede(database, monkeypatch, threads=threads, capacity=capacity,
                                       org_limit=limit, orgs=orgs)
    assert errors == []
    assert len(regs) == threads
    confirmed = [r for r in regs if r.status == "confirmed"]
    waiting = sorted((r for r in regs if r.status == "waiting"), key=lambda r: r.waiting_position)
    assert len(confirmed) == capacity
    assert max(Counter(r.organisation_id for r in confirmed).values()) <= limit
    assert len(waiting) == threads - capacity
    assert [r.waiting_position for r in waiting] == list(range(1, len(waiting) + 1))
    # Arrival = the order in which transactions got the assembly lock.
    order = {email: i for i, email in enumerate(arrivals)}
    assert [order[r.email] for r in waiting] == sorted(order[r.email] for r in waiting)
    # Everyone confirmed arrived before a place ran out for their organisation.
    assert sorted(r.id for r in regs) == [r.id for r in sorted(regs, key=lambda r: order[r.email])]


if TEST_DATABASE_URL:  # the control needs a lock to remove: PostgreSQL only
    @pytest.mark.postgres
    @pytest.mark.parametrize("database", ["postgresql"], indirect=True)
    def test_control_without_the_row_lock_the_same_stampede_overbooks(database, monkeypatch):
        regs, _, _ = _stampede(database, monkeypatch, threads=200, capacity=50, org_limit=3, orgs=20, locked=False)
        confirmed = [r for r in regs if r.status == "confirmed"]
        per_org = Counter(r.organisation_id for r in confirmed)
        assert len(confirmed) > 50 or max(per_org.values()) > 3, "without the lock the race should over-book"
