"""Sign in, sign out, change password, and the organiser's user list."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..domain import DomainError, NotFound
from ..extensions import db, limiter, login_manager
from ..form_limits import refused_with, sent
from ..forms_util import apply_domain_error, just_added, remember_added
from ..text import isolate
from . import services
from . import two_step as second_step
from .access import organiser_required
from .forms import (ChangePasswordForm, ForgotPasswordForm, LoginForm, RecoveryCodesForm, ResetPasswordForm,
                    TwoStepCodeForm, TwoStepOffForm, TwoStepSetupForm, UserForm)
from .models import ROLE_LABELS, User

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_user(user_id: str):
    return services.load_user(user_id)


# How often a signed-in session's cookie is signed again while it is used.
SESSION_RENEW_SECONDS = 3600


@bp.before_app_request
def _keep_a_session_in_use():
    """Sign a staff session's cookie again once an hour while it is used: the cookie then lapses
    after PERMANENT_SESSION_LIFETIME (8 hours) without use, not 8 hours after signing in. A
    facilitator who signed in at 8:00 would otherwise be signed out at 16:00, in the middle of
    typing the day's last action."""
    if "_user_id" not in session:  # "in" does not mark the session read (no Vary: Cookie on public pages)
        return
    now = int(time.time())
    if now - session.get("_renewed", 0) >= SESSION_RENEW_SECONDS:
        session["_renewed"] = now


def _safe_next(target: str | None) -> str | None:
    # Only same-site relative paths, so a crafted link cannot bounce a user elsewhere.
    if not target:
        return None
    # Browsers read "/\\host" as "//host" and drop tabs and newlines inside URLs, so
    # such paths could still leave the site.
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user) -> str:
    """Where a signed-in user lands."""
    if user.is_organiser:
        return url_for("assemblies.organiser_index")
    return url_for("checkin.home") if user.is_reception else url_for("facilitators.home")


# Past a limit, each form comes back with what may be kept (never a password), saying when to try again.
_NOT_SIGNED_IN = ("You are not signed in yet: there have been many attempts to sign in from your network in a short "
                  "time. Your email address is kept here; type your password again.")
_NOT_SENT = ("No link has been sent yet: a lot of requests have come from your network in a short time. Your email "
             "address is kept here.")
_NOT_CHANGED = ("Your password has not been changed yet: there have been many attempts from your network in a short "
                "time. The new password is not kept here: type it again.")


def _limited(limit: str, reason: str, again: str):
    """``limit`` on the view's POST, past which its form comes back (form_limits.refused_with)."""

    def decorator(view):
        return limiter.limit(limit, methods=["POST"], on_breach=refused_with(view, reason, again))(view)

    return decorator


# One budget per network for signing in, spent by each password sent and each wrong code: a code page with only its
# own limit would let whoever holds a password (or is trying them) guess as many codes again.
SIGN_IN_LIMIT = "10 per minute; 50 per hour"


def _sign_in_budget(reason: str, again: str, deduct_when=None):
    """The network's sign-in budget on the view's POST (spent only when ``deduct_when`` says so, if given)."""

    def decorator(view):
        return limiter.shared_limit(SIGN_IN_LIMIT, scope="sign-in", methods=["POST"], deduct_when=deduct_when,
                                    on_breach=refused_with(view, reason, again))(view)

    return decorator


@bp.route("/login", methods=["GET", "POST"])
@_sign_in_budget(_NOT_SIGNED_IN, "sign in again")
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if sent(form):
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.form_errors.append("The email address or password is not correct.")
        else:
            # A session signed out on another device (not here) still holds what the last person left.
            _forget_the_person()
            if user.two_step_on:
                # The password was right, but nobody is signed in until the code is too.
                session[HALF_SIGNED_IN] = second_step.half_signed_in_marker(user, _safe_next(request.args.get("next")))
                return redirect(url_for(".two_step_login"))
            login_user(user)
            flash(f"Signed in as {isolate(user.display_name)}.", "success")
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("accounts/login.html", form=form), (200 if not form.errors and not form.form_errors else 400)


# --- two-step sign-in --------------------------------------------------------------------------

# Session keys: the half-signed-in marker (between a right password and its code), and the seed of the secret being
# set up.
HALF_SIGNED_IN = "two_step"
SETTING_UP = "two_step_setup"
# The seed of the secret just switched on, and when: the codes it gave are shown again to a second click on Switch on
# within CODES_SHOWN_SECONDS (nothing readable is kept: they are made again from the seed).
CODES_SHOWN = "two_step_codes_shown"
CODES_SHOWN_SECONDS = 300
_CODE_NOT_CHECKED = ("Your code has not been checked yet: there have been many attempts to sign in from your network "
                     "in a short time.")
# What a signed-in account that must set up two-step sign-in may still open.
_BEFORE_TWO_STEP = {"accounts.two_step", "accounts.logout", "static", "ops.healthz", "ops.readyz"}


@bp.before_app_request
def _two_step_first():
    """An account whose role must use two-step sign-in (FLASK_TWO_STEP_REQUIRED_FOR) sets it up before anything else."""
    # The setting first: it is usually empty, and this runs before every request.
    if not current_app.config["TWO_STEP_REQUIRED_FOR"] or "_user_id" not in session \
            or request.endpoint in _BEFORE_TWO_STEP:
        return None
    if not current_user.is_authenticated or current_user.two_step_on or not second_step.is_required_for(current_user):
        return None
    # No message: the set-up page itself says why it is shown, once, however many pages led back to it (a message
    # per redirect piled up, one more each time a link was tried).
    return redirect(url_for("accounts.two_step"))


def _code_refused(response) -> bool:
    return g.get("two_step_code_refused", False)


def _forget_the_person() -> None:
    # The next person to sign in on this browser must not be given the secret someone else was setting
    # up (it would make codes for the other person's app), nor their half-done sign-in.
    for key in (SETTING_UP, CODES_SHOWN, HALF_SIGNED_IN, "_renewed"):
        session.pop(key, None)


def _code_guesses_limited(view):
    """The code page's own limit on every code sent, and the network's sign-in budget spent by wrong ones."""
    # Both refuse with the undecorated view: a page shown through the other limit's wrapper would check the limits
    # again, and refuse again, without end (a 500).
    refused = refused_with(view, _CODE_NOT_CHECKED, "type a new code")
    budget = limiter.shared_limit(SIGN_IN_LIMIT, scope="sign-in", methods=["POST"], deduct_when=_code_refused,
                                  on_breach=refused)(view)
    return limiter.limit("10 per minute; 50 per hour", methods=["POST"], on_breach=refused)(budget)


@bp.route("/login/two-step", methods=["GET", "POST"])
@_code_guesses_limited
def two_step_login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    marker = session.get(HALF_SIGNED_IN)
    user = second_step.half_signed_in_user(marker)
    if user is None:
        session.pop(HALF_SIGNED_IN, None)
        flash("Sign in with your email address and password first (a code is asked for within 5 minutes of them).",
              "info")
        return redirect(url_for(".login"))
    form = TwoStepCodeForm()
    if sent(form):
        try:
            used = second_step.verify_sign_in(user, form.code.data)
        except DomainError as err:
            g.two_step_code_refused = True
            apply_domain_error(form, err)
        else:
            session.pop(HALF_SIGNED_IN, None)
            login_user(user)
            flash(f"Signed in as {isolate(user.display_name)}.", "success")
            if used == "recovery":
                flash(f"You used a recovery code: {user.recovery_codes_left} left. Each works once; you can get new "
                      "ones on the Two-step sign-in page.", "info")
            return redirect(marker.get("next") or home_for(user))
    return render_template("accounts/two_step_login.html", form=form), (200 if not form.errors else 400)


def _codes_page(codes: list[str]):
    # Shown once and never stored readable: not kept by the browser's cache either.
    response = make_response(render_template("accounts/two_step_codes.html", codes=codes))
    response.headers["Cache-Control"] = "no-store"
    return response


def _two_step_page(user, off_form=None, codes_form=None):
    # Two forms on one page: prefixes keep their fields' ids apart.
    return render_template("accounts/two_step.html", user=user, two_step_required=second_step.is_required_for(user),
                           off_form=off_form or TwoStepOffForm(prefix="off"),
                           codes_form=codes_form or RecoveryCodesForm(prefix="codes"))


def _switched_on_already(user):
    """"Switch on" clicked twice: the first click switched it on, and the codes it showed were never seen."""
    shown = session.get(CODES_SHOWN)
    codes = None
    if (isinstance(shown, list) and len(shown) == 2 and second_step.is_setup_seed(shown[0])
            and isinstance(shown[1], int) and 0 <= time.time() - shown[1] < CODES_SHOWN_SECONDS):
        codes = second_step.recovery_codes_again(user, shown[0])
    if codes:
        flash("Two-step sign-in is on: your first click switched it on. These are the recovery codes it gave you.",
              "success")
        return _codes_page(codes)
    flash("Two-step sign-in is on already. Its recovery codes were shown once, when it was switched on: if you did "
          "not keep them, get new ones below with a code from your app (the old ones then stop working).", "info")
    return redirect(url_for(".two_step", _anchor="new-codes"))


@bp.route("/account/two-step", methods=["GET", "POST"])
@login_required
def two_step():
    user = current_user._get_current_object()
    if user.two_step_on:
        if request.method == "POST":
            return _switched_on_already(user)
        return _two_step_page(user)
    # The secret is saved only once a code proves the app has it; until then the session keeps what it is derived
    # from (the same secret on each visit), never the secret itself.
    seed = session.get(SETTING_UP)
    if not second_step.is_setup_seed(seed):
        seed = session[SETTING_UP] = second_step.new_setup_seed()
    secret = second_step.setup_secret(user, seed)
    form = TwoStepSetupForm()
    if form.validate_on_submit():
        try:
            codes = second_step.enable(user, seed, form.code.data)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            session.pop(SETTING_UP, None)
            session[CODES_SHOWN] = [seed, int(time.time())]
            flash("Two-step sign-in is on: from now on you are asked for a code after your password.", "success")
            return _codes_page(codes)
    return render_template("accounts/two_step_setup.html", form=form, qr=second_step.qr_svg(user, secret),
                           secret=second_step.grouped(secret),
                           required=second_step.is_required_for(user)), (400 if form.errors or form.form_errors else 200)


@bp.post("/account/two-step/off")
@login_required
def two_step_off():
    user = current_user._get_current_object()
    off_form = TwoStepOffForm(prefix="off")
    if not user.two_step_on:
        return redirect(url_for(".two_step"))
    if second_step.is_required_for(user):
        flash("Two-step sign-in is required for your role, so it cannot be switched off.", "error")
        return redirect(url_for(".two_step"))
    if off_form.validate_on_submit():
        try:
            second_step.disable(user, off_form.password.data, off_form.code.data)
        except DomainError as err:
            apply_domain_error(off_form, err)
        else:
            flash("Two-step sign-in is off: your password alone signs you in.", "success")
            return redirect(url_for(".two_step"))
    return _two_step_page(user, off_form=off_form), 400


@bp.post("/account/two-step/recovery-codes")
@login_required
def two_step_codes():
    user = current_user._get_current_object()
    codes_form = RecoveryCodesForm(prefix="codes")
    if not user.two_step_on:
        return redirect(url_for(".two_step"))
    if codes_form.validate_on_submit():
        try:
            codes = second_step.regenerate_recovery_codes(user, codes_form.code.data)
        except DomainError as err:
            apply_domain_error(codes_form, err)
        else:
            flash("You have new recovery codes: the old ones no longer work.", "success")
            return _codes_page(codes)
    return _two_step_page(user, codes_form=codes_form), 400


@bp.post("/logout")
@login_required
def logout():
    services.sign_out(current_user._get_current_object())
    logout_user()  # each area forgets what it kept for the person in the session (user_logged_out)
    _forget_the_person()
    flash("You have signed out, on this device and any other.", "success")
    return redirect(url_for("assemblies.index"))


_PASSWORD_NOT_CHECKED = ("Your password has not been changed: there have been many wrong passwords from your "
                         "network, or for your account, in a short time. Nothing you typed is kept here.")


def _current_password_refused(response) -> bool:
    return g.get("current_password_refused", False)


def _this_account() -> str:
    return f"account:{current_user.id}"


def _password_guesses_limited(view):
    """A session left signed in must not become a way to guess its password: each wrong current password spends the
    network's sign-in budget (as a wrong password on the sign-in page does) and the account's own (a copied session
    cookie can be used from many networks). A right one spends nothing."""
    # Both refuse with the undecorated view: the page shown must not check the limits again.
    refused = refused_with(view, _PASSWORD_NOT_CHECKED, "type them again")
    budget = limiter.shared_limit(SIGN_IN_LIMIT, scope="sign-in", methods=["POST"],
                                  deduct_when=_current_password_refused, on_breach=refused)(view)
    return limiter.limit(SIGN_IN_LIMIT, key_func=_this_account, methods=["POST"],
                         deduct_when=_current_password_refused, on_breach=refused)(budget)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@_password_guesses_limited
def change_password():
    form = ChangePasswordForm()
    if sent(form):
        try:
            services.change_password(current_user, form.current_password.data, form.password.data)
        except DomainError as err:
            g.current_password_refused = err.field == "current_password"
            apply_domain_error(form, err)
        else:
            # The session version changed: sign this session in again to keep it. The real
            # object, not the proxy, or current_user would resolve to itself.
            login_user(current_user._get_current_object())
            flash("Your password has been changed. Other sessions have been signed out.", "success")
            return redirect(home_for(current_user))
    return render_template("accounts/change_password.html", form=form), (400 if form.errors or form.form_errors else 200)


@bp.route("/forgot-password", methods=["GET", "POST"])
@_limited("5 per minute; 20 per hour", _NOT_SENT, "ask again")
def forgot_password():
    form = ForgotPasswordForm()
    if sent(form):
        services.request_password_reset(form.email.data)
        # The same page whether or not the address has an account: nothing to enumerate.
        return render_template("accounts/forgot_password.html", form=form, sent_to=form.email.data.strip(),
                               valid_minutes=services.RESET_MAX_AGE // 60)
    return render_template("accounts/forgot_password.html", form=form), (400 if form.errors else 200)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@_limited("10 per minute", _NOT_CHANGED, "send it again")
def reset_password(token: str):
    user = services.load_reset_token(token)
    if user is None:
        flash("That password reset link has expired or was already used. Ask for a new one below.", "error")
        return render_template("accounts/forgot_password.html", form=ForgotPasswordForm()), 404
    form = ResetPasswordForm()
    if sent(form):
        try:
            services.reset_password(user, form.password.data)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            logout_user()
            flash("Your password has been changed. Sign in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), (400 if form.errors or form.form_errors else 200)


# The list's own query values: kept by Deactivate, Reactivate and the pages between, so the organiser comes back to them.
LIST_ARGS = ("q", "role", "state", "page")
PER_PAGE = 25


def _list_args() -> dict[str, str]:
    return {k: v for k, v in request.args.items() if k in LIST_ARGS and v}


def _back_to_users(user: User):
    """A redirect to the list of users with the filters the organiser acted from, at ``user``'s row on the page
    that shows it, or on the same page when the filters now leave it out (a deactivated account under "Can sign in").

    Only the list's own query values are carried, never an address: nothing here can lead off the site."""
    args = _list_args()
    page = services.list_page(user.id, PER_PAGE, args.get("q", ""), args.get("role", ""), args.get("state", ""))
    if page is None:
        flash(f"{isolate(user.display_name)} does not match the filters, so is not in the list below.", "info")
        return redirect(url_for(".users", **args))
    return redirect(url_for(".users", **{**args, "page": page if page > 1 else None}, _anchor=f"user-{user.id}"))


@bp.route("/organiser/users")
@organiser_required
def users():
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    state = request.args.get("state", "")
    stmt = services.filtered(q, role, state).order_by(*services.LIST_ORDER)
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    if not page.items and page.page > 1 and page.total:
        # Past the last page (its one account just deactivated under "Can sign in"): the page that is now last,
        # not "No users match" over a list that has them.
        return redirect(url_for(".users", **{**_list_args(), "page": page.pages if page.pages > 1 else None}))
    return render_template("accounts/users.html", page=page, q=q, role=role, roles=ROLE_LABELS, state=state,
                           states=services.USER_STATES, list_args=_list_args())


@bp.route("/organiser/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@organiser_required
def deactivate_user(user_id: int):
    try:
        user = services.get_user(user_id)
        # A typed address for one's own account is refused before "Yes, deactivate" is offered, not after.
        services.check_not_own_account(user, current_user.id)
        if request.method == "POST":
            services.deactivate_user(user_id, by_user_id=current_user.id)
            flash(f"{isolate(user.display_name)} can no longer sign in, and has been signed out everywhere.", "success")
            return _back_to_users(user)
    except NotFound:
        abort(404)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for(".users", **_list_args()))
    return render_template("accounts/deactivate.html", user=user, role_label=ROLE_LABELS.get(user.role, user.role),
                           list_args=_list_args())


@bp.post("/organiser/users/<int:user_id>/reactivate")
@organiser_required
def reactivate_user(user_id: int):
    try:
        user = services.reactivate_user(user_id, by_user_id=current_user.id)
    except NotFound:
        abort(404)
    flash(f"{isolate(user.display_name)} can sign in again.", "success")
    return _back_to_users(user)


@bp.route("/organiser/users/new", methods=["GET", "POST"])
@organiser_required
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.password.data, form.role.data, form.name.data,
                                           by_user_id=current_user.id)
        except DomainError as err:
            # "Add" clicked twice: the first click made it, and its answer is the one the organiser should see.
            made = db.session.get(User, just_added("user") or 0) if err.field == "email" else None
            if made is not None and made.email == services.normalise_email(form.email.data):
                flash(f"Account created for {isolate(made.display_name)} (by your first click; the second added nothing).",
                      "success")
                return _back_to_users(made)
            apply_domain_error(form, err)
        else:
            remember_added("user", user.id)
            flash(f"Account created for {isolate(user.display_name)}.", "success")
            return _back_to_users(user)
    return render_template("accounts/user_form.html", form=form, list_args=_list_args()), \
        (400 if form.errors or form.form_errors else 200)


@bp.route("/organiser/users/<int:user_id>/reset-two-step", methods=["GET", "POST"])
@organiser_required
def reset_two_step(user_id: int):
    try:
        user = services.get_user(user_id)
        if request.method == "POST":
            was_on = user.two_step_on
            second_step.reset(user_id, by_user_id=current_user.id)
            if was_on:
                flash(f"{isolate(user.display_name)}'s two-step sign-in is off and they have been signed out everywhere. "
                      "They sign in with their password and can set it up again.", "success")
            return _back_to_users(user)
    except NotFound:
        abort(404)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for(".users", **_list_args()))
    return render_template("accounts/reset_two_step.html", user=user, required=second_step.is_required_for(user),
                           role_label=ROLE_LABELS.get(user.role, user.role), list_args=_list_args())
