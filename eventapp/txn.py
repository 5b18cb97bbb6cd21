"""Where a request's SQLite transactions take the write lock.

SQLite has one write lock per database. A request that writes takes it at its first
statement (BEGIN IMMEDIATE), so a read-then-write use case cannot race another writer.
A form whose handling mostly reads (the public registration form parses, validates and looks
things up before it inserts anything) can start with a read phase instead: its statements
run in a deferred transaction, side by side with writers, until the service calls
``begin_writes()``, which ends that transaction and takes the lock. Everything the service
decides on is read again under the lock.
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
    """End a read phase (its transaction only read): from here on this request writes.

    A no-op outside a read phase, so services call it whoever calls them.
    """
    if not in_read_phase():
        return
    g._read_phase = False
    session = db.session()
    if not session.in_transaction():
        return  # nothing read yet: the first statement will take the write lock
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        # PostgreSQL orders writers by row locks (the service's SELECT ... FOR UPDATE), not by
        # one lock per database, and reads committed data statement by statement: the
        # transaction simply goes on.
        return
    if conn.in_nested_transaction():
        # The session works inside a savepoint of a transaction it did not begin (as the test
        # suite's rolled-back sessions do): that transaction holds whatever lock it took, and
        # only the savepoint can end here.
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
        return
    # SQLite cannot turn a read transaction into a write one safely (another writer may have
    # committed since it began), so the read transaction ends and a write transaction begins,
    # on the same connection: SQLAlchemy's transaction goes on around them, nothing goes back
    # to the pool, and what was loaded stays loaded. Everything the service decides on it reads
    # again under the lock.
    from .app import take_write_lock

    driver = conn.connection.driver_connection
    driver.execute("COMMIT")
    take_write_lock(driver)
