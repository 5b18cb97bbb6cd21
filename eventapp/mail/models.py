"""The outbox: every email is a row written in the transaction that caused it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow

OUTBOX_STATUSES = ("pending", "sent", "failed", "skipped")


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed', 'skipped')", name="status"),
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    to_email: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # An iCalendar object (RFC 5545) and its iTIP method, for invitations.
    ics: Mapped[Optional[str]] = mapped_column(Text)
    ics_method: Mapped[Optional[str]] = mapped_column(String(20))
    # When set, subject, bodies and ics are still empty: this is what to render them from
    # (JSON, see mail.services.deferred_row), done by the worker just before sending.
    render: Mapped[Optional[str]] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Lets a use case say "this email once" (e.g. one confirmation per registration).
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(255), unique=True)
    assembly_id: Mapped[Optional[int]] = mapped_column(ForeignKey("assembly.id", ondelete="SET NULL"), index=True)
    # The registration an email is about, whatever address it went to (a delegate's data download).
    registration_id: Mapped[Optional[int]] = mapped_column(ForeignKey("registration.id", ondelete="SET NULL"),
                                                           index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]
