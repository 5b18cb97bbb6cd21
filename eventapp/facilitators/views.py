"""The facilitator's home: only the workshops they run, across assemblies, with their attendees."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from ..accounts.access import staff_required
from ..extensions import db
from ..notes import services as notes_services
from ..notes.models import SessionNotes

bp = Blueprint("facilitators", __name__, url_prefix="/facilitator")


@bp.route("/")
@staff_required
def home():
    workshops = notes_services.facilitator_workshops(current_user.id)
    ids = [w.id for w in workshops]
    attendees = notes_services.allocated(ids)
    counts = notes_services.attendance_counts(ids)
    notes = {n.workshop_id: n for n in db.session.scalars(
        select(SessionNotes).where(SessionNotes.workshop_id.in_(ids)))} if ids else {}
    return render_template("facilitators/home.html", workshops=workshops, attendees=attendees, counts=counts,
                           notes=notes)
