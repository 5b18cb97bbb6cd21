"""Shared fixtures: app, db (rolled back per test), client, login helpers.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is
set (e.g. postgresql://postgres@127.0.0.1/test). The schema is built by running
the real migrations, so every test also exercises them.
"""
from __future__ import annotations

import contextlib
import os
import uuid
import re

import pytest
import sqlalchemy as sa
from hypothesis import settings
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy import orm

from eventapp import create_app
from eventapp.extensions import db as _db
from eventapp.extensions import limiter
from tests.mail_sink import email_request_context  # noqa: F401 - shared fixture

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")

# Property tests check behaviour, not speed: hypothesis' 200 ms deadline per example failed them on a busy machine.
settings.register_profile("eventapp", deadline=None)
settings.load_profile("eventapp")
PASSWORD = "correct horse battery staple"

CSRF_RE = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')


def reset_postgres(url: str) -> None:
    """Empty a PostgreSQL database so the migrations build it from nothing."""
    from eventapp.app import _normalise_db_uri

    engine = sa.create_engine(_normalise_db_uri(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def database_url(tmp_path_factory, name: str = "test") -> str:
    """A fresh, empty database URL for this session: SQLite file or the PostgreSQL test database."""
    if TEST_DATABASE_URL:
        reset_postgres(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp(name) / 'eventapp.sqlite3'}"


def make_test_app(uri: str, **config):
    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": uri,
        "SECRET_KEY": "test-only-secret-key-0123456789abcdef",
        "RATELIMIT_ENABLED": False,
        "MAIL_SUPPRESS_SEND": True,
        # Still scrypt, with a cost that keeps each test's sign-in fast.
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
    }
    settings.update(config)
    return create_app(settings)


@contextlib.contextmanager
def rate_limited_client(app, **config):
    """A test client of an app with rate limits on (the suite's app has them off), on the same database."""
    limited = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True, **config)
    try:
        with limited.app_context():
            yield limited.test_client()
            _db.session.remove()
    finally:
        limiter.reset()
        limiter.enabled = False


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = make_test_app(database_url(tmp_path_factory))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def db(app):
    """The database, with everything a test does rolled back afterwards."""
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        # create_savepoint: app code may commit or roll back freely; the outer
        # transaction still wraps the test and is rolled back at the end.
        # A plain SQLAlchemy session: Flask-SQLAlchemy's own Session.get_bind
        # would pick the engine and bypass the test's connection.
        _db.session = orm.scoped_session(
            orm.sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_ctx_id,
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


# Signed into staff forms: who the page was shown to (a shared tablet's next person must not save it unawares).
TICKET_RE = re.compile(r'<input type="hidden" name="(typed_by|keep|typed_for)" value="([^"]*)"')


def tickets_from(html: str) -> dict[str, str]:
    """The page's typed-by and keep tickets (and typed_for, on notes shown back to confirm), as its forms send them."""
    return dict(TICKET_RE.findall(html))


def post_form(client, url: str, data: dict, *, form_url: str | None = None, follow_redirects: bool = False):
    """Open the page with the form (to get its CSRF token and tickets), then submit it."""
    page = client.get(form_url or url)
    html = page.get_data(as_text=True)
    payload = {"csrf_token": csrf_from(html), **tickets_from(html)}
    payload.update(data)
    return client.post(url, data=payload, follow_redirects=follow_redirects)


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = PASSWORD, follow_redirects: bool = False):
        return post_form(self.client, "/login", {"email": email, "password": password},
                         follow_redirects=follow_redirects)

    def logout(self):
        return post_form(self.client, "/logout", {}, form_url="/facilitator/")


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def organiser(db):
    from tests.factories import make_user

    return make_user("organiser", email="organiser@example.org")


@pytest.fixture
def facilitator(db):
    from tests.factories import make_user

    return make_user("facilitator", email="facilitator@example.org", name="Siobhán O'Brien")


@pytest.fixture
def as_organiser(client, auth, organiser):
    auth.login(organiser.email)
    return client


@pytest.fixture
def as_facilitator(client, auth, facilitator):
    auth.login(facilitator.email)
    return client


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Limits are per process; keep one test's attempts from leaking into the next.
    yield
    try:
        limiter.reset()
    except Exception:  # noqa: BLE001 - storage not initialised in pure tests
        pass


@pytest.fixture
def scratch_database_url(tmp_path):
    """An empty database of its own, for tests that migrate or load data outside the rollback."""
    with scratch_database(tmp_path, "scratch") as url:
        yield url


@contextlib.contextmanager
def scratch_database(tmp_path, prefix: str):
    """An empty database for one test: a SQLite file, or a uniquely named PostgreSQL database
    on the TEST_DATABASE_URL server, dropped afterwards. Threads and subprocesses need this:
    they cannot share the rolled-back test connection."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / (prefix + '.sqlite3')}"
        return
    from eventapp.app import _normalise_db_uri

    server = sa.engine.make_url(_normalise_db_uri(TEST_DATABASE_URL))
    name = f"eventapp_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _fresh_request_globals():
    """Give every request an empty ``g``, as it has outside tests.

    The ``db`` fixture keeps one app context pushed for the whole test, and Flask
    reuses it for each request, so ``g`` would carry Flask-Login's cached user and
    Flask-WTF's CSRF token from one request (or one client) to the next.
    """
    from flask import g, request_started

    def clear(sender, **extra):
        g.__dict__.clear()

    request_started.connect(clear)
    yield
    request_started.disconnect(clear)
