"""The organiser's Outbox: every message as delegates get it, with delivery status and resend."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from types import SimpleNamespace

from ..accounts.access import organiser_required
from ..assemblies.models import Assembly
from ..domain import DomainError
from ..extensions import db
from . import services
from ..registration.csvio import to_csv
from ..registration.models import Registration
from ..templating import counted
from .models import OUTBOX_STATUSES, OutboxMessage

bp = Blueprint("mail", __name__, url_prefix="/organiser/outbox")

STATUS_LABELS = {"pending": "Waiting to be sent", "sent": "Sent", "failed": "Failed"}
KIND_LABELS = {
    "registration_confirmed": "Registration confirmed",
    "waiting_list": "Waiting list",
    "promoted": "Promoted from the waiting list",
    "cancelled": "Registration cancelled",
    "manage_link": "Personal link",
    "address_changed": "Email address changed",
    "address_changed_old": "Email address changed (to the old address)",
    "correction_not_registered": "Corrected address: nothing registered",
    "confirm_registration": "Confirm the email address",
    "confirm_registration_reminder": "Confirm the email address (reminder)",
    "invite": "Invitation",
    "invite_updated": "Invitation updated",
    "invite_cancelled": "Invitation cancelled",
    "reminder": "Reminder",
    "message": "Message from the organisers",
}
# The HTML body is shown in a sandboxed frame from this route only: no script,
# no network, inline styles allowed (emails use them), embeddable by our own pages.
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; "
               "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox")


def _kinds() -> dict[str, str]:
    found = db.session.scalars(select(OutboxMessage.kind).distinct()).all()
    return {k: KIND_LABELS.get(k, k.replace("_", " ").capitalize()) for k in sorted(set(found) | set(KIND_LABELS))}


def _filtered(stmt):
    """stmt narrowed by the outbox list's filters; returns (stmt, kinds, values)."""
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    assembly_id = request.args.get("assembly", type=int)
    q = request.args.get("q", "").strip()
    registration_id = request.args.get("registration", type=int)
    if registration_id:
        # Every email about one delegate, whichever address it went to (their organiser page links here).
        stmt = stmt.where(OutboxMessage.registration_id == registration_id)
    if status in OUTBOX_STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    kinds = _kinds()
    if kind in kinds:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if assembly_id:
        stmt = stmt.where(OutboxMessage.assembly_id == assembly_id)
    if q:
        stmt = stmt.where(OutboxMessage.to_email.icontains(q, autoescape=True)
                          | OutboxMessage.to_name.icontains(q, autoescape=True)
                          | OutboxMessage.subject.icontains(q, autoescape=True))
    return stmt, kinds, SimpleNamespace(status=status, kind=kind, assembly_id=assembly_id, q=q,
                                        registration_id=registration_id)


# The list's filters, kept by its CSV link.
FILTER_ARGS = ("q", "status", "kind", "assembly", "registration")


@bp.route("/")
@organiser_required
def index():
    stmt, kinds, f = _filtered(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    status, kind, assembly_id, q, registration_id = f.status, f.kind, f.assembly_id, f.q, f.registration_id
    about = db.session.get(Registration, registration_id) if registration_id else None
    page = db.paginate(stmt, per_page=current_app.config.get("PAGE_SIZE", 25), error_out=False)
    # The list shows subjects only, and a row queued as a recipe stores its subject when queued:
    # only a recipe row queued before subjects were stored (subject empty) is rendered here.
    page.items = [m if m.subject else services.rendered(m) for m in page.items]
    assemblies = db.session.scalars(select(Assembly).order_by(Assembly.date.desc(), Assembly.id.desc())).all()
    return render_template(
        "mail/index.html", page=page, status=status, kind=kind, assembly_id=assembly_id, q=q,
        statuses=STATUS_LABELS, kinds=kinds, kind_labels=KIND_LABELS, assemblies=assemblies,
        counts=services.outbox_counts(), smtp=current_app.config.get("MAIL_SERVER"), about=about,
        filtered=bool(status or kind or assembly_id or q or registration_id),
        csv_url=url_for(".outbox_csv", **{k: v for k, v in request.args.items() if k in FILTER_ARGS and v}),
    )


@bp.route("/outbox.csv")
@organiser_required
def outbox_csv():
    """The messages the list's filters select, as CSV: who was sent what, when, and what went wrong."""
    columns = (OutboxMessage.created_at, OutboxMessage.to_name, OutboxMessage.to_email, OutboxMessage.subject,
               OutboxMessage.kind, OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.sent_at,
               OutboxMessage.last_error)
    stmt, _, _ = _filtered(select(*columns).order_by(OutboxMessage.id.desc()))
    rows = ([r.created_at.strftime("%Y-%m-%d %H:%M"), r.to_name, r.to_email, r.subject,
             KIND_LABELS.get(r.kind, r.kind), STATUS_LABELS.get(r.status, r.status), r.attempts,
             r.sent_at.strftime("%Y-%m-%d %H:%M") if r.sent_at else "", r.last_error or ""]
            for r in db.session.execute(stmt))
    header = ["Queued (UTC)", "Name", "Email", "Subject", "Kind", "Status", "Attempts", "Sent (UTC)", "Last error"]
    return Response(to_csv(header, rows).encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="outbox.csv"', "Cache-Control": "no-store"})


def _message(message_id: int) -> OutboxMessage:
    # A row the worker has not rendered yet is shown as it will be sent (rendered now, not stored),
    # less any link only its addressee may open (a password reset).
    return services.for_outbox(db.get_or_404(OutboxMessage, message_id))


@bp.route("/<int:message_id>")
@organiser_required
def detail(message_id: int):
    message = _message(message_id)
    return render_template("mail/detail.html", message=message, statuses=STATUS_LABELS, kind_labels=KIND_LABELS,
                           form=FlaskForm(), smtp=current_app.config.get("MAIL_SERVER"),
                           newer=services.superseded_by(message), private_link=services.has_private_link(message))


@bp.route("/<int:message_id>/body.html")
@organiser_required
def html_body(message_id: int):
    message = _message(message_id)
    response = Response(message.body_html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<int:message_id>/invite.ics")
@organiser_required
def ics(message_id: int):
    message = _message(message_id)
    if not message.ics:
        abort(404)
    return Response(message.ics.encode("utf-8"), mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="message-{message.id}.ics"',
                             "Cache-Control": "private, no-store"})


@bp.route("/<int:message_id>/message.eml")
@organiser_required
def eml(message_id: int):
    message = _message(message_id)
    return Response(services.mime_bytes(message), mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="message-{message.id}.eml"',
                             "Cache-Control": "private, no-store"})


@bp.post("/retry-failed")
@organiser_required
def retry_failed():
    if not FlaskForm().validate_on_submit():
        abort(400)
    queued, stale = services.retry_failed()
    if not queued and not stale:
        flash("No message has failed: there is nothing to send again.", "info")
    else:
        flash(f"{counted(queued, 'failed message')} will be sent again"
              + ("." if current_app.config.get("MAIL_SERVER") else ", once an SMTP server is configured.")
              + (f" {counted(stale, 'calendar message')} stayed failed: a newer one for the same entry replaced "
                 f"{'it' if stale == 1 else 'them'}." if stale else ""), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:message_id>/resend")
@organiser_required
def resend(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if FlaskForm().validate_on_submit():
        try:
            services.resend(message)
        except DomainError as err:
            flash(err.message, "info")
        else:
            flash("The message will be sent again." if current_app.config.get("MAIL_SERVER")
                  else "The message is queued again; it will be sent once an SMTP server is configured.", "success")
    return redirect(url_for(".detail", message_id=message.id))
