"""One-time tokens that make an "Add" form add once, however often it is sent.

A double click, Enter pressed twice or a browser resending after a slow answer sends the same
form again, with the same CSRF token (one per session), at once or seconds later. Each add form
carries a token of its own (``once``: random, signed with the time it was issued), and the
database keeps, for a while, which tokens were acted on and what each one added. The row is
written in the transaction that adds, so it exists exactly when the addition does:

* SQLite: a POST takes the write lock at its first statement, so the second request looks the
  token up only after the first has committed, and finds it.
* PostgreSQL: both requests may look it up before either commits; the second's insert of the
  same token then waits on the primary key and fails once the first commits, its whole
  transaction (the duplicate) is rolled back, and the token is looked up again.

Not the Flask session (a signed cookie): the two requests of a double click leave the browser
with the same cookie, before either answer has set a new one, so neither would see the other.
Not Redis: SQLite-only installations have none, and it could not commit with the addition.

A token is honoured for ``max_age`` (the CSRF token's lifetime, 8 hours by default); the rows
are kept that long too, and then deleted. A token older than that is refused outright, so a form
sent again after its rows were deleted cannot add a second time unnoticed.
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .domain import DomainError
from .extensions import db

T = TypeVar("T")

DEFAULT_MAX_AGE = 8 * 3600
EXPIRED = "This form was opened too long ago to be saved as it is: check what it says, then save it again."
SECOND_CLICK = " (by your first click; the second added nothing)"


class Submission(db.Model):
    """An add form's token that has been acted on, and the id of what it added."""

    __tablename__ = "form_submission"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


def clock() -> float:
    """Seconds since the epoch (a function of its own, so tests can move it)."""
    return time.time()


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock())


def max_age(app=None) -> int:
    """How long a token is honoured, and its row kept: the CSRF token's lifetime, or 8 hours without one."""
    config = (app or current_app).config
    return int(config.get("ADD_ONCE_SECONDS") or config.get("WTF_CSRF_TIME_LIMIT") or DEFAULT_MAX_AGE)


def _signer(app=None) -> _Signer:
    return _Signer((app or current_app).config["SECRET_KEY"], salt="add-once")


def issue(app=None) -> str:
    """A fresh token for an add form's ``once`` field."""
    return _signer(app).sign(secrets.token_urlsafe(24)).decode()


def _token(signed: str) -> str:
    """The random part of a token sent back within its window; DomainError otherwise."""
    signer = _signer()
    try:
        value, stamp = signer.unsign(signed, max_age=max_age(), return_timestamp=True)
    except (BadSignature, SignatureExpired):
        raise DomainError(EXPIRED) from None
    if stamp.timestamp() > clock() + 60:  # signed "in the future": not one of ours
        raise DomainError(EXPIRED)
    return value.decode()


def _first(token: str, kind: str) -> int | None:
    # Not flushing: after a refusal the session may hold the refused addition, half built.
    with db.session.no_autoflush:
        return db.session.scalar(select(Submission.object_id)
                                 .where(Submission.token == token, Submission.kind == kind))


def record(token: str | None, kind: str, obj) -> None:
    """In a service, before its commit: note that ``token`` added ``obj`` (and forget tokens past their window)."""
    if token is None:
        return
    db.session.flush()
    now = datetime.fromtimestamp(clock(), timezone.utc).replace(tzinfo=None)
    db.session.execute(delete(Submission).where(Submission.created_at < now - timedelta(seconds=max_age())))
    db.session.add(Submission(token=token, kind=kind, object_id=obj.id, created_at=now))
    db.session.flush()


def add_once(field, kind: str, add: Callable[[str | None], T]) -> tuple[T | int, bool]:
    """Call ``add(token)`` unless the form's token has added already: (what was added, True), or (its id, False).

    ``field`` is the form's ``once`` field; a refused token gets a fresh one there, and a DomainError.
    A form sent without a token (opened before this existed) is added as before.
    """
    if not field.data:
        return add(None), True
    try:
        token = _token(field.data)
    except DomainError:
        field.data = issue()
        raise
    done = _first(token, kind)
    if done is not None:
        return done, False
    try:
        return add(token), True
    except IntegrityError:
        # PostgreSQL: the other click committed the same token meanwhile; this one's addition is rolled back.
        db.session.rollback()
        done = _first(token, kind)
        if done is None:
            raise
        return done, False
    except DomainError:
        # PostgreSQL again, where the service tells a unique clash as a refusal ("already uses that web address",
        # "already attached"): the clash was with the other click's addition, committed by now with the token.
        done = _first(token, kind)
        if done is None:
            raise
        return done, False
