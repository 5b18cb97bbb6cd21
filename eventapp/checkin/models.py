"""A confirmed delegate's arrival at the assembly, as reception marked it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow


class Arrival(db.Model):
    """One row per delegate who has arrived: two desks marking the same person make one arrival."""

    __tablename__ = "arrival"

    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    arrived_at: Mapped[datetime] = mapped_column(default=utcnow)
    marked_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
