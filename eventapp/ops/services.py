"""Operations: readiness checks, backups and restores."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from ..audit import services as audit
from ..domain import DomainError
from ..extensions import db

_heads_cache: dict[str, set[str]] = {}


def migration_heads() -> set[str]:
    """The newest migration revisions shipped with this code (cached per process)."""
    directory = current_app.extensions["migrate"].directory
    if directory not in _heads_cache:
        config = current_app.extensions["migrate"].migrate.get_config(directory)
        _heads_cache[directory] = set(ScriptDirectory.from_config(config).get_heads())
    return _heads_cache[directory]


def readiness() -> tuple[bool, dict[str, str]]:
    """Is the database reachable and at the code's migration head?"""
    checks: dict[str, str] = {}
    try:
        conn = db.session.connection()
        conn.execute(text("SELECT 1"))
        current = set(MigrationContext.configure(conn).get_current_heads())
        checks["database"] = "ok"
    except Exception as err:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = f"unreachable: {type(err).__name__}"
        return False, checks
    finally:
        # Read-only: end the transaction so no lock outlives the probe.
        if checks.get("database") == "ok":
            db.session.rollback()
    heads = migration_heads()
    checks["migrations"] = "current" if current == heads else (
        f"database at {', '.join(sorted(current)) or 'nothing'}, code at {', '.join(sorted(heads))}")
    return current == heads, checks


def schema_problem() -> str | None:
    """Why commands cannot use the database yet (unreachable, or not at the code's migration head)."""
    ready, checks = readiness()
    if ready:
        return None
    if checks["database"] != "ok":
        return f"The database does not answer ({checks['database']})."
    return f"The database is not up to date ({checks['migrations']}): run 'flask --app eventapp db upgrade' first."


def _database_url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq(url) -> tuple[str, dict[str, str]]:
    """The libpq URL without its password, and an environment that carries the password.

    On the command line the password would show in ``ps`` and in any error message.
    """
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run_pg(command: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL client tool; a failure becomes a DomainError with the tool's own message."""
    result = subprocess.run(command, capture_output=True, **kwargs)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise DomainError(f"{what} failed: {detail[0] if detail else f'exit status {result.returncode}'}")
    return result


def _private_file(target: Path) -> None:
    # A snapshot holds every delegate's personal data and the staff's password hashes.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(target, 0o600)


def _log(action: str, subject: str) -> None:
    # Its own transaction: a backup or restore is not one the app can roll back. A database from
    # before the audit log (an old backup just restored) has nowhere to write it.
    if not inspect(db.session.connection()).has_table("audit_event"):
        return
    audit.record(None, action, subject=subject)
    db.session.commit()


def backup(path: str | os.PathLike) -> Path:
    """Write a consistent snapshot of the database to ``path``, then log it."""
    target = _backup(path)
    _log("database.backup", f"backup written to {target}")
    return target


def _backup(path: str | os.PathLike) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    url = _database_url()
    _private_file(target)
    if url.get_backend_name() == "sqlite":
        # The online backup API copies a consistent snapshot while the app keeps running.
        source = sqlite3.connect(url.database)
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
        return target
    if url.get_backend_name() == "postgresql":
        pg_dump = shutil.which("pg_dump")
        if not pg_dump:
            raise DomainError("pg_dump is not installed (Debian package postgresql-client).")
        libpq_url, env = _libpq(url)
        _run_pg([pg_dump, "--format=custom", "--no-owner", "--file", str(target), libpq_url], "pg_dump", env=env)
        return target
    raise DomainError(f"Backups are not supported for {url.get_backend_name()}.")


def _not_a_backup(path: Path, kind: str) -> DomainError:
    return DomainError(f"{path} is not a backup of this app's {kind} database (written by 'flask backup'). "
                       "Nothing was changed.")


def _check_sqlite_backup(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        raise _not_a_backup(path, "SQLite") from None


def restore(path: str | os.PathLike) -> None:
    """Replace the database's contents with the snapshot at ``path``, then log it in the restored database."""
    _restore(path)
    _log("database.restore", f"restored from {Path(path)}")


def _restore(path: str | os.PathLike) -> None:
    """Replace the database's contents with the snapshot at ``path``.

    The file is checked first, and on PostgreSQL the whole replacement is one transaction:
    a wrong or damaged file leaves the database as it was.
    """
    source_path = Path(path)
    if not source_path.is_file():
        raise DomainError(f"No backup file at {source_path}.")
    url = _database_url()
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(source_path)
        db.session.remove()
        db.engine.dispose()
        source = sqlite3.connect(source_path)
        dest = sqlite3.connect(url.database)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
        return
    if url.get_backend_name() == "postgresql":
        pg_restore, psql = shutil.which("pg_restore"), shutil.which("psql")
        if not pg_restore or not psql:
            raise DomainError("pg_restore and psql are not installed (Debian package postgresql-client).")
        if subprocess.run([pg_restore, "--list", str(source_path)], capture_output=True).returncode != 0:
            raise _not_a_backup(source_path, "PostgreSQL")
        script = _run_pg([pg_restore, "--no-owner", "--file", "-", str(source_path)], "pg_restore").stdout
        db.session.remove()
        db.engine.dispose()
        libpq_url, env = _libpq(url)
        # One transaction: the old schema is dropped only if the whole snapshot loads.
        _run_pg([psql, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--single-transaction",
                 "--command", "DROP SCHEMA public CASCADE", "--command", "CREATE SCHEMA public",
                 "--file", "-", "--dbname", libpq_url], "Restore", input=script, env=env)
        return
    raise DomainError(f"Restores are not supported for {url.get_backend_name()}.")
