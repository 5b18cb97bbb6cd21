"""Public registration form, the delegate's manage page, and the organiser's registration pages."""
from __future__ import annotations

import functools
import itertools
import json
import time
from bisect import bisect_right
from datetime import time as dt_time
from types import SimpleNamespace
from typing import Callable, NamedTuple

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import bindparam, func, or_, select
from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy.orm import aliased, selectinload

from ..accounts.access import organiser_required
from ..add_once import SECOND_CLICK, add_once, issue
from ..assemblies.models import Assembly, Topic
from ..audit.services import record_export
from ..assemblies.views import load_assembly, load_public_assembly
from ..domain import DomainError
from ..checkin.services import certificate, check_in_code
from ..feedback.services import offer as feedback_offer
from ..documents.services import list_documents
from ..extensions import db, limiter
from ..form_limits import refused_with, sent as _sent
from ..forms_util import apply_domain_error
from ..links import absolute_url
from ..templating import cached_url_for, counted, escape_text as _h, options
from ..text import is_number, isolate, without_control
from ..timeutil import local_today
from ..txn import read_first
from ..organisations.models import SECTORS, Organisation
from . import services
from .csvio import csv_response, download_name, parse_csv, to_csv
from .forms import CorrectEmailForm, ActionForm, DeskForm, DetailsForm, EditDetailsForm, ImportForm, OrganiserAddForm, RegistrationForm, ResendForm, with_choices
from .models import REGISTRATION_STATUSES, PendingRegistration, Preference, Registration

bp = Blueprint("registration", __name__)


# --- the public forms' rate limits ---------------------------------------------------------------
#
# Counted per client address, which colleagues at one council, police force or NHS trust share (their
# office's NAT): when the invitation goes out, twenty of them register within minutes. So a form sent
# back with a mistake marked costs nothing from the allowance of forms acted on (FLASK_REGISTRATION_RATE_LIMIT),
# which bounds the registrations, and the emails they send, that one address can make. A far larger bound on
# every form sent (FLASK_REGISTRATION_ATTEMPT_LIMIT) stops a script sending junk. Keying on the address typed
# as well would bound nothing: a script types a new one each time (and the outbox already sends any one
# address at most one such email a quarter of an hour).


def _accepted_limit() -> str:
    return current_app.config["REGISTRATION_RATE_LIMIT"]


def _attempt_limit() -> str:
    return current_app.config["REGISTRATION_ATTEMPT_LIMIT"]


def _acted_on(response: Response) -> bool:
    """Whether a form was acted on (redirected onwards, or the "link sent" page) rather than sent back refused."""
    return response.status_code < 400


def _public_form(view):
    """Both limits on a public form's POST; past either, the form is shown again as typed, saying when to send it."""
    refused = refused_with(view)
    accepted = limiter.limit(_accepted_limit, methods=["POST"], deduct_when=_acted_on, on_breach=refused)(view)
    return limiter.limit(_attempt_limit, methods=["POST"], on_breach=refused)(accepted)


def _status(form) -> int:
    return 400 if form.errors else 200


def _approved_organisations() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).where(Organisation.status == "approved").order_by(Organisation.name_key)))


def _data(form: DetailsForm) -> dict:
    data = {
        "full_name": form.full_name.data, "email": form.email.data, "job_title": form.job_title.data,
        "organisation_name": form.organisation_name.data,
        "organisation_not_listed": form.organisation_not_listed.data,
        "new_organisation_name": form.new_organisation_name.data,
        "new_organisation_sector": form.new_organisation_sector.data,
        "access_needs": form.access_needs.data, "dietary_needs": form.dietary_needs.data,
        "topic_ids": form.topic_ids(),
    }
    if hasattr(form, "consent"):
        data["consent"] = form.consent.data
    if hasattr(form, "join_waiting_list"):
        data["join_waiting_list"] = form.join_waiting_list.data
    return data


def _choices_field(err: DomainError, form: DetailsForm) -> None:
    # Services name the organisation "organisation_name" whether chosen or typed.
    if err.field == "organisation_name" and form.organisation_not_listed.data:
        err.field = "new_organisation_name"
    apply_domain_error(form, err)


def _edited(form: EditDetailsForm) -> dict:
    """What an edit form sends update_registration: the details, and the version of the registration it showed."""
    return {**_data(form), "seen": form.seen.data or ""}


def _refused_edit(err: DomainError, form: EditDetailsForm, reg: Registration) -> None:
    _choices_field(err, form)
    if isinstance(err, services.RegistrationChanged):
        # The refusal has shown the registration as it now stands: saving again is then a choice, and goes through.
        form.seen.data = services.registration_version(reg)


def _fill(form: DetailsForm, reg: Registration, offered: set[int] | None = None) -> None:
    form.organisation_name.data = reg.organisation.name
    # Choices no longer offered (``offered``, when given) are left out, the others moving up a rank.
    kept = [t for t in reg.choice_topic_ids if offered is None or t in offered]
    for i, topic_id in enumerate(kept, start=1):
        if i <= form.choice_count:
            form[f"choice_{i}"].data = topic_id


# --- public: register ---------------------------------------------------------------------------


@bp.route("/a/<slug>/register", methods=["GET", "POST"])
@_public_form
def register(slug: str):
    if request.method == "POST":
        # Parsing, checking and looking up happen before the write lock; the service takes it.
        read_first()
    assembly = load_public_assembly(slug)
    is_open, why = services.registration_window(assembly)
    if not is_open:
        return render_template("registration/closed.html", assembly=assembly, reason=why)
    topics = services.offered_topic_choices(assembly)
    form = with_choices(RegistrationForm, topics, services.required_choices(assembly, topics))
    correcting = request.method == "GET" and request.args.get("again") == "1" and _fill_from_sent(form, assembly.id, topics)
    if _sent(form):
        # Read now: the commit expires the assembly, and reading it after would cost a query.
        assembly_id = assembly.id
        if assembly.confirm_email_first:
            try:
                pending_id = services.request_registration(assembly, _data(form), topics=topics,
                                                           replaces=_form_it_corrects(assembly_id, form))
            except DomainError as err:
                _choices_field(err, form)
            else:
                session["registered_email"] = form.email.data.strip()
                session.pop("correctable", None)
                # A mistyped address holds no place, but its link shows the form: sent again here by
                # the same person, the form corrects that one (see _form_it_corrects).
                session["sent_form"] = [assembly_id, pending_id, services.email_key(form.email.data.strip()),
                                        _name_key(form.full_name.data), int(time.time())] if pending_id else None
                return redirect(url_for(".registered", slug=slug))
            return _register_page(form, assembly, topics)
        try:
            result = services.register(assembly, _data(form), topics=topics)
        except DomainError as err:
            _choices_field(err, form)
        else:
            session["registered_email"] = form.email.data.strip()
            # Only a registration this browser created can have its address put right from here.
            session["correctable"] = [assembly_id, *result.correctable, int(time.time()), form.email.data.strip()]
            return redirect(url_for(".registered", slug=slug))
    return _register_page(form, assembly, topics, correcting=correcting)


def _name_key(name: str | None) -> str:
    return " ".join((name or "").casefold().split())


def _form_it_corrects(assembly_id: int, form) -> tuple[int, str] | None:
    """(id, email key) of the form this browser sent here in the last half hour under the same name: the
    same person sending the form again, most likely because the address was mistyped. A form under
    another name (a PA registering colleagues one after another) corrects nothing."""
    entry = session.get("sent_form")
    try:
        sent_assembly, pending_id, key, name, at = entry
    except (TypeError, ValueError):
        return None
    if sent_assembly != assembly_id or time.time() - at > services.CORRECTION_MINUTES * 60 \
            or name != _name_key(form.full_name.data):
        return None
    return pending_id, key


def _fill_from_sent(form, assembly_id: int, topics) -> bool:
    """Fill the form with what this browser sent here minutes ago, but the address, when it asks to correct that
    (the "check your email" page's link): nobody types it all again for one wrong letter. True if filled."""
    entry = session.get("sent_form")
    try:
        sent_assembly, pending_id, key, _name, at = entry
    except (TypeError, ValueError):
        return False
    if sent_assembly != assembly_id or time.time() - at > services.CORRECTION_MINUTES * 60:
        return False
    data = services.form_to_correct(assembly_id, pending_id, key)
    if data is None:
        return False
    _fill_from(form, data, topics, fields=("access_needs", "dietary_needs"))
    return True


def _fill_from(form, data: dict, topics, *, fields: tuple[str, ...] = ()) -> None:
    """Fill the registration form with what a kept form said (and its ``fields`` beyond who, where and which)."""
    for name in ("full_name", "job_title", "organisation_name", "new_organisation_name", "new_organisation_sector",
                 *fields):
        if isinstance(data.get(name), str):
            form[name].data = data[name]
    form.organisation_not_listed.data = bool(data.get("organisation_not_listed"))
    form.join_waiting_list.data = bool(data.get("join_waiting_list"))
    offered = {t.id for t in topics}
    kept = [t for t in data.get("topic_ids") or [] if t in offered]
    for i, topic_id in enumerate(kept[:form.choice_count], start=1):
        form[f"choice_{i}"].data = topic_id


def _register_page(form, assembly: Assembly, topics, *, correcting: bool = False, changing: bool = False):
    return render_template("registration/register.html", form=form, assembly=assembly, topics=topics,
                           correcting=correcting, changing=changing,
                           organisations=_approved_organisations(),
                           places_left=assembly.capacity - assembly.confirmed_count), _status(form)


@bp.route("/a/<slug>/register/check-your-email")
def registered(slug: str):
    assembly = load_public_assembly(slug)
    # The same page for a new and an already-known address: nothing here reveals who is registered.
    # The address is shown once: on a shared computer the next person must not see it.
    return render_template("registration/check_email.html", assembly=assembly, email=session.pop("registered_email", None),
                           correctable=_correctable(assembly) is not None, confirm_days=services.CONFIRM_DAYS)


@bp.route("/a/<slug>/register/confirm/<token>", methods=["GET", "POST"])
@_public_form
def confirm(slug: str, token: str):
    assembly = load_public_assembly(slug)
    try:
        pending = services.load_pending(token)
    except DomainError as err:
        if isinstance(err, services.PendingGone):
            done = _confirmed_already(token, assembly)
            if done is not None:
                return done
        gone = isinstance(err, (services.TokenExpired, services.PendingGone))
        return _unusable_link(assembly, err.message, 410 if gone else 404)
    if pending.assembly_id != assembly.id:
        abort(404)
    may, why = services.pending_confirmable(pending)
    if not may:
        # Said before the button is pressed: "Confirm my registration" for a cancelled or closed assembly only fails.
        return _unusable_link(assembly, why, 409)
    form = ActionForm()
    full = None
    can_change = services.registration_window(assembly)[0]
    changing = request.method == "POST" and bool(request.form.get("change"))
    if changing and can_change and _sent(form):
        return _change_pending(assembly, pending)
    # A GET only shows the form: link scanners in mail filters open links but never press buttons.
    if not changing and _sent(form):
        try:
            result = services.confirm_pending(pending, join_waiting_list=bool(request.form.get("join_waiting_list")))
        except DomainError as err:
            if isinstance(err, services.PendingGone):
                done = _confirmed_already(token, assembly)
                if done is not None:
                    return done
            if not isinstance(err, services.NoPlace):
                return _unusable_link(assembly, err.message, 409)
            full = err.reason
            pending = services.load_pending(token)
        else:
            reg = result.registration
            if result.outcome == "duplicate":
                flash("This address was registered already: here is that registration. "
                      "We have also emailed its personal link.", "info")
            elif reg.status == "waiting":
                flash("Your address is confirmed. You are on the waiting list; we have emailed you the details.",
                      "success")
            else:
                flash("Your address is confirmed and your place is booked. We have emailed you the details.",
                      "success")
            return redirect(url_for(".manage", token=services.make_manage_token(reg)))
    return render_template("registration/confirm.html", assembly=assembly, pending=pending, form=form, full=full,
                           topics=services.pending_topics(pending), problem=None, can_change=can_change), \
        (409 if full else 200)


def _change_pending(assembly: Assembly, pending):
    """The registration form filled with what the kept form said, to send again changed: nobody types it all
    again for one wrong detail (WCAG 3.3.7). Not the needs: this page never shows them to whoever holds the link."""
    topics = services.offered_topic_choices(assembly)
    form = with_choices(RegistrationForm, topics, services.required_choices(assembly, topics), formdata=None)
    _fill_from(form, {**(pending.data or {}), "full_name": pending.full_name}, topics)
    form.email.data = pending.email
    return _register_page(form, assembly, topics, changing=True)


def _unusable_link(assembly: Assembly, problem: str, status: int):
    """The page of a confirmation link that cannot be used, offering the form again only while it is open."""
    return render_template("registration/confirm.html", assembly=assembly, pending=None, problem=problem, form=None,
                           can_register=services.registration_window(assembly)[0]), status


def _confirmed_already(token: str, assembly: Assembly):
    """The registration page of a confirmation link used already, or None when it registered nobody now live."""
    reg = services.registration_confirmed_by(token, assembly.id)
    if reg is None:
        return None
    flash("Your address is confirmed already: here is your registration.", "info")
    return redirect(url_for(".manage", token=services.make_manage_token(reg)))


def _correctable(assembly: Assembly) -> tuple[int, int, str] | None:
    """(registration id, link version, address typed) of the registration this browser just made here,
    while it may be corrected."""
    entry = session.get("correctable")
    try:
        assembly_id, reg_id, version, at, email = entry
    except (TypeError, ValueError):
        return None
    if assembly_id != assembly.id or time.time() - at > services.CORRECTION_MINUTES * 60:
        return None
    return reg_id, version, email


CORRECTED = "The address is corrected. The email about your registration is on its way there."


@bp.route("/a/<slug>/register/correct-email", methods=["GET", "POST"])
@_public_form
def correct_email(slug: str):
    assembly = load_public_assembly(slug)
    found = _correctable(assembly)
    form = CorrectEmailForm()
    if found is None:
        return render_template("registration/correct_email.html", assembly=assembly, form=None,
                               gone=services.CORRECTION_GONE), 410
    if _sent(form):
        entry = session["correctable"]
        try:
            reg = services.correct_new_registration_email(found[0], found[1], form.typed.data, form.email.data)
        except services.NothingToCorrect:
            services.tell_nothing_was_registered(assembly, form.email.data,
                                                 absolute_url("registration.register", slug=slug))
            reg = None
        except DomainError as err:
            if err.field is None:
                session.pop("correctable", None)
                return render_template("registration/correct_email.html", assembly=assembly, form=None,
                                       gone=err.message), 410
            apply_domain_error(form, err)
            return render_template("registration/correct_email.html", assembly=assembly, form=form), 400
        session["registered_email"] = form.email.data.strip()
        # The same answer and the same page after, whatever the address held: nothing shows who is registered.
        keep = reg is not None and reg.status != "cancelled"
        session["correctable"] = [assembly.id, reg.id if keep else 0, reg.token_version if keep else 0, entry[3],
                                  form.email.data.strip()]
        flash(CORRECTED, "success")
        return redirect(url_for(".registered", slug=slug))
    return render_template("registration/correct_email.html", assembly=assembly, form=form), _status(form)


# --- public: manage link ---------------------------------------------------------------------------


def load_personal_link(token: str):
    """(registration, None) for a delegate's personal link, or (None, "expired" or "invalid")."""
    try:
        return services.load_manage_token(token), None
    except services.TokenExpired:
        return None, "expired"
    except services.TokenInvalid:
        return None, "invalid"


def bad_link_page(problem: str):
    """What an expired or broken personal link shows: a way to have a fresh one emailed."""
    return render_template("registration/bad_link.html", problem=problem, form=ResendForm()), (410 if problem == "expired" else 404)


@bp.route("/manage/<token>")
def manage(token: str):
    reg, problem = load_personal_link(token)
    if reg is None:
        return bad_link_page(problem)
    from ..placements.services import placements_for

    placements = placements_for(reg) if reg.status == "confirmed" else []
    return render_template("registration/manage.html", reg=reg, token=token, position=services.waiting_rank(reg),
                           waiting_because=services.waiting_because(reg),
                           published=services.allocation_published(reg.assembly), action_form=ActionForm(),
                           placements=placements, taken_place=services.has_taken_place(reg.assembly),
                           certificate=certificate(reg)[0] is not None, check_in_code=check_in_code(reg),
                           feedback=feedback_offer(reg),
                           # "Register again" only where the form takes registrations, else why not.
                           register_again=services.registration_state(reg.assembly) if reg.status == "cancelled" else None,
                           # A cancelled registration still sees what everyone can, not what delegates get.
                           documents=list_documents(reg.assembly_id,
                                                    visibility="public" if reg.status == "cancelled" else None))


@bp.route("/manage/<token>/edit", methods=["GET", "POST"])
def manage_edit(token: str):
    reg, problem = load_personal_link(token)
    if reg is None:
        # Save pressed twice on a change of address: the second press comes to the link the first one retired.
        if request.method == "POST" and ActionForm().validate_on_submit() \
                and services.moved_to_address(token, request.form.get("email")):
            return render_template("registration/address_moved.html")
        return bad_link_page(problem)
    if reg.status == "cancelled":
        flash("This registration was cancelled, so it can no longer be changed.", "info")
        return redirect(url_for(".manage", token=token))
    if reg.assembly.is_cancelled:
        flash(services.ASSEMBLY_CANCELLED_NO_CHANGE, "info")
        return redirect(url_for(".manage", token=token))
    published = services.allocation_published(reg.assembly)
    # After the day the details still serve (the certificate's name, the address for next year), the choices not.
    taken_place = services.has_taken_place(reg.assembly)
    topics = [] if published or taken_place else services.offered_topics(reg.assembly)
    form = with_choices(EditDetailsForm, topics, services.required_choices(reg.assembly, topics), obj=reg)
    offered = {t.id for t in topics}
    # Saving drops a choice whose workshop the organisers removed since: said on the form, before Save.
    dropped = [] if published or taken_place else [p.topic.name for p in reg.preferences if p.topic_id not in offered]
    if request.method == "GET":
        _fill(form, reg, offered)
        form.seen.data = services.registration_version(reg)
    if form.validate_on_submit():
        data = _edited(form)
        if published or taken_place:
            data.pop("topic_ids")
        version = reg.token_version
        try:
            promoted = services.update_registration(reg, data)
        except DomainError as err:
            _refused_edit(err, form, reg)
        else:
            saved = ("Your changes are saved, and a place is now yours: we have emailed you the details."
                     if reg in promoted else "Your changes are saved.")
            if reg.token_version != version:
                # The address changed, so the link in the address bar is dead: hand over the new one.
                flash(f"{saved} We have emailed your new personal link to {isolate(reg.email)}; "
                      "links in earlier emails no longer work.", "success")
                return redirect(url_for(".manage", token=services.make_manage_token(reg)))
            flash(saved, "success")
            return redirect(url_for(".manage", token=token))
    return render_template("registration/edit.html", form=form, reg=reg, token=token, topics=topics,
                           published=published, taken_place=taken_place, dropped=dropped,
                           organisations=_approved_organisations(),
                           cancel_url=url_for(".manage", token=token)), _status(form)


@bp.route("/manage/<token>/cancel", methods=["GET", "POST"])
def manage_cancel(token: str):
    reg, problem = load_personal_link(token)
    if reg is None:
        return bad_link_page(problem)
    form = ActionForm()
    if reg.status == "cancelled":
        return redirect(url_for(".manage", token=token))
    if services.has_taken_place(reg.assembly):
        flash(services.took_place_message(reg.assembly), "info")
        return redirect(url_for(".manage", token=token))
    # A GET only asks: link scanners in mail filters open links but never press buttons.
    if form.validate_on_submit():
        services.cancel_registration(reg)
        flash("Your registration is cancelled. We have emailed you to confirm.", "success")
        return redirect(url_for(".manage", token=token))
    return render_template("registration/cancel.html", reg=reg, form=form, cancel_url=url_for(".manage", token=token),
                           heading="Cancel your registration?", by_delegate=True, has_workshops=_has_workshops(reg),
                           can_register_again=services.registration_window(reg.assembly)[0])


def _has_workshops(reg: Registration) -> bool:
    from ..placements.models import Placement

    return db.session.scalar(select(Placement.id).where(Placement.registration_id == reg.id).limit(1)) is not None


@bp.route("/manage/<token>/my-data.json")
def manage_data(token: str):
    reg, problem = load_personal_link(token)
    if reg is None:
        return bad_link_page(problem)
    body = json.dumps(services.personal_data(reg), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-registration.json"',
                             "Cache-Control": "no-store"})


@bp.route("/manage/new-link", methods=["GET", "POST"])
@_public_form
def resend():
    form = ResendForm()
    if _sent(form):
        services.send_fresh_links(form.email.data)
        session["registered_email"] = form.email.data.strip()
        return render_template("registration/link_sent.html", email=form.email.data.strip())
    return render_template("registration/resend.html", form=form), _status(form)


# --- organiser -----------------------------------------------------------------------------------------


def _org_reg(assembly: Assembly, reg_id: int) -> Registration:
    reg = db.session.get(Registration, reg_id)
    if reg is None or reg.assembly_id != assembly.id:
        abort(404)
    return reg


_ROW_MARKER = 4_611_686_018_427_387_903  # 2**62 - 1: an id no row has


def _per_row_href(endpoint: str, **values) -> Callable[[int], str]:
    """url_for(endpoint, reg_id=…, **values) for every row of a list, escaped for an href: the route is built
    and escaped once, then only the id (digits, nothing to escape) changes."""
    # A search or page in the link is a key the shared link cache would keep for ever (and, once full, every
    # page's links would be built afresh): such links are built here, once per list page.
    build = url_for if any(k in values for k in LIST_ARGS) else cached_url_for
    parts = build(endpoint, reg_id=_ROW_MARKER, **values).split(str(_ROW_MARKER))
    if len(parts) != 2:  # the marker's digits also elsewhere in the URL: build each one
        return lambda reg_id: _h(url_for(endpoint, reg_id=reg_id, **values))
    head, tail = _h(parts[0]), _h(parts[1])
    return lambda reg_id: f"{head}{int(reg_id)}{tail}"


_AHEAD = aliased(Registration)
# The place in the queue as the delegate's own page gives it (services.waiting_rank): positions keep the
# gaps that promotions and cancellations leave, and "no. 4" for the first one waiting would not match.
_WAITING_RANK = (select(func.count(_AHEAD.id)).where(_AHEAD.assembly_id == Registration.assembly_id,
                                                     _AHEAD.waiting_position <= Registration.waiting_position)
                 .correlate(Registration).scalar_subquery())
_LIST_COLUMNS = (Registration.id, Registration.full_name, Registration.email, Registration.job_title, Registration.status,
                 _WAITING_RANK.label("waiting_rank"), Registration.access_needs, Registration.dietary_needs,
                 Organisation.name.label("org_name"), Organisation.sector.label("org_sector"),
                 Organisation.status.label("org_status"))


def _like_escaped(text: str) -> str:
    """text for a LIKE pattern with ESCAPE '/' (as SQLAlchemy's autoescape writes it): % and _ match only themselves."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


# The list's own query values: kept by its page links, by each row's actions and by the export.
LIST_ARGS = ("q", "status", "sector", "organisation", "needs", "page")
# Needs filter: who has access needs, dietary needs, or either (catering and venue lists).
NEEDS = {"access": "Access needs", "dietary": "Dietary needs", "any": "Access or dietary needs"}


def _list_args() -> dict[str, str]:
    """The list's filters and page from this request's query, in the order they came (nothing else echoed)."""
    return {k: v for k, v in request.args.items() if k in LIST_ARGS and v}


def _back_to_list(slug: str):
    """A redirect to the registrations list on the page and filters the organiser acted from."""
    return redirect(url_for(".organiser_index", slug=slug, **_list_args()))


def _filtered(stmt, q: bool, status: str, sector: bool, org: bool, needs: str = ""):
    """stmt (joined to Organisation) narrowed by the list's filters, their values bound at execution."""
    if q:
        like = bindparam("like")
        # Bound per request, so escaped by _like_escaped(): a % or _ typed is looked for as itself.
        stmt = stmt.where(or_(func.lower(Registration.full_name).like(like, escape="/"),
                              Registration.email_key.like(like, escape="/"),
                              func.lower(Registration.job_title).like(like, escape="/")))
    if status in ("one", "waiting"):
        stmt = stmt.where(Registration.status == bindparam("status"))
    elif status != "all":
        stmt = stmt.where(Registration.status != "cancelled")
    if sector:
        stmt = stmt.where(Organisation.sector == bindparam("sector"))
    if org:
        stmt = stmt.where(Registration.organisation_id == bindparam("org_id"))
    if needs in ("access", "any"):
        stmt = stmt.where(Registration.access_needs != "") if needs == "access" else stmt.where(
            or_(Registration.access_needs != "", Registration.dietary_needs != ""))
    elif needs == "dietary":
        stmt = stmt.where(Registration.dietary_needs != "")
    return stmt


@functools.cache
def _list_statements(q: bool, status: str, sector: bool, org: bool, needs: str = "") -> tuple:
    """The list's page and count selects for one combination of filters (status: "", "all", "waiting" or "one").

    Built once per combination, the request's values bound at execution: building a select cost
    more than running it.
    """
    stmt = _filtered(
        select(*_LIST_COLUMNS)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(Registration.assembly_id == bindparam("assembly_id")),
        q, status, sector, org, needs)
    if status == "waiting":
        # Waiting ⇔ a position (a table constraint): the unique (assembly, position) index then serves the order.
        stmt = stmt.where(Registration.waiting_position.is_not(None))
        ordered = stmt.order_by(Registration.waiting_position)
    else:
        # Served in order by ix_registration_assembly_name: a page reads its own rows, not all of them.
        ordered = stmt.order_by(func.lower(Registration.full_name), Registration.id)
    page = ordered.limit(bindparam("limit")).offset(bindparam("offset"))
    # Counted without the columns shown: the queue ranks are worked out for the page's rows only.
    return page, select(func.count()).select_from(stmt.with_only_columns(Registration.id).subquery())


# One index probe per organisation rather than a pass over every registration.
_USED_ORGANISATIONS = select(Organisation.id, Organisation.name, Organisation.sector, Organisation.status).where(
    select(Registration.id).where(Registration.assembly_id == bindparam("assembly_id"),
                                  Registration.organisation_id == Organisation.id).exists()
).order_by(Organisation.name_key)


class _ListAssembly(NamedTuple):
    """What the list shows of its assembly, read as one plain row rather than an Assembly loading every column."""

    id: int
    slug: str
    title: str
    capacity: int
    org_limit: int | None
    confirmed_count: int
    waiting_count: int
    cancelled_count: int
    confirm_email_first: bool
    date: date
    end_time: dt_time
    timezone: str


_LIST_ASSEMBLY = select(*(getattr(Assembly, name) for name in _ListAssembly._fields)).where(
    Assembly.slug == bindparam("slug"))


class _UsedOrganisation(NamedTuple):
    """An organisation in the list's filter. A tuple's fields, unlike a SQLAlchemy Row's, are cheap to read by name."""

    id: int
    name: str
    sector: str
    status: str


# Per process: {(the filter's organisations as read, the one chosen): (its <option>s, those pending)}. Keyed by
# the rows themselves, read on every request, so an entry is never stale: what it saves is turning forty
# organisations into escaped options on every page of the list (about as much as the query).
_ORG_FILTER_CACHE_SIZE = 256
_org_filter_cache: dict[tuple, tuple[Markup, list[_UsedOrganisation]]] = {}


def _organisation_filter(rows: tuple, org_id: int | None) -> tuple[Markup, list[_UsedOrganisation]]:
    """The organisation filter's options (org_id selected) and the organisations still pending, from the rows
    of _USED_ORGANISATIONS."""
    key = (rows, org_id)
    hit = _org_filter_cache.get(key)
    if hit is None:
        used = [_UsedOrganisation(*row) for row in rows]
        hit = (options([(o.id, o.name) for o in used], org_id), [o for o in used if o.status == "pending"])
        if len(_org_filter_cache) >= _ORG_FILTER_CACHE_SIZE:
            _org_filter_cache.clear()
        _org_filter_cache[key] = hit
    return hit


_STATUS_CHOICES = tuple(REGISTRATION_STATUSES.items())
_SECTOR_CHOICES = tuple(SECTORS.items())
_NEEDS_CHOICES = tuple(NEEDS.items())


def _fixed_options(labels: dict[str, str], choices: tuple[tuple[str, str], ...], selected: str) -> Markup:
    """The <option>s (choices: labels' items) of a filter whose choices never change, the selected one marked:
    built once per choice."""
    return _fixed_options_built(choices, selected if selected in labels else "")


@functools.cache
def _fixed_options_built(choices: tuple[tuple[str, str], ...], selected: str) -> Markup:
    return options(choices, selected)


class _RowPagination(SelectPagination):
    """db.paginate over a select of columns, its rows as they are (SelectPagination keeps only the first column).

    Only the columns the page shows, as plain rows: building ORM objects (and their organisations)
    cost more than the query itself, and so did the ORM's result machinery, which plain columns do
    not need: the select runs on the session's connection with the filters' values bound.
    """

    def _query_items(self) -> list:
        args = self._query_args
        return args["session"].connection().execute(
            args["select"], {**args["params"], "limit": self.per_page, "offset": self._query_offset}).all()


_STATUS_HTML = {status: _h(label) for status, label in REGISTRATION_STATUSES.items()}
_SECTOR_HTML = {sector: _h(label) for sector, label in SECTORS.items()}


class _ListRow:
    """A registration as the organiser's list shows it, its labels and links worked out once.

    The template then reads plain attributes: a SQLAlchemy Row's attribute lookups and a template
    call per label or link cost more than the rest of a row's rendering.
    """

    __slots__ = ("id", "full_name", "email", "job_title", "status", "status_label", "waiting_position", "access_needs",
                 "dietary_needs", "org_name", "sector_label", "org_pending", "edit_href", "move_href", "cancel_href",
                 "tick")

    def __init__(self, row, urls: SimpleNamespace) -> None:
        (self.id, self.full_name, self.email, self.job_title, self.status, self.waiting_position, self.access_needs,
         self.dietary_needs, self.org_name, org_sector, org_status) = row
        # The labels and links as HTML already (escaped once per list, not once per row).
        self.status_label = _STATUS_HTML.get(self.status) or _h(self.status)
        self.sector_label = _SECTOR_HTML.get(org_sector) or _h(org_sector)
        self.org_pending = org_status == "pending"
        self.edit_href = urls.edit(self.id)
        self.cancel_href = urls.cancel(self.id)
        # The one move a row offers: to the waiting list when confirmed, confirmed when waiting,
        # back again when cancelled.
        self.move_href = (urls.to_waiting(self.id) if self.status == "confirmed"
                          else urls.confirm(self.id) if self.status == "waiting" else urls.reinstate(self.id))
        self.tick = ""

    def html(self, csrf_field: str, over: bool, selecting: bool) -> str:
        """The row's table row. Built here, not in the template: a row of about fifteen template expressions
        cost a third of the list page, and the page shows 25 (the template has the page around them)."""
        name = _h(self.full_name)
        hidden_name = f'<span class="visually-hidden"> {name}</span>'
        needs = ""
        if self.access_needs:
            needs = f'<span class="pre-line">Access: {_h(self.access_needs)}</span><br>'
        if self.dietary_needs:
            needs += f'<span class="pre-line">Diet: {_h(self.dietary_needs)}</span>'
        actions = f'<a href="{self.edit_href}">Edit{hidden_name}</a>'
        if not over:
            move = ("Move to waiting list" if self.status == "confirmed" else "Confirm" if self.status == "waiting"
                    else "Reinstate")
            actions += (f' <form method="post" action="{self.move_href}" class="inline">{csrf_field}'
                        f'<button type="submit" class="link-button">{move}{hidden_name}</button></form>')
            if self.status != "cancelled":
                actions += f' <a href="{self.cancel_href}">Cancel{hidden_name}</a>'
        # A count (the place in the queue): digits only.
        position = f" (no. {int(self.waiting_position)})" if self.status == "waiting" else ""
        return (f'<tr>{f"<td>{self.tick}</td>" if selecting else ""}'
                f'<td><bdi>{name}</bdi><br><span class="meta"><bdi>{_h(self.email)}</bdi><br>'
                f'<bdi>{_h(self.job_title)}</bdi></span></td>'
                f'<td><bdi>{_h(self.org_name)}</bdi><br><span class="meta">{self.sector_label}'
                f'{", pending" if self.org_pending else ""}</span></td>'
                f'<td>{self.status_label}{position}</td><td>{needs}</td>'
                f'<td class="row-actions">{actions}</td></tr>\n')

    def with_tick(self) -> None:
        """The row's tick box for cancelling several at once, as one string: four template expressions a
        row cost a fifth of the whole list page."""
        self.tick = Markup(f'<input type="checkbox" name="reg" value="{int(self.id)}" form="bulk-cancel" '
                           f'id="tick-{int(self.id)}"><label for="tick-{int(self.id)}" class="visually-hidden">'
                           f'Tick {_h(self.full_name)}</label>')


@bp.route("/organiser/assemblies/<slug>/registrations")
@organiser_required
def organiser_index(slug: str):
    row = db.session.connection().execute(_LIST_ASSEMBLY, {"slug": slug}).first()
    if row is None:
        abort(404)
    assembly = _ListAssembly(*row)
    q = _list_q(request.args)
    status, sector, org_id, needs, params, key = _list_filters(assembly.id, q)
    page_stmt, count_stmt = _list_statements(*key)
    page = _RowPagination(page=None, per_page=current_app.config.get("PAGE_SIZE", 25), max_per_page=None,
                          error_out=False, count=False, select=page_stmt, params=params, session=db.session())
    # The assembly row carries its counts per status (kept by triggers): no count over every registration.
    totals = {"confirmed": assembly.confirmed_count, "waiting": assembly.waiting_count,
              "cancelled": assembly.cancelled_count}
    if q or sector in SECTORS or org_id or needs:
        page.total = db.session.connection().execute(count_stmt, params).scalar()
    elif status in REGISTRATION_STATUSES:
        page.total = totals[status]
    else:
        page.total = totals["confirmed"] + totals["waiting"] + (totals["cancelled"] if status == "all" else 0)
    # Every action comes back to this page of this list (filters and page travel with it).
    back = _list_args()
    if not page.items and page.page > 1 and page.total:
        # The last row of the last page was just acted on (moved, cancelled): show the page before it.
        return redirect(url_for(".organiser_index", slug=assembly.slug, **{**back, "page": page.pages}))
    urls = SimpleNamespace(
        edit=_per_row_href(".organiser_edit", slug=assembly.slug, **back),
        cancel=_per_row_href(".organiser_cancel", slug=assembly.slug, **back),
        to_waiting=_per_row_href(".organiser_move", slug=assembly.slug, action="waiting", **back),
        confirm=_per_row_href(".organiser_move", slug=assembly.slug, action="confirm", **back),
        reinstate=_per_row_href(".organiser_reinstate", slug=assembly.slug, **back),
    )
    export_args = {k: v for k, v in back.items() if k != "page"}
    page.items = [_ListRow(row, urls) for row in page.items]
    # After the day the list offers no moves: the services refuse them (the day's record stays).
    over = services.has_taken_place(assembly)
    # Ticks for cancelling several at once, shown once asked for (a list of 25 without them is lighter to read
    # and to build).
    selecting = not over and request.args.get("select") == "1"
    if selecting:
        for r in page.items:
            if r.status != "cancelled":
                r.with_tick()
    csrf_field = f'<input name="csrf_token" type="hidden" value="{escape(generate_csrf())}">'
    rows = Markup("".join(r.html(csrf_field, over, selecting) for r in page.items))
    # Plain tuples for the key: a Row compares in Python, a tuple in C.
    org_options, pending = _organisation_filter(tuple(map(tuple, db.session.connection().execute(
        _USED_ORGANISATIONS, {"assembly_id": assembly.id}).all())), org_id)
    return render_template(
        "registration/organiser_index.html", assembly=assembly, page=page, q=q, status=status, sector=sector,
        org_id=org_id, sectors=SECTORS, totals=totals, org_options=org_options,
        status_options=_fixed_options(REGISTRATION_STATUSES, _STATUS_CHOICES, status),
        sector_options=_fixed_options(SECTORS, _SECTOR_CHOICES, sector),
        needs_options=_fixed_options(NEEDS, _NEEDS_CHOICES, needs),
        pending=pending, filtered=bool(q or status or sector or org_id or needs), needs=needs,
        export_url=url_for(".organiser_export", slug=assembly.slug, **export_args) if export_args else None,
        unconfirmed=services.unconfirmed_count(assembly.id) if assembly.confirm_email_first else None,
        list_args=back, over=over, selecting=selecting, rows=rows,
        select_url=(url_for if back else cached_url_for)(".organiser_index", slug=assembly.slug, **back, select="1"),
        can_tick=selecting and any(r.status != "cancelled" for r in page.items),
    )


def _list_q(args) -> str:
    # Control characters never match a stored value, and must not be echoed into the page.
    return without_control(args.get("q", "")).strip()[:200]


def _list_filters(assembly_id: int, q: str):
    """The list's filters read from the request: (status, sector, org_id, needs, bound values, statements' key)."""
    args = request.args
    status = args.get("status", "")
    sector = args.get("sector", "")
    org_id = args.get("organisation", type=int)
    needs = args.get("needs", "")
    needs = needs if needs in NEEDS else ""
    params = {"assembly_id": assembly_id}
    if q:
        params["like"] = f"%{_like_escaped(q.lower())}%"
    if status in REGISTRATION_STATUSES:
        params["status"] = status
    if sector in SECTORS:
        params["sector"] = sector
    if org_id:
        params["org_id"] = org_id
    key = (bool(q), status if status in ("all", "waiting") else "one" if status in REGISTRATION_STATUSES else "",
           sector in SECTORS, bool(org_id), needs)
    return status, sector, org_id, needs, params, key


@bp.route("/organiser/assemblies/<slug>/registrations/counts")
@organiser_required
def organiser_counts(slug: str):
    assembly = load_assembly(slug)
    return render_template("registration/counts.html", assembly=assembly,
                           by_sector=services.counts_by(assembly, "sector"),
                           by_org=services.counts_by(assembly, "organisation"))


@bp.route("/organiser/assemblies/<slug>/registrations/duplicates")
@organiser_required
def organiser_duplicates(slug: str):
    assembly = load_assembly(slug)
    return render_template("registration/duplicates.html", assembly=assembly,
                           groups=services.possible_duplicates(assembly))


def _org_pending(assembly: Assembly, pending_id: int) -> PendingRegistration:
    pending = db.session.get(PendingRegistration, pending_id)
    if pending is None or pending.assembly_id != assembly.id:
        abort(404)
    return pending


def _shown_pending(pending: PendingRegistration) -> bool:
    """Whether the form acted on is the one the page showed: SQLite gives a confirmed (deleted) form's
    id to the next one sent, which may be someone else's."""
    if request.form.get("email_key") == pending.email_key:
        return True
    flash("That form was confirmed or deleted meanwhile: nothing was changed. Here is the list as it is now.", "info")
    return False


@bp.route("/organiser/assemblies/<slug>/registrations/unconfirmed")
@organiser_required
def organiser_unconfirmed(slug: str):
    assembly = load_assembly(slug)
    page = db.paginate(services.pending_registrations(assembly), per_page=current_app.config.get("PAGE_SIZE", 25),
                       error_out=False)
    return render_template("registration/unconfirmed.html", assembly=assembly, page=page, form=ActionForm(),
                           valid_days=services.CONFIRM_DAYS)


@bp.route("/organiser/assemblies/<slug>/registrations/unconfirmed/<int:pending_id>/confirm", methods=["POST"])
@organiser_required
def organiser_confirm_pending(slug: str, pending_id: int):
    assembly = load_assembly(slug)
    pending = _org_pending(assembly, pending_id)
    name = pending.full_name
    if ActionForm().validate_on_submit() and _shown_pending(pending):
        try:
            # The organiser vouches for the address (say they phoned): a full assembly puts them on the waiting list.
            result = services.confirm_pending(pending, join_waiting_list=True)
        except DomainError as err:
            flash(err.message, "error")
        else:
            reg = result.registration
            flash(f"{isolate(name)}'s registration is confirmed: {reg.status_label.lower()}. They are emailed their personal link."
                  if result.outcome != "duplicate" else
                  f"{isolate(reg.email)} was registered already; that registration is unchanged and its personal link emailed.",
                  "success")
    return redirect(_unconfirmed_url(slug))


def _unconfirmed_url(slug: str) -> str:
    """The list of unconfirmed forms at the page the organiser acted from (a form's `page`, or the link's)."""
    page = request.values.get("page", type=int) or 1
    return url_for(".organiser_unconfirmed", slug=slug, **({"page": page} if page > 1 else {}))


@bp.route("/organiser/assemblies/<slug>/registrations/unconfirmed/<int:pending_id>/withdraw", methods=["GET", "POST"])
@organiser_required
def organiser_withdraw_pending(slug: str, pending_id: int):
    assembly = load_assembly(slug)
    pending = db.session.get(PendingRegistration, pending_id)
    if pending is not None and pending.assembly_id != assembly.id:
        abort(404)
    if pending is None or request.values.get("email_key") != pending.email_key:
        # Confirmed or deleted meanwhile (a second click on "Yes, delete" too), or its id now another's form.
        flash("That form was confirmed or deleted meanwhile: nothing was changed. Here is the list as it is now.", "info")
        return redirect(_unconfirmed_url(slug))
    if request.method == "GET":
        # Deleting cannot be undone and the person must then fill in the whole form again: asked first.
        return render_template(
            "confirm_delete.html", title=f"Delete the form {pending.full_name} sent?",
            warning=f"Its confirmation link, emailed to {pending.email}, stops working, and they hold no place: "
                    "to take part they must register again.",
            cancel_url=_unconfirmed_url(slug), hidden={"email_key": pending.email_key,
                                                       "page": request.args.get("page", "")})
    if ActionForm().validate_on_submit():
        name = pending.full_name
        services.withdraw_pending(pending)
        flash(f"The unconfirmed registration of {isolate(name)} is deleted; its confirmation link no longer works.", "success")
    return redirect(_unconfirmed_url(slug))


DAY_SHEET_PARTS = {"reception": "Reception list", "registers": "Workshop registers", "catering": "Catering and access",
                   "badges": "Name badges"}
# Above this many confirmed delegates the day sheets open on their contents, each part opened on its own: at a
# national event (10,000 delegates) every part at once is 9.6 MB of HTML and well over a thousand pages, not what
# a click on "Day sheets" should fetch. A county assembly (100-300) keeps every part on one page.
ALL_PARTS_MAX = 1000


@bp.route("/organiser/assemblies/<slug>/day-sheets")
@organiser_required
def organiser_day_sheets(slug: str):
    assembly = load_assembly(slug)
    part = request.args.get("part", "")
    if part not in DAY_SHEET_PARTS:
        part = ""
    desk_form = DeskForm(request.args)
    desk_form.validate()
    if not part and desk_form.desk.data and not (desk_form.desk.errors or desk_form.desks.errors):
        part = "reception"  # one desk's pages: its reception list, not every workshop's register after it
    common = {"assembly": assembly, "part": part, "parts": DAY_SHEET_PARTS, "desk_form": desk_form}
    if not part:
        sizes = services.day_sheet_sizes(assembly)
        if sizes.people > ALL_PARTS_MAX:
            return render_template("registration/day_sheets.html", sizes=sizes, all_at_once=False,
                                   desk_count=desk_form.chosen(sizes.people)[0], **common)
    sheets = services.day_sheets(assembly)
    desks, desk = desk_form.chosen(len(sheets.people))
    return render_template("registration/day_sheets.html", sheets=sheets, all_at_once=len(sheets.people) <= ALL_PARTS_MAX,
                           desk_count=desks, desk=desk, desks=services.split_into_desks(sheets.people, desks),
                           **common)


class _AlreadyRegistered(DomainError):
    """The organiser's add form found the address registered: a refusal only to add_once (see organiser_new)."""

    def __init__(self, result):
        super().__init__("")
        self.result = result


@bp.route("/organiser/assemblies/<slug>/registrations/new", methods=["GET", "POST"])
@organiser_required
def organiser_new(slug: str):
    assembly = load_assembly(slug)
    topics = services.offered_topics(assembly)
    form = with_choices(OrganiserAddForm, topics, services.required_choices(assembly, topics))
    if request.method == "GET":
        form.once.data = issue()
    if form.validate_on_submit():
        def add(once: str | None) -> services.RegistrationResult:
            result = services.register(assembly, _data(form), source="organiser", check_window=False, topics=topics,
                                       by=current_user.id, once=once)
            if once is not None and result.outcome == "duplicate":
                # PostgreSQL: the other click may have added them while this one waited for the places'
                # lock; add_once looks the token up again after a refusal, and answers as for that click.
                raise _AlreadyRegistered(result)
            return result

        try:
            result, first = add_once(form.once, "registration", add)
        except _AlreadyRegistered as already:
            result, first = already.result, True
        except DomainError as err:
            _choices_field(err, form)
            result = None
        if result is not None and not first:
            reg = db.get_or_404(Registration, result)
            flash(f"{isolate(reg.full_name)} added ({reg.status_label.lower()}){SECOND_CLICK}. "
                  "We emailed them their personal link.", "success")
            return redirect(url_for(".organiser_index", slug=slug))
        if result is not None:
            if result.outcome == "duplicate":
                # The list would leave the organiser searching for them: the registration itself, to compare.
                flash(f"{isolate(result.registration.full_name)} is already registered for this assembly with that email "
                      "address: here is the registration. Nothing was emailed to them; to send them their personal "
                      "link again, choose \"Email their personal link again\".", "info")
                return redirect(url_for(".organiser_edit", slug=slug, reg_id=result.registration.id))
            flash(f"{isolate(result.registration.full_name)} added ({result.registration.status_label.lower()}). "
                  "We emailed them their personal link.", "success")
            return redirect(url_for(".organiser_index", slug=slug))
    return _organiser_form_page(form, None, assembly, topics, published=False)


@bp.route("/organiser/assemblies/<slug>/registrations/<int:reg_id>/edit", methods=["GET", "POST"])
@organiser_required
def organiser_edit(slug: str, reg_id: int):
    assembly = load_assembly(slug)
    reg = _org_reg(assembly, reg_id)
    topics = services.offered_topics(assembly)
    published = services.allocation_published(assembly)
    form = with_choices(EditDetailsForm, [] if published else topics, services.required_choices(assembly, topics), obj=reg)
    if request.method == "GET":
        _fill(form, reg)
        form.seen.data = services.registration_version(reg)
    if form.validate_on_submit():
        data = _edited(form)
        if published:
            data.pop("topic_ids")
        version = reg.token_version
        try:
            promoted = services.update_registration(reg, data, by_organiser=True, by=current_user.id)
        except DomainError as err:
            _refused_edit(err, form, reg)
        else:
            moved = " A new personal link was emailed to the new address; earlier links no longer work." \
                if reg.token_version != version else ""
            flash(f"{isolate(reg.full_name)}'s registration is saved.{moved}{_promoted_note(promoted)}", "success")
            return _back_to_list(slug)
    return _organiser_form_page(form, reg, assembly, topics, published=published)


@bp.post("/organiser/assemblies/<slug>/registrations/<int:reg_id>/send-link")
@organiser_required
def organiser_send_link(slug: str, reg_id: int):
    assembly = load_assembly(slug)
    reg = _org_reg(assembly, reg_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        queued = services.send_link_again(reg)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(f"{isolate(reg.full_name)}'s personal link is emailed to them again." if queued else
              f"{isolate(reg.full_name)}'s personal link was emailed to them in the last "
              f"{services.FRESH_LINK_MINUTES} minutes already, so it is not sent twice. To send that email again, "
              "open it under Emails and choose \"Send this message again\".", "success" if queued else "info")
    return redirect(url_for(".organiser_edit", slug=slug, reg_id=reg.id))


def _organiser_form_page(form, reg, assembly, topics, *, published: bool):
    from ..mail.services import latest_about
    from ..mail.views import KIND_LABELS, status_label

    # "Did she get her invitation?": the answer beside the registration, whichever address it went to.
    emails, email_total = latest_about(reg.id) if reg else ([], 0)
    return render_template("registration/edit.html", form=form, reg=reg, assembly=assembly, topics=topics,
                           published=published, organisations=_approved_organisations(), organiser=True,
                           cancel_url=url_for(".organiser_index", slug=assembly.slug, **_list_args()), emails=emails,
                           email_total=email_total, kind_labels=KIND_LABELS,
                           email_status=status_label), _status(form)


@bp.route("/organiser/assemblies/<slug>/registrations/<int:reg_id>/cancel", methods=["GET", "POST"])
@organiser_required
def organiser_cancel(slug: str, reg_id: int):
    assembly = load_assembly(slug)
    reg = _org_reg(assembly, reg_id)
    form = ActionForm()
    # From the possible duplicates, back there: the organiser works through its groups one by one.
    from_duplicates = request.args.get("from") == "duplicates"
    back = (url_for(".organiser_duplicates", slug=slug) if from_duplicates
            else url_for(".organiser_index", slug=slug, **_list_args()))
    if form.validate_on_submit():
        try:
            promoted = services.cancel_registration(reg, by=current_user.id)
        except DomainError as err:
            flash(err.message, "error")
            return redirect(url_for(".organiser_duplicates", slug=slug) if from_duplicates
                            else url_for(".organiser_index", slug=slug))
        message = (f"{isolate(reg.full_name)}'s registration is cancelled.{_promoted_note(promoted)}"
                   " To undo it, choose Reinstate on their row under the status Cancelled.")
        flash(message, "success")
        return redirect(back)
    return render_template("registration/cancel.html", reg=reg, form=form, heading=f"Cancel {reg.full_name}'s registration?",
                           cancel_url=back, has_workshops=_has_workshops(reg))


def _promoted_note(promoted: list[Registration]) -> str:
    return f" Promoted from the waiting list: {', '.join(isolate(r.full_name) for r in promoted)}." if promoted else ""


def _selected_ids() -> list[int]:
    """The registration ids ticked on the list (``reg``), as numbers, at most BULK_CANCEL_MAX."""
    values = request.values.getlist("reg")[:services.BULK_CANCEL_MAX]
    return [int(v) for v in values if is_number(v, 11)]


def _matching_ids(assembly_id: int) -> list[int]:
    """The ids of the registrations not cancelled that the list's filters (this request's) pick, in the list's
    order: at most one more than BULK_CANCEL_MAX, to tell that there are too many."""
    status, _sector, _org, _needs, params, key = _list_filters(assembly_id, _list_q(request.args))
    page_stmt, _count = _list_statements(*key)
    rows = db.session.connection().execute(
        page_stmt, {**params, "limit": services.BULK_CANCEL_MAX + 1 if status != "all" else 1_000_000, "offset": 0})
    live = (row.id for row in rows if row.status != "cancelled")
    return list(itertools.islice(live, services.BULK_CANCEL_MAX + 1))


@bp.route("/organiser/assemblies/<slug>/registrations/cancel-selected", methods=["GET", "POST"])
@organiser_required
def organiser_bulk_cancel(slug: str):
    assembly = load_assembly(slug)
    back = url_for(".organiser_index", slug=slug, **_list_args())
    if request.method == "GET" and request.args.get("all") == "1":
        # Every registration the list's filters pick, not only this page's: an organisation withdrawing.
        ids = _matching_ids(assembly.id)
        if len(ids) > services.BULK_CANCEL_MAX:
            flash(f"More than {services.BULK_CANCEL_MAX:,} registrations match these filters: cancel at most "
                  f"{services.BULK_CANCEL_MAX:,} at once. Narrow the filters (an organisation, a sector) and try "
                  "again.", "error")
            return redirect(back)
    else:
        ids = _selected_ids()
    if not ids:
        flash("Tick the registrations to cancel first.", "info")
        return redirect(back)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            cancelled, promoted = services.cancel_registrations(assembly, ids, by=current_user.id)
        except DomainError as err:
            flash(err.message, "error")
            return redirect(back)
        message = (f"{counted(len(cancelled), 'registration')} cancelled; each delegate is emailed."
                   f"{_promoted_note(promoted)} To undo one, choose Reinstate on its row under the status Cancelled.")
        flash(message, "success")
        return _back_to_list(slug)
    regs = db.session.scalars(select(Registration).where(Registration.id.in_(ids), Registration.assembly_id == assembly.id)
                              .options(selectinload(Registration.organisation))
                              .order_by(Registration.full_name, Registration.id)).all()
    live = [r for r in regs if r.status != "cancelled"]
    return render_template("registration/bulk_cancel.html", assembly=assembly, regs=live,
                           already=[r for r in regs if r.status == "cancelled"], form=form, back=back,
                           list_args=_list_args(), took_place=services.has_taken_place(assembly))


@bp.post("/organiser/assemblies/<slug>/registrations/<int:reg_id>/<any(waiting, confirm):action>")
@organiser_required
def organiser_move(slug: str, reg_id: int, action: str):
    assembly = load_assembly(slug)
    reg = _org_reg(assembly, reg_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if action == "waiting":
            freed = services.move_to_waiting_list(reg, by=current_user.id)
            places = (f" Their {'place' if freed == 1 else f'{freed:,} places'} in workshops "
                      f"{'is' if freed == 1 else 'are'} free again." if freed else "")
            flash(f"{isolate(reg.full_name)} is now on the waiting list.{places}", "success")
        else:
            services.confirm_from_waiting_list(reg, by=current_user.id)
            flash(f"{isolate(reg.full_name)} is now confirmed.", "success")
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
    return _back_to_list(slug)


@bp.post("/organiser/assemblies/<slug>/registrations/<int:reg_id>/reinstate")
@organiser_required
def organiser_reinstate(slug: str, reg_id: int):
    assembly = load_assembly(slug)
    reg = _org_reg(assembly, reg_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        result = services.reinstate_registration(reg, by=current_user.id)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
    else:
        where = ("confirmed" if result.outcome == "confirmed"
                 else f"on the waiting list (no. {result.waiting_position}): no place is free")
        flash(f"{isolate(reg.full_name)}'s registration is back, {where}. We emailed them a new personal link.", "success")
    return _back_to_list(slug)


@bp.post("/organiser/assemblies/<slug>/registrations/promote")
@organiser_required
def organiser_promote(slug: str):
    assembly = load_assembly(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        promoted = services.promote_waiting(assembly, by=current_user.id)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for(".organiser_index", slug=slug))
    flash(f"{counted(len(promoted), 'person', 'people')} promoted from the waiting list." if promoted else
          "Nobody could be promoted: no place is free, or the organisations of those waiting are at their limit.",
          "success" if promoted else "info")
    return redirect(url_for(".organiser_index", slug=slug))


EXPORT_HEADER = ["Full name", "Email", "Job title", "Organisation", "Sector", "Status", "Waiting position",
                 "Access needs", "Dietary needs", "Choices (in rank order)", "Registered at (UTC)", "Source",
                 "Arrived at (UTC)"]


@bp.route("/organiser/assemblies/<slug>/registrations.csv")
@organiser_required
def organiser_export(slug: str):
    # Reads without the write lock; logging the download takes it at the end (audit.record_export).
    read_first()
    assembly = load_assembly(slug)
    # A constant number of statements whatever the size (10,000 delegates at a national event): the rows with
    # their organisation, then every choice of the assembly's delegates in one more.
    stmt = (select(Registration.id, Registration.full_name, Registration.email, Registration.job_title,
                   Organisation.name, Organisation.sector, Registration.status, Registration.waiting_position,
                   Registration.access_needs, Registration.dietary_needs, Registration.created_at, Registration.source)
            .join(Organisation, Organisation.id == Registration.organisation_id)
            .where(Registration.assembly_id == assembly.id))
    params: dict = {}
    filters = {k: v for k, v in _list_args().items() if k != "page"}
    # With the list's filters (its "Download these as CSV" link), the rows the list shows; without any, everyone.
    if filters:
        q = _list_q(request.args)
        *_, params, key = _list_filters(assembly.id, q)
        stmt = _filtered(stmt, *key)
    regs = db.session.execute(
        # Registration.id last: delegates who share a name came in any order on PostgreSQL.
        stmt.order_by(Registration.status, Registration.waiting_position, func.lower(Registration.full_name),
                      Registration.id),
        params).all()
    choices: dict[int, list[str]] = {}
    for reg_id, topic in db.session.execute(
            select(Preference.registration_id, Topic.name).join(Topic, Topic.id == Preference.topic_id)
            .join(Registration, Registration.id == Preference.registration_id)
            .where(Registration.assembly_id == assembly.id).order_by(Preference.registration_id, Preference.rank)):
        choices.setdefault(reg_id, []).append(topic)
    from ..checkin.models import Arrival

    arrived = dict(db.session.execute(select(Arrival.registration_id, Arrival.arrived_at)
                                      .where(Arrival.assembly_id == assembly.id)).all())
    # Numbered as the list and the delegate's page number them (1 = next), whatever gaps the positions have,
    # among everyone waiting (a filtered download leaves some of them out).
    queue = db.session.scalars(select(Registration.waiting_position).where(
        Registration.assembly_id == assembly.id, Registration.waiting_position.is_not(None))
        .order_by(Registration.waiting_position)).all()
    rows = ([r.full_name, r.email, r.job_title, r.name, SECTORS.get(r.sector, r.sector),
             REGISTRATION_STATUSES.get(r.status, r.status),
             bisect_right(queue, r.waiting_position) if r.waiting_position is not None else "",
             r.access_needs, r.dietary_needs, "; ".join(choices.get(r.id, ())),
             r.created_at.strftime("%Y-%m-%d %H:%M"), r.source,
             arrived[r.id].strftime("%Y-%m-%d %H:%M") if r.id in arrived else ""] for r in regs)
    body = to_csv(EXPORT_HEADER, rows)
    # The search text may be a delegate's name, which the log must not keep past the privacy purge.
    record_export(current_user.id, assembly, len(regs),
                  ", ".join("a search" if k == "q" else f"{k}={v}" for k, v in filters.items()))
    return csv_response(body, download_name("registrations", assembly.slug, *_export_words(filters),
                                            on=local_today(assembly.timezone)))


def _export_words(filters: dict[str, str]) -> list[str]:
    """What the file name says of the list's filters: the status, sector and needs picked, that it is one
    organisation's, and that it is a search (not what was searched for: it may be a delegate's name)."""
    status = filters.get("status", "")
    return [status if status in REGISTRATION_STATUSES or status == "all" else "",
            filters.get("sector", "") if filters.get("sector") in SECTORS else "",
            "organisation" if is_number(filters.get("organisation") or "") else "",
            f"{filters['needs']}-needs" if filters.get("needs") in NEEDS else "",
            "search" if _list_q(filters) else ""]


@bp.route("/organiser/assemblies/<slug>/registrations/import", methods=["GET", "POST"])
@organiser_required
def organiser_import(slug: str):
    assembly = load_assembly(slug)
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not getattr(upload, "filename", ""):
            form.file.errors = list(form.file.errors) + ["Choose a CSV file to upload."]
        else:
            try:
                rows = parse_csv(upload.read())
                report = services.import_registrations(assembly, rows, apply=bool(form.apply.data),
                                                       by=current_user.id)
            except DomainError as err:
                db.session.rollback()
                apply_domain_error(form, err)
    return render_template("registration/import.html", form=form, assembly=assembly, report=report), _status(form)
