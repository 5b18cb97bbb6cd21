"""Browser-test harness: the app served on 127.0.0.1 and Chromium driven by Playwright.

Fixtures:
- ``live_server`` (session): the app in a thread against its own database (a temp
  SQLite file, or ``<dbname>_live`` beside TEST_DATABASE_URL on PostgreSQL), migrated
  and seeded with ``organiser@example.org`` / ``tests.factories.PASSWORD``. It is not
  rolled back between tests: seed with unique names and slugs.
- ``browser`` (session): Debian's /usr/bin/chromium, headless.
- ``page`` (desktop, 1280x900) and ``phone_page`` (390x844, touch): a fresh context per
  test. Either fails the test if the page reports a Content-Security-Policy violation
  (an inline script or style attribute slipped in).
- ``login(page, live_server, email, password)``: sign in through the login form.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from werkzeug.serving import make_server

from eventapp.extensions import db as _db
from tests.conftest import TEST_DATABASE_URL, make_test_app
from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ORGANISER_EMAIL = "organiser@example.org"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: Flask

    def __call__(self, path: str = "/") -> str:
        return self.url + path


# --- database -----------------------------------------------------------------------


def _admin_and_live_urls(base_url: str) -> tuple[str, str]:
    """The test server's URL (for CREATE/DROP DATABASE) and the URL of ``<name>_live`` on it."""
    from eventapp.app import _normalise_db_uri

    url = sa.engine.make_url(_normalise_db_uri(base_url))
    live = url.set(database=f"{url.database}_live")
    return url.render_as_string(hide_password=False), live.render_as_string(hide_password=False)


def _recreate_postgres(admin_url: str, live_url: str, *, create: bool) -> None:
    name = sa.engine.make_url(live_url).database
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # FORCE: a run that crashed may have left connections open.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if create:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    if TEST_DATABASE_URL:
        admin_url, uri = _admin_and_live_urls(TEST_DATABASE_URL)
        _recreate_postgres(admin_url, uri, create=True)
    else:
        uri = f"sqlite:///{tmp_path_factory.mktemp('live') / 'eventapp.sqlite3'}"
    app = make_test_app(uri)
    with app.app_context():
        upgrade()
        from tests.factories import make_user

        make_user("organiser", email=ORGANISER_EMAIL, name="Olu Organiser", password=PASSWORD)
        _db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()
        if TEST_DATABASE_URL:
            _recreate_postgres(admin_url, uri, create=False)


# --- browser ------------------------------------------------------------------------


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium).")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
        subprocess.run(install, env=env, check=True, capture_output=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    _ensure_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _open_page(browser, **context_options):
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London", **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    csp_violations: list[str] = []

    def on_console(msg):
        if msg.type == "error" and "Content Security Policy" in msg.text:
            csp_violations.append(f"{page.url}: {msg.text}")

    page.on("console", on_console)
    return context, page, csp_violations


@pytest.fixture
def page(browser):
    context, page, csp_violations = _open_page(browser, viewport=DESKTOP)
    yield page
    context.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)


@pytest.fixture
def phone_page(browser):
    context, page, csp_violations = _open_page(browser, viewport=PHONE, is_mobile=True, has_touch=True,
                                               device_scale_factor=2)
    yield page
    context.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)


# --- helpers ------------------------------------------------------------------------


def login(page, live_server, email: str = ORGANISER_EMAIL, password: str = PASSWORD):
    """Sign in through the login form and wait for the landing page."""
    page.goto(live_server.url + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/login" not in page.url, f"sign-in as {email} failed: still on {page.url}"
    return page
