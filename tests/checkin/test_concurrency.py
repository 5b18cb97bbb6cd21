"""Two reception desks (or a double tap) marking the same delegate at the same moment: one arrival, no error."""
from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from eventapp.assemblies.models import Assembly
from eventapp.checkin import services
from eventapp.checkin.models import Arrival
from eventapp.extensions import db as _db
from eventapp.timeutil import local_today
from tests.conftest import TEST_DATABASE_URL, make_test_app, scratch_database
from tests.factories import make_assembly, make_org
from tests.notes.helpers import make_registration

BACKENDS = ["sqlite"] + ([pytest.param("postgresql", marks=pytest.mark.postgres)] if TEST_DATABASE_URL else [])


@pytest.fixture
def database(request, tmp_path):
    """A database of its own (threads need real connections, not the rolled-back test one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'checkin.sqlite3'}"
        return
    with scratch_database(tmp_path, "checkin") as url:
        yield url


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_simultaneous_marks_of_one_delegate_make_one_arrival_and_every_desk_is_answered(database):
    threads = 16
    app = make_test_app(database, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": threads, "max_overflow": 0})
    with app.app_context():
        upgrade()
        assembly = make_assembly(date=local_today("Europe/London"))
        reg_ids = [make_registration(assembly, make_org(), f"Desk Person {i}").id for i in range(3)]
        assembly_id = assembly.id
        _db.session.remove()
    barrier = threading.Barrier(threads)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def desk(i: int):
        with app.app_context():
            barrier.wait()
            try:
                reg_id = reg_ids[i % len(reg_ids)]
                marked = services.mark_arrived(_db.session.get(Assembly, assembly_id), reg_id)
                with guard:
                    results.append((reg_id, marked.already))
            except BaseException as err:  # noqa: BLE001 - collected and asserted on
                errors.append(err)
            finally:
                _db.session.remove()

    pool = [threading.Thread(target=desk, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    with app.app_context():
        rows = _db.session.scalar(select(func.count(Arrival.registration_id)))
        _db.session.remove()
        _db.engine.dispose()
    assert errors == []
    assert len(results) == threads
    assert rows == len(reg_ids)
    # Each delegate: exactly one desk made the arrival, every other desk was told it was there already.
    for reg_id in reg_ids:
        firsts = [already for r, already in results if r == reg_id and not already]
        assert len(firsts) == 1, (reg_id, results)
