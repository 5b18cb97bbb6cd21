"""`flask allocate-worker` as a real process against its own database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from eventapp.extensions import db as _db
from eventapp.placements import services
from eventapp.placements.models import AllocationJob, AllocationRun
from tests.conftest import make_test_app
from tests.mail.test_worker import wait_until
from tests.placements.helpers import delegates, two_round_assembly

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_process_runs_a_queued_job_and_stops_on_sigterm(scratch_database_url, tmp_path):
    app = make_test_app(scratch_database_url, INSTANCE_PATH=str(tmp_path / "instance"))
    with app.app_context():
        upgrade()
        assembly, topics, _, _ = two_round_assembly(capacity=4)
        delegates(assembly, topics, 6)
        job_id = services.request_run(assembly).id
        _db.session.remove()
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": scratch_database_url, "FLASK_SECRET_KEY": "worker-test-secret",
           "FLASK_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "eventapp", "allocate-worker", "--interval", "0.2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def done() -> bool:
            with app.app_context():
                _db.session.remove()
                return _db.session.scalar(sa.select(AllocationJob.status).where(AllocationJob.id == job_id)) == "done"

        assert wait_until(done, timeout=60), "the worker did not finish the job"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"Allocation job {job_id}: done" in out
    assert "Allocation worker stopped after 1 job." in out
    with app.app_context():
        run = _db.session.scalar(sa.select(AllocationRun))
        assert run.status == "proposal" and run.placed == 12
        _db.session.remove()
        _db.engine.dispose()
