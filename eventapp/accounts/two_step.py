"""Two-step sign-in use cases: an authenticator app's codes (TOTP, RFC 6238) and single-use recovery codes."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import timedelta

import pyotp
from flask import current_app
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit import services as audit
from ..domain import DomainError, NotFound
from ..extensions import db
from ..text import is_number
from ..timeutil import utcnow
from ..txn import begin_writes
from .models import ROLES, User

ISSUER = "Community Safety Assembly"
STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
# Unambiguous letters and digits only: codes are read off paper and typed again.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# Per account: this many wrong codes in a row, then no code is accepted for LOCK_MINUTES after the last one.
MAX_FAILURES = 10
LOCK_MINUTES = 15
# How long a correct password waits for its code before the person must sign in again.
HALF_SIGNED_IN_SECONDS = 300


class CodeRefused(DomainError):
    """A code that does not sign in: wrong, already used, or the account is resting after many wrong codes."""


def required_roles() -> set[str]:
    """The roles that must use two-step sign-in (FLASK_TWO_STEP_REQUIRED_FOR, comma-separated)."""
    return parse_roles(current_app.config.get("TWO_STEP_REQUIRED_FOR") or "")


def parse_roles(value: str) -> set[str]:
    """The role names in a comma-separated setting; ValueError naming any that is not a role."""
    names = {part.strip().lower() for part in str(value).split(",") if part.strip()}
    unknown = names - set(ROLES)
    if unknown:
        raise ValueError(", ".join(sorted(unknown)))
    return names


def is_required_for(user: User) -> bool:
    """Whether this account must switch two-step sign-in on before opening anything."""
    return user.role in required_roles()


def new_setup_seed() -> str:
    """A fresh random value for the session to keep while a secret is set up (setup_secret)."""
    return secrets.token_urlsafe(32)


def is_setup_seed(value) -> bool:
    """Whether ``value`` (from the session) is what new_setup_seed makes."""
    return isinstance(value, str) and len(value) == 43


def setup_secret(user: User, seed: str) -> str:
    """The authenticator secret (160 bits, base32) being set up for ``user``, from ``seed`` and the app's key."""
    # Until a code confirms it the secret is saved nowhere, and the session cookie is signed but readable by whoever
    # holds it: it keeps only the seed, and the secret is an HMAC of it under a key of its own drawn from SECRET_KEY
    # (no encryption library needed). The account's id is mixed in, so a seed copied to another account is no use.
    secret_key = current_app.config["SECRET_KEY"]
    secret_key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = hmac.new(secret_key, b"eventapp.accounts.two_step.setup", hashlib.sha256).digest()
    digest = hmac.new(key, f"{user.id}:{seed}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode()


def setup_recovery_codes(user: User, seed: str) -> list[str]:
    """The recovery codes given with the secret set up from ``seed``: made from it like the secret, so that the page
    showing them can be shown again just after (a second click on Switch on) with nothing readable kept meanwhile."""
    secret_key = current_app.config["SECRET_KEY"]
    secret_key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = hmac.new(secret_key, b"eventapp.accounts.two_step.recovery", hashlib.sha256).digest()
    codes = []
    for i in range(RECOVERY_CODE_COUNT):
        # 256 bits read as ten letters of 31: the bias of the last division is far below anything that matters.
        number = int.from_bytes(hmac.new(key, f"{user.id}:{seed}:{i}".encode(), hashlib.sha256).digest(), "big")
        letters = []
        for _ in range(10):
            number, index = divmod(number, len(_RECOVERY_ALPHABET))
            letters.append(_RECOVERY_ALPHABET[index])
        codes.append(f"{''.join(letters[:5])}-{''.join(letters[5:])}")
    return codes


def recovery_codes_again(user: User, seed: str) -> list[str] | None:
    """The recovery codes switching on from ``seed`` gave, while they are still the account's: None once the secret
    came from elsewhere, or a code has been used or new ones made since."""
    if not user.two_step_on or not hmac.compare_digest(user.totp_secret, setup_secret(user, seed)):
        return None
    codes, hashes = setup_recovery_codes(user, seed), user.recovery_codes.split()
    if len(hashes) != RECOVERY_CODE_COUNT or not check_password_hash(hashes[0], _digits(codes[0])):
        return None
    return codes


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def qr_svg(user: User, secret: str) -> Markup:
    """The otpauth:// address of ``secret`` as an inline SVG QR code for an authenticator app to scan."""
    import segno

    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", border=4,
                                                svgclass="two-step-code", omitsize=True)
    return Markup(svg)


def _digits(code: str) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-")


def _matching_step(secret: str, code: str, after: int | None, now: float | None = None) -> int | None:
    """The time step (this one or either neighbour: a phone's clock drifts) whose code is ``code``, if later than
    ``after``."""
    code = _digits(code)
    if len(code) != 6 or not is_number(code):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _locked(user: User) -> User:
    """The account's row read again and held until the commit, so that one attempt at a time decides on it."""
    # Two sign-ins sent with the same code, or wrong codes sent side by side, would otherwise each read the same
    # last step and failure count: both accepted, or failures lost and guesses past the limit. PostgreSQL locks the
    # row (FOR UPDATE); SQLite holds its write lock from the transaction's start (begin_writes ends a read phase).
    begin_writes()
    return db.session.execute(select(User).where(User.id == user.id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one()


def _hash_method() -> str:
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")


def _new_recovery_codes(user: User, codes: list[str] | None = None) -> list[str]:
    if codes is None:
        codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)]
        codes = [f"{c[:5]}-{c[5:]}" for c in codes]
    user.recovery_codes = "\n".join(generate_password_hash(_digits(c), method=_hash_method()) for c in codes)
    return codes


def enable(user: User, seed: str, code: str) -> list[str]:
    """Switch two-step sign-in on with the secret set up from ``seed`` once ``code`` proves the app has it; the new
    recovery codes."""
    secret = setup_secret(user, seed)
    user = _locked(user)
    if user.two_step_on:
        raise DomainError("Two-step sign-in is already on.")
    step = _matching_step(secret, code, None)
    if step is None:
        raise CodeRefused("That code is not right. Type the 6 digits your app shows now for this account.", "code")
    user.totp_secret = secret
    user.totp_last_step = step
    user.two_step_since = utcnow()
    user.two_step_failures = 0
    codes = _new_recovery_codes(user, setup_recovery_codes(user, seed))
    audit.record(user.id, "two_step.enabled", subject=audit.user_subject(user))
    db.session.commit()
    return codes


def _check_current_code(user: User, code: str) -> None:
    # For switching off or new recovery codes while signed in: a fresh app code (not a recovery code).
    step = _matching_step(user.totp_secret or "", code, user.totp_last_step)
    if step is None:
        raise CodeRefused("That code is not right, or was already used. Type the code your app shows now.", "code")
    user.totp_last_step = step


def disable(user: User, password: str, code: str) -> None:
    """Switch two-step sign-in off, after the account's password and a current code."""
    if not user.two_step_on:
        return
    if not user.check_password(password):
        raise DomainError("Your password is not correct.", "password")
    user = _locked(user)
    if not user.two_step_on:
        return
    _check_current_code(user, code)
    _clear(user)
    audit.record(user.id, "two_step.disabled", subject=audit.user_subject(user))
    db.session.commit()


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """New recovery codes after a current code; the old ones stop working."""
    user = _locked(user)
    if not user.two_step_on:
        raise DomainError("Two-step sign-in is off: switch it on first.")
    _check_current_code(user, code)
    codes = _new_recovery_codes(user)
    audit.record(user.id, "two_step.recovery_codes", subject=audit.user_subject(user))
    db.session.commit()
    return codes


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    user.two_step_since = None
    user.recovery_codes = ""
    user.two_step_failures = 0
    user.two_step_failed_at = None


def reset(user_id: int, *, by_user_id: int) -> User:
    """An organiser switches a colleague's two-step sign-in off (a lost phone); their sessions end."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    if user.id == by_user_id:
        raise DomainError("You cannot reset your own two-step sign-in: ask another organiser.")
    user = _locked(user)
    if not user.two_step_on:
        return user
    _clear(user)
    # Whoever holds the lost phone may also hold a signed-in session.
    user.session_version += 1
    audit.record(by_user_id, "two_step.reset", subject=audit.user_subject(user))
    db.session.commit()
    return user


def resting_until(user: User):
    """When this account accepts codes again after too many wrong ones, or None if it accepts them now."""
    if user.two_step_failures < MAX_FAILURES or user.two_step_failed_at is None:
        return None
    until = user.two_step_failed_at + timedelta(minutes=LOCK_MINUTES)
    return until if until > utcnow() else None


def verify_sign_in(user: User, code: str) -> str:
    """Accept an app code or an unused recovery code for signing in ("app" or "recovery"); CodeRefused otherwise."""
    user = _locked(user)
    if resting_until(user) is not None:
        raise CodeRefused(f"There have been too many wrong codes for this account. Wait {LOCK_MINUTES} minutes, "
                          "then sign in again.", "code")
    step = _matching_step(user.totp_secret or "", code, user.totp_last_step)
    used = None
    if step is not None:
        user.totp_last_step = step
        used = "app"
    elif len(_digits(code)) == 10:
        used = _use_recovery_code(user, _digits(code).lower())
    if used is None:
        if user.two_step_failed_at and utcnow() - user.two_step_failed_at > timedelta(minutes=LOCK_MINUTES):
            user.two_step_failures = 0
        user.two_step_failures += 1
        user.two_step_failed_at = utcnow()
        db.session.commit()
        raise CodeRefused("That code is not right, or was already used. Type the code your app shows now, "
                          "or one of your recovery codes.", "code")
    user.two_step_failures = 0
    user.two_step_failed_at = None
    db.session.commit()
    return used


def _use_recovery_code(user: User, code: str) -> str | None:
    hashes = user.recovery_codes.split()
    for h in hashes:
        if check_password_hash(h, code):
            hashes.remove(h)
            user.recovery_codes = "\n".join(hashes)
            audit.record(user.id, "two_step.recovery_code_used", subject=audit.user_subject(user),
                         detail=f"{len(hashes)} left")
            return "recovery"
    return None


def half_signed_in_marker(user: User, next_url: str | None, now: float | None = None) -> dict:
    """What the session keeps between a correct password and its code: who, which session version, when, where to."""
    return {"u": user.id, "v": user.session_version, "t": int(time.time() if now is None else now), "next": next_url}


def half_signed_in_user(marker, now: float | None = None) -> User | None:
    """The account a half-signed-in marker names, while it is fresh (5 minutes) and that account still wants a code."""
    if not isinstance(marker, dict) or not isinstance(marker.get("u"), int) or not isinstance(marker.get("t"), int):
        return None
    if (time.time() if now is None else now) - marker["t"] > HALF_SIGNED_IN_SECONDS:
        return None
    user = db.session.get(User, marker["u"])
    if user is None or not user.active or user.session_version != marker.get("v") or not user.two_step_on:
        return None
    return user
