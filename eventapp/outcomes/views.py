"""After the day: report, public updates and feed, action tracker, carry-forward, partner links, topic history."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import timedelta

import click
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from wtforms.fields.choices import SelectChoice

from ..accounts.access import organiser_required, staff_required
from ..assemblies.models import Assembly, Topic, Workshop
from ..cli import needs_current_schema
from ..domain import DomainError, NotFound
from ..assemblies.views import load_public_assembly
from ..documents.services import list_documents, public_documents_of
from ..extensions import csrf, db, limiter
from ..forms_util import apply_domain_error
from ..templating import counted, flash_at
from ..notes import services as notes
from ..notes.forms import ActionForm
from ..notes.models import ACTION_STATUSES, Action
from ..notes.views import typed_action, typed_by_refusal
from ..organisations.models import Organisation
from ..registration.csvio import csv_response, download_name, to_csv
from ..text import is_number, isolate
from ..timeutil import local_today
from . import services
from ..feedback import services as feedback_services
from ..feedback.models import SCALE
from .charts import bar_chart
from .feed import atom_feed
from .forms import ConfirmForm, ContactForm, StatusForm, TrackerFilterForm, UpdateForm
from .models import AssemblyUpdate

bp = Blueprint("outcomes", __name__, cli_group="actions")
bp.cli.help = "Agreed actions: remind the owner organisations of those due or overdue."
bp.add_app_template_global(services.is_overdue, "is_overdue")


def _status(form) -> int:
    return 400 if form.errors or form.form_errors else 200


def _assembly(slug: str) -> Assembly:
    assembly = db.session.scalar(select(Assembly).where(Assembly.slug == slug))
    if assembly is None:
        abort(404)
    return assembly


# --- public ---------------------------------------------------------------------------------


@bp.get("/a/<slug>/updates")
def public_updates(slug: str):
    assembly = load_public_assembly(slug)
    return render_template("outcomes/public_updates.html", assembly=assembly,
                           updates=services.public_updates(assembly), outcomes=notes.public_outcomes(assembly),
                           series=services.series_assemblies(assembly), today=local_today(assembly.timezone),
                           carried=services.public_carried(assembly),
                           documents=list_documents(assembly.id, visibility="public"))


@bp.get("/a/<slug>/updates.atom")
def feed(slug: str):
    assembly = load_public_assembly(slug)
    page_url = url_for(".public_updates", slug=assembly.slug, _external=True)
    body = atom_feed(
        title=f"{assembly.title}: updates", page_url=page_url,
        feed_url=url_for(".feed", slug=assembly.slug, _external=True),
        feed_id=f"{page_url}", author=current_app.config.get("ORGANISER_NAME", "Assembly organisers"),
        updates=services.public_updates(assembly), entry_url=lambda u: f"{page_url}#update-{u.id}",
        outcomes=notes.public_outcomes(assembly), outcome_url=lambda o: f"{page_url}#outcome-workshop-{o.workshop_id}",
        carried=services.public_carried(assembly),
        carried_url=lambda a: url_for(".public_updates", slug=a.slug, _external=True, _anchor="carried"))
    return Response(body, mimetype="application/atom+xml")


# --- organiser: report ------------------------------------------------------------------------


@bp.get("/organiser/assemblies/<slug>/report")
@organiser_required
def report(slug: str):
    assembly = _assembly(slug)
    rep = services.assembly_report(assembly)
    charts = {
        "sector": bar_chart(
            "chart-sector", "Attendance by sector",
            "Registered and attended delegates per sector; the same numbers are in the table below.",
            [(r.label, [r.registered, r.attended]) for r in rep.by_sector], ["Registered", "Attended"]),
        "status": bar_chart("chart-status", "Actions by status",
                            "Number of actions in each status; the same numbers are in the table below.",
                            [(label, [n]) for label, n in rep.actions_by_status], ["Actions"]),
        "topic": bar_chart("chart-topic", "Actions by topic",
                           "Number of actions tagged with each topic; the same numbers are in the table below.",
                           [(label, [n]) for label, n in rep.actions_by_topic], ["Actions"]),
    }
    return render_template("outcomes/report.html", assembly=assembly, report=rep, charts=charts,
                           today=local_today(assembly.timezone), is_overdue=services.is_overdue,
                           feedback=feedback_services.summary(assembly))


@bp.get("/organiser/assemblies/<slug>/report.csv")
@organiser_required
def report_csv(slug: str):
    assembly = _assembly(slug)
    header, *rows = services.report_csv_rows(services.assembly_report(assembly))
    return csv_response(to_csv(header, rows), download_name("report", assembly.slug,
                                                             on=local_today(assembly.timezone)))


@bp.get("/organiser/assemblies/<slug>/report.json")
@organiser_required
def report_json(slug: str):
    assembly = _assembly(slug)
    data = services.report_data(services.assembly_report(assembly))
    fb = feedback_services.summary(assembly).overall
    data["feedback"] = {"responses": fb.total, "useful_or_very_useful": fb.counts[4] + fb.counts[5],
                        "average_of_5": round(fb.average, 2) if fb.total else None,
                        "answers": {label: fb.counts[value] for value, label in SCALE.items()}}
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{assembly.slug}-report.json"'})


# --- organiser: updates -------------------------------------------------------------------------


@bp.get("/organiser/assemblies/<slug>/updates")
@organiser_required
def updates(slug: str):
    assembly = _assembly(slug)
    return render_template("outcomes/updates.html", assembly=assembly,
                           updates=services.public_updates(assembly, scheduled=True),
                           today=local_today(assembly.timezone))


def _update(assembly: Assembly, update_id: int) -> AssemblyUpdate:
    update = db.session.get(AssemblyUpdate, update_id)
    if update is None or update.assembly_id != assembly.id:
        abort(404)
    return update


@bp.route("/organiser/assemblies/<slug>/updates/new", methods=["GET", "POST"])
@bp.route("/organiser/assemblies/<slug>/updates/<int:update_id>/edit", methods=["GET", "POST"])
@organiser_required
def update_form(slug: str, update_id: int | None = None):
    assembly = _assembly(slug)
    update = _update(assembly, update_id) if update_id else None
    form = UpdateForm(obj=update)
    if request.method == "GET" and update is None:
        form.published_on.data = local_today(assembly.timezone)  # the day where it is held, not London's
    if form.validate_on_submit():
        try:
            saved = services.save_update(assembly, {"title": form.title.data, "published_on": form.published_on.data,
                                                    "body": form.body.data}, update)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            if saved.published_on > local_today(assembly.timezone):
                flash(f"Update saved. It is published on {saved.published_on.day} {saved.published_on:%B %Y}.",
                      "success")
            else:
                flash("Update saved and published." if update else "Update published.", "success")
            return redirect(url_for(".updates", slug=assembly.slug))
    return render_template("outcomes/update_form.html", assembly=assembly, form=form, update=update), _status(form)


@bp.route("/organiser/assemblies/<slug>/updates/<int:update_id>/delete", methods=["GET", "POST"])
@organiser_required
def delete_update(slug: str, update_id: int):
    assembly = _assembly(slug)
    if request.method == "POST":
        if not ConfirmForm().validate_on_submit():
            abort(400)
        update = db.session.get(AssemblyUpdate, update_id)
        if update is None:
            # Yes clicked twice, or in two tabs: the first deleted it, and a "Not found" page would say it failed.
            flash("That update was already deleted.", "info")
            return redirect(url_for(".updates", slug=assembly.slug))
        update = _update(assembly, update_id)
        services.delete_update(update)
        flash("Update deleted.", "success")
        return redirect(url_for(".updates", slug=assembly.slug))
    update = _update(assembly, update_id)
    return render_template("confirm_delete.html", title=f"Delete the update “{update.title}”?",
                           warning="It disappears from the public updates page and the feed.",
                           cancel_url=url_for(".updates", slug=assembly.slug))


# --- organiser: carry forward -----------------------------------------------------------------


@bp.route("/organiser/assemblies/<slug>/carry-forward", methods=["GET", "POST"])
@organiser_required
def carry_forward(slug: str):
    assembly = _assembly(slug)
    form = ConfirmForm()
    if form.validate_on_submit():
        chosen = [int(i) for i in request.form.getlist("actions") if is_number(i)]
        if not chosen:
            form.form_errors.append("Choose at least one action to carry forward.")
        else:
            try:
                n = services.carry_forward(assembly, chosen, current_user.id)
            except DomainError as err:
                form.form_errors.append(err.message)
            else:
                if n:
                    flash(f"{n:,} action{'' if n == 1 else 's'} carried forward into {isolate(assembly.title)}.", "success")
                else:
                    # A second press (or Back and press again): the first one carried them.
                    flash(f"Nothing more to carry: the chosen actions are already carried forward into "
                          f"{isolate(assembly.title)} (see below), or no longer open.", "info")
                return redirect(url_for(".carry_forward", slug=assembly.slug))
    elif request.method == "POST":
        abort(400)
    carried = services.carried_into(assembly)
    return render_template("outcomes/carry_forward.html", assembly=assembly, form=form,
                           candidates=services.carry_candidates(assembly), carried=carried,
                           undoable=services.undoable(carried),
                           is_overdue=services.is_overdue), _status(form)


@bp.route("/organiser/assemblies/<slug>/carry-forward/<int:action_id>/undo", methods=["GET", "POST"])
@organiser_required
def undo_carry(slug: str, action_id: int):
    assembly = _assembly(slug)
    if request.method == "GET":
        # Asked first: one tap deletes the copy, and a partner or colleague may be about to update it.
        carried = next((c for c in services.carried_into(assembly) if c.action_id == action_id), None)
        if carried is None:
            abort(404)
        return render_template("outcomes/undo_carry.html", assembly=assembly, carried=carried,
                               undoable=action_id in services.undoable([carried]), form=ConfirmForm())
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        origin = services.undo_carry(assembly, action_id)
    except NotFound:
        abort(404)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(f"Undone: the action is back among the open actions of {isolate(origin.assembly.title)}, not carried "
              f"into {isolate(assembly.title)}.", "success")
    return redirect(url_for(".carry_forward", slug=assembly.slug))


# --- organiser: tracker -----------------------------------------------------------------------


# The tracker's own query values: its filters and page, kept by each row's links and the status form's return.
TRACKER_ARGS = ("assembly", "topic", "organisation", "status", "due_from", "due_to", "overdue", "page")


def _tracker_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k in TRACKER_ARGS and v}


@bp.get("/organiser/tracker")
@organiser_required
def tracker():
    form = TrackerFilterForm(request.args)
    form.fill_choices()
    valid = form.validate()
    stmt = services.tracker_query(
        assembly_id=form.assembly.data or None, topic_id=form.topic.data or None,
        organisation_id=form.organisation.data or None, status=form.status.data or None,
        due_from=form.due_from.data if valid else None, due_to=form.due_to.data if valid else None,
        overdue=bool(form.overdue.data))
    page = db.paginate(stmt, per_page=current_app.config.get("PAGE_SIZE", 25), error_out=False)
    ids = [a.id for a in page.items]
    return render_template("outcomes/tracker.html", form=form, page=page, origins=services.origins_of(ids),
                           carried_to=services.carried_to(ids), latest=notes.latest_copies(ids),
                           is_overdue=services.is_overdue, back=_tracker_args(),
                           today=local_today()), (200 if valid else 400)


def _staff_note_hint(form: StatusForm, action: Action) -> None:
    # Staff notes are shown to the owning organisation on its partner page (internal actions are not).
    if not action.internal:
        form.note.description = (f"For example progress made, or why the action was dropped. "
                                 f"{action.owner_organisation.name} sees this note on its partner page. "
                                 "At most 2,000 characters.")


def _status_page(action: Action, form: StatusForm, template: str, code: int = 200, **extra):
    _staff_note_hint(form, action)
    return render_template(template, action=action, form=form, updates=services.status_updates([action.id]),
                           origin=services.origins_of([action.id]).get(action.id),
                           is_overdue=services.is_overdue, **extra), code


@bp.route("/organiser/tracker/<int:action_id>/status", methods=["GET", "POST"])
@organiser_required
def organiser_status(action_id: int):
    action = db.session.get(Action, action_id)
    if action is None:
        abort(404)
    latest = notes.latest_copies([action.id]).get(action.id)
    if latest is not None and request.method == "GET":
        # Carried forward: its status is kept on the latest copy (a POST here is recorded there too).
        return redirect(url_for(".organiser_status", action_id=latest.id, **_tracker_args()))
    action = latest or action
    form = StatusForm(obj=action if request.method == "GET" else None)
    # Shown to another organiser on a shared computer: back with what was typed, saved only when confirmed.
    refusal = typed_by_refusal("Save status")
    if refusal is None and form.validate_on_submit():
        try:
            services.set_action_status(action.id, form.status.data, form.note.data or "", "organiser",
                                       user_id=current_user.id)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            # Beside the action's row, where the page opens (at the top if the filters no longer show it).
            flash_at(f"action-{action.id}", "Status updated.", "success")
            return redirect(url_for(".tracker", **_tracker_args(), _anchor=f"action-{action.id}"))
    return _status_page(action, form, "outcomes/status_form.html", 409 if refusal else _status(form),
                        back=_tracker_args(), typed_by=refusal)


@bp.route("/organiser/tracker/<int:action_id>/edit", methods=["GET", "POST"])
@organiser_required
def edit_carried_action(action_id: int):
    action = db.session.get(Action, action_id)
    if action is None and request.method == "POST":
        # Carrying it forward undone (the copy deleted) while the form was open: what was typed is shown back.
        return _carried_action_not_saved()
    if action is None:
        abort(404)
    latest = notes.latest_copies([action.id]).get(action.id)
    if latest is not None:
        # Carried forward (a workshop's own action too): it is changed where it is tracked now.
        return redirect(url_for(".edit_carried_action", action_id=latest.id, **_tracker_args()))
    if action.workshop_id is not None:
        # A workshop's own action is changed on its workshop's page.
        return redirect(url_for("notes.edit_action", workshop_id=action.workshop_id, action_id=action.id))
    origin = services.first_origins([action.id]).get(action.id)
    if origin is None:
        abort(404)
    # Back to the tracker's filters and page it was opened from (from elsewhere: the action's assembly).
    back = _tracker_args() or {"assembly": str(action.assembly_id)}
    form = ActionForm(obj=action)
    orgs = db.session.scalars(select(Organisation).where(or_(Organisation.status == "approved",
                                                             Organisation.id == action.owner_organisation_id))
                              .order_by(Organisation.name)).all()
    form.owner_organisation_id.choices = [SelectChoice(0, "Choose an organisation")] + [
        SelectChoice(o.id, o.name) for o in orgs]
    form.topic_ids.choices = [SelectChoice(t.id, t.name)
                              for t in db.session.scalars(select(Topic).order_by(Topic.name))]
    if request.method == "GET":
        form.topic_ids.data = [t.id for t in action.topics]
        form.version.data = str(action.version)
    theirs, code = None, 200
    refusal = typed_by_refusal("Save action")
    if refusal is not None:
        code = 409
    elif form.validate_on_submit():
        try:
            services.update_carried_action(action.id, {
                "description": form.description.data, "owner_organisation_id": form.owner_organisation_id.data,
                "lead_person": form.lead_person.data, "due_date": form.due_date.data, "status": form.status.data,
                "topic_ids": form.topic_ids.data or [], "internal": form.internal.data},
                _version(form.version.data), current_user.id)
        except notes.ActionConflict as conflict:
            form.form_errors.append(conflict.message)
            action = db.session.get(Action, action_id)
            form.version.data = str(action.version)
            theirs, code = action, 409
        except DomainError as err:
            apply_domain_error(form, err)
            code = 400
        else:
            flash_at(f"action-{action.id}", "Action saved.", "success")
            return redirect(url_for(".tracker", **back, _anchor=f"action-{action.id}"))
    elif request.method == "POST":
        code = 400
    return render_template("outcomes/carried_action_form.html", action=action, origin=origin, form=form,
                           theirs=theirs, typed_by=refusal, back=back), code


def _carried_action_not_saved():
    return render_template(
        "notes/not_saved.html", heading="Your change to the action has not been saved", typed=typed_action(),
        reason="This action is no longer carried into this assembly: carrying it forward was undone while you had "
               "the page open, so it is back among the open actions of its earlier assembly. Carry it forward "
               "again, then make your change to it in the action tracker.",
        next_url=url_for(".tracker", **_tracker_args()), next_label="Back to the action tracker"), 404


def _version(raw) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


# --- organiser: partners ------------------------------------------------------------------------


@bp.get("/organiser/partners")
@organiser_required
def partners():
    q, show = _partner_filters()
    return render_template("outcomes/partners.html", rows=services.partner_organisations(q, show), q=q, show=show,
                           filters=services.PARTNER_FILTERS, filter_args=_partner_filter_args())


def _partner_filters() -> tuple[str, str]:
    q = "".join(ch for ch in request.args.get("q", "") if ch.isprintable()).strip()[:200]
    show = request.args.get("show", "")
    return q, show if show in services.PARTNER_FILTERS else ""


def _partner_filter_args() -> dict[str, str]:
    q, show = _partner_filters()
    return {k: v for k, v in (("q", q), ("show", show)) if v}


@bp.route("/organiser/partners/send-links", methods=["GET", "POST"])
@organiser_required
def send_links():
    """Email the partner link to every organisation the partners list shows (its filters), after a confirmation."""
    rows = services.partner_organisations(*_partner_filters())
    form = ConfirmForm()
    if request.method == "POST":
        send_key = request.form.get("send_key", "")
        if not form.validate_on_submit() or not SEND_KEY_RE.fullmatch(send_key):
            abort(400)
        try:
            done = services.send_partner_links(rows, send_key)
        except services.LinksSentAlready as err:
            flash(err.message, "info")
            return redirect(url_for(".partners", **_partner_filter_args()))
        left_out = (f" {counted(len(done.no_contact), 'organisation')} without a contact email "
                    f"{'was' if len(done.no_contact) == 1 else 'were'} left out: add one on their page."
                    if done.no_contact else "")
        if done.to_send:
            flash(f"Partner links queued for {counted(len(done.to_send), 'organisation')}.{left_out}", "success")
        else:
            flash("No partner link was sent: no organisation in the selection has a contact email.", "info")
        return redirect(url_for(".partners", **_partner_filter_args()))
    return render_template("outcomes/send_links.html", plan=services.bulk_partner_links(rows), form=form,
                           days=services.link_days(), back=url_for(".partners", **_partner_filter_args()),
                           send_key=secrets.token_urlsafe(18))


# The confirmation page's key (secrets.token_urlsafe(18)): what makes a second press of it find the first.
SEND_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _organisation(org_id: int) -> Organisation:
    org = db.session.get(Organisation, org_id)
    if org is None:
        abort(404)
    return org


@bp.route("/organiser/partners/<int:org_id>", methods=["GET", "POST"])
@organiser_required
def partner_contact(org_id: int):
    org = _organisation(org_id)
    contact = services.contact_for(org.id)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        version = contact.link_version if contact else 1
        try:
            saved = services.save_contact(org, form.contact_name.data or "", form.contact_email.data or "")
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash(f"Contact for {isolate(org.name)} saved." + (
                " Partner links sent to the previous address no longer work: send the link to the new one."
                if saved.link_version != version else ""), "success")
            return redirect(url_for(".partner_contact", org_id=org.id))
    actions = services.partner_actions(org.id)
    # The numbers the partner's page shows, so "action 12" on the phone means the same action here.
    numbers = services.action_numbers(actions, services.first_origins([a.id for a in actions]))
    return render_template("outcomes/partner_contact.html", org=org, contact=contact, form=form,
                           confirm=ConfirmForm(), actions=actions, numbers=numbers,
                           days=services.link_days()), _status(form)


@bp.post("/organiser/partners/<int:org_id>/send")
@organiser_required
def send_link(org_id: int):
    org = _organisation(org_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        contact = services.send_partner_link(org)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(f"Partner link queued for {isolate(contact.contact_email)}.", "success")
    return redirect(url_for(".partner_contact", org_id=org.id))


@bp.route("/organiser/partners/<int:org_id>/revoke", methods=["GET", "POST"])
@organiser_required
def revoke_links(org_id: int):
    org = _organisation(org_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        services.revoke_partner_links(org)
        flash(f"Every partner link sent to {isolate(org.name)} so far has stopped working.", "success")
        return redirect(url_for(".partner_contact", org_id=org.id))
    return render_template("outcomes/revoke.html", org=org, form=form)


# --- partner (signed link, no account) --------------------------------------------------------


def _partner_org(token: str) -> Organisation | services.LinkExpired:
    try:
        return services.load_partner_token(token)
    except services.LinkExpired as err:
        # A genuine link that stopped working: say so and who to ask, not "page not found".
        return err
    except DomainError:
        abort(404)


def _bad_link(err: services.LinkExpired | None, typed: str = "", code: int = 410, limited: bool = False):
    # ``typed``: a status note posted through a link that stopped working (or for an action no
    # longer listed, or refused for too many attempts) is shown back, so the partner can copy it.
    return render_template("outcomes/partner_bad_link.html", revoked=isinstance(err, services.LinkRevoked),
                           gone=err is None and not limited, limited=limited, typed=typed), code


def _partner_page(token: str, org: Organisation, forms: dict | None = None, code: int = 200):
    actions = services.partner_actions(org.id)
    forms = forms or {}
    for a in actions:
        if a.id not in forms and a.status in services.OPEN_STATUSES:
            forms[a.id] = StatusForm(formdata=None, prefix=f"a{a.id}", data={"status": a.status})
    for form in forms.values():
        # The page offers no form for a closed action: say so before a mistaken choice is sent.
        form.status.description = (f"Done or Dropped closes the action. You can reopen it here for {services.REOPEN_DAYS} "
                                   "days if that was a mistake; after that, ask the organisers "
                                   f"({current_app.config.get('ORGANISER_EMAIL')}).")
    reopenable = services.partner_reopenable(actions, org.id)
    agreed = services.first_origins([a.id for a in actions])
    # What the organisation signed up to: the agreement and slides of the assemblies its actions come from.
    assemblies = {x.assembly.id: x.assembly for a in actions for x in (a, agreed.get(a.id, a)) if x.assembly.is_public}
    documents = [(assemblies[i], docs) for i, docs in public_documents_of(assemblies).items()]
    documents.sort(key=lambda pair: pair[0].date, reverse=True)
    return render_template("outcomes/partner.html", org=org, token=token, actions=actions, forms=forms,
                           documents=documents,
                           reopenable=reopenable, reopen_after=timedelta(days=services.REOPEN_DAYS),
                           updates=services.status_updates_for_partner([a.id for a in actions], org.id),
                           agreed=agreed, numbers=services.action_numbers(actions, agreed),
                           is_overdue=services.is_overdue), code


@bp.get("/partner/<token>")
def partner(token: str):
    org = _partner_org(token)
    if isinstance(org, services.LinkExpired):
        return _bad_link(org)
    return _partner_page(token, org)


def _partner_too_many(_limit) -> Response:
    # Refused before the view runs: give back what the partner wrote rather than a bare error page.
    action_id = (request.view_args or {}).get("action_id")
    typed = (request.form.get(f"a{action_id}-note") or "").strip()
    body, code = _bad_link(None, typed, 429, limited=True)
    return Response(body, code, mimetype="text/html")


def _per_link() -> str:
    # Per partner link, not per client address: several councils behind one public-sector
    # gateway share an address, and each link is one organisation.
    return "partner-link:" + hashlib.sha256((request.view_args or {}).get("token", "").encode()).hexdigest()[:32]


@bp.post("/partner/<token>/actions/<int:action_id>/reopen")
@limiter.limit("10 per minute; 60 per hour", key_func=_per_link, on_breach=_partner_too_many)
@limiter.limit("60 per minute; 600 per hour", on_breach=_partner_too_many)
def partner_reopen(token: str, action_id: int):
    org = _partner_org(token)
    if isinstance(org, services.LinkExpired):
        return _bad_link(org)
    if action_id not in {a.id for a in services.partner_actions(org.id)}:
        return _bad_link(None, "", 404)
    try:
        services.reopen_by_partner(action_id, org.id)
    except DomainError as err:
        flash_at(f"action-{action_id}", err.message, "error")
    else:
        flash_at(f"action-{action_id}", "Reopened: the action is back on your list with the status it had before.",
                 "success")
    return redirect(url_for(".partner", token=token, _anchor=f"action-{action_id}"))


@bp.post("/partner/<token>/actions/<int:action_id>")
@csrf.exempt  # the form checks its own token, so a stale one gives the partner's text back rather than an error page
@limiter.limit("10 per minute; 60 per hour", key_func=_per_link, on_breach=_partner_too_many)
# Any number of links from one address (forged ones cost nothing to make) are still held back.
@limiter.limit("60 per minute; 600 per hour", on_breach=_partner_too_many)
def partner_status(token: str, action_id: int):
    org = _partner_org(token)
    typed = (request.form.get(f"a{action_id}-note") or "").strip()
    if isinstance(org, services.LinkExpired):
        return _bad_link(org, typed)
    if action_id not in {a.id for a in services.partner_actions(org.id)}:
        # Carried into a later assembly, or no longer published, while the page was open.
        return _bad_link(None, typed, 404)
    form = StatusForm(prefix=f"a{action_id}")
    if form.validate_on_submit():
        try:
            services.set_action_status(action_id, form.status.data, form.note.data or "", "partner",
                                       organisation_id=org.id)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash_at(f"action-{action_id}", "Thank you: your update has been recorded.", "success")
            return redirect(url_for(".partner", token=token, _anchor=f"action-{action_id}"))
    if form.csrf_token.errors:
        # The page was open for hours, or the browser dropped its cookies: the form below carries a fresh token.
        form.csrf_token.errors = []
        form.form_errors.append("Your update has not been saved yet: this page had been open a long time. "
                                "Check it below and press “Send update” again.")
    return _partner_page(token, org, {action_id: form}, 400)


# --- facilitator: earlier outcomes on this workshop's topic ---------------------------------------


def _workshop(workshop_id: int) -> Workshop:
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None:
        abort(404)
    if not notes.can_access(current_user, workshop):
        abort(403)
    return workshop


def _history_page(workshop: Workshop, forms: dict | None = None, code: int = 200, typed_by=None,
                  typed_at: str | None = None):
    history = services.topic_history(workshop)
    forms = forms or {}
    for a in history.open_actions:
        forms.setdefault(a.id, StatusForm(formdata=None, prefix=f"a{a.id}", data={"status": a.status}))
        _staff_note_hint(forms[a.id], a)
    return render_template("outcomes/history.html", workshop=workshop, history=history, forms=forms,
                           origins=services.origins_of([a.id for a in history.open_actions]),
                           is_overdue=services.is_overdue, typed_by=typed_by, typed_at=typed_at), code


@bp.get("/facilitator/workshops/<int:workshop_id>/history")
@staff_required
def history(workshop_id: int):
    return _history_page(_workshop(workshop_id))


@bp.post("/facilitator/workshops/<int:workshop_id>/history/<int:action_id>")
@staff_required
def history_status(workshop_id: int, action_id: int):
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or not notes.can_access(current_user, workshop):
        return _status_not_saved(workshop, action_id)
    if action_id not in services.history_action_ids(workshop):
        abort(404)
    form = StatusForm(prefix=f"a{action_id}")
    refusal = typed_by_refusal("Save status")
    if refusal is not None:
        # A shared tablet's next person: the status and note come back as typed, at that action.
        return _history_page(workshop, {action_id: form}, 409, typed_by=refusal, typed_at=f"#action-{action_id}")
    if form.validate_on_submit():
        try:
            services.set_action_status(action_id, form.status.data, form.note.data or "",
                                       "organiser" if current_user.is_organiser else "facilitator",
                                       user_id=current_user.id)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash_at(f"action-{action_id}", "Status updated.", "success")
            return redirect(url_for(".history", workshop_id=workshop.id, _anchor=f"action-{action_id}"))
    return _history_page(workshop, {action_id: form}, 400)


def _status_not_saved(workshop: Workshop | None, action_id: int):
    # Deleted, or its facilitator taken off it, while they typed: what they sent comes back to copy, as the
    # action forms do, instead of a bare error page.
    prefix = f"a{action_id}-"
    typed = [("New status", ACTION_STATUSES.get(request.form.get(prefix + "status", ""), "")),
             ("What has happened", request.form.get(prefix + "note", ""))]
    return render_template(
        "notes/not_saved.html", heading="Your status change has not been saved", typed=typed,
        reason="This workshop has been deleted, so the status of its topic's earlier actions can no longer be "
               "changed from it." if workshop is None else
               f"You are no longer named as a facilitator of {workshop.title}, so you cannot change the status of "
               "its topic's earlier actions from it. If that is a mistake, ask the organisers to add you again.",
        next_url=url_for("facilitators.home"), next_label="Your workshops"), 404 if workshop is None else 403


# --- command line -----------------------------------------------------------------------------


@bp.cli.command("remind")
@click.option("--days", default=7, show_default=True, help="Remind about actions due within this many days.")
@needs_current_schema
def remind(days: int) -> None:
    """Email each owner organisation the open actions it has due within N days or overdue (once a day)."""
    result = services.queue_action_reminders(days)
    click.echo(f"Queued {counted(result.queued, 'reminder email')} listing {counted(result.actions, 'action')} "
               f"({counted(result.already, 'organisation')} already reminded today).")
    if result.no_contact:
        click.echo("No contact email for: " + "; ".join(result.no_contact) +
                   ". Add one under Organiser › Partners.")
