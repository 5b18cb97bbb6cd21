"""`flask mail worker` as a real process against its own database: SIGKILL mid-batch, restart, parallel workers."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from eventapp.extensions import db as _db
from eventapp.invites import ical
from eventapp.mail.models import OutboxMessage
from eventapp.timeutil import utcnow
from tests.conftest import make_test_app
from tests.mail_sink import MailSink, _Handler, free_port

ROOT = Path(__file__).resolve().parents[2]


class SlowSink(MailSink):
    """A sink that takes a few milliseconds per message, so a batch is still running when we kill the worker."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    def start(self):
        super().start()
        handler = self._controller.handler
        original = handler.handle_DATA

        async def slow(server, session, envelope):
            await asyncio.sleep(self.delay)
            return await original(server, session, envelope)

        handler.handle_DATA = slow
        return self


class FixedPortSink(MailSink):
    """A sink on a port chosen in advance, so the worker can be pointed at it before it exists."""

    def __init__(self, port: int):
        super().__init__()
        self.port = port

    def start(self):
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, decode_data=False)
        self._controller.start()
        return self


@pytest.fixture
def worker_db(scratch_database_url, tmp_path):
    """A database of its own (never the test database) with 200 invitations queued."""
    app = make_test_app(scratch_database_url, INSTANCE_PATH=str(tmp_path / "instance"))
    with app.app_context():
        upgrade()
        now = utcnow()
        rows = []
        for i in range(200):
            text = ical.invitation("REQUEST", f"worker-{i}@example.org",
                                   ical.EventData(f"Workshop {i}", datetime(2027, 3, 18, 10), datetime(2027, 3, 18, 11)),
                                   sequence=0, attendee_email=f"d{i}@example.org", attendee_name=f"Delegate {i}",
                                   stamp=now)
            rows.append(OutboxMessage(kind="invite", to_email=f"d{i}@example.org", to_name=f"Delegate {i}",
                                      subject=f"Invitation {i}", body_text="Text", body_html="<p>HTML</p>",
                                      ics=text, ics_method="REQUEST", message_id=f"<worker-{i}@example.org>",
                                      status="pending", attempts=0, next_attempt_at=now, last_error=""))
        _db.session.add_all(rows)
        _db.session.commit()
    yield app, scratch_database_url
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def start_worker(url: str, port: int, tmp_path: Path, *, batch: int = 25, env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env or {}), "FLASK_SQLALCHEMY_DATABASE_URI": url, "FLASK_MAIL_SERVER": "127.0.0.1",
           "FLASK_MAIL_PORT": str(port), "FLASK_SECRET_KEY": "worker-test-secret", "FLASK_MAIL_LEASE_SECONDS": "2",
           "FLASK_MAIL_COMMIT_EVERY": "10",
           "FLASK_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "eventapp", "mail", "worker", "--interval", "0.2",
                             "--batch", str(batch)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Mail worker stopped." in out
    return out


def statuses(app) -> Counter:
    with app.app_context():
        _db.session.remove()
        return Counter(_db.session.scalars(sa.select(OutboxMessage.status)))


def wait_until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_worker_killed_mid_batch_loses_nothing(worker_db, tmp_path):
    app, url = worker_db
    sink = SlowSink(delay=0.01).start()
    try:
        worker = start_worker(url, sink.port, tmp_path)
        assert wait_until(lambda: len(sink.messages) >= 40, timeout=60)
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=10)
        killed_at = len(sink.messages)
        assert killed_at < 200
        # Messages the dead worker had claimed are neither sent nor lost: pending, due when the lease ends.
        with app.app_context():
            _db.session.remove()
            leased = _db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status == "pending", OutboxMessage.attempts == 1))
        assert leased >= 1

        restarted = start_worker(url, sink.port, tmp_path)
        expected = {f"<worker-{i}@example.org>" for i in range(200)}
        assert wait_until(lambda: {m["Message-ID"] for m in list(sink.messages)} >= expected, timeout=90)
        assert wait_until(lambda: statuses(app) == Counter({"sent": 200}), timeout=30)
        stop(restarted)
    finally:
        sink.stop()
    received = Counter(m["Message-ID"] for m in sink.messages)
    assert set(received) == expected
    # Only messages sent after the last commit before the kill can arrive twice (at most
    # MAIL_COMMIT_EVERY = 10), each with its Message-ID unchanged so mail clients show it once.
    assert sum(n - 1 for n in received.values()) <= 10


def test_smtp_server_down_at_first_then_everything_arrives(worker_db, tmp_path):
    app, url = worker_db
    sink = FixedPortSink(free_port())
    worker = start_worker(url, sink.port, tmp_path, batch=50,
                          env={"FLASK_MAIL_RETRY_BASE_SECONDS": "0.5", "FLASK_MAIL_RETRY_MAX_SECONDS": "2"})
    try:
        # No server on the port: every message is tried, refused and rescheduled.
        assert wait_until(lambda: _attempted(app) == 200, timeout=30)
        with app.app_context():
            _db.session.remove()
            errors = set(_db.session.scalars(sa.select(OutboxMessage.last_error)))
            assert _db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
                OutboxMessage.status != "pending")) == 0
        assert errors and all("refused" in e.lower() for e in errors)
        sink.start()  # the server comes back
        assert wait_until(lambda: statuses(app) == Counter({"sent": 200}), timeout=90)
        stop(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        sink.stop()
    assert sorted(m["Message-ID"] for m in sink.messages) == sorted(f"<worker-{i}@example.org>" for i in range(200))


def _attempted(app) -> int:
    with app.app_context():
        _db.session.remove()
        return _db.session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
            OutboxMessage.attempts >= 1, OutboxMessage.last_error != ""))


def test_two_workers_never_send_the_same_message(worker_db, tmp_path):
    """On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED; on SQLite it runs under the write lock."""
    app, url = worker_db
    sink = SlowSink(delay=0.005).start()
    try:
        workers = [start_worker(url, sink.port, tmp_path, batch=10) for _ in range(2)]
        assert wait_until(lambda: statuses(app) == Counter({"sent": 200}), timeout=90)
        outputs = [stop(w) for w in workers]
    finally:
        sink.stop()
    received = Counter(m["Message-ID"] for m in sink.messages)
    assert len(received) == 200 and max(received.values()) == 1
    sent_by = [sum(int(line.split()[1].rstrip(",")) for line in out.splitlines() if line.startswith("Sent "))
               for out in outputs]
    assert sum(sent_by) == 200 and all(n > 0 for n in sent_by), sent_by
