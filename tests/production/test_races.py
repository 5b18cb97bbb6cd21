"""Race proofs across processes: two gunicorn instances (sync workers), requests spread across both.

Runs on PostgreSQL in the PostgreSQL pass (a database of its own per test) and on a shared
SQLite file in the SQLite pass (the county setup). Same sizes on both.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from flask_migrate import upgrade
from sqlalchemy import func, select

from eventapp.extensions import db as _db
from eventapp.mail.models import OutboxMessage
from eventapp.placements.models import Placement
from eventapp.registration.models import Registration
from tests.conftest import make_test_app
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.mail_sink import MailSink
from tests.production.conftest import REDIS_URL, SECRET, get_form, gunicorn, process_env, request, stop
from tests.production.world import add_registrations

CLIENTS = 100
ATTEMPTS = 1000
CAPACITY = 100
MESSAGES = 5000


def migrated_app(uri: str):
    # The same secret as the servers, so manage links made here open there.
    app = make_test_app(uri, PUBLIC_BASE_URL="https://assembly.example.org", SECRET_KEY=SECRET)
    with app.app_context():
        upgrade()
    return app


def limits() -> dict:
    # Rate limits stay on, counted in Redis (shared by every process), set high enough for
    # one address (this machine) to send the whole stampede.
    return {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": f"race-{uuid.uuid4().hex}",
            "REGISTRATION_RATE_LIMIT": "100000 per minute", "REGISTRATION_ATTEMPT_LIMIT": "100000 per minute"}


def test_registration_stampede_confirms_exactly_capacity_and_queues_in_order(own_database, tmp_path):
    app = migrated_app(own_database)
    with app.app_context():
        assembly = make_assembly(capacity=CAPACITY, org_limit=None, slug="stampede")
        rnd = make_round(assembly)
        topics = [make_workshop(rnd, make_topic(f"Stampede topic {i}")).topic_id for i in range(3)]
        orgs = [make_org(f"Stampede org {i}").name for i in range(10)]
        _db.session.remove()

    # 1,000 attempts by 900 people: every 10th address registers twice, from two clients at once.
    emails = [f"person{i}@example.org" for i in range(ATTEMPTS - ATTEMPTS // 10)]
    attempts = emails + emails[::9][: ATTEMPTS // 10]
    assert len(attempts) == ATTEMPTS
    statuses: Counter = Counter()
    lock = threading.Lock()

    with gunicorn(own_database, tmp_path, **limits()) as ports:
        def attempt(i: int) -> None:
            email = attempts[i]
            # The form from one process, the POST to the other: the session and CSRF token
            # are signed cookies, so any process can serve any request.
            cookie, token = get_form(ports[i % 2], "/a/stampede/register")
            fields = {"csrf_token": token, "full_name": f"Person {i}", "email": email,
                      "job_title": "Officer", "organisation_name": orgs[i % len(orgs)],
                      "choice_1": topics[0], "choice_2": topics[1], "choice_3": topics[2],
                      "consent": "y", "join_waiting_list": "y"}
            status, headers, _ = request(ports[(i + 1) % 2], "POST", "/a/stampede/register", cookie=cookie,
                                         form=fields)
            with lock:
                statuses[status] += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(attempt, range(ATTEMPTS)))
        elapsed = time.perf_counter() - started

    print(f"\n{ATTEMPTS} registration attempts from {CLIENTS} clients in {elapsed:.1f} s: {dict(statuses)}")
    assert statuses == {302: ATTEMPTS}, "every attempt ends on the check-your-email page"
    with app.app_context():
        regs = list(_db.session.scalars(select(Registration).order_by(Registration.id)))
        confirmed = [r for r in regs if r.status == "confirmed"]
        waiting = sorted((r for r in regs if r.status == "waiting"), key=lambda r: r.waiting_position)
        assert len(regs) == len(emails) and len({r.email_key for r in regs}) == len(emails)
        assert len(confirmed) == CAPACITY
        assert len(waiting) == len(emails) - CAPACITY
        # The queue: positions 1..N without gaps or duplicates, in the order people arrived
        # (the order their transactions took the assembly lock), after everyone confirmed.
        assert [r.waiting_position for r in waiting] == list(range(1, len(waiting) + 1))
        assert [r.id for r in waiting] == sorted(r.id for r in waiting)
        assert [r.created_at for r in waiting] == sorted(r.created_at for r in waiting)
        assert max(r.created_at for r in confirmed) <= min(r.created_at for r in waiting)
        # One confirmation or waiting-list email per person, never two.
        sent = list(_db.session.execute(select(OutboxMessage.to_email, OutboxMessage.kind).where(
            OutboxMessage.kind.in_(("registration_confirmed", "waiting_list")))))
        assert Counter(kind for _, kind in sent) == {"registration_confirmed": CAPACITY,
                                                      "waiting_list": len(emails) - CAPACITY}
        assert len({to for to, _ in sent}) == len(sent) == len(emails)
        # The second attempt of a registered address only re-sends their link.
        assert _db.session.scalar(select(func.count()).where(OutboxMessage.kind == "manage_link")) == ATTEMPTS // 10
        _db.session.remove()
        _db.engine.dispose()


def test_rate_limits_are_shared_by_every_process(own_database, tmp_path):
    app = migrated_app(own_database)
    with app.app_context():
        _db.engine.dispose()
    prefix = f"shared-{uuid.uuid4().hex}"
    with gunicorn(own_database, tmp_path, RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix) as ports:
        codes = []
        for i in range(12):
            cookie, token = get_form(ports[i % 2], "/login")
            status, _, _ = request(ports[(i + 1) % 2], "POST", "/login", cookie=cookie,
                                   form={"csrf_token": token, "email": "nobody@example.org", "password": "guess"})
            codes.append(status)
    # "10 per minute" per address, counted across both servers and all four workers.
    assert codes == [400] * 10 + [429, 429]


def test_two_mail_workers_deliver_each_message_exactly_once(own_database, tmp_path):
    app = migrated_app(own_database)
    with app.app_context():
        for start in range(0, MESSAGES, 1000):
            _db.session.add_all(
                OutboxMessage(kind="update", to_email=f"reader{i}@example.org", to_name=f"Reader {i}",
                              subject=f"Update {i}", body_text=f"Update number {i}", body_html=f"<p>Update {i}</p>",
                              message_id=f"<race-{i}-{uuid.uuid4().hex}@example.org>", status="pending",
                              attempts=0, last_error="")
                for i in range(start, min(start + 1000, MESSAGES)))
            _db.session.commit()
        _db.session.remove()

    sink = MailSink().start()
    workers = []
    started = time.perf_counter()
    try:
        env = process_env(own_database, tmp_path / "instance", MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port,
                          REQUEST_LOG="false")
        for n in range(2):
            log = open(tmp_path / f"worker-{n}.log", "wb")
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "eventapp", "mail", "worker", "--interval", "0.2",
                 "--batch", "50"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            with sink.lock:
                received = len(sink.messages)
            if received >= MESSAGES:
                break
            assert all(w.poll() is None for w in workers), "a mail worker died"
            time.sleep(0.5)
        time.sleep(1)  # anything sent twice would arrive now
    finally:
        for w in workers:
            stop(w)
        sink.stop()
    elapsed = time.perf_counter() - started

    ids = Counter(m["Message-ID"] for m in sink.messages)
    logs = [(tmp_path / f"worker-{n}.log").read_text() for n in range(2)]
    per_worker = [sum(int(line.split()[1].rstrip(",")) for line in log.splitlines() if line.startswith("Sent "))
                  for log in logs]
    print(f"\n{MESSAGES} messages through 2 workers in {elapsed:.1f} s: {per_worker} sent per worker")
    assert len(sink.messages) == MESSAGES
    assert max(ids.values()) == 1, "a message was delivered twice"
    with app.app_context():
        stored = dict(_db.session.execute(select(OutboxMessage.message_id, OutboxMessage.status)).all())
        _db.session.remove()
        _db.engine.dispose()
    assert set(ids) == set(stored) and set(stored.values()) == {"sent"}
    assert sum(per_worker) == MESSAGES and all(per_worker), "both workers took a share"


def test_publishing_while_delegates_cancel_leaves_no_place_to_a_cancelled_registration(own_database, tmp_path):
    from eventapp.placements import services as placements
    from eventapp.registration.services import make_manage_token

    app = migrated_app(own_database)
    with app.app_context():
        assembly = make_assembly(capacity=1000, slug="publish-race")
        rounds = [make_round(assembly, f"Round {n}", position=n) for n in (1, 2)]
        topics = [make_topic(f"Publish topic {i}") for i in range(4)]
        for rnd in rounds:
            for t in topics:
                make_workshop(rnd, t, capacity=100)
        orgs = [make_org(f"Publish org {i}") for i in range(5)]
        regs = add_registrations(assembly, orgs, topics, 300)
        with app.test_request_context():
            tokens = [make_manage_token(r) for r in regs[::3]]  # 100 delegates will cancel
        assembly_id = assembly.id
        run_id = placements.run_allocation(assembly).id
        _db.session.remove()

    cancelled_codes: Counter = Counter()
    progress = {"before": None, "after": None}
    with gunicorn(own_database, tmp_path, **limits()) as ports:
        def cancel(i: int) -> None:
            cookie, token = get_form(ports[i % 2], f"/manage/{tokens[i]}/cancel")
            status, _, _ = request(ports[(i + 1) % 2], "POST", f"/manage/{tokens[i]}/cancel", cookie=cookie,
                                   form={"csrf_token": token})
            cancelled_codes[status] += 1

        def publish() -> None:
            # Publish once a quarter of the delegates have cancelled: the rest cancel
            # while the publishing transaction runs and after it commits.
            while sum(cancelled_codes.values()) < len(tokens) // 4:
                time.sleep(0.01)
            progress["before"] = sum(cancelled_codes.values())
            with app.app_context():
                from eventapp.assemblies.models import Assembly
                from eventapp.placements.models import AllocationRun

                placements.publish(_db.session.get(AllocationRun, run_id), _db.session.get(Assembly, assembly_id))
                _db.session.remove()
            progress["after"] = sum(cancelled_codes.values())

        with ThreadPoolExecutor(21) as pool:
            publisher = pool.submit(publish)
            list(pool.map(cancel, range(len(tokens))))
            publisher.result()

    print(f"\npublished after {progress['before']} of {len(tokens)} cancellations, committed after {progress['after']}")
    assert cancelled_codes == {302: len(tokens)}
    with app.app_context():
        statuses = dict(_db.session.execute(select(Registration.id, Registration.status)).all())
        placed = list(_db.session.scalars(select(Placement.registration_id)))
        _db.session.remove()
        _db.engine.dispose()
    assert Counter(statuses.values()) == {"confirmed": 200, "cancelled": 100}
    assert placed, "the allocation was published"
    holding = sorted({r for r in placed if statuses[r] == "cancelled"})
    assert not holding, f"{len(holding)} cancelled registrations still hold a place"
    # Everyone still confirmed kept their places (two rounds each).
    assert Counter(placed) == {r: 2 for r, s in statuses.items() if s == "confirmed"}
