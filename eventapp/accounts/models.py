"""User accounts: organisers, facilitators and reception staff (delegates need none)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..timeutil import utcnow

ROLES = ("organiser", "facilitator", "reception")
ROLE_LABELS = {"organiser": "Organiser", "facilitator": "Facilitator", "reception": "Reception (check-in only)"}


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint("role IN ('organiser', 'facilitator', 'reception')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change so every other login session ends.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Two-step sign-in (accounts.two_step): the confirmed authenticator secret (base32), None while off.
    totp_secret: Mapped[Optional[str]] = mapped_column(String(64))
    two_step_since: Mapped[Optional[datetime]]
    # The last time step whose code was accepted: a code seen once cannot sign in again within its window.
    totp_last_step: Mapped[Optional[int]]
    # Single-use recovery codes, hashed like passwords, one per line; used ones are taken out.
    recovery_codes: Mapped[str] = mapped_column(Text, default="")
    # Wrong codes in a row, for the per-account limit (whoever knows the password cannot keep guessing).
    two_step_failures: Mapped[int] = mapped_column(default=0)
    two_step_failed_at: Mapped[Optional[datetime]]

    def set_password(self, password: str) -> None:
        # Werkzeug's default is scrypt: salted and memory-hard. PASSWORD_HASH_METHOD
        # exists so the test suite can use cheaper scrypt parameters.
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @property
    def is_organiser(self) -> bool:
        return self.role == "organiser"

    @property
    def is_facilitator(self) -> bool:
        return self.role == "facilitator"

    @property
    def is_reception(self) -> bool:
        return self.role == "reception"

    @property
    def two_step_on(self) -> bool:
        return self.totp_secret is not None

    @property
    def recovery_codes_left(self) -> int:
        return len(self.recovery_codes.split()) if self.recovery_codes else 0

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class ResetRequest(db.Model):
    """Password-reset requests in the last day per address typed, account or not: every request writes its row, so
    an address with an account does not answer slower (or faster) than one without. The address is kept only as a
    keyed hash: nothing readable of anyone without an account is stored."""

    __tablename__ = "password_reset_request"

    address_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime]
    requests: Mapped[int] = mapped_column(default=1)
