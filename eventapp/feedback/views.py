"""Delegates give feedback through their personal link after the day; organisers read the summary."""
from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ..accounts.access import organiser_required
from ..assemblies.views import load_assembly
from ..domain import DomainError
from ..extensions import limiter
from ..form_limits import refused_with, sent
from ..forms_util import apply_domain_error
from ..organisations.models import SECTORS
from ..outcomes.charts import bar_chart
from ..registration.csvio import csv_response, download_name, to_csv
from ..registration.views import bad_link_page, load_personal_link
from . import services
from ..timeutil import local_today
from .forms import feedback_form
from .models import SCALE

bp = Blueprint("feedback", __name__)

COMMENTS = {"differently": "What delegates will do differently", "next_time": "What the next assembly should cover"}


def _per_link() -> str:
    # Per personal link, not per client address: colleagues at one council or trust share an address (their
    # office's NAT) and may all answer the morning the organiser's reminder arrives.
    return "feedback-link:" + hashlib.sha256((request.view_args or {}).get("token", "").encode()).hexdigest()[:32]


def _attempt_limit() -> str:
    return current_app.config["REGISTRATION_ATTEMPT_LIMIT"]


# Past its limit the form comes back as typed (form_limits): a bare error page would lose what was written.
SENT_FROM_LINK = ("Your feedback has not been saved yet: it was sent from your personal link many times in a "
                  "short time. Everything you entered is kept here.")


def _limited(view):
    """The per-link and per-address limits on the form's POST, each giving the form back as typed."""
    by_address = limiter.limit(_attempt_limit, methods=["POST"], on_breach=refused_with(view))(view)
    return limiter.limit("10 per minute; 60 per hour", key_func=_per_link, methods=["POST"],
                         on_breach=refused_with(view, SENT_FROM_LINK))(by_address)


@bp.route("/manage/<token>/feedback", methods=["GET", "POST"])
@_limited
def give(token: str):
    reg, problem = load_personal_link(token)
    if reg is None:
        # An expired link (they are issued at registration) offers a fresh one by email.
        return bad_link_page(problem)
    may, why = services.can_give(reg)
    workshops = services.workshops_to_rate(reg) if may else []
    given = services.feedback_of(reg) if may else None
    prefill = {}
    if given is not None and request.method == "GET":
        prefill = {"overall": str(given.overall), "differently": given.differently, "next_time": given.next_time,
                   **{f"workshop_{r.workshop_id}": str(r.rating) for r in given.ratings}}
    form = feedback_form(workshops, data=prefill)
    if may and sent(form):
        try:
            services.save_feedback(reg, {
                "overall": form.overall.data, "differently": form.differently.data, "next_time": form.next_time.data,
                "workshops": {w.id: field.data for w, field in form.workshop_fields}})
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            end = services.closes_on(reg.assembly)
            flash(f"Thank you: your feedback is saved. You can change it until {end.day} {end:%B %Y}.", "success")
            return redirect(url_for("registration.manage", token=token))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("feedback/give.html", reg=reg, token=token, form=form, may=may, why=why,
                           given=given is not None, closes_on=services.closes_on(reg.assembly)), status


@bp.route("/organiser/assemblies/<slug>/feedback")
@organiser_required
def results(slug: str):
    assembly = load_assembly(slug)
    which = request.args.get("comments", "next_time")
    which = which if which in COMMENTS else "next_time"
    summary = services.summary(assembly)
    chart = bar_chart("chart-overall", "How useful the assembly was",
                      "Number of delegates giving each answer; the same numbers are in the table below.",
                      [(label, [summary.overall.counts[value]]) for value, label in SCALE.items()], ["Delegates"])
    return render_template("feedback/results.html", assembly=assembly, summary=summary, chart=chart, scale=SCALE, sectors=SECTORS, comments=services.comments(
                               assembly, which=which, page=request.args.get("page", type=int)),
                           which=which, comment_labels=COMMENTS, window=services.window(assembly),
                           closes_on=services.closes_on(assembly))


@bp.route("/organiser/assemblies/<slug>/feedback.csv")
@organiser_required
def results_csv(slug: str):
    assembly = load_assembly(slug)
    header, rows = services.rows_for_csv(assembly)
    return csv_response(to_csv(header, rows),
                        download_name("feedback", assembly.slug, on=local_today(assembly.timezone)))
