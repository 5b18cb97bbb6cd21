"""Assemblies (a series of events), rounds, workshops, topics and the plenary agenda."""
from __future__ import annotations

import secrets
from datetime import date, datetime, time
from typing import Optional

from sqlalchemy import false as sa_false
from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow

ASSEMBLY_STATUSES = {
    "draft": "Draft",
    "open": "Open for registration",
    "closed": "Registration closed",
    "archived": "Archived",
}

workshop_facilitator = Table(
    "workshop_facilitator",
    db.metadata,
    Column("workshop_id", ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
)


class Series(db.Model):
    """A recurring assembly (e.g. the county's annual Community Safety Assembly)."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Topic(db.Model):
    """A managed workshop topic that can run in several rounds and assemblies."""

    __tablename__ = "topic"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Assembly(db.Model):
    __tablename__ = "assembly"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'open', 'closed', 'archived')", name="status"),
        CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        CheckConstraint("org_limit IS NULL OR org_limit >= 1", name="org_limit_positive"),
        CheckConstraint("end_time > start_time", name="ends_after_start"),
        CheckConstraint("workshop_org_limit IS NULL OR workshop_org_limit >= 1", name="workshop_org_limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[Optional[int]] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    venue_name: Mapped[str] = mapped_column(String(200), default="")
    venue_address: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[date]
    start_time: Mapped[time]
    end_time: Mapped[time]
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    # Local wall-clock times in the assembly's time zone, as organisers type them.
    registration_opens_at: Mapped[Optional[datetime]]
    registration_closes_at: Mapped[Optional[datetime]]
    capacity: Mapped[int] = mapped_column(default=150)
    org_limit: Mapped[Optional[int]]
    privacy_notice: Mapped[str] = mapped_column(Text, default="")
    retention_days: Mapped[Optional[int]]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # At most this many delegates of one organisation in one workshop (None: no limit).
    workshop_org_limit: Mapped[Optional[int]]
    allocation_published_at: Mapped[Optional[datetime]]
    # New registrations hold no place until their address is confirmed from an emailed link
    # (a PendingRegistration until then).
    confirm_email_first: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Set while the assembly is called off: registration is closed and every calendar entry
    # is cancelled; clearing it (reinstating) sends the invitations again.
    cancelled_at: Mapped[Optional[datetime]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Registrations per status, kept by database triggers on registration (migration 0008):
    # read them (fresh, under the assembly lock when deciding), never set them here.
    confirmed_count: Mapped[int] = mapped_column(default=0, server_default="0")
    waiting_count: Mapped[int] = mapped_column(default=0, server_default="0")
    cancelled_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # A fresh random value whenever anything the public page shows changes (the assembly's
    # own fields, its rounds, workshops, topics, agenda and agenda organisations), set by
    # triggers: the key of the cached public page. Random, not a counter, so a restored
    # backup can never bring back a number that once meant other content.
    content_version: Mapped[int] = mapped_column(BigInteger, default=lambda: secrets.randbits(53),
                                                 server_default="0")

    series: Mapped[Optional[Series]] = relationship()
    rounds: Mapped[list["Round"]] = relationship(
        # Total orders (as ROUND_ORDER below): PostgreSQL returns ties in any order, so two rounds given the same
        # Order number, or two agenda items at one time, swapped places between page loads.
        back_populates="assembly", order_by="[Round.position, Round.starts_at, Round.id]", cascade="all, delete-orphan"
    )
    agenda_items: Mapped[list["AgendaItem"]] = relationship(
        back_populates="assembly", order_by="[AgendaItem.starts_at, AgendaItem.id]", cascade="all, delete-orphan"
    )

    @property
    def status_label(self) -> str:
        if self.cancelled_at is not None:
            return "Cancelled"
        return ASSEMBLY_STATUSES.get(self.status, self.status)

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def is_public(self) -> bool:
        return self.status != "draft"


class Round(db.Model):
    """A breakout time window within an assembly."""

    __tablename__ = "round"
    __table_args__ = (
        UniqueConstraint("assembly_id", "name"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=1)
    starts_at: Mapped[time]
    ends_at: Mapped[time]

    assembly: Mapped[Assembly] = relationship(back_populates="rounds")
    workshops: Mapped[list["Workshop"]] = relationship(
        back_populates="round", order_by="[Workshop.title, Workshop.id]", cascade="all, delete-orphan"
    )


class Workshop(db.Model):
    __tablename__ = "workshop"
    __table_args__ = (CheckConstraint("capacity >= 0", name="capacity_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    room: Mapped[str] = mapped_column(String(120), default="")
    capacity: Mapped[int] = mapped_column(default=20)

    round: Mapped[Round] = relationship(back_populates="workshops")
    topic: Mapped[Topic] = relationship()
    facilitators: Mapped[list["User"]] = relationship(  # noqa: F821
        secondary=workshop_facilitator, order_by="[User.name, User.id]"
    )


class AgendaItem(db.Model):
    """A plenary item: presentation, welcome, lunch."""

    __tablename__ = "agenda_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[time]
    ends_at: Mapped[Optional[time]]
    title: Mapped[str] = mapped_column(String(200))
    speaker: Mapped[str] = mapped_column(String(200), default="")
    organisation_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )

    assembly: Mapped[Assembly] = relationship(back_populates="agenda_items")
    organisation: Mapped[Optional["Organisation"]] = relationship()  # noqa: F821


# The order rounds are listed in everywhere: by the organiser's Order number, rounds given the same one by
# their time, then as added (a tie otherwise comes back in any order on PostgreSQL).
ROUND_ORDER = (Round.position, Round.starts_at, Round.id)
AGENDA_ORDER = (AgendaItem.starts_at, AgendaItem.id)

Index("ix_assembly_status_date", Assembly.status, Assembly.date)
