"""SQLite: page views read side by side with a writer; writes still take the lock up front."""
from __future__ import annotations

import sqlite3
import threading

from flask_migrate import upgrade

from eventapp.extensions import db as _db
from tests.conftest import make_test_app


def test_a_page_view_is_not_blocked_by_an_open_write_transaction(tmp_path):
    path = tmp_path / "locking.sqlite3"
    app = make_test_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    writer = sqlite3.connect(path, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # e.g. a registration holding the write lock
    results = {}

    def view():
        results["status"] = app.test_client().get("/").status_code

    try:
        thread = threading.Thread(target=view)
        thread.start()
        thread.join(timeout=10)  # a blocked reader would wait for the 30 s busy timeout
        assert not thread.is_alive(), "the page view waited for the writer's lock"
        assert results["status"] == 200
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        thread.join()
        with app.app_context():
            _db.engine.dispose()


def test_a_write_waits_for_the_lock_instead_of_failing(tmp_path):
    path = tmp_path / "locking2.sqlite3"
    app = make_test_app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        conn = _db.engine.connect()
        trans = conn.begin()  # outside a request: BEGIN IMMEDIATE
        probe = sqlite3.connect(path, isolation_level=None, timeout=0.2)
        try:
            probe.execute("BEGIN IMMEDIATE")
            raise AssertionError("a second writer got the lock")
        except sqlite3.OperationalError as err:
            assert "locked" in str(err)
        finally:
            probe.close()
            trans.rollback()
            conn.close()
            _db.engine.dispose()
