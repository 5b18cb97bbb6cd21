"""Helpers for invitation tests: publish an allocation, read the outbox, parse with ical.js."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from icalendar import Calendar
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import materialise
from eventapp.placements import services as placements
from eventapp.placements.models import AllocationRun

NODE_DIR = Path(__file__).resolve().parent / "node"


def publish_assignments(assembly, assignments: dict) -> placements.PublishOutcome:
    """Publish an allocation in which each registration attends the given workshops."""
    run = AllocationRun(assembly_id=assembly.id, status="proposal")
    run.result = {"assignments": {str(reg.id): [str(w.id) for w in ws] for reg, ws in assignments.items()}}
    db.session.add(run)
    db.session.commit()
    return placements.publish(run, assembly)


def outbox(to_email: str | None = None, kinds=None) -> list[OutboxMessage]:
    # Invitations queued as a recipe are rendered first, with the mail worker's own code.
    materialise()
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if to_email:
        stmt = stmt.where(OutboxMessage.to_email == to_email)
    if kinds:
        stmt = stmt.where(OutboxMessage.kind.in_(kinds))
    return list(db.session.scalars(stmt))


def invites(to_email: str | None = None) -> list[OutboxMessage]:
    return [m for m in outbox(to_email) if m.ics]


def vevent(ics: str):
    """The one VEVENT of an iTIP object (asserting there is exactly one)."""
    cal = Calendar.from_ical(ics)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def icaljs(texts: list[str]) -> list[dict]:
    """Parse each iCalendar text with Mozilla's ical.js under node; fails the test on any parse error."""
    if not (NODE_DIR / "node_modules" / "ical.js").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, capture_output=True,
                       timeout=300)
    out = subprocess.run(["node", str(NODE_DIR / "parse.mjs")], input=json.dumps(texts), capture_output=True,
                         text=True, check=True, timeout=120)
    results = json.loads(out.stdout)
    errors = [r["error"] for r in results if "error" in r]
    assert not errors, errors
    return results
