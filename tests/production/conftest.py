"""Real processes for production proofs: a database of the test's own, gunicorn instances, HTTP clients.

PostgreSQL pass (TEST_DATABASE_URL set): each test creates its own database on that server
(CREATE DATABASE) and drops it afterwards. SQLite pass: a file shared by every process,
the county setup (WAL, BEGIN IMMEDIATE serialises writers).
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import scratch_database
from tests.mail_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "production-proof-secret-" + uuid.uuid4().hex
CSRF_RE = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')
REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture
def own_database(tmp_path):
    """An empty database for this test alone: its URL."""
    with scratch_database(tmp_path, "prod") as url:
        yield url


def process_env(uri: str, instance: Path, **settings) -> dict:
    """The environment of an app process: every setting as FLASK_*, as in production."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update({
        "FLASK_SQLALCHEMY_DATABASE_URI": uri,
        "FLASK_SECRET_KEY": SECRET,
        "FLASK_INSTANCE_PATH": str(instance),
        "FLASK_PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    env.update({f"FLASK_{k}": str(v) for k, v in settings.items()})
    return env


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn on {port} exited with {proc.returncode}")
        try:
            if get(port, "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn on {port} did not start")


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def gunicorn(uri: str, tmp_path: Path, *, instances: int = 2, workers: int = 2, **settings):
    """``instances`` gunicorn servers (sync workers) on free ports, configured by the environment: their ports."""
    procs, ports = [], []
    try:
        for i in range(instances):
            port = free_port()
            log = open(tmp_path / f"gunicorn-{port}.log", "wb")
            env = process_env(uri, tmp_path / "instance", REQUEST_LOG="false", **settings)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
                 "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10", "--timeout", "120",
                 "eventapp:create_app()"],
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT))
            log.close()
            ports.append(port)
        for port, proc in zip(ports, procs):
            wait_for(port, proc)
        yield ports
    finally:
        for proc in procs:
            stop(proc)


# --- a tiny HTTP client (one connection per request: sync workers close it anyway) ------------


def request(port: int, method: str, path: str, *, cookie: str = "", form: dict | None = None,
            timeout: float = 60) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        conn.close()


def get(port: int, path: str, cookie: str = ""):
    return request(port, "GET", path, cookie=cookie)


def session_cookie(headers: dict, previous: str = "") -> str:
    match = re.search(r"(session=[^;]+)", headers.get("set-cookie", ""))
    return match.group(1) if match else previous


def get_form(port: int, path: str, cookie: str = "") -> tuple[str, str]:
    """Open a page with a form: (session cookie, CSRF token)."""
    status, headers, text = get(port, path, cookie)
    assert status == 200, (path, status)
    return session_cookie(headers, cookie), CSRF_RE.search(text).group(1)
