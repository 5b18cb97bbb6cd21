"""Reading the audit log back in tests."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.audit.models import AuditEvent
from eventapp.extensions import db


def logged(action: str | None = None) -> list[AuditEvent]:
    """The audit events (of one action, if given), oldest first."""
    db.session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt))
