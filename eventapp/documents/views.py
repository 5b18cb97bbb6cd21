"""The organiser's documents page, and downloads for the public, delegates and organisers."""
from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from ..accounts.access import organiser_required
from ..add_once import SECOND_CLICK, add_once, issue
from ..assemblies.views import load_assembly, load_public_assembly
from ..domain import DomainError, NotFound
from ..extensions import db
from ..forms_util import apply_domain_error
from ..templating import flash_at
from ..text import isolate
from . import services
from .forms import DocumentEditForm, DocumentForm, file_hint
from .models import Document

bp = Blueprint("documents", __name__)
bp.add_app_template_global(services.describe, "describe_document")

UPLOAD_ENDPOINT = "documents.index"


def request_limit(app) -> int:
    """Bytes an upload request may carry: the largest document and room for the rest of the form."""
    return app.config.get("DOCUMENT_MAX_BYTES", services.MAX_BYTES) + 256 * 1024


def too_large():
    """The documents page again, status 413, for an upload over the request's limit, its file field saying the most
    a document may be; None for anyone but an organiser (the page is theirs) or an unknown assembly.

    Answered from the request's size (or from reading past the limit) before the form was read: the title and
    who may see it typed beside the file are not known here, and the page says they need entering again."""
    if not (current_user.is_authenticated and current_user.is_organiser):
        return None
    try:
        assembly = load_assembly((request.view_args or {}).get("slug", ""))
    except HTTPException:
        return None
    max_bytes = current_app.config.get("DOCUMENT_MAX_BYTES", services.MAX_BYTES)
    form = DocumentForm(formdata=None)
    form.once.data = issue()  # nothing was added: the form sent again is a new upload
    form.file.description = file_hint(max_bytes)
    form.file.errors = [f"That file is too large: the most is {services.human_size(max_bytes)}. Save a smaller copy "
                        "(for slides, export them as PDF) and upload it again."]
    return current_app.make_response((
        render_template("documents/index.html", assembly=assembly, form=form, documents=services.list_documents(assembly.id),
                        not_read=True), 413))


def _status(form) -> int:
    return 400 if form.errors else 200


def _document(assembly, doc_id: int, **kwargs) -> Document:
    try:
        return services.get_document(assembly.id, doc_id, **kwargs)
    except NotFound:
        abort(404)


def _send(doc: Document, cache: str):
    # Always a download, never shown inside our pages: a PDF or an image from an upload then
    # runs nothing of ours, and nosniff (security.py) keeps its declared type.
    response = send_file(io.BytesIO(doc.data), mimetype=services.KINDS[doc.kind].mimetype, as_attachment=True,
                         download_name=services.download_name(doc), etag=doc.sha256, conditional=True,
                         max_age=None)
    response.headers["Cache-Control"] = cache
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'; sandbox"
    return response


# --- organiser ---------------------------------------------------------------------------------


@bp.route("/organiser/assemblies/<slug>/documents", methods=["GET", "POST"])
@organiser_required
def index(slug: str):
    assembly = load_assembly(slug)
    form = DocumentForm()
    max_bytes = current_app.config.get("DOCUMENT_MAX_BYTES", services.MAX_BYTES)
    form.file.description = file_hint(max_bytes)
    if request.method == "GET":
        form.once.data = issue()
    if form.validate_on_submit():
        upload = form.file.data

        def add(once: str | None) -> Document:
            # Read only here: a second click's copy of the file is left unread, and goes with the request.
            # Bounded by the request's own limit (request_limit): the whole file, so a refusal can say its size.
            data = upload.read() if upload else b""
            return services.add_document(assembly.id, filename=upload.filename if upload else None, data=data,
                                         title=form.title.data, visibility=form.visibility.data,
                                         uploaded_by_id=current_user.id, max_bytes=max_bytes, once=once)

        try:
            doc, first = add_once(form.once, "document", add)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            doc = doc if first else db.session.get(Document, doc)
            if doc is None:  # added by the first click, and deleted since
                flash(f"The document was added{SECOND_CLICK}, and has been deleted since.", "info")
            else:
                flash(f"\u201c{isolate(doc.title)}\u201d was added ({services.describe(doc)})"
                      f"{'' if first else SECOND_CLICK}.", "success")
            return redirect(url_for(".index", slug=slug))
    documents = services.list_documents(assembly.id)
    return render_template("documents/index.html", assembly=assembly, form=form, documents=documents), _status(form)


@bp.route("/organiser/assemblies/<slug>/documents/<int:doc_id>/edit", methods=["GET", "POST"])
@organiser_required
def edit(slug: str, doc_id: int):
    assembly = load_assembly(slug)
    doc = _document(assembly, doc_id)
    form = DocumentEditForm(obj=doc)
    if form.validate_on_submit():
        try:
            services.update_document(doc, title=form.title.data, visibility=form.visibility.data)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash(f"\u201c{isolate(doc.title)}\u201d was saved.", "success")
            return redirect(url_for(".index", slug=slug))
    return render_template("documents/edit.html", assembly=assembly, form=form, doc=doc), _status(form)


@bp.route("/organiser/assemblies/<slug>/documents/<int:doc_id>/move", methods=["POST"])
@organiser_required
def move(slug: str, doc_id: int):
    assembly = load_assembly(slug)
    doc = _document(assembly, doc_id)
    try:
        services.move_document(doc, request.form.get("direction", ""))
    except DomainError as err:
        flash_at(f"document-{doc.id}", err.message, "error")
    return redirect(url_for(".index", slug=slug, _anchor=f"document-{doc.id}"))


@bp.route("/organiser/assemblies/<slug>/documents/<int:doc_id>/delete", methods=["GET", "POST"])
@organiser_required
def delete(slug: str, doc_id: int):
    assembly = load_assembly(slug)
    if request.method == "POST" and db.session.scalar(select(Document.id).where(Document.id == doc_id)) is None:
        # "Yes, delete" clicked twice: the first click deleted it.
        flash("That document was deleted already.", "info")
        return redirect(url_for(".index", slug=slug))
    doc = _document(assembly, doc_id)
    if request.method == "POST":
        title = doc.title
        services.delete_document(doc)
        flash(f"\u201c{isolate(title)}\u201d was deleted.", "success")
        return redirect(url_for(".index", slug=slug))
    where = ("the public page and the updates page" if doc.visibility == "public"
             else "delegates\u2019 personal pages")
    return render_template("confirm_delete.html", title=f"Delete the document \u201c{doc.title}\u201d?",
                           warning=f"It disappears from {where}, and links to it already sent stop working.",
                           cancel_url=url_for(".index", slug=slug))


@bp.route("/organiser/assemblies/<slug>/documents/<int:doc_id>/file")
@organiser_required
def organiser_file(slug: str, doc_id: int):
    assembly = load_assembly(slug)
    return _send(_document(assembly, doc_id, with_data=True), "private, no-store")


# --- public and delegates ----------------------------------------------------------------------


@bp.route("/a/<slug>/documents/<int:doc_id>")
def public_file(slug: str, doc_id: int):
    assembly = load_public_assembly(slug)
    # Checked again on each download (no-cache): a document deleted or made delegates-only is gone at once.
    return _send(_document(assembly, doc_id, visibility="public", with_data=True), "public, no-cache")


@bp.route("/manage/<token>/documents/<int:doc_id>")
def delegate_file(token: str, doc_id: int):
    from ..registration.services import TokenExpired, TokenInvalid, load_manage_token

    try:
        reg = load_manage_token(token)
    except (TokenExpired, TokenInvalid):
        abort(404)
    if reg.status == "cancelled":
        abort(404)
    return _send(_document(reg.assembly, doc_id, with_data=True), "private, no-cache")
