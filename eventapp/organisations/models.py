"""Partner organisations and the managed list of sectors."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow

SECTORS = {
    "police": "Police",
    "local_authority": "Local authority (district or borough)",
    "county_council": "County council",
    "health": "Health",
    "mental_health": "Mental health",
    "victim_support": "Victim support",
    "fire_rescue": "Fire and rescue",
    "probation": "Probation",
    "housing": "Housing",
    "education": "Education",
    "voluntary_community": "Voluntary and community",
    "other": "Other",
}
STATUSES = {"approved": "Approved", "pending": "Pending approval"}


def name_key(name: str, limit: int = 200) -> str:
    """Normalise a name so duplicates differing in case or spacing collide (at most ``limit`` characters)."""
    key = " ".join(name.casefold().split())
    if len(key) > limit:
        # Case-folding can lengthen a name that fits its column ("ß" becomes "ss"): past the key's column,
        # a digest of the whole key keeps two such names apart and the same name's spellings together.
        key = key[:limit - 17] + "~" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return key


_sector_list = ", ".join(f"'{s}'" for s in SECTORS)


class Organisation(db.Model):
    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(f"sector IN ({_sector_list})", name="sector"),
        CheckConstraint("status IN ('approved', 'pending')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    sector: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="approved")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, self.sector)

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"
