"""Allocation runs (proposals), organiser pins, and the published placements."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow


class AllocationRun(db.Model):
    """One run of the solver on an assembly: a proposal until it is published."""

    __tablename__ = "allocation_run"
    __table_args__ = (
        CheckConstraint("status IN ('proposal', 'published', 'superseded')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="proposal")
    placed: Mapped[int] = mapped_column(default=0)
    moves: Mapped[int] = mapped_column(default=0)
    cost: Mapped[int] = mapped_column(default=0)
    # Solver output and the comparison with first-come-first-served, as JSON.
    result_json: Mapped[str] = mapped_column(Text, default="{}")
    edited: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[Optional[datetime]]

    @property
    def result(self) -> dict[str, Any]:
        return json.loads(self.result_json or "{}")

    @result.setter
    def result(self, value: dict[str, Any]) -> None:
        self.result_json = json.dumps(value, sort_keys=True)


class AllocationPin(db.Model):
    """An organiser's decision that a delegate attends a workshop, kept across re-runs."""

    __tablename__ = "allocation_pin"
    __table_args__ = (UniqueConstraint("registration_id", "round_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)


class Placement(db.Model):
    """A published place: this delegate attends this workshop in this round.

    One workshop per round and never the same topic twice are constraints here,
    so no code path can break them.
    """

    __tablename__ = "placement"
    __table_args__ = (
        UniqueConstraint("registration_id", "round_id"),
        UniqueConstraint("registration_id", "topic_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="RESTRICT"))
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    workshop: Mapped["Workshop"] = relationship()  # noqa: F821


ACTIVE_JOB = "status IN ('queued', 'running')"


class AllocationJob(db.Model):
    """A request to run the allocation in the background, for assemblies too big to solve
    within a web request; ``flask allocate-worker`` takes it and records how it ended."""

    __tablename__ = "allocation_job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        # At most one queued or running job per assembly: a second click, from any process,
        # cannot start a second solve of the same assembly.
        Index("uq_allocation_job_one_active", "assembly_id", unique=True,
              sqlite_where=text(ACTIVE_JOB), postgresql_where=text(ACTIVE_JOB)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    requested_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    run_id: Mapped[Optional[int]] = mapped_column(ForeignKey("allocation_run.id", ondelete="SET NULL"))
    delegates: Mapped[int] = mapped_column(default=0)  # confirmed when it was asked for, for the wait shown
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[Optional[datetime]]
    finished_at: Mapped[Optional[datetime]]
