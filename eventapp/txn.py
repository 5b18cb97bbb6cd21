"""Where a request's SQLite transactions take the write lock.

SQLite has one write lock per database. A request that writes takes it at its first
statement (BEGIN IMMEDIATE), so a read-then-write use case cannot race another writer.
A form whose handling mostly reads (the public registration form parses, validates and looks
things up before it inserts anything) can start with a read phase instead: its statements
run in a deferred transaction, side by side with writers, until the service calls
``begin_writes()``, which ends that transaction so the next one takes the lock. Everything
the service decides on is read again under the lock.
"""
from __future__ import annotations

from flask import g, has_app_context

from .extensions import db


def read_first() -> None:
    """Let this request's statements run without the write lock until begin_writes()."""
    g._read_phase = True


def in_read_phase() -> bool:
    """True between read_first() and begin_writes() in the current request."""
    return has_app_context() and g.get("_read_phase", False)


def begin_writes() -> None:
    """End a read phase (its transaction only read): the next statement takes the write lock.

    A no-op outside a read phase, so services call it whoever calls them.
    """
    if in_read_phase():
        g._read_phase = False
        # That transaction only read, so what it loaded is not stale by its end: keeping it
        # loaded spares the service a reload of each object it touches again (the assembly:
        # about 7% of a registration POST), and what the service decides on it reads again.
        session = db.session()
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
