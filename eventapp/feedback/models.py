"""A delegate's feedback on an assembly, and their rating of each workshop they were placed in."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import utcnow

# Most useful first, as the form lists them.
SCALE = {5: "Very useful", 4: "Useful", 3: "Somewhat useful", 2: "Not very useful", 1: "Not useful at all"}


class Feedback(db.Model):
    """One per delegate (they can change it while feedback is open). It outlives their registration: when
    personal data is purged the link to them goes, the answers and their sector stay for the report."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("overall BETWEEN 1 AND 5", name="overall"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[Optional[int]] = mapped_column(ForeignKey("registration.id", ondelete="SET NULL"),
                                                           unique=True)
    sector: Mapped[str] = mapped_column(String(40), default="")
    overall: Mapped[int]
    differently: Mapped[str] = mapped_column(Text, default="")
    next_time: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    ratings: Mapped[list["WorkshopRating"]] = relationship(back_populates="feedback", cascade="all, delete-orphan",
                                                           passive_deletes=True)


class WorkshopRating(db.Model):
    __tablename__ = "feedback_workshop"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),)

    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)
    rating: Mapped[int]

    feedback: Mapped[Feedback] = relationship(back_populates="ratings")
