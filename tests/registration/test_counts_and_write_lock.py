"""Registration counts kept by the database; on SQLite, writers queueing on a lock file beside the database."""
from __future__ import annotations

import fcntl
import threading
import time
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, func, select, update

from eventapp.app import QueuedWriterConnection
from eventapp.assemblies.models import Assembly
from eventapp.extensions import db as _db
from eventapp.registration import services
from eventapp.registration.models import Registration
from tests.conftest import csrf_from, make_test_app
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.registration.conftest import form_fields, person



def counted(assembly_id: int) -> dict[str, int]:
    rows = _db.session.execute(select(Registration.status, func.count(Registration.id))
                               .where(Registration.assembly_id == assembly_id).group_by(Registration.status)).all()
    return {status: n for status, n in rows}


def kept(assembly_id: int) -> dict[str, int]:
    a = _db.session.execute(select(Assembly.confirmed_count, Assembly.waiting_count, Assembly.cancelled_count)
                            .where(Assembly.id == assembly_id)).one()
    return {k: v for k, v in zip(("confirmed", "waiting", "cancelled"), a) if v}


def test_counts_follow_every_change_whoever_makes_it(app, setup):
    a = setup.assembly.id
    with app.test_request_context("/"):
        regs = [services.register(setup.assembly, person(setup, n, org=n % 3)).registration for n in range(8)]
        assert kept(a) == counted(a) == {"confirmed": 5, "waiting": 3}
        services.cancel_registration(regs[0])  # frees a place: the first waiting person is promoted
        assert kept(a) == counted(a) == {"confirmed": 5, "waiting": 2, "cancelled": 1}
        services.move_to_waiting_list(regs[1])
        assert kept(a) == counted(a) == {"confirmed": 4, "waiting": 3, "cancelled": 1}
    # Statements that bypass the services (an operator's fix, a future bulk change) are counted too.
    _db.session.execute(update(Registration).where(Registration.id == regs[2].id)
                        .values(status="cancelled", waiting_position=None))
    _db.session.execute(delete(Registration).where(Registration.id == regs[3].id))
    _db.session.commit()
    assert kept(a) == counted(a)
    other = make_assembly()
    _db.session.execute(update(Registration).where(Registration.id == regs[4].id).values(assembly_id=other.id))
    _db.session.commit()
    assert kept(a) == counted(a) and kept(other.id) == counted(other.id) != {}


def test_a_full_assembly_is_decided_from_the_kept_count(app, setup):
    with app.test_request_context("/"):
        for n in range(5):
            assert services.register(setup.assembly, person(setup, n, org=n % 3)).outcome == "confirmed"
        sixth = services.register(setup.assembly, person(setup, 6, org=2))
    assert sixth.outcome == "waiting" and sixth.waiting_position == 1


def test_organiser_list_links_are_the_routes_and_totals_the_counts(app, as_organiser, setup):
    from flask import url_for

    with app.test_request_context("/"):
        regs = [services.register(setup.assembly, person(setup, n, org=n % 3)).registration for n in range(7)]
        services.cancel_registration(regs[6])
    base = f"/organiser/assemblies/{setup.assembly.slug}/registrations"
    html = as_organiser.get(base).get_data(as_text=True)
    assert "5 confirmed of 5 places" in html and "1 on the waiting list, 1 cancelled." in html
    with app.test_request_context("/"):
        for reg in regs[:6]:
            assert f'href="{url_for("registration.organiser_edit", slug=setup.assembly.slug, reg_id=reg.id)}"' in html
            assert f'href="{url_for("registration.organiser_cancel", slug=setup.assembly.slug, reg_id=reg.id)}"' in html
            action = "waiting" if _db.session.get(Registration, reg.id).status == "confirmed" else "confirm"
            # Unfiltered, the actions carry no query (a filtered list's filters and page travel with them).
            move = url_for("registration.organiser_move", slug=setup.assembly.slug, reg_id=reg.id, action=action)
            assert f'action="{move}"'.replace("&", "&amp;") in html
    waiting = as_organiser.get(f"{base}?status=waiting").get_data(as_text=True)
    assert "(no. 1)" in waiting and waiting.count("<tr>") == 2  # header and the one waiting
    assert as_organiser.get(f"{base}?status=all").get_data(as_text=True).count("<tr>") == 8


# --- SQLite (a file database of their own, in both passes): writers queued on a lock file -------------------


@pytest.fixture
def file_app(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'lock.sqlite3'}")
    with app.app_context():
        upgrade()
        assembly = make_assembly(capacity=10, org_limit=None, slug="locking")
        rnd = make_round(assembly)
        # Plain values: a test must not hold a transaction (SQLite: the write lock) open by reading a model.
        topics = [SimpleNamespace(id=make_workshop(rnd, make_topic(f"Lock topic {i}")).topic_id) for i in range(3)]
        orgs = [SimpleNamespace(name=make_org(f"Lock org {i}").name) for i in range(3)]
        world = SimpleNamespace(assembly=SimpleNamespace(slug=assembly.slug), topics=topics, orgs=orgs)
        _db.session.remove()
        yield app, tmp_path / "lock.sqlite3", world
        _db.session.remove()
        _db.engine.dispose()


def _post_in_thread(app, fields):
    client = app.test_client()
    token = csrf_from(client.get("/a/locking/register").get_data(as_text=True))
    result = {}

    def post():
        result["status"] = client.post("/a/locking/register", data={"csrf_token": token, **fields}).status_code

    thread = threading.Thread(target=post)
    return thread, result


def test_a_registration_waits_for_another_writer_then_saves(file_app):
    import sqlite3

    app, path, world = file_app
    writer = sqlite3.connect(path, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        good, result = _post_in_thread(app, form_fields(world))
        good.start()
        good.join(timeout=0.5)
        assert good.is_alive(), "a registration was written without the write lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    good.join(timeout=30)
    assert result["status"] == 302
    with app.app_context():
        assert _db.session.scalar(select(Assembly.confirmed_count).where(Assembly.slug == "locking")) == 1


def test_the_public_form_reads_and_checks_without_the_write_lock(file_app, monkeypatch):
    import sqlite3

    app, path, world = file_app
    lookup = services._organisation_ref
    free = []

    def probing(data):
        # Called once the form is valid, before the service's writes: another process can write now.
        probe = sqlite3.connect(path, isolation_level=None, timeout=0.2)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            free.append(True)
        except sqlite3.OperationalError:
            free.append(False)
        finally:
            probe.close()
        return lookup(data)

    monkeypatch.setattr(services, "_organisation_ref", probing)
    post, result = _post_in_thread(app, form_fields(world))
    post.start()
    post.join(timeout=30)
    assert free == [True], "the registration held the write lock while it was still only reading"
    assert result["status"] == 302
    with app.app_context():
        assert _db.session.scalar(select(Assembly.confirmed_count).where(Assembly.slug == "locking")) == 1


def test_app_connections_use_wal_foreign_keys_and_the_busy_timeout(file_app):
    app, _, _ = file_app
    with app.app_context(), _db.engine.connect() as conn:
        assert isinstance(conn.connection.driver_connection, QueuedWriterConnection)
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_writers_queue_on_the_lock_file_and_leave_it_at_commit_rollback_and_close(file_app):
    app, path, _ = file_app
    lock_path = f"{path}-writers"
    with app.app_context():
        engine = _db.engine
        first = engine.connect()
        assert isinstance(first.connection.driver_connection, QueuedWriterConnection)
        probe = open(lock_path, "a")

        def lock_is_free() -> bool:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(probe, fcntl.LOCK_UN)
            return True

        for end in ("commit", "rollback", "close"):
            conn = first if end != "close" else engine.connect()
            trans = conn.begin()  # outside a request: a write transaction
            assert not lock_is_free()
            got = {}

            def second_writer():
                with engine.connect() as other:
                    started = time.monotonic()
                    with other.begin():
                        got["waited"] = time.monotonic() - started
                        got["at"] = time.monotonic()

            thread = threading.Thread(target=second_writer)
            thread.start()
            time.sleep(0.3)
            assert thread.is_alive()
            released = time.monotonic()
            if end == "commit":
                trans.commit()
            elif end == "rollback":
                trans.rollback()
            else:
                conn.invalidate()  # the driver connection is closed, the transaction with it
            thread.join(timeout=10)
            assert got["waited"] >= 0.2
            assert got["at"] - released < 0.25, "the next writer was not woken promptly"
            assert lock_is_free()
        first.close()
        probe.close()


def test_a_lock_file_held_too_long_falls_back_to_sqlites_own_wait(tmp_path):
    path = tmp_path / "stuck.sqlite3"
    app = make_test_app(f"sqlite:///{path}", SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 0.3}})
    with app.app_context():
        upgrade()
        with open(f"{path}-writers", "a") as stuck:
            fcntl.flock(stuck, fcntl.LOCK_EX)  # held by something that is not writing
            started = time.monotonic()
            with _db.engine.begin() as conn:
                conn.execute(update(Assembly).values(capacity=1))
            assert 0.25 < time.monotonic() - started < 5
        _db.engine.dispose()
