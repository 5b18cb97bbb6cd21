"""Health, readiness, request ids, and backup/restore round trips."""
from __future__ import annotations

import json
import logging
import uuid

import sqlalchemy as sa
from flask_migrate import upgrade

from eventapp.extensions import db as _db
from eventapp.mail.models import OutboxMessage
from eventapp.placements.models import Placement
from tests.conftest import make_test_app, scratch_database


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json["checks"] == {"database": "ok", "migrations": "current"}


def test_readyz_says_not_ready_before_migrations(tmp_path, caplog):
    app = make_test_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with caplog.at_level("WARNING", logger=app.logger.name):
        resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    # Whoever is on call reads why in the log, not only the load balancer's 503.
    assert "Not ready: database: ok; migrations: database at nothing" in caplog.text
    assert resp.json["status"] == "not ready"
    assert "database at nothing" in resp.json["checks"]["migrations"]
    with app.app_context():
        _db.engine.dispose()


def test_readyz_when_database_unreachable(tmp_path):
    app = make_test_app("postgresql://nobody@127.0.0.1:1/none")
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["checks"]["database"].startswith("unreachable")
    assert "nobody" not in resp.get_data(as_text=True)  # no connection details leak


def test_request_id_is_echoed_only_when_safe(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    hostile = client.get("/healthz", headers={"X-Request-ID": "<script>\u202e"}).headers["X-Request-ID"]
    assert hostile != "<script>\u202e" and len(hostile) == 32


def test_request_log_is_structured(tmp_path, caplog):
    app = make_test_app(f"sqlite:///{tmp_path / 'log.sqlite3'}", REQUEST_LOG=True)
    logger = logging.getLogger("eventapp.request")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        app.test_client().get("/healthz", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
    fields = records[-1].fields
    assert fields["request_id"] == "req-42" and fields["status"] == 200 and fields["path"] == "/healthz"
    from eventapp.observability import JsonFormatter

    assert json.loads(JsonFormatter().format(records[-1]))["method"] == "GET"
    with app.app_context():
        _db.engine.dispose()


def _counts():
    return {t.name: _db.session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in _db.metadata.sorted_tables}


def _audit():
    from eventapp.audit.models import AuditEvent

    rows = _db.session.execute(sa.select(AuditEvent.action, AuditEvent.subject, AuditEvent.actor_id)
                               .order_by(AuditEvent.id)).all()
    assert all(actor is None for _, _, actor in rows)  # the command line: no account
    return [(action, subject if action.startswith("database.") else None) for action, subject, _ in rows]


def test_backup_and_restore_round_trip(tmp_path):
    with scratch_database(tmp_path, "backup") as url:
        _round_trip(make_test_app(url), tmp_path)


def _round_trip(app, tmp_path):
    if True:
        with app.app_context():
            upgrade()
            from tests.placements.helpers import delegates, two_round_assembly

            assembly, topics, rounds, ws = two_round_assembly(capacity=3)
            delegates(assembly, topics, 5)
            from eventapp.placements import services as placements

            with app.test_request_context():
                run = placements.run_allocation(assembly)
                placements.publish(run, assembly)
                assembly = _db.session.merge(assembly)
                _db.session.add(OutboxMessage(kind="test", to_email="zoe@example.org", to_name="Zoë O'Brien 李",
                                              subject="Hello ✓", body_text="text", body_html="<p>html</p>",
                                              message_id=f"<{uuid.uuid4().hex}@x>"))
                _db.session.commit()
            from eventapp.documents.models import Document
            from eventapp.documents.services import add_document

            # A document's bytes are in the database: every one of the 256 byte values comes back.
            pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40
            add_document(assembly.id, filename="Agenda – 文.pdf", data=pdf, title="Agenda ✓")
            before = _counts()
            assert before["placement"] == 10 and before["outbox_message"] >= 1 and before["document"] == 1
            path = tmp_path / "snapshot.backup"
            result = app.test_cli_runner().invoke(args=["backup", str(path)])
            assert result.exit_code == 0, result.output
            assert path.stat().st_size > 0
            assert _audit() == [("allocation.publish", None), ("database.backup", f"backup written to {path}")]
            # Damage the data, then restore.
            _db.session.execute(sa.delete(Placement))
            _db.session.execute(sa.delete(OutboxMessage))
            _db.session.execute(sa.delete(Document))
            _db.session.commit()
            assert _counts()["placement"] == 0
            result = app.test_cli_runner().invoke(args=["restore", str(path), "--yes"])
            assert result.exit_code == 0, result.output
            # The backup's own log entry was written after the snapshot: the restored log has the restore instead.
            assert _counts() == {**before, "audit_event": before["audit_event"] + 1}
            assert _audit() == [("allocation.publish", None), ("database.restore", f"restored from {path}")]
            assert _db.session.scalar(sa.select(OutboxMessage.to_name).where(OutboxMessage.kind == "test")) == "Zoë O'Brien 李"
            assert _db.session.execute(sa.select(Document.title, Document.data)).one() == ("Agenda ✓", pdf)
            _db.session.remove()
            _db.engine.dispose()


def test_restore_refuses_a_missing_file(app, db, tmp_path):
    result = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "nope.backup"), "--yes"])
    assert result.exit_code != 0 and "No backup file" in result.output
    assert _audit() == []  # nothing restored, nothing logged


def _restore_refuses(tmp_path, prefix, write_wrong_file):
    """A file that is not a backup of this app is refused, and the data stays as it was."""
    with scratch_database(tmp_path, prefix) as url:
        app = make_test_app(url)
        with app.app_context():
            upgrade()
            _db.session.add(OutboxMessage(kind="test", to_email="zoe@example.org", to_name="Zoë",
                                          subject="Kept", body_text="text", body_html="<p>html</p>",
                                          message_id=f"<{uuid.uuid4().hex}@x>"))
            _db.session.commit()
            wrong = write_wrong_file(tmp_path)
            result = app.test_cli_runner().invoke(args=["restore", str(wrong), "--yes"])
            assert result.exit_code == 1, result.output
            assert result.output.startswith("Error: ") and "is not a backup" in result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)
            _db.session.remove()
            assert _db.session.scalar(sa.select(OutboxMessage.subject)) == "Kept"
            _db.session.remove()
            _db.engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    def text_file(tmp_path):
        path = tmp_path / "notes.txt"
        path.write_text("This is not a database.\n")
        return path

    _restore_refuses(tmp_path, "wrongfile", text_file)


def test_restore_refuses_a_database_of_something_else(tmp_path):
    def other_sqlite(tmp_path):
        import sqlite3

        path = tmp_path / "other.sqlite3"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
        return path

    _restore_refuses(tmp_path, "otherdb", other_sqlite)


def test_backup_is_readable_by_its_owner_only(app, db, tmp_path):
    # db: its audit entry is rolled back with the test, not left for the next test that reads the log.
    path = tmp_path / "snapshot.backup"
    result = app.test_cli_runner().invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_mode & 0o077 == 0, oct(path.stat().st_mode)


TOKEN = "eyJyIjoxMiwidiI6MX0.aWQxYg.Zm9yZ2VkLXNpZ25hdHVyZQ"


def _logged_paths(tmp_path, paths: list[str], status: int | None = None) -> list[str]:
    """The paths the request log wrote for GETs of ``paths`` (each answered ``status`` when given)."""
    app = make_test_app(f"sqlite:///{tmp_path / 'tokens.sqlite3'}", REQUEST_LOG=True)
    logger = logging.getLogger("eventapp.request")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        with app.app_context():
            upgrade()
        client = app.test_client()
        for path in paths:
            answer = client.get(path)
            assert status is None or answer.status_code == status, (path, answer.status_code)
    finally:
        logger.removeHandler(handler)
        with app.app_context():
            _db.engine.dispose()
    return [r.fields["path"] for r in records if r.name == "eventapp.request"][-len(paths):]


def test_request_log_leaves_out_personal_link_tokens(tmp_path):
    """Whoever reads the logs must not be able to open a delegate's, partner's or reset link."""
    paths = [f"/manage/{TOKEN}", f"/manage/{TOKEN}/edit", f"/calendar/{TOKEN}.ics", f"/partner/{TOKEN}",
             f"/reset-password/{TOKEN}", f"/manage/{TOKEN}/no-such-page"]  # the last: a 404, no route matched
    assert _logged_paths(tmp_path, paths) == [
        "/manage/[token]", "/manage/[token]/edit", "/calendar/[token].ics", "/partner/[token]",
        "/reset-password/[token]", "/manage/[token]/no-such-page"]


def test_request_log_leaves_out_the_tokens_of_confirm_and_check_in_links_no_route_matched(tmp_path):
    """A link with a slash added by a mail program (a 404) still keeps its token out of the log."""
    paths = [f"/a/csa-2027/register/confirm/{TOKEN}/", f"/organiser/assemblies/csa-2027/check-in/scan/{TOKEN}/"]
    assert _logged_paths(tmp_path, paths, status=404) == [
        "/a/csa-2027/register/confirm/[token]/", "/organiser/assemblies/csa-2027/check-in/scan/[token]/"]


def test_serve_extra_installs_what_the_production_settings_need():
    """README's production recipe: pip install '.[serve]', then FLASK_RATELIMIT_STORAGE_URI=redis://…"""
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    serve = {Requirement(r).name for r in pyproject["project"]["optional-dependencies"]["serve"]}
    assert {"gunicorn", "redis"} <= serve


def test_an_unexpected_error_is_logged_with_its_request_id(tmp_path):
    """The 500 in the request log and its traceback can be matched, however many workers write."""
    app = make_test_app(f"sqlite:///{tmp_path / 'boom.sqlite3'}", REQUEST_LOG=True)

    @app.get("/boom")
    def boom():
        raise RuntimeError("something broke")

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    app.logger.addHandler(handler)
    try:
        resp = app.test_client().get("/boom", headers={"X-Request-ID": "req-500"})
    finally:
        app.logger.removeHandler(handler)
    assert resp.status_code == 500 and resp.headers["X-Request-ID"] == "req-500"
    (error,) = [r for r in records if r.levelno == logging.ERROR]
    assert "req-500" in error.getMessage() and error.exc_info[0] is RuntimeError
    with app.app_context():
        _db.engine.dispose()
