"""Organiser pages for partner organisations."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..accounts.access import organiser_required
from ..domain import DomainError
from ..extensions import db
from ..forms_util import apply_domain_error, just_added, remember_added
from ..templating import counted
from ..text import isolate
from . import services
from .forms import MergeForm, OrganisationForm
from .models import SECTORS, STATUSES, Organisation, name_key

bp = Blueprint("organisations", __name__, url_prefix="/organiser/organisations")

# The list's own query values: kept by Edit, Merge and Cancel so the organiser comes back to them.
LIST_ARGS = ("q", "sector", "status", "page")


def _list_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k in LIST_ARGS and v}


def _back_to_list(org: Organisation | None = None):
    """A redirect to the organisations list with the filters the organiser acted from, at ``org``'s row on the
    page that now shows it (a rename can move it), or on the same page when the filters now leave it out.

    Only the list's own query values are carried, never an address: nothing here can lead off the site."""
    args = _list_args()
    if org is None:
        return redirect(url_for(".index", **args))
    page = services.list_page(org.id, PER_PAGE, args.get("q", ""), args.get("sector", ""), args.get("status", ""))
    if page is None:
        flash(f"“{isolate(org.name)}” does not match the filters, so it is not in the list below.", "info")
        return redirect(url_for(".index", **args))
    return redirect(url_for(".index", **{**args, "page": page if page > 1 else None}, _anchor=f"organisation-{org.id}"))


PER_PAGE = 25


@bp.route("/")
@organiser_required
def index():
    q = request.args.get("q", "").strip()
    sector = request.args.get("sector", "")
    status = request.args.get("status", "")
    stmt = services.filtered(q, sector, status).order_by(*services.LIST_ORDER)
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    if not page.items and page.page > 1 and page.total:
        # The last page emptied (its organisation was merged away): go to the page that is now last.
        return redirect(url_for(".index", **{**_list_args(), "page": page.pages}))
    return render_template(
        "organisations/index.html", page=page, q=q, sector=sector, status=status,
        sectors=SECTORS, statuses=STATUSES, action_form=FlaskForm(), list_args=_list_args(),
    )


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@organiser_required
def form(org_id: int | None = None):
    org = db.get_or_404(Organisation, org_id) if org_id else None
    form = OrganisationForm(obj=org)
    if form.validate_on_submit():
        try:
            org = services.save_organisation(
                {"name": form.name.data, "sector": form.sector.data, "status": form.status.data}, org
            )
        except DomainError as err:
            # "Add" clicked twice: the first click made it, and its answer is the one the organiser should see.
            made = db.session.get(Organisation, just_added("organisation") or 0) \
                if org is None and err.field == "name" else None
            if made is not None and made.name_key == name_key(form.name.data or ""):
                flash(f"“{isolate(made.name)}” saved (by your first click; the second added nothing).", "success")
                return _back_to_list(made)
            apply_domain_error(form, err)
        else:
            if org_id is None:
                remember_added("organisation", org.id)
            flash(f"“{isolate(org.name)}” saved.", "success")
            return _back_to_list(org)
    return render_template("organisations/form.html", form=form, org=org, list_args=_list_args()), \
        (400 if form.errors else 200)


@bp.post("/<int:org_id>/approve")
@organiser_required
def approve(org_id: int):
    org = db.get_or_404(Organisation, org_id)
    if not FlaskForm().validate_on_submit():
        return _back_to_list()
    services.approve_organisation(org)
    flash(f"“{isolate(org.name)}” approved.", "success")
    return _back_to_list(org)


GONE_TARGET = ("The organisation you chose is no longer in the list: it was merged into another one meanwhile. "
               "Choose the organisation to keep again.")
SELF_TARGET = "Choose another organisation to keep: an organisation cannot be merged into itself."


@bp.route("/<int:org_id>/merge", methods=["GET", "POST"])
@organiser_required
def merge(org_id: int):
    org = db.session.get(Organisation, org_id)
    if org is None and request.method == "POST":
        # "Merge" clicked twice: the first click merged it away, and its answer is the one the organiser sees.
        flash("That organisation was merged already.", "info")
        return _back_to_list()
    if org is None:
        abort(404)
    form = MergeForm()
    form.target_id.choices = [SelectChoice(0, "Choose the organisation to keep")] + [
        SelectChoice(o.id, f"{o.name} ({o.sector_label}{', pending' if o.is_pending else ''})")
        for o in db.session.scalars(select(Organisation).where(Organisation.id != org.id).order_by(Organisation.name_key))
    ]
    from ..outcomes.services import contact_for

    contact = contact_for(org.id)
    valid = form.validate_on_submit()
    target = db.session.get(Organisation, form.target_id.data) if valid else None
    if form.is_submitted() and form.target_id.data and form.target_id.data != org.id and target is None \
            and (valid or form.target_id.errors):
        # The organisation chosen left the list after the page was shown: merged into another (or itself merged
        # away) meanwhile, by another organiser or in another tab. The field would only say to choose from the list.
        form.target_id.errors = [GONE_TARGET]
        valid = False
    elif form.is_submitted() and form.target_id.data == org.id:
        # Left out of the list, so only a hand-made or tampered request sends it: say why, not only "choose from the list".
        form.target_id.errors = [SELF_TARGET]
        valid = False
    if valid:
        name, had_contact = org.name, bool(contact and contact.contact_email)
        try:
            services.merge_organisations(org, target, by=current_user.id)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash(f"“{isolate(name)}” was merged into “{isolate(target.name)}”."
                  + (f" Partner links sent for “{isolate(name)}” no longer work: send “{isolate(target.name)}”’s contact a new link "
                     "from Partners." if had_contact else ""), "success")
            # Nobody loses a place to a merge, but the organiser decides whether the limit still holds.
            for assembly, confirmed in services.over_limit(target):
                excess = confirmed - assembly.org_limit
                flash(f"“{isolate(target.name)}” now has {counted(confirmed, 'confirmed delegate')} for {isolate(assembly.title)}, "
                      f"more than the {assembly.org_limit:,} each organisation may send: move "
                      f"{'one' if excess == 1 else f'{excess:,}'} to the waiting list from its registrations "
                      "if need be.", "info")
            return _back_to_list(target)
    return render_template("organisations/merge.html", form=form, org=org, contact=contact, list_args=_list_args(),
                           moving=services.merge_preview(org)), \
        (400 if form.errors else 200)
