"""The organisers' audit log: who exported, changed or deleted personal data or accounts, and when."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.access import organiser_required
from ..extensions import db
from ..registration.csvio import csv_response, download_name
from ..timeutil import local_today
from ..txn import read_first
from . import services
from .models import ACTIONS

bp = Blueprint("audit", __name__)

PER_PAGE = 50


@bp.route("/organiser/audit")
@organiser_required
def index():
    filters = services.Filters.parse(request.args)
    page = db.paginate(services.events(filters), per_page=PER_PAGE, error_out=False)
    if not page.items and page.page > 1 and page.total:
        # Past the last page (an old link, or one typed): the last page, not "Nothing has been logged yet"
        # over a log that has entries.
        return redirect(url_for(".index", **filters.args(), page=page.pages if page.pages > 1 else None))
    return render_template("audit/index.html", page=page, filters=filters, actions=ACTIONS,
                           assemblies=services.assembly_titles(), people=services.people())


@bp.route("/organiser/audit.csv")
@organiser_required
def export():
    # Reads without the write lock; logging the download takes it at the end (services.export_csv).
    read_first()
    filters = services.Filters.parse(request.args)
    body = services.export_csv(current_user.id, filters)
    return csv_response(body, download_name("audit-log", *services.filename_words(filters), on=local_today()))
