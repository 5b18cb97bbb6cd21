"""Organiser pages to run, inspect, adjust and publish the workshop allocation."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..accounts.access import organiser_required
from ..assemblies.models import Workshop
from ..assemblies.views import load_assembly
from ..domain import DomainError
from ..extensions import db
from ..forms_util import apply_domain_error
from ..organisations.models import SECTORS
from ..registration.csvio import csv_response, download_name, to_csv
from ..registration.models import Registration
from ..templating import counted
from ..text import isolate, sort_key
from ..timeutil import local_today, utcnow
from . import services
from .forms import PlaceMissingForm, RunForm, move_form_class
from .models import AllocationPin, AllocationRun

bp = Blueprint("placements", __name__, url_prefix="/organiser/assemblies/<slug>/allocation")


def _run_or_404(assembly, run_id: int) -> AllocationRun:
    run = db.session.get(AllocationRun, run_id)
    if run is None or run.assembly_id != assembly.id:
        abort(404)
    return run


@bp.route("/")
@organiser_required
def index(slug: str):
    assembly = load_assembly(slug)
    return _index_page(assembly, RunForm(workshop_org_limit=assembly.workshop_org_limit))


def _index_page(assembly, form: RunForm, status: int = 200):
    run = services.latest_run(assembly)
    job = services.latest_job(assembly)
    context = {"assembly": assembly, "run": run, "form": form, "job": job,
               "job_active": job is not None and job.status in ("queued", "running"),
               # A failure newer than the proposal shown is news; an older one is not.
               "job_failed": job is not None and job.status == "failed"
               and (run is None or job.finished_at is None or job.finished_at >= run.created_at),
               "now": utcnow()}
    if run is not None:
        snap = services.snapshot(assembly)
        data = run.result
        unplaced = [(k, r, None) for k, r in data["unplaced"]] + services.missing_places(
            snap.rounds, snap.workshops, snap.registrations, data)
        context.update(
            # Published places live on (cancellations, promotions) after the run: its figures are today's.
            data=services.published_now(snap, data) if run.status == "published" else data,
            snap=snap,
            mix=services.workshop_mix(snap, data["assignments"]),
            round_names={str(r.id): r.name for r in snap.rounds},
            # The confirmed delegates' pins, joined rather than listed by id (10,000 ids at a national event).
            pins=list(db.session.scalars(
                select(AllocationPin).join(Registration, Registration.id == AllocationPin.registration_id)
                .where(Registration.assembly_id == assembly.id, Registration.status == "confirmed")
                .order_by(AllocationPin.registration_id, AllocationPin.id)
            )),
            # A background run can finish after another proposal was published: its moves were
            # counted from the allocation before that one.
            behind_published=run.status == "proposal" and assembly.allocation_published_at is not None
            and assembly.allocation_published_at > run.created_at,
            stale=len(snap.registrations) != len(data["assignments"])
            or any(k not in snap.registrations for k in data["assignments"]),
            dropped=services.dropped_places(snap, data),
            # The run's own unplaced, then those left without since (promoted, registered, a workshop deleted):
            # the assembly page counts them, so this list must name them.
            unplaced=unplaced,
            # Those "Place the delegates missing a workshop" would try: not the run's own unplaced.
            missing_delegates=len({k for k, _, why in unplaced if why is not None}),
        )
    return render_template("placements/index.html", **context), status


@bp.post("/run")
@organiser_required
def run(slug: str):
    assembly = load_assembly(slug)
    form = RunForm()
    if not form.validate_on_submit():
        # The page itself, not a redirect, so what was typed stays in the field beside its error.
        return _index_page(assembly, form, 400)
    assembly.workshop_org_limit = form.workshop_org_limit.data
    if assembly.confirmed_count > current_app.config["ALLOCATION_INLINE_MAX"]:
        # Too big to solve within one request (the server would time it out): a worker does it.
        try:
            existing = services.active_job(assembly)
            job = existing or services.request_run(assembly, current_user.id)
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            flash("An allocation is already running; its proposal will appear here." if existing else
                  f"The allocation of {counted(job.delegates, 'delegate')} is running in the background. "
                  "Its proposal will appear here in a few minutes; nothing is published until you publish it.",
                  "success")
        return redirect(url_for(".index", slug=slug))
    try:
        result = services.run_allocation(assembly, current_user.id)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        flash(f"Allocation proposed: {counted(result.placed, 'place')} filled. Nothing is published until you publish it.",
              "success")
    return redirect(url_for(".index", slug=slug))


# The delegates list's own query values: kept by its page links, each row's Change link, the move and the export.
LIST_ARGS = ("q", "unplaced", "workshop", "organisation", "page")


def _list_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k in LIST_ARGS and v}


def _delegate_rows(listing: services.DelegateList, data) -> list:
    """(delegate row, its workshops) for the list's filters, by name."""
    q = request.args.get("q", "").strip().casefold()
    only_unplaced = request.args.get("unplaced") == "1"
    workshop = request.args.get("workshop", "").strip()
    organisation_id = request.args.get("organisation", type=int)
    unplaced_keys = {u[0] for u in data["unplaced"]} | {
        k for k, _, _ in services.missing_places(listing.rounds, listing.workshops,
                                                 (str(p.id) for p in listing.people), data)}
    assignments = data["assignments"]
    rows = []
    for person in listing.people:
        key = str(person.id)
        if q and q not in person.full_name.casefold() and q not in person.organisation_name.casefold() \
                and q not in person.email.casefold():
            continue
        if only_unplaced and key not in unplaced_keys:
            continue
        if organisation_id and person.organisation_id != organisation_id:
            continue
        assigned = assignments.get(key, [])
        if workshop and workshop not in assigned:
            continue
        rows.append((person, [listing.workshops[w] for w in assigned if w in listing.workshops]))
    rows.sort(key=lambda row: (sort_key(row[0].full_name), row[0].id))
    return rows


@bp.route("/delegates")
@organiser_required
def delegates(slug: str):
    assembly = load_assembly(slug)
    run = services.latest_run(assembly)
    if run is None:
        return redirect(url_for(".index", slug=slug))
    listing = services.delegate_list(assembly)
    rows = _delegate_rows(listing, run.result)
    per_page = 50
    pages = max((len(rows) + per_page - 1) // per_page, 1)
    # Past the end (its last delegate moved out of the filter, or cancelled): the last page, not "No delegates match".
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    back = _list_args()
    if "page" in back:
        back["page"] = str(page)
    organisations = sorted({(p.organisation_id, p.organisation_name) for p in listing.people},
                           key=lambda o: (sort_key(o[1]), o[0]))
    return render_template(
        "placements/delegates.html", assembly=assembly, run=run, rows=rows[(page - 1) * per_page: page * per_page],
        total=len(rows), page=page, pages=pages, q=request.args.get("q", ""),
        only_unplaced=request.args.get("unplaced") == "1", rounds=listing.rounds, organisations=organisations,
        workshop=request.args.get("workshop", ""), organisation_id=request.args.get("organisation", type=int),
        back=back, export_args={k: v for k, v in back.items() if k != "page"},
    )


@bp.route("/delegates.csv")
@organiser_required
def delegates_csv(slug: str):
    """The delegates list (its filters) as CSV: one row per delegate, a column per round with workshop and room."""
    assembly = load_assembly(slug)
    run = services.latest_run(assembly)
    if run is None:
        return redirect(url_for(".index", slug=slug))
    listing = services.delegate_list(assembly)
    header = ["Full name", "Email", "Organisation", "Sector"] + [r.name for r in listing.rounds]
    rows = []
    for person, workshops in _delegate_rows(listing, run.result):
        by_round = {w.round_id: f"{w.title} ({w.room or 'room to be confirmed'})" for w in workshops}
        rows.append([person.full_name, person.email, person.organisation_name, SECTORS.get(person.sector, person.sector)]
                    + [by_round.get(r.id, "") for r in listing.rounds])
    args = _list_args()
    # The filters the list applied, by name: not the words searched for (a delegate's name).
    words = ["unplaced" if args.get("unplaced") == "1" else "", "one-workshop" if args.get("workshop") else "",
             "organisation" if args.get("organisation") else "", "search" if args.get("q", "").strip() else ""]
    return csv_response(to_csv(header, rows),
                        download_name("workshops", assembly.slug, *words, on=local_today(assembly.timezone)))


@bp.route("/delegates/<int:registration_id>", methods=["GET", "POST"])
@organiser_required
def move(slug: str, registration_id: int):
    assembly = load_assembly(slug)
    run = services.latest_run(assembly)
    if run is None:
        return redirect(url_for(".index", slug=slug))
    snap = services.move_choices(assembly, registration_id)
    reg = snap.registration
    if reg is None:
        abort(404)
    choices = {r.id: [(str(w.id), f"{w.title} ({w.room or 'room to be confirmed'})") for w in r.workshops]
               for r in snap.rounds}
    form = move_form_class(snap.rounds, choices)()
    current = {snap.workshops[w].round_id: w for w in run.result["assignments"].get(str(reg.id), [])
               if w in snap.workshops}
    if request.method == "GET":
        for r in snap.rounds:
            getattr(form, f"round_{r.id}").data = current.get(r.id, "")
    warnings = []
    if form.validate_on_submit():
        # Optional() lets a blank (even whitespace-only) choice past the choice check: no workshop.
        values = {r.id: (getattr(form, f"round_{r.id}").data or "").strip() for r in snap.rounds}
        picked = {rid: int(v) if v else None for rid, v in values.items()}
        if run.status == "published":
            try:
                changed = services.move_published(run, assembly, reg.id, picked, pin=form.pin.data,
                                                     by=current_user.id)
            except DomainError as err:
                db.session.rollback()
                apply_domain_error(form, err)
            else:
                flash(f"{isolate(reg.full_name)}'s workshops were changed. An updated calendar invitation is in the outbox."
                      if changed and assembly.cancelled_at is None else
                      f"{isolate(reg.full_name)}'s workshops were changed." if changed else "Nothing changed.", "success")
                # Back to the same page of the list, with its filters, as for a proposal's change.
                return redirect(url_for(".delegates", slug=slug, **_list_args()))
            return _move_page(assembly, run, reg, form, snap)
        try:
            warnings = services.move_delegate(run, assembly, reg.id, picked, pin=form.pin.data)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            if warnings:
                flash("Saved, but this change breaks a rule: " + " ".join(warnings)
                      + " The proposal cannot be published until it is fixed.", "error")
            else:
                flash(f"{isolate(reg.full_name)}'s workshops were changed.", "success")
            # Changed from the delegates list: back to the same page of it (its filters); else the summary.
            back = _list_args()
            return redirect(url_for(".delegates", slug=slug, **back) if back else url_for(".index", slug=slug))
    return _move_page(assembly, run, reg, form, snap)


def _move_page(assembly, run, reg, form, snap):
    ranks = {t: i + 1 for i, t in enumerate(reg.choice_topic_ids)}
    return render_template("placements/move.html", assembly=assembly, run=run, reg=reg, form=form,
                           rounds=snap.rounds, ranks=ranks, back=_list_args(),
                           topics_by_workshop={wid: w.topic for wid, w in snap.workshops.items()}), \
        (400 if form.errors else 200)


@bp.route("/pins/<int:pin_id>/delete", methods=["GET", "POST"])
@organiser_required
def unpin(slug: str, pin_id: int):
    assembly = load_assembly(slug)
    pin = db.session.get(AllocationPin, pin_id)
    if pin is None and request.method == "POST":
        # "Yes, remove the pin" clicked twice: the first click removed it.
        flash("That pin was removed already.", "info")
        return redirect(url_for(".index", slug=slug))
    if pin is None or pin.workshop_id not in {w.id for r in assembly.rounds for w in r.workshops}:
        abort(404)
    form = FlaskForm()
    if form.validate_on_submit():
        services.remove_pin(pin)
        flash("Pin removed. Run the allocation again to let the solver place that delegate.", "success")
        return redirect(url_for(".index", slug=slug))
    registration = db.session.get(Registration, pin.registration_id)
    workshop = db.session.get(Workshop, pin.workshop_id)
    return render_template("placements/unpin.html", assembly=assembly, form=form, workshop=workshop,
                           who=registration.full_name if registration is not None else None)


@bp.route("/publish", methods=["GET", "POST"])
@organiser_required
def publish(slug: str):
    assembly = load_assembly(slug)
    run = services.latest_run(assembly)
    if run is None or run.status != "proposal":
        if run is None:
            flash("There is no proposal to publish. Run the allocation first.", "info")
        elif request.method == "POST":
            # Publish clicked twice: the first click published it, and this answer is the one the browser shows.
            flash("This allocation is published already: nothing was published or sent again.", "info")
        else:
            flash("The latest allocation is published already. To change it, run the allocation again, "
                  "then publish the new proposal.", "info")
        return redirect(url_for(".index", slug=slug))
    form = FlaskForm()
    if form.validate_on_submit():
        try:
            outcome = services.publish(run, assembly, by=current_user.id)
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
            return redirect(url_for(".index", slug=slug))
        emailed = len({reg for reg, _, _, _ in outcome.changed}) if assembly.cancelled_at is None else 0
        flash(f"Allocation published: {counted(outcome.placed, 'place')}. "
              + (f"Calendar invitations for {counted(emailed, 'delegate')} whose workshops changed are in the outbox. "
                 if emailed else "No calendar invitation was sent. ")
              + "Delegates see their workshops on their manage page.", "success")
        return redirect(url_for(".index", slug=slug))
    preview = services.publish_preview(run, assembly)
    return render_template("placements/publish.html", assembly=assembly, run=run, form=form, data=run.result,
                           changed_delegates=preview.delegates, dropped=preview.dropped, missing=preview.missing,
                           breaks=preview.breaks)


@bp.route("/place-missing", methods=["GET", "POST"])
@organiser_required
def place_missing(slug: str):
    assembly = load_assembly(slug)
    run = services.latest_run(assembly)
    if run is None or run.status != "published":
        flash("Delegates missing a workshop are placed into a published allocation. Publish it first.", "info")
        return redirect(url_for(".index", slug=slug))
    form = PlaceMissingForm()
    if form.validate_on_submit():
        try:
            plan = services.place_missing(run, assembly, by=current_user.id, seen=form.seen.data or "")
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
            return redirect(url_for(".place_missing", slug=slug))
        placed = len({row.id for row, *_ in plan.placed})
        left = len({row.id for row, *_ in plan.left})
        if not plan.delegates:
            # Confirmed twice, or another organiser placed them a moment ago.
            flash("Nobody is missing a workshop: nothing was changed or sent.", "info")
            return redirect(url_for(".index", slug=slug))
        flash(" ".join(filter(None, [
            f"{counted(placed, 'delegate')} placed." if placed else "Nobody could be placed.",
            "Their calendar invitations are in the outbox." if placed and assembly.cancelled_at is None else "",
            f"{counted(left, 'delegate')} could not be placed in every round: see Unplaced below." if left else ""])),
            "success" if placed else "info")
        return redirect(url_for(".index", slug=slug))
    plan = services.place_missing_preview(run, assembly)
    form.seen.data = services.plan_version(plan)
    return render_template("placements/place_missing.html", assembly=assembly, form=form, plan=plan,
                           placed_delegates=len({row.id for row, *_ in plan.placed}))
