"""Account use cases: create users, authenticate, change passwords."""
from __future__ import annotations

from sqlalchemy import func, select

from ..domain import DomainError
from ..extensions import db
from .models import ROLES, User

MIN_PASSWORD_LENGTH = 10
# A fixed hash to check against when the email is unknown, so that a wrong
# email and a wrong password take the same time (no account enumeration).
_DUMMY_HASH = None


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


def create_user(email: str, password: str, role: str, name: str = "") -> User:
    """Create an organiser or facilitator account."""
    if role not in ROLES:
        raise DomainError(f"Role must be one of: {', '.join(ROLES)}.", "role")
    email = normalise_email(email)
    if not email or "@" not in email:
        raise DomainError("Enter an email address like name@example.org.", "email")
    check_password_strength(password)
    if get_user_by_email(email):
        raise DomainError("An account with that email already exists.", "email")
    user = User(email=email, role=role, name=name.strip())
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    global _DUMMY_HASH
    user = get_user_by_email(email)
    if user is None or not user.active:
        if _DUMMY_HASH is None:
            probe = User(email="", role="facilitator")
            probe.set_password("dummy password for timing")
            _DUMMY_HASH = probe
        _DUMMY_HASH.check_password(password)
        return None
    return user if user.check_password(password) else None


def change_password(user: User, current: str, new: str) -> None:
    """Change a password after checking the current one; ends other sessions."""
    if not user.check_password(current):
        raise DomainError("Your current password is not correct.", "current_password")
    check_password_strength(new)
    user.set_password(new)
    user.session_version += 1
    db.session.commit()


def load_user(user_id: str) -> User | None:
    """Resolve Flask-Login's session id ("<id>:<session version>") to a user."""
    try:
        raw_id, raw_version = user_id.split(":", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or user.session_version != version or not user.active:
        return None
    return user
