"""Time helpers: the database stores naive UTC datetimes."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Naive UTC now, the form every timestamp column stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_to_utc(value: datetime, tz: str) -> datetime:
    """Convert a naive local wall-clock time in zone tz to naive UTC."""
    return value.replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc).replace(tzinfo=None)


def utc_to_local(value: datetime, tz: str) -> datetime:
    """Convert a naive UTC datetime to naive local wall-clock time in zone tz."""
    return value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def local_today(tz: str | None = None) -> date:
    """Today's date where the assemblies are held (Europe/London unless given), not the server's:
    a server on UTC is still on yesterday for the first hour of a British summer day."""
    return utc_to_local(utcnow(), tz or "Europe/London").date()
