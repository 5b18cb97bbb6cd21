"""The organiser's Outbox: every message as delegates get it, with delivery status and resend."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..accounts.access import organiser_required
from ..assemblies.models import Assembly
from ..domain import DomainError
from ..extensions import db
from . import services
from ..registration.csvio import csv_response, download_name, to_csv
from ..timeutil import local_today
from ..registration.models import Registration
from ..templating import counted
from .models import OUTBOX_STATUSES, OutboxMessage
from ..text import is_number

bp = Blueprint("mail", __name__, url_prefix="/organiser/outbox")

# "skipped": the worker did not send it because it was out of date by its turn; not a failure.
STATUS_LABELS = {"pending": "Waiting to be sent", "sent": "Sent", "failed": "Failed",
                 "skipped": "Not sent (out of date)"}


def status_label(message) -> str:
    """A message's status as the Outbox names it."""
    return STATUS_LABELS.get(message.status, message.status)


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


# The list's filters, kept by its CSV link.
FILTER_ARGS = ("q", "status", "kind", "assembly", "registration")
# ... and its page: what a message's page and the actions on the list carry, to come back to the same list.
LIST_ARGS = (*FILTER_ARGS, "page")
_NUMBER = (lambda v: is_number(v, 11))
_CHECKS = {"status": lambda v: v in OUTBOX_STATUSES, "page": _NUMBER, "assembly": _NUMBER, "registration": _NUMBER,
           "kind": lambda v: v.isascii() and v.replace("_", "").isalnum()}


def _list_args() -> dict[str, str]:
    """The list's filters and page from this request's query, in the order they came: only those keys, each
    value of its kind (numbers as digits, a known status), so a link or redirect built from them stays on
    the Outbox list, whatever was put in the address. The filters below read these same values: what a
    form carries picks what the list showed."""
    return {k: v for k, v in request.args.items() if k in LIST_ARGS and v and _CHECKS.get(k, lambda _: True)(v)}


def _filters(kinds: dict[str, str] | None = None) -> services.OutboxFilters:
    """The outbox list's filters from this request's query, values that mean nothing left out."""
    args = _list_args()
    kind = args.get("kind", "")
    if kind and kinds is None:
        kinds = _kinds()
    return services.OutboxFilters(
        status=args.get("status", ""), kind=kind if kind and kind in kinds else "",
        assembly_id=int(args["assembly"]) if "assembly" in args else None, q=args.get("q", "").strip(),
        registration_id=int(args["registration"]) if "registration" in args else None)


def _filtered(stmt):
    """stmt narrowed by the outbox list's filters; returns (stmt, kinds, filters)."""
    kinds = _kinds()
    f = _filters(kinds)
    return f.where(stmt), kinds, f


@bp.route("/")
@organiser_required
def index():
    stmt, kinds, f = _filtered(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    about = db.session.get(Registration, f.registration_id) if f.registration_id else None
    page = db.paginate(stmt, per_page=current_app.config.get("PAGE_SIZE", 25), error_out=False)
    back = _list_args()
    if not page.items and page.page > 1 and page.total:
        # Past the last page (an old link, or the last failed one sent again): the page that is now last,
        # not "No messages yet" over a list that has them.
        return redirect(url_for(".index", **{**back, "page": page.pages if page.pages > 1 else None}))
    # The list shows subjects only, and a row queued as a recipe stores its subject when queued:
    # only a recipe row queued before subjects were stored (subject empty) is rendered here.
    page.items = [m if m.subject else services.rendered(m) for m in page.items]
    assemblies = db.session.scalars(select(Assembly).order_by(Assembly.date.desc(), Assembly.id.desc())).all()
    # By status, of the messages the other filters pick; the failed ones the list shows can be sent again.
    counts = services.outbox_counts(f)
    filters = {k: v for k, v in back.items() if k in FILTER_ARGS}
    return render_template(
        "mail/index.html", page=page, status=f.status, kind=f.kind, assembly_id=f.assembly_id, q=f.q,
        statuses=STATUS_LABELS, status_label=status_label, kinds=kinds, kind_labels=KIND_LABELS, assemblies=assemblies,
        counts=counts, retry_count=counts.get("failed", 0) if f.status in ("", "failed") else 0,
        smtp=current_app.config.get("MAIL_SERVER"), about=about, back=back,
        filtered=bool(f.status or f.kind or f.assembly_id or f.q or f.registration_id),
        # The other filters kept, the status set: the "failed" and "skipped" counts' links.
        failed_url=url_for(".index", **{**filters, "status": "failed"}),
        skipped_url=url_for(".index", **{**filters, "status": "skipped"}),
        csv_url=url_for(".outbox_csv", **filters),
    )


@bp.route("/outbox.csv")
@organiser_required
def outbox_csv():
    """The messages the list's filters select, as CSV: who was sent what, when, and what went wrong."""
    columns = (OutboxMessage.created_at, OutboxMessage.to_name, OutboxMessage.to_email, OutboxMessage.subject,
               OutboxMessage.kind, OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.sent_at,
               OutboxMessage.last_error)
    stmt, _, f = _filtered(select(*columns).order_by(OutboxMessage.id.desc()))
    rows = ([r.created_at.strftime("%Y-%m-%d %H:%M"), r.to_name, r.to_email, r.subject,
             KIND_LABELS.get(r.kind, r.kind), status_label(r), r.attempts,
             r.sent_at.strftime("%Y-%m-%d %H:%M") if r.sent_at else "", r.last_error or ""]
            for r in db.session.execute(stmt))
    header = ["Queued (UTC)", "Name", "Email", "Subject", "Kind", "Status", "Attempts", "Sent (UTC)", "Last error"]
    slug = db.session.scalar(select(Assembly.slug).where(Assembly.id == f.assembly_id)) if f.assembly_id else None
    # The filters the list applied, by name: not the words searched for (an address, a name).
    words = [slug or ("assembly" if f.assembly_id else ""), f.kind, f.status, "search" if f.q else "",
             "one-delegate" if f.registration_id else ""]
    return csv_response(to_csv(header, rows), download_name("outbox", *words, on=local_today()))


def _message(message_id: int) -> OutboxMessage:
    # A row the worker has not rendered yet is shown as it will be sent (rendered now, not stored),
    # less any link only its addressee may open (a password reset).
    return services.for_outbox(db.get_or_404(OutboxMessage, message_id))


@bp.route("/<int:message_id>")
@organiser_required
def detail(message_id: int):
    message = _message(message_id)
    return render_template("mail/detail.html", message=message, status_label=status_label, kind_labels=KIND_LABELS,
                           form=FlaskForm(), back=_list_args(), smtp=current_app.config.get("MAIL_SERVER"),
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
    """Send again the failed messages of the list as filtered (the form posts with its query string)."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    back = _list_args()
    f = _filters()
    filtered = bool(f.status or f.kind or f.assembly_id or f.q or f.registration_id)
    queued, stale = services.retry_failed(f)
    if not queued and not stale:
        flash(f"No message {'matching the filters ' if filtered else ''}has failed: there is nothing to send again.",
              "info")
    else:
        flash(f"{counted(queued, 'failed message')} {'matching the filters ' if filtered else ''}will be sent again"
              + ("." if current_app.config.get("MAIL_SERVER") else ", once an SMTP server is configured.")
              + (f" {counted(stale, 'calendar message')} stayed failed: a newer one for the same entry replaced "
                 f"{'it' if stale == 1 else 'them'}." if stale else ""), "success")
    return redirect(url_for(".index", **back))


@bp.post("/<int:message_id>/resend")
@organiser_required
def resend(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    back = _list_args()
    if FlaskForm().validate_on_submit():
        try:
            services.resend(message)
        except DomainError as err:
            flash(err.message, "info")
        else:
            flash("The message will be sent again." if current_app.config.get("MAIL_SERVER")
                  else "The message is queued again; it will be sent once an SMTP server is configured.", "success")
    return redirect(url_for(".detail", message_id=message.id, **back))
