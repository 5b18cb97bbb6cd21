"""Reception's check-in page: search, tap Arrived, undo a mistake; works without JavaScript."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, user_logged_out

from ..accounts.access import checkin_required
from ..assemblies.models import Assembly
from ..assemblies.views import load_assembly
from ..domain import DomainError, NotFound
from ..text import is_number, isolate, without_control
from . import services

bp = Blueprint("checkin", __name__)

# Session key: the delegate just checked in (name and Undo), shown once on the page tapped from.
CHECKED_IN = "checked_in"
# The page's own query values, carried back to it after each tap.
ARGS = ("q", "show", "page")


def _args() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    args = {k: source.get(k, "") for k in ARGS}
    args["q"] = without_control(args["q"]).strip()[:200]
    args["show"] = args["show"] if args["show"] in services.SHOW else ""
    args["page"] = args["page"] if is_number(args["page"], 6) else ""
    return {k: v for k, v in args.items() if v}


@user_logged_out.connect
def _forget_the_last_arrival(sender, **extra):
    # The delegate just checked in, with its Undo, is not for the next person to sign in here.
    session.pop(CHECKED_IN, None)


def _desk_assembly(slug: str) -> Assembly:
    """The assembly whose check-in is asked for, or a page saying why reception may not open it (403)."""
    assembly = load_assembly(slug)
    why = None if current_user.is_organiser else services.refused_to_reception(assembly)
    if why is not None:
        abort(make_response(render_template("checkin/refused.html", assembly=assembly, why=why), 403))
    return assembly


@bp.route("/check-in")
@checkin_required
def home():
    """Where reception lands: the assemblies to check people in at, today's first to the eye."""
    return render_template("checkin/home.html", days=services.days_to_check_in())


@bp.route("/organiser/assemblies/<slug>/check-in")
@checkin_required
def index(slug: str):
    assembly = _desk_assembly(slug)
    args = _args()
    result = services.expected_page(assembly, q=args.get("q", ""), show=args.get("show", ""),
                                    page=int(args.get("page", 1)))
    if not result.items and result.page > 1 and result.total:
        # The last one on the last page was just checked in: show the page before it.
        return redirect(url_for(".index", slug=slug, **{**args, "page": result.pages}))
    is_open, why = services.check_in_open(assembly)
    just = session.pop(CHECKED_IN, None)
    if just:
        just["at"] = datetime.fromisoformat(just["at"])
    not_confirmed = services.not_confirmed_matches(assembly, args.get("q", "")) if not result.items else []
    # With confirmed matches listed, those not confirmed are only counted, so the desk knows they exist.
    also = services.not_confirmed_counts(assembly, args.get("q", "")) if result.items else {}
    return render_template("checkin/index.html", assembly=assembly, page=result, args=args, is_open=is_open, why=why,
                           shows=services.SHOW, arrived=services.arrived_count(assembly), just=just,
                           not_confirmed=not_confirmed, also_not_confirmed=also)


@bp.route("/organiser/assemblies/<slug>/check-in/<int:reg_id>/arrived", methods=["POST"])
@checkin_required
def arrived(slug: str, reg_id: int):
    assembly = _desk_assembly(slug)
    try:
        marked = services.mark_arrived(assembly, reg_id, by_user_id=current_user.id)
    except NotFound:
        abort(404)
    except DomainError as err:
        flash(err.message, "error")
    else:
        # Shown once on the page it goes back to, with its Undo (a flash message cannot hold a button).
        session[CHECKED_IN] = {"id": marked.registration.id, "name": marked.registration.full_name,
                                 "at": marked.arrived_at.isoformat(), "already": marked.already}
        # An empty search box for the next person in the queue (the list shown stays the same).
        show = _args().get("show")
        return redirect(url_for(".index", slug=slug, **({"show": show} if show else {})))
    return redirect(url_for(".index", slug=slug, **_args()))


@bp.route("/organiser/assemblies/<slug>/check-in/<int:reg_id>/undo", methods=["POST"])
@checkin_required
def undo(slug: str, reg_id: int):
    assembly = _desk_assembly(slug)
    try:
        reg = services.undo_arrival(assembly, reg_id)
    except NotFound:
        abort(404)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(f"{isolate(reg.full_name)} is no longer marked as arrived.", "success")
    return redirect(url_for(".index", slug=slug, **_args()))


@bp.route("/organiser/assemblies/<slug>/check-in/scan/<token>")
@checkin_required
def scan(slug: str, token: str):
    """What a delegate's check-in code opens on reception's phone: them, with one button."""
    assembly = _desk_assembly(slug)
    try:
        reg = services.registration_for_scan(assembly, token)
    except NotFound:
        abort(404)
    is_open, why = services.check_in_open(assembly)
    return render_template("checkin/scan.html", assembly=assembly, reg=reg, is_open=is_open, why=why,
                           at=services.arrived_at(reg.id))


@bp.route("/manage/<token>/certificate")
def certificate(token: str):
    from ..registration.services import TokenExpired, TokenInvalid, load_manage_token

    try:
        reg = load_manage_token(token)
    except (TokenExpired, TokenInvalid):
        abort(404)
    cert, why = services.certificate(reg)
    return render_template("checkin/certificate.html", reg=reg, token=token, cert=cert, why=why)
