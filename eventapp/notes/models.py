"""What happens in a workshop: attendance, session notes (with revisions) and agreed actions."""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow

# The structured sections of session notes, in the order facilitators fill them in.
SECTIONS = {
    "summary": "Summary",
    "working": "What is working",
    "not_working": "What is not working",
    "barriers": "Barriers (for example to information sharing)",
    "ideas": "Ideas",
    "free_notes": "Free notes",
}
SECTION_HINTS = {
    "summary": "A few sentences on what the group discussed.",
    "working": "Practice, partnerships or services that work well.",
    "not_working": "Gaps, problems and what gets in the way.",
    "barriers": "What stops partners working together, such as sharing information.",
    "ideas": "Suggestions the group put forward.",
    "free_notes": "Anything else worth keeping.",
}
NOTES_STATUSES = {"draft": "Draft", "submitted": "Submitted for review", "approved": "Approved for publication"}
ACTION_STATUSES = {"open": "Open", "in_progress": "In progress", "done": "Done", "dropped": "Dropped"}
ATTENDANCE_STATUSES = {"present": "Present", "absent": "Absent", "walk_in": "Walk-in"}


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Attendance(db.Model):
    """One person's attendance at one workshop: an allocated delegate or a walk-in."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("workshop_id", "registration_id"),
        CheckConstraint(f"status IN ({_in(ATTENDANCE_STATUSES)})", name="status"),
        # A walk-in who never registered is known only by the name typed in the room.
        CheckConstraint("registration_id IS NOT NULL OR walk_in_name <> ''", name="someone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), index=True
    )
    walk_in_name: Mapped[str] = mapped_column(String(200), default="")
    walk_in_organisation: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20))
    recorded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    registration: Mapped[Optional["Registration"]] = relationship()  # noqa: F821

    @property
    def name(self) -> str:
        return self.registration.full_name if self.registration else self.walk_in_name

    @property
    def organisation_name(self) -> str:
        if self.registration:
            return self.registration.organisation.name
        return self.walk_in_organisation


class SessionNotes(db.Model):
    """The notes of one workshop; ``version`` grows with every save (optimistic concurrency)."""

    __tablename__ = "session_notes"
    __table_args__ = (CheckConstraint(f"status IN ({_in(NOTES_STATUSES)})", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    submitted_at: Mapped[Optional[datetime]]
    approved_at: Mapped[Optional[datetime]]
    approved_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # The key the notes page's script gave the save that made this version (see save_notes).
    last_save_key: Mapped[Optional[str]] = mapped_column(String(40))

    workshop: Mapped["Workshop"] = relationship()  # noqa: F821
    sections: Mapped[list["NoteSection"]] = relationship(
        back_populates="notes", cascade="all, delete-orphan", order_by="NoteSection.id"
    )
    updated_by: Mapped[Optional["User"]] = relationship(foreign_keys=[updated_by_id])  # noqa: F821

    @property
    def status_label(self) -> str:
        return NOTES_STATUSES.get(self.status, self.status)

    def section(self, key: str) -> Optional["NoteSection"]:
        return next((s for s in self.sections if s.key == key), None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {s.key: {"body": s.body, "internal": s.internal} for s in self.sections}

    @property
    def has_text(self) -> bool:
        return any(s.body.strip() for s in self.sections)


class NoteSection(db.Model):
    """One structured part of the notes; ``internal`` keeps it off every public page."""

    __tablename__ = "note_section"
    __table_args__ = (
        UniqueConstraint("notes_id", "key"),
        CheckConstraint(f"key IN ({_in(SECTIONS)})", name="key"),
        # Internal text can never be approved for publication, whatever the code does.
        CheckConstraint("NOT (internal AND approved)", name="internal_never_approved"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notes_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    internal: Mapped[bool] = mapped_column(default=False)
    approved: Mapped[bool] = mapped_column(default=False)

    notes: Mapped[SessionNotes] = relationship(back_populates="sections")

    @property
    def label(self) -> str:
        return SECTIONS.get(self.key, self.key)


class NotesRevision(db.Model):
    """A copy of every section after one save: who, when, and (by comparison) what changed."""

    __tablename__ = "notes_revision"
    __table_args__ = (UniqueConstraint("notes_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notes_id: Mapped[int] = mapped_column(ForeignKey("session_notes.id", ondelete="CASCADE"))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20), default="save")
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    snapshot_json: Mapped[str] = mapped_column(Text, default="{}")
    changed_keys: Mapped[str] = mapped_column(String(200), default="")

    notes: Mapped[SessionNotes] = relationship()
    user: Mapped[Optional["User"]] = relationship()  # noqa: F821

    @property
    def snapshot(self) -> dict[str, dict[str, Any]]:
        return json.loads(self.snapshot_json or "{}")

    @property
    def changed(self) -> list[str]:
        return [k for k in self.changed_keys.split(",") if k]


class PendingSave(db.Model):
    """Notes posted after the sign-in had lapsed, kept until the person signs in again.

    Only a hash of the token is stored; the token itself sits in the browser's
    signed session cookie, so nobody else can claim the text.
    """

    __tablename__ = "notes_pending_save"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    payload_json: Mapped[str] = mapped_column(Text)
    # True when the form's CSRF token was still valid: the post surely came from
    # our page in this browser, so the save may complete without asking again.
    trusted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_json)


action_topic = Table(
    "action_topic",
    db.metadata,
    Column("action_id", ForeignKey("action.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Action(db.Model):
    """An agreed action. ``workshop_id`` may be empty for actions carried at assembly level."""

    __tablename__ = "action"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(ACTION_STATUSES)})", name="status"),
        CheckConstraint("NOT (internal AND approved)", name="internal_never_approved"),
        Index("ix_action_assembly_status", "assembly_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    workshop_id: Mapped[Optional[int]] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    owner_organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="RESTRICT"), index=True
    )
    lead_person: Mapped[str] = mapped_column(String(200), default="")
    due_date: Mapped[Optional[date]] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    internal: Mapped[bool] = mapped_column(default=False)
    approved: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    assembly: Mapped["Assembly"] = relationship()  # noqa: F821
    workshop: Mapped[Optional["Workshop"]] = relationship()  # noqa: F821
    owner_organisation: Mapped["Organisation"] = relationship()  # noqa: F821
    topics: Mapped[list["Topic"]] = relationship(secondary=action_topic, order_by="Topic.name")  # noqa: F821

    @property
    def status_label(self) -> str:
        return ACTION_STATUSES.get(self.status, self.status)

    def snapshot(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "owner_organisation_id": self.owner_organisation_id,
            "lead_person": self.lead_person,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "status": self.status,
            "internal": self.internal,
            "topic_ids": sorted(t.id for t in self.topics),
        }


class ActionRevision(db.Model):
    """The action as it stood after one save."""

    __tablename__ = "action_revision"
    __table_args__ = (UniqueConstraint("action_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"))
    version: Mapped[int]
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    snapshot_json: Mapped[str] = mapped_column(Text, default="{}")
