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
from sqlalchemy import text
from sqlalchemy.engine import make_url

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


def _database_url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def backup(path: str | os.PathLike) -> Path:
    """Write a consistent snapshot of the database to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    url = _database_url()
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
        subprocess.run([pg_dump, "--format=custom", "--no-owner", "--file", str(target), _libpq_url(url)],
                       check=True, capture_output=True)
        return target
    raise DomainError(f"Backups are not supported for {url.get_backend_name()}.")


def restore(path: str | os.PathLike) -> None:
    """Replace the database's contents with the snapshot at ``path``."""
    source_path = Path(path)
    if not source_path.is_file():
        raise DomainError(f"No backup file at {source_path}.")
    url = _database_url()
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(source_path)
        dest = sqlite3.connect(url.database)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
        return
    if url.get_backend_name() == "postgresql":
        pg_restore = shutil.which("pg_restore")
        if not pg_restore:
            raise DomainError("pg_restore is not installed (Debian package postgresql-client).")
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.engine.dispose()
        subprocess.run([pg_restore, "--no-owner", "--exit-on-error", "-d", _libpq_url(url), str(source_path)],
                       check=True, capture_output=True)
        return
    raise DomainError(f"Restores are not supported for {url.get_backend_name()}.")
