"""Time helpers: the database stores naive UTC datetimes."""
from __future__ import annotations

from datetime import datetime, timezone
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
