"""Registrations of delegates to an assembly and their ranked workshop topic preferences."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow

REGISTRATION_STATUSES = {"confirmed": "Confirmed", "waiting": "Waiting list", "cancelled": "Cancelled"}


def email_key(email: str) -> str:
    """The form of an email address used to spot the same person registering twice."""
    return (email or "").strip().lower()


class Registration(db.Model):
    __tablename__ = "registration"
    __table_args__ = (
        UniqueConstraint("assembly_id", "email_key"),
        # One position per place in the queue: two people cannot share a waiting position.
        UniqueConstraint("assembly_id", "waiting_position"),
        CheckConstraint("status IN ('confirmed', 'waiting', 'cancelled')", name="status"),
        CheckConstraint("(status = 'waiting') = (waiting_position IS NOT NULL)", name="waiting_position"),
        Index("ix_registration_assembly_status", "assembly_id", "status"),
        Index("ix_registration_assembly_org_status", "assembly_id", "organisation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # As typed (for display and delivery) and normalised (for the one-per-email rule).
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    job_title: Mapped[str] = mapped_column(String(200), default="")
    access_needs: Mapped[str] = mapped_column(Text, default="")
    dietary_needs: Mapped[str] = mapped_column(Text, default="")
    # None when an organiser added or imported the person (no consent given on our form).
    consent_at: Mapped[Optional[datetime]]
    status: Mapped[str] = mapped_column(String(20), default="confirmed")
    waiting_position: Mapped[Optional[int]]
    source: Mapped[str] = mapped_column(String(20), default="form")
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[Optional[datetime]]
    anonymised_at: Mapped[Optional[datetime]]

    assembly: Mapped["Assembly"] = relationship()  # noqa: F821
    organisation: Mapped["Organisation"] = relationship()  # noqa: F821
    preferences: Mapped[list["Preference"]] = relationship(
        back_populates="registration", order_by="Preference.rank", cascade="all, delete-orphan"
    )

    @property
    def choice_topic_ids(self) -> list[int]:
        return [p.topic_id for p in self.preferences]

    @property
    def status_label(self) -> str:
        return REGISTRATION_STATUSES.get(self.status, self.status)


# The organiser's list in name order reads a page of rows from here instead of sorting thousands.
Index("ix_registration_assembly_name", Registration.assembly_id, func.lower(Registration.full_name), Registration.id)


class Preference(db.Model):
    """A delegate's ranked choice of a workshop topic (rank 1 = first choice)."""

    __tablename__ = "registration_preference"
    __table_args__ = (
        UniqueConstraint("registration_id", "rank"),
        UniqueConstraint("registration_id", "topic_id"),
        CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]

    registration: Mapped[Registration] = relationship(back_populates="preferences")
    topic: Mapped["Topic"] = relationship()  # noqa: F821


class PendingRegistration(db.Model):
    """A form sent to an assembly that asks delegates to confirm their address first: it holds no
    place until the emailed link is opened and confirmed, so addresses nobody reads take no place."""

    __tablename__ = "pending_registration"
    __table_args__ = (UniqueConstraint("assembly_id", "email_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    # The form as sent (the data register() takes), applied when the address is confirmed.
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    assembly: Mapped["Assembly"] = relationship()  # noqa: F821
