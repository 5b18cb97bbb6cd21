"""The organiser's messages to delegates: the list of those sent, compose, check, send."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.access import organiser_required
from ..assemblies.models import Assembly
from ..assemblies.views import load_assembly
from ..domain import DomainError, NotFound
from ..forms_util import apply_domain_error
from ..mail.services import clean_header
from ..registration.forms import ActionForm
from ..templating import counted, longdate
from ..timeutil import utc_to_local
from . import services
from .forms import MessageForm

bp = Blueprint("messages", __name__, url_prefix="/organiser/assemblies/<slug>/messages")


@bp.get("/")
@organiser_required
def index(slug: str):
    assembly = load_assembly(slug)
    page = services.messages_of(assembly, request.args.get("page", 1, type=int) or 1,
                                current_app.config.get("PAGE_SIZE", 25))
    return render_template("messages/index.html", assembly=assembly, page=page,
                           scheduled={m.id: _local(assembly, m.send_at) for m in page.items if m.is_scheduled})


def _compose(assembly: Assembly, form: MessageForm, status: int = 200):
    from ..documents.services import list_documents
    from ..links import absolute_url

    documents = list_documents(assembly.id)
    # The address the email's reader will use (PUBLIC_BASE_URL), not the one the organiser is on.
    public = [(d, absolute_url("documents.public_file", slug=assembly.slug, doc_id=d.id))
              for d in documents if d.visibility == "public"]
    return render_template("messages/compose.html", assembly=assembly, form=form, documents=documents,
                           public_documents=public), status


@bp.route("/new", methods=["GET", "POST"])
@organiser_required
def compose(slug: str):
    assembly = load_assembly(slug)
    form = MessageForm()
    form.set_audiences(services.audiences(assembly))
    if request.method == "GET":
        # A fresh key per compose form: whatever happens to the page later, it sends once.
        form.send_key.data = secrets.token_urlsafe(24)
        form.audience.data = request.args.get("audience", "confirmed")
        return _compose(assembly, form)
    if not form.validate_on_submit():
        return _compose(assembly, form, 400)
    action = request.form.get("action", "")
    try:
        if action == "send":
            message = services.send_message(assembly, form.data_for_service(), form.send_key.data, current_user.id)
            if message.send_at is not None:
                flash(f"Your message is scheduled for {_local(assembly, message.send_at)}. You can cancel it until "
                      "then.", "success")
            else:
                flash(f"Your message to {counted(message.recipients, 'person', 'people')} is in the outbox.",
                      "success")
            return redirect(url_for(".detail", slug=assembly.slug, email_id=message.id))
        if action == "preview":
            draft = services.check_message(assembly, form.data_for_service())
            send_at = services.send_time(assembly, form.data_for_service())
            subject, text = services.preview(assembly, draft)
            return render_template("messages/preview.html", assembly=assembly, form=form, draft=draft,
                                   subject=subject, text=text,
                                   send_at=_local(assembly, send_at) if send_at else None)
    except services.AlreadySent as err:
        flash(err.message, "info")
        return redirect(url_for(".detail", slug=assembly.slug, email_id=err.sent.id))
    except DomainError as err:
        apply_domain_error(form, err)
        return _compose(assembly, form, 400)
    # "Change the message" on the preview: the form again, as it was typed.
    return _compose(assembly, form)


def _local(assembly: Assembly, when) -> str:
    """A UTC time as the assembly's local wall-clock time, the way the pages write times."""
    local = utc_to_local(when, assembly.timezone or "Europe/London")
    return f"{local:%H:%M} on {longdate(local)}"


def _load(slug: str, email_id: int):
    """(assembly, message) for a message's pages, or a 404 page."""
    assembly = load_assembly(slug)
    try:
        return assembly, services.get_message(assembly, email_id)
    except NotFound:
        abort(404)


@bp.route("/<int:email_id>/cancel", methods=["GET", "POST"])
@organiser_required
def cancel(slug: str, email_id: int):
    assembly, message = _load(slug, email_id)
    back = redirect(url_for(".detail", slug=assembly.slug, email_id=email_id))
    if message.cancelled_at is not None:
        # A second click on "Yes, cancel it", or the page kept open in another tab.
        flash("This scheduled message was cancelled already: nobody will get it.", "info")
        return back
    if not message.is_scheduled:
        flash("This message has gone to the outbox already, so it can no longer be cancelled.", "info")
        return back
    form = ActionForm()
    if form.validate_on_submit():
        try:
            services.cancel_scheduled(message)
        except DomainError as err:
            flash(err.message, "error")
        else:
            flash("The scheduled message is cancelled: nobody will get it.", "success")
        return back
    return render_template("messages/cancel.html", assembly=assembly, message=message, form=form,
                           send_at=_local(assembly, message.send_at))


@bp.get("/<int:email_id>")
@organiser_required
def detail(slug: str, email_id: int):
    assembly, message = _load(slug, email_id)
    # The outbox stores each copy's subject as its header has it (clean_header), so search for that.
    return render_template("messages/detail.html", assembly=assembly, message=message,
                           outbox_search=clean_header(message.subject),
                           send_at=_local(assembly, message.send_at) if message.send_at else None)
