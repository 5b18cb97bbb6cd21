"""Account use cases: create users, authenticate, change passwords."""
from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain import DomainError, NotFound
from ..extensions import db
from ..listing import page_holding
from ..timeutil import utcnow
from ..audit import services as audit
from .models import ROLE_LABELS, ROLES, ResetRequest, User

MIN_PASSWORD_LENGTH = 10
# A fixed hash to check against when the email is unknown, so that a wrong
# email and a wrong password take the same time (no account enumeration).
_DUMMY_HASHES: dict[str, str] = {}


def normalise_email(email: str) -> str:
    """Email addresses compare case-insensitively and without surrounding space."""
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"Use at least {MIN_PASSWORD_LENGTH} characters.", "password")
    if len(password) > 200:
        raise DomainError("Use at most 200 characters.", "password")


def get_user_by_email(email: str) -> User | None:
    """Find a user by email, case-insensitively."""
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_user(email: str, password: str, role: str, name: str = "", *, by_user_id: int | None = None) -> User:
    """Create an organiser, facilitator or reception account (by_user_id: the organiser, None from the command line)."""
    if role not in ROLES:
        raise DomainError(f"Role must be one of: {', '.join(ROLES)}.", "role")
    email = normalise_email(email)
    if not email or "@" not in email:
        raise DomainError("Enter an email address like name@example.org.", "email")
    # The organisers' form says so first; the command line reaches here with whatever was typed.
    if len(email) > 254:
        raise DomainError("Use at most 254 characters for the email address.", "email")
    if len(name.strip()) > 200:
        raise DomainError("Use at most 200 characters for the name.", "name")
    check_password_strength(password)
    if get_user_by_email(email):
        raise DomainError("An account with that email already exists.", "email")
    user = User(email=email, role=role, name=name.strip())
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(by_user_id, "user.create", subject=audit.user_subject(user), detail=f"role: {ROLE_LABELS[role]}")
    db.session.commit()
    return user


# The organisers' list of users: by name, then address (unique, so the order is total for page_holding).
LIST_ORDER = (User.name, User.email)
USER_STATES = {"active": "Can sign in", "inactive": "Deactivated"}


def filtered(q: str = "", role: str = "", state: str = ""):
    """The list of users narrowed by its filters (unknown role or state values filter nothing), unordered."""
    stmt = select(User)
    if q.strip():
        q = q.strip()
        stmt = stmt.where(or_(User.name.icontains(q, autoescape=True), User.email.icontains(q, autoescape=True)))
    if role in ROLE_LABELS:
        stmt = stmt.where(User.role == role)
    if state in USER_STATES:
        stmt = stmt.where(User.active.is_(state == "active"))
    return stmt


def list_page(user_id: int, per_page: int, q: str = "", role: str = "", state: str = "") -> int | None:
    """The page of the list, under these filters, that shows this account; None when they leave it out."""
    return page_holding(filtered(q, role, state), LIST_ORDER, User.id, user_id, per_page)


def get_user(user_id: int) -> User:
    """The account with this id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    return user


def check_not_own_account(user: User, by_user_id: int) -> None:
    """Refuse deactivating one's own account (asked before the question is even put)."""
    if user.id == by_user_id:
        raise DomainError("You cannot deactivate your own account: ask another organiser.")


def deactivate_user(user_id: int, *, by_user_id: int) -> User:
    """Deactivate an account: it cannot sign in and its sessions end; what it recorded stays."""
    user = get_user(user_id)
    check_not_own_account(user, by_user_id)
    if not user.active:
        return user
    if user.role == "organiser":
        # Every active organiser locked, not only this one: two organisers deactivating each other
        # at the same moment must not leave nobody able to sign in.
        organisers = db.session.scalars(select(User.id).where(User.role == "organiser", User.active.is_(True))
                                        .with_for_update()).all()
        if set(organisers) <= {user.id}:
            raise DomainError("This is the only organiser account that can sign in: add another organiser first.")
    user.active = False
    # Sessions are signed cookies: a new version is what ends those already handed out.
    user.session_version += 1
    audit.record(by_user_id, "user.deactivate", subject=audit.user_subject(user))
    db.session.commit()
    return user


def reactivate_user(user_id: int, *, by_user_id: int | None = None) -> User:
    """Let a deactivated account sign in again (with its old password, or after a password reset)."""
    user = get_user(user_id)
    if not user.active:
        audit.record(by_user_id, "user.reactivate", subject=audit.user_subject(user))
    user.active = True
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = get_user_by_email(email)
    if user is None or not user.active:
        # One dummy hash per hashing method, so the work matches a real account's.
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        if method not in _DUMMY_HASHES:
            _DUMMY_HASHES[method] = generate_password_hash("dummy password for timing", method=method)
        check_password_hash(_DUMMY_HASHES[method], password)
        return None
    return user if user.check_password(password) else None


def sign_out(user: User) -> None:
    """End every session of this person: a copy of the session cookie taken before no longer opens anything."""
    # Sessions are signed cookies: the only way to retire one is to stop accepting its version.
    user.session_version += 1
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one; ends other sessions."""
    if not user.check_password(current):
        raise DomainError("Your current password is not correct.", "current_password")
    check_password_strength(new)
    user.set_password(new)
    user.session_version += 1
    db.session.commit()


# Built once: every signed-in request loads its user, and Session.get builds its statement anew.
_USER_BY_ID = select(User).where(User.id == bindparam("id"))


def load_user(user_id: str) -> User | None:
    """Resolve Flask-Login's session id ("<id>:<session version>") to a user."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    user = db.session.scalar(_USER_BY_ID, {"id": uid})
    if user is None or user.session_version != version or not user.active:
        return None
    return user


# --- password reset ------------------------------------------------------------------------

RESET_SALT = "password-reset"
RESET_MAX_AGE = 3600
RESET_EMAIL_MINUTES = 15


def _reset_serializer():
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _fingerprint(user: User) -> str:
    # Part of the token: any password change (including this reset) makes the link stale,
    # so it works once and an older link dies when the password is changed another way.
    import hashlib

    return hashlib.sha256(f"{user.password_hash}:{user.session_version}".encode()).hexdigest()[:16]


def make_reset_token(user: User) -> str:
    """A signed, expiring, single-use token naming the user."""
    return _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def load_reset_token(token: str) -> User | None:
    """The active user a reset token names, or None if forged, expired or already used."""
    from itsdangerous import BadSignature

    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        return None
    return user


def _address_key(email: str) -> str:
    """A keyed hash of an address: the same for the same address, and nothing readable without SECRET_KEY."""
    secret = current_app.config["SECRET_KEY"]
    key = hmac.new(secret.encode() if isinstance(secret, str) else secret, b"eventapp.accounts.reset-address",
                   hashlib.sha256).digest()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _count_request(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = ResetRequest.__table__
    return dialect_insert(table).on_conflict_do_update(index_elements=[table.c.address_key],
                                                       set_={"requests": table.c.requests + 1})


# A request row counts an address's requests for a day: after that it is of no use, only a trace of someone asking.
RESET_REQUEST_DAYS = 1


def _stale_reset_requests(now):
    return ResetRequest.window_start < now - timedelta(days=RESET_REQUEST_DAYS)


def stale_reset_requests() -> int:
    """How many password-reset request counts are older than their day (what the privacy purge deletes)."""
    return db.session.scalar(select(func.count()).select_from(ResetRequest).where(_stale_reset_requests(utcnow())))


def forget_reset_requests() -> int:
    """Delete the password-reset request counts older than their day; returns how many (the privacy purge).

    A new request deletes them too, but with no one asking (a quiet month) they would otherwise stay."""
    deleted = db.session.execute(delete(ResetRequest).where(_stale_reset_requests(utcnow()))).rowcount
    db.session.commit()
    return deleted


def request_password_reset(email: str) -> None:
    """Email a reset link if the address belongs to an active account; the same outcome for the caller either way."""
    from flask import url_for

    from ..mail.models import OutboxMessage
    from ..mail.services import queue_email, render_email

    user = get_user_by_email(email or "")
    context = {"valid_minutes": RESET_MAX_AGE // 60}
    now = utcnow()
    # Every request writes the same way, account or not (a write only for accounts would tell them apart by the time
    # taken): its address's count for the day, a row per address kept as a keyed hash.
    address_key = _address_key(email or "")
    db.session.execute(delete(ResetRequest).where(_stale_reset_requests(now)))
    db.session.execute(_count_request(db.session.get_bind().dialect.name),
                       {"address_key": address_key, "window_start": now, "requests": 1})
    # One email per quarter of an hour however often the form is sent, and a new one once the password has changed.
    window = now.replace(minute=now.minute - now.minute % RESET_EMAIL_MINUTES, second=0, microsecond=0)
    # No cap on the count: a day's cap would let anyone keep a colleague from resetting their password by asking
    # first; the quarter hour's one email is the limit.
    wanted = user is not None and user.active
    key = (f"password-reset:{user.id}:{_fingerprint(user)}:{window:%Y%m%dT%H%M}" if wanted
           else f"password-reset:-:{address_key[:16]}:{window:%Y%m%dT%H%M}")  # looked up alike, never found
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None or not wanted:
        render_email("password_reset", to_name="", reset_url="", **context)  # the same work as a sending
    else:
        base = current_app.config.get("PUBLIC_BASE_URL")
        token = make_reset_token(user)
        path = url_for("accounts.reset_password", token=token)
        reset_url = (f"{base.rstrip('/')}{path}" if base
                     else url_for("accounts.reset_password", token=token, _external=True))
        queue_email("password_reset", user.email, user.display_name, context={"reset_url": reset_url, **context},
                    dedupe_key=key)
    try:
        db.session.commit()
    except IntegrityError:
        # The same request sent twice at once: the other one queued the email (and counted).
        db.session.rollback()


def reset_password(user: User, new: str) -> None:
    """Set a new password from a reset link; ends every session of that account."""
    check_password_strength(new)
    user.set_password(new)
    user.session_version += 1
    db.session.commit()
