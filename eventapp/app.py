"""The application factory."""
from __future__ import annotations

import os
import sys
import secrets
import sqlite3
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own wait for the write lock only
    fcntl = None

from flask import Flask, abort, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .extensions import csrf, db, limiter, login_manager, mail, migrate
from .text import is_number
from .txn import in_read_phase

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Locate templates/, static/ or migrations/ in a built wheel or in the checkout."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


def _instance_secret(instance_path: Path) -> str:
    # Generated once per installation and kept beside the database, so that
    # restarts keep sessions and manage links valid and no secret lives in code.
    path = instance_path / "secret_key"
    if path.exists():
        kept = path.read_text().strip()
        if kept:
            return kept
        # Left empty by a crash of an older version while writing it: an empty key signs nothing safely.
        path.unlink(missing_ok=True)
    # Written under a name of its own, then linked into place: several workers starting at
    # once on a fresh install never read a half-written file, and the first link wins.
    key = secrets.token_hex(32)
    draft = instance_path / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        draft.unlink()
    return key


class SettingsError(RuntimeError):
    """A setting from the environment has a value the app cannot use: it refuses to start."""


_BOOLEAN_SETTINGS = ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE", "MAIL_USE_TLS", "MAIL_USE_SSL", "PROXY_FIX")
_COUNT_SETTINGS = ("MAIL_PORT", "MAIL_CONNECTIONS", "MAIL_PER_CONNECTION", "MANAGE_TOKEN_MAX_AGE_DAYS",
                   "PARTNER_LINK_DAYS", "ALLOCATION_INLINE_MAX", "CALENDAR_INLINE_MAX", "PAGE_SIZE",
                   "DOCUMENT_MAX_BYTES")
_RATE_LIMIT_SETTINGS = ("REGISTRATION_RATE_LIMIT", "REGISTRATION_ATTEMPT_LIMIT")
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0", ""}
MIN_SECRET_KEY_LENGTH = 16
SQLITE_SYNCHRONOUS_LEVELS = ("NORMAL", "FULL")


def _check_environment_settings(config, names: set[str]) -> None:
    """Read the FLASK_ settings as an operator means them, or refuse to start, naming each wrong one.

    ``from_prefixed_env`` parses values as JSON, so "False" or "yes" stay strings (both true),
    "abc" for a port stays a string, and "123" for the secret key becomes a number.
    """
    problems = []
    for name in _BOOLEAN_SETTINGS:
        value = config.get(name)
        if name not in names or isinstance(value, bool):
            continue
        word = str(value).strip().lower()
        if word in _TRUE or word in _FALSE:
            config[name] = word in _TRUE
        else:
            problems.append(f"FLASK_{name} must be true or false, not {str(value)!r}.")
    for name in _COUNT_SETTINGS:
        value = config.get(name)
        if name not in names:
            continue
        number = value if isinstance(value, int) and not isinstance(value, bool) else None
        if number is None and isinstance(value, str) and is_number(value.strip()):
            number = int(value)
        if number is None or number < 1:
            problems.append(f"FLASK_{name} must be a whole number above 0, not {str(value)!r}.")
        else:
            config[name] = number
    if "SECRET_KEY" in names:
        key = config["SECRET_KEY"]
        if not isinstance(key, str) or len(key.strip()) < MIN_SECRET_KEY_LENGTH:
            problems.append(f"FLASK_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters of random text "
                            "(e.g. python3 -c 'import secrets; print(secrets.token_hex(32))'), the same in every "
                            "process; or leave it unset to use the key generated in the instance folder.")
    from limits import parse_many

    for name in _RATE_LIMIT_SETTINGS:
        if name not in names:
            continue
        try:
            parse_many(str(config[name]))
        except ValueError:
            problems.append(f"FLASK_{name} is not a rate limit: {config[name]!r} "
                            "(write e.g. '30 per minute; 100 per hour').")
    if "SQLITE_SYNCHRONOUS" in names:
        level = str(config["SQLITE_SYNCHRONOUS"]).strip().upper()
        if level in SQLITE_SYNCHRONOUS_LEVELS:
            config["SQLITE_SYNCHRONOUS"] = level
        else:
            problems.append(f"FLASK_SQLITE_SYNCHRONOUS must be normal or full, not {str(config['SQLITE_SYNCHRONOUS'])!r}.")
    if "TWO_STEP_REQUIRED_FOR" in names:
        from .accounts.two_step import parse_roles

        try:
            parse_roles(str(config["TWO_STEP_REQUIRED_FOR"]))
        except ValueError as err:
            problems.append(f"FLASK_TWO_STEP_REQUIRED_FOR names no role: {err} (write e.g. 'organiser' or "
                            "'organiser,facilitator').")
    if problems:
        raise SettingsError("eventapp cannot start with these settings:\n  " + "\n  ".join(problems))


def _normalise_db_uri(uri: str) -> str:
    # Operators paste libpq-style URLs; SQLAlchemy needs the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix):]
    return uri


def _sqlite_synchronous(level: str):
    """A "connect" listener setting PRAGMA synchronous on each new SQLite connection of one engine."""

    def listener(dbapi_connection, connection_record):
        dbapi_connection.execute(f"PRAGMA synchronous={level}")

    return listener


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions queue on a file lock beside the database.

    SQLite's own wait for its write lock sleeps 1, 2, 5, 10, 15 … ms between tries, so
    with several processes writing (gunicorn workers) a waiter often sleeps past the
    moment the lock came free, and one worker can take it again and again (registration
    POSTs measured p99 above a second). Waiting here instead wakes within a millisecond
    of the release. The lock only orders writers before SQLite's: correctness still rests
    on BEGIN IMMEDIATE, and without the lock file everything works as before.
    """

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database) if isinstance(database, (str, bytes, os.PathLike)) else ""
        self._queue_path = None if not path or path == ":memory:" or str(path).startswith("file:") else f"{path}-writers"
        self._queue_fd: int | None = None
        self._queue_held = False
        self._queue_timeout = float(kwargs.get("timeout", 5.0))

    def wait_for_writers(self) -> None:
        """Take the writers' lock (at most the busy timeout; then SQLite's own wait decides)."""
        if self._queue_path is None or self._queue_held:
            return
        try:
            if self._queue_fd is None:
                self._queue_fd = os.open(self._queue_path, os.O_RDWR | os.O_CREAT, 0o600)
            deadline = time.monotonic() + self._queue_timeout
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(self._queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._queue_held = True
                    return
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
        except OSError:
            # No lock file possible here (read-only folder, say): SQLite's wait alone, as before.
            self._queue_path = None

    def _leave_queue(self) -> None:
        if self._queue_held:
            self._queue_held = False
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    def commit(self):
        try:
            return super().commit()
        finally:
            self._leave_queue()

    def rollback(self):
        try:
            return super().rollback()
        finally:
            self._leave_queue()

    def close(self):
        try:
            return super().close()
        finally:
            self._leave_queue()
            if self._queue_fd is not None:
                os.close(self._queue_fd)
                self._queue_fd = None


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy, not the driver, issue BEGIN: savepoints then work
        # and our "begin" hook below can take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        # IMMEDIATE takes SQLite's single write lock at the start, so a
        # read-then-write transaction (capacity checks) cannot race another
        # writer. Page views only read: a deferred BEGIN lets them run side
        # by side in WAL mode instead of queueing for the write lock.
        # Straight to the driver: a full SQLAlchemy execution per BEGIN costs
        # more than a cached page view's own query.
        driver = conn.connection.driver_connection
        if _read_only_request():
            driver.execute("BEGIN")
            return
        take_write_lock(driver)


def take_write_lock(driver: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE on a SQLite connection, queueing behind other writers (QueuedWriterConnection)."""
    if isinstance(driver, QueuedWriterConnection):
        driver.wait_for_writers()
    driver.execute("BEGIN IMMEDIATE")


def _read_only_request() -> bool:
    return has_request_context() and (request.method in ("GET", "HEAD") or in_read_phase())


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure an eventapp instance."""
    # The instance folder holds the SQLite database and the generated secret key;
    # INSTANCE_PATH (or FLASK_INSTANCE_PATH) moves it, e.g. to a data volume.
    instance = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("FLASK_INSTANCE_PATH")
    app = Flask(
        "eventapp",
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("static")),
        instance_relative_config=True,
        instance_path=os.path.abspath(instance) if instance else None,
    )
    instance_path = Path(app.instance_path)
    instance_path.mkdir(parents=True, exist_ok=True)

    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance_path / 'eventapp.sqlite3'}",
        MAIL_DEFAULT_SENDER="Community Safety Assembly <assembly@localhost>",
        MAIL_SERVER=None,
        ORGANISER_EMAIL="assembly@localhost",
        ORGANISER_NAME="Assembly organisers",
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        # Per client address, on each public form (registration.views._public_form): forms acted on, and every
        # form sent. Colleagues behind one office address share them.
        REGISTRATION_RATE_LIMIT="30 per minute; 100 per hour",
        REGISTRATION_ATTEMPT_LIMIT="120 per minute; 600 per hour",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        PAGE_SIZE=25,
        # Assemblies with more confirmed delegates are allocated by `flask allocate-worker`, not
        # within the organiser's request, which gunicorn ends after 30 s: 1,000 take at most
        # 7 s here (20 seeds), but 2,000 take 10-20 s on a third of seeds, 10,000 up to minutes.
        ALLOCATION_INLINE_MAX=1000,
        # A calendar sync of more delegates than this (publishing, a round's or the assembly's new time,
        # calling it off) queues its invitations as recipes the mail worker renders: rendering 10,000
        # delegates' 40,000 emails took 12-20 s within the organiser's request.
        CALENDAR_INLINE_MAX=200,
        PUBLIC_BASE_URL=None,
        # Roles that must switch two-step sign-in on before opening anything (comma-separated).
        TWO_STEP_REQUIRED_FOR="",
        # SQLite only: NORMAL or FULL (see where the engine is set up below).
        SQLITE_SYNCHRONOUS="NORMAL",
    )
    app.config.from_prefixed_env()
    try:
        _check_environment_settings(app.config, {key[len("FLASK_"):] for key in os.environ if key.startswith("FLASK_")})
    except SettingsError as err:
        if test_config is not None:
            raise
        # Started by an operator (flask, gunicorn): the reason, not a traceback above it.
        print(err, file=sys.stderr)
        raise SystemExit(1) from None
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance_path)

    if app.config.get("PROXY_FIX"):
        # Behind one reverse proxy (FLASK_PROXY_FIX=true): trust its X-Forwarded-For/-Proto/-Host,
        # so rate limits count clients, not the proxy, and HTTPS is seen as HTTPS (HSTS, Secure).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])

    uri = _normalise_db_uri(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
        if fcntl is not None:
            options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
            options["connect_args"] = {"factory": QueuedWriterConnection, **options.get("connect_args", {})}
    else:
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    # A failed statement's values (a delegate's address in a duplicate key) stay out of tracebacks and logs.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"hide_parameters": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}

    db.init_app(app)
    if uri.startswith("sqlite"):
        # In WAL mode SQLite itself recommends NORMAL: a commit survives the app or its process
        # crashing, and the database is never corrupted, but the last commits before a power cut
        # or an operating-system crash can be lost. FULL (the driver's default) also syncs the
        # disk at every commit, inside the single write lock: measured here, a registration
        # then held that lock 4-8 times longer whenever the disk was busy.
        level = str(app.config["SQLITE_SYNCHRONOUS"]).strip().upper()
        if level not in SQLITE_SYNCHRONOUS_LEVELS:
            raise SettingsError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_LEVELS)}.")
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_synchronous(level))

    @app.before_request
    def _document_upload_limit():
        # Documents are larger than any form (MAX_CONTENT_LENGTH): only their upload may send more.
        # Registered before CSRFProtect, whose check reads the body first.
        if request.endpoint == "documents.index" and request.method == "POST":
            from .documents.views import request_limit

            request.max_content_length = request_limit(app)
            if request.content_length is not None and request.content_length > request.max_content_length:
                # Refused from its size, unread; the 413 handler shows the upload form again (errors.py).
                abort(413)

    migrate.init_app(app, db, directory=str(resource_dir("migrations")), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"

    # Import models so metadata is complete for migrations and the app.
    from . import models  # noqa: F401
    from .accounts.views import bp as accounts_bp
    from .assemblies.views import bp as assemblies_bp
    from .organisations.views import bp as organisations_bp
    from .facilitators.views import bp as facilitators_bp
    from .placements.views import bp as placements_bp
    from .ops.views import bp as ops_bp
    from .registration.views import bp as registration_bp
    from .mail.views import bp as mail_bp
    from .invites.views import bp as invites_bp
    from .notes.views import bp as notes_bp
    from .outcomes.views import bp as outcomes_bp
    from .messages.views import bp as messages_bp
    from .documents.views import bp as documents_bp
    from .checkin.views import bp as checkin_bp
    from .feedback.views import bp as feedback_bp
    from .audit.views import bp as audit_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(assemblies_bp)
    app.register_blueprint(organisations_bp)
    app.register_blueprint(facilitators_bp)
    app.register_blueprint(placements_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(registration_bp)
    app.register_blueprint(mail_bp)
    app.register_blueprint(invites_bp)
    app.register_blueprint(notes_bp)
    app.register_blueprint(outcomes_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(documents_bp)
    app.register_blueprint(checkin_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(audit_bp)

    from . import cli, errors, observability, security, templating

    errors.init_app(app)
    observability.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    return app
