"""Two reception desks (or a double tap) marking the same delegate at the same moment: one arrival, no error."""
from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from eventapp.assemblies.models import Assembly
from eventapp.checkin import services
from eventapp.checkin.models import Arrival
from eventapp.extensions import db as _db
from eventapp.timeutil import local_today
from tests.concurrency import BACKENDS, at_once, own_database
from tests.conftest import make_test_app
from tests.factories import make_assembly, make_org
from tests.notes.helpers import make_registration


@pytest.fixture
def database(request, tmp_path):
    with own_database(request.param, tmp_path, "checkin") as url:
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

    def desk(i: int, ready) -> tuple[int, bool]:
        ready()
        reg_id = reg_ids[i % len(reg_ids)]
        marked = services.mark_arrived(_db.session.get(Assembly, assembly_id), reg_id)
        return reg_id, marked.already

    results, errors = at_once(app, threads, desk)
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
