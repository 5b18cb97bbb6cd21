"""The facilitator's home: only the workshops they run."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.access import staff_required
from ..assemblies.models import Assembly, Round, Workshop, workshop_facilitator
from ..extensions import db

bp = Blueprint("facilitators", __name__, url_prefix="/facilitator")


@bp.route("/")
@staff_required
def home():
    workshops = db.session.scalars(
        select(Workshop)
        .join(workshop_facilitator, workshop_facilitator.c.workshop_id == Workshop.id)
        .join(Round, Round.id == Workshop.round_id)
        .join(Assembly, Assembly.id == Round.assembly_id)
        .where(workshop_facilitator.c.user_id == current_user.id)
        .options(selectinload(Workshop.round).selectinload(Round.assembly), selectinload(Workshop.topic))
        .order_by(Assembly.date.desc(), Round.position, Workshop.title)
    ).all()
    return render_template("facilitators/home.html", workshops=workshops)
