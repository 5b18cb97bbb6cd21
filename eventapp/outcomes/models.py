"""Outcomes after the day: public updates, partner contacts and links, carried-forward actions, status updates."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..notes.models import ACTION_STATUSES
from ..timeutil import utcnow

UPDATE_SOURCES = {"partner": "Partner organisation", "facilitator": "Facilitator", "organiser": "Organiser"}


class AssemblyUpdate(db.Model):
    """An organiser-written update on an assembly's public updates page and Atom feed."""

    __tablename__ = "assembly_update"
    __table_args__ = (Index("ix_assembly_update_assembly_date", "assembly_id", "published_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    published_on: Mapped[date]
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    assembly: Mapped["Assembly"] = relationship()  # noqa: F821


class PartnerContact(db.Model):
    """Who receives an organisation's action reminders and partner link; ``link_version`` revokes old links."""

    __tablename__ = "partner_contact"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"),
                                                 primary_key=True)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[Optional[str]] = mapped_column(String(254))
    link_version: Mapped[int] = mapped_column(default=1)
    link_sent_at: Mapped[Optional[datetime]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped["Organisation"] = relationship()  # noqa: F821


class CarriedAction(db.Model):
    """``action`` is the copy of ``origin`` carried into ``assembly``; one copy per origin and assembly."""

    __tablename__ = "carried_action"
    __table_args__ = (UniqueConstraint("origin_action_id", "assembly_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), unique=True)
    origin_action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    carried_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    action: Mapped["Action"] = relationship(foreign_keys=[action_id])  # noqa: F821
    origin: Mapped["Action"] = relationship(foreign_keys=[origin_action_id])  # noqa: F821


class ActionStatusUpdate(db.Model):
    """A status change posted by a partner (through their link), a facilitator or an organiser."""

    __tablename__ = "action_status_update"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'in_progress', 'done', 'dropped')", name="status"),
        CheckConstraint("source IN ('partner', 'facilitator', 'organiser')", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def source_label(self) -> str:
        return UPDATE_SOURCES.get(self.source, self.source)

    @property
    def status_label(self) -> str:
        return ACTION_STATUSES.get(self.status, self.status)
