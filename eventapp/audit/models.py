"""One row per recorded action on personal data or accounts; rows are only ever added."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import utcnow

# Action code -> what the log page and CSV call it.
ACTIONS = {
    "registrations.export": "Registrations downloaded (CSV)",
    "registrations.import": "Registrations imported (CSV)",
    "registration.edit": "Delegate's details changed",
    "registration.cancel": "Registration cancelled",
    "registrations.cancel": "Registrations cancelled (several)",
    "registration.reinstate": "Registration reinstated",
    "registration.add": "Delegate added by an organiser",
    "registration.to_waiting": "Moved to the waiting list",
    "registration.confirm": "Given a place from the waiting list",
    "registration.promote": "Promoted from the waiting list (place freed)",
    "user.create": "Account created",
    "user.deactivate": "Account deactivated",
    "user.reactivate": "Account reactivated",
    "two_step.enabled": "Two-step sign-in switched on",
    "two_step.disabled": "Two-step sign-in switched off",
    "two_step.reset": "Two-step sign-in reset by an organiser",
    "two_step.recovery_codes": "Two-step recovery codes replaced",
    "two_step.recovery_code_used": "Two-step recovery code used",
    "organisation.merge": "Organisations merged",
    "privacy.purge": "Personal data purged",
    "database.backup": "Database backed up",
    "database.restore": "Database restored",
    "allocation.publish": "Allocation published",
    "placement.move": "Delegate moved between published workshops",
    "placement.place_missing": "Delegate missing a workshop placed in the published allocation",
    "message.send": "Message to delegates sent",
    "message.release": "Scheduled message went out",
    "audit.export": "Audit log downloaded (CSV)",
}

# What caused an event recorded without an account, as the log's "Who" says it (the keys are the
# "who" filter's values; "none" was the command line's before there were others).
COMMAND_LINE, DELEGATE, SCHEDULED = "none", "delegate", "scheduled"
CAUSES = {COMMAND_LINE: "Command line", DELEGATE: "A delegate (own link)", SCHEDULED: "Scheduled (automatic)"}
# The actions recorded without an account other than on the command line. Each has only that one
# cause when no account did it, so the action says which: no column, and older rows read right too.
UNATTENDED = {"registration.promote": DELEGATE, "message.release": SCHEDULED}


class AuditEvent(db.Model):
    """Who (named as they were called then, so the row outlives their account) did what, when,
    to what. Never changed afterwards, except that a privacy purge takes delegates' names out."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    actor_name: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    assembly_id: Mapped[Optional[int]] = mapped_column(ForeignKey("assembly.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)

    @property
    def who(self) -> str:
        """The account's name as it was then, or (no account) what caused the event."""
        return self.actor_name or CAUSES[UNATTENDED.get(self.action, COMMAND_LINE)]
