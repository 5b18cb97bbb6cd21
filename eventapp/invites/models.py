"""What each delegate's calendar was last told: one row per invitation (UID)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class CalendarEntry(db.Model):
    """An invitation sent to one delegate: the plenary, or their workshop in one round.

    The UID never changes and SEQUENCE only goes up, so calendar clients update
    or remove the same entry. The last-sent values are kept so that a change can
    be detected (fingerprint) and a cancellation can still describe an event
    whose workshop or round has since been deleted.
    """

    __tablename__ = "calendar_entry"
    __table_args__ = (
        # One entry per delegate and slot ("plenary" or "round:<id>"), enforced here
        # so concurrent syncs cannot invent a second UID for the same slot.
        UniqueConstraint("registration_id", "slot"),
        CheckConstraint("kind IN ('plenary', 'workshop')", name="kind"),
        CheckConstraint("status IN ('confirmed', 'cancelled')", name="status"),
        CheckConstraint("sequence >= 0", name="sequence_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    slot: Mapped[str] = mapped_column(String(40))
    round_id: Mapped[Optional[int]] = mapped_column(ForeignKey("round.id", ondelete="SET NULL"), index=True)
    workshop_id: Mapped[Optional[int]] = mapped_column(ForeignKey("workshop.id", ondelete="SET NULL"), index=True)
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    # The event as last sent (UTC), for the text of updates and cancellations.
    summary: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[Optional[datetime]]
    ends_at: Mapped[Optional[datetime]]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
