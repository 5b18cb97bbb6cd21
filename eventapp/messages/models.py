"""A message an organiser sent to some of an assembly's delegates."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class AssemblyMessage(db.Model):
    """One email written by an organiser and queued for every delegate of its audience."""

    __tablename__ = "assembly_message"
    __table_args__ = (
        # The compose form's key: a second click on Send (or a resubmitted page) finds the
        # message already there instead of emailing everyone twice.
        UniqueConstraint("assembly_id", "send_key"),
        CheckConstraint("audience IN ('confirmed', 'waiting', 'registered', 'workshop', 'facilitators', 'access', "
                        "'dietary', 'organisation', 'arrived', 'not_arrived')", name="audience"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    send_key: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(20))
    workshop_id: Mapped[Optional[int]] = mapped_column(ForeignKey("workshop.id", ondelete="SET NULL"))
    # For the audience "organisation": its confirmed delegates (None once the organisation is merged away).
    organisation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"))
    # As the organiser chose it, kept when the workshop is later renamed or deleted.
    audience_label: Mapped[str] = mapped_column(String(400))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    recipients: Mapped[int] = mapped_column(default=0)
    sent_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When to send, for a message scheduled for later (UTC); None when it was sent at once.
    send_at: Mapped[Optional[datetime]] = mapped_column(index=True)
    # When its copies went into the outbox: None while it waits for send_at, or once cancelled.
    queued_at: Mapped[Optional[datetime]]
    cancelled_at: Mapped[Optional[datetime]]

    sent_by: Mapped[Optional["User"]] = relationship()  # noqa: F821

    @property
    def is_scheduled(self) -> bool:
        """Waiting for its time: nothing is in the outbox yet, and it can still be cancelled."""
        return self.send_at is not None and self.queued_at is None and self.cancelled_at is None
