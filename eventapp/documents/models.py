"""A file attached to an assembly, kept in the database so every app process and every backup has it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow

VISIBILITIES = {
    "public": "Everyone: the assembly's public page and its updates page",
    "delegates": "Registered delegates only: their personal page",
}


class Document(db.Model):
    """An uploaded file with its title; the bytes are read only when someone downloads it."""

    __tablename__ = "document"
    __table_args__ = (
        # The same file twice (a double click on Upload, the same deck uploaded again) is one document.
        UniqueConstraint("assembly_id", "sha256"),
        CheckConstraint("visibility IN ('public', 'delegates')", name="visibility"),
        CheckConstraint("size >= 0", name="size_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    # Where it stands in the lists: the organiser puts the agenda first.
    position: Mapped[int] = mapped_column(default=0)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
