"""Attendance, session notes and actions for a workshop; the organiser's review and action list."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_login import current_user, user_logged_out
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import or_, select
from wtforms import ValidationError
from wtforms.fields.choices import SelectChoice

from ..accounts.access import organiser_required, staff_required
from ..assemblies.models import Assembly, Round, Topic, Workshop
from ..domain import DomainError
from ..errors import limited_send_again
from ..extensions import csrf, db, limiter
from ..forms_util import apply_domain_error
from ..organisations.models import Organisation
from . import services
from .forms import ActionFilterForm, ActionForm, ConfirmForm, NotesForm, WalkInForm, notes_data
from .models import ACTION_STATUSES, ATTENDANCE_STATUSES, SECTIONS, Action
from .rendering import render_markdown
from .services import ActionConflict, Conflict, TypedByOther
from ..templating import flash_at
from ..text import is_number, isolate
from ..timeutil import utc_to_local, utcnow

bp = Blueprint("notes", __name__)
bp.add_app_template_filter(render_markdown, "markdown")

PENDING_KEY = "notes_pending"
PAYLOAD_KEYS = ["version", "intent", "unanswered_saves"] + [k for key in SECTIONS for k in (key, f"{key}_internal")]


def load_workshop(workshop_id: int) -> Workshop:
    """The workshop if the signed-in person may see it: 404 if missing, 403 if not theirs."""
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None:
        abort(404)
    if not services.can_access(current_user, workshop):
        abort(403)
    return workshop


def _status(form) -> int:
    return 400 if form.errors or form.form_errors else 200


SAVE_KEY_RE = re.compile(r"[0-9a-f]{8,40}")


def _save_key() -> str | None:
    """The key static/notes.js gives each autosave."""
    key = request.form.get("save_key", "")
    return key if SAVE_KEY_RE.fullmatch(key) else None


def _unanswered(value: str | None = None) -> list[str]:
    """The keys of the page's autosaves that got no reply (static/notes.js keeps the last 20)."""
    keys = (request.form.get("unanswered_saves", "") if value is None else value)[:20 * 41].split(",")
    return [k for k in keys if SAVE_KEY_RE.fullmatch(k)]


@bp.app_template_global()
def typed_by_ticket() -> str:
    """For macros.typed_by_field: the signed ticket naming who the page is shown to."""
    return services.typed_by_ticket(current_user.id)


def typed_by_refusal(button: str = "Save") -> TypedByOther | None:
    """Why a posted staff form may not be saved as the person signed in now (it was shown to someone else)."""
    if request.method != "POST":
        return None
    try:
        services.check_typed_by(current_user.id, services.ticket_typist(request.form.get("typed_by")), button)
    except TypedByOther as refusal:
        return refusal
    return None


def _typed_for() -> int | None:
    """Who typed the form sent, when that is not the person signed in now (a shared tablet's previous person)."""
    if request.method != "POST":
        return None
    # typed_for: a form shown back (typed_by) and sent again keeps naming them.
    typist = services.ticket_typist(request.form.get("typed_for"))
    if typist is None:
        typist = services.ticket_typist(request.form.get("typed_by"))
    return typist if typist != current_user.id else None


@bp.app_template_global()
def typed_for_ticket() -> str:
    """For macros.typed_for_field: the ticket of who typed a form shown back to someone else, or ""."""
    typist = _typed_for()
    return services.typed_by_ticket(typist) if typist is not None else ""


def _name_saved_drafts(session_key: str, key_of) -> None:
    """For the page shown next (once): the drafts kept on this device by static/drafts.js that the save made
    stale. The person's own, and that of whoever typed the form before them on a shared tablet, which must
    not be put back to that person later."""
    keys = [key_of(current_user.id)]
    typist = _typed_for()
    if typist is not None:
        keys.append(key_of(typist))
    session[session_key] = keys


def _saved_drafts(session_key: str) -> list[str]:
    if request.method != "GET":
        return []
    saved = session.pop(session_key, None)
    # A single key: named by a page served before a save could name two.
    return [saved] if isinstance(saved, str) else [k for k in saved or [] if isinstance(k, str)]


def _csrf_ok() -> bool:
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return False
    return True


# --- attendance -------------------------------------------------------------------------


WALK_IN_CHOICES = 100


def _walk_in_form(workshop: Workshop, form: WalkInForm | None = None) -> WalkInForm:
    form = form or WalkInForm()
    q = request.args.get("q", "")[:100]
    people = services.walk_in_candidates(workshop, q, limit=WALK_IN_CHOICES + 1)
    form.registration_id.choices = [SelectChoice(0, "Choose a delegate")] + [
        SelectChoice(r.id, f"{r.full_name} ({r.organisation.name})") for r in people[:WALK_IN_CHOICES]]
    form.more_candidates = len(people) > WALK_IN_CHOICES
    form.q = q
    return form


def _attendance_page(workshop: Workshop, walk_in_form: WalkInForm, errors: list[str] | None = None, code: int = 200,
                     typed_by: TypedByOther | None = None, typed: dict[str, str] | None = None,
                     was: dict[str, str] | None = None, typed_at: str | None = None):
    # typed/was: marks sent from a page that may not be saved as is (typed_by): shown as sent, so nothing is lost.
    rows = services.register_rows(workshop)
    if typed:
        rows = [replace(r, status=None if typed[r.key] == "unmarked" else typed[r.key]) if r.key in typed else r
                for r in rows]
    counts = services.attendance_counts([workshop.id])[workshop.id]
    # Marks made but not saved yet (a walk-in added first, a reload) are kept by static/drafts.js;
    # the register always shows stored marks, so they may be put back on any rendering of it.
    return render_template("notes/attendance.html", workshop=workshop, rows=rows, counts=counts,
                           walk_in_form=walk_in_form, form=ConfirmForm(), statuses=ATTENDANCE_STATUSES,
                           errors=errors or [], register_draft_key=_register_draft_key(workshop, current_user.id),
                           saved_drafts=_saved_drafts(REGISTER_SAVED_KEY),
                           # Only the register's own marks were typed by that person: not a walk-in sent back.
                           register_typed_for=typed_for_ticket() if request.endpoint == "notes.attendance" else "", restore_draft=not typed, typed_by=typed_by, was=was or {},
                           typed_at=typed_at), code


REGISTER_SAVED_KEY = "notes_register_saved"


def _register_draft_key(workshop: Workshop, user_id: int) -> str:
    return f"eventapp-register-draft:{user_id}:{workshop.id}"


@bp.route("/facilitator/workshops/<int:workshop_id>/attendance", methods=["GET", "POST"])
@staff_required
def attendance(workshop_id: int):
    workshop = load_workshop(workshop_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        # Only what was changed on this page: a tablet that loaded the register earlier must not
        # put back marks another tablet has changed since.
        marks = {k[len("mark-"):]: v for k, v in request.form.items()
                 if k.startswith("mark-") and request.form.get("was-" + k[len("mark-"):]) != v}
        was = {k: request.form["was-" + k] for k in marks if "was-" + k in request.form}
        refusal = typed_by_refusal("Save attendance")
        if refusal is not None:
            typed = {k: v for k, v in marks.items() if v in ("present", "walk_in", "absent", "unmarked")}
            return _attendance_page(workshop, _walk_in_form(workshop), code=409, typed_by=refusal, typed=typed,
                                    was=was, typed_at="#register")
        try:
            saved = services.record_attendance(workshop, marks, current_user.id, was)
        except DomainError as err:
            return _attendance_page(workshop, _walk_in_form(workshop), [err.message], 400)
        changed = saved.changed
        _name_saved_drafts(REGISTER_SAVED_KEY, lambda user_id: _register_draft_key(workshop, user_id))
        flash_at("register", f"Attendance saved ({changed} change{'s' if changed != 1 else ''}).", "success")
        if saved.kept_theirs:
            flash_at("register", "Marked on another device while this page was open, so left as marked there: "
                     f"{', '.join(isolate(n) for n in saved.kept_theirs)}. Check their marks below and change them again if needed.",
                     "error")
        return redirect(url_for(".attendance", workshop_id=workshop.id, _anchor="register"))
    return _attendance_page(workshop, _walk_in_form(workshop))


@bp.post("/facilitator/workshops/<int:workshop_id>/attendance/walk-in")
@staff_required
def walk_in(workshop_id: int):
    workshop = load_workshop(workshop_id)
    form = _walk_in_form(workshop)
    refusal = typed_by_refusal("Add to the register")
    if refusal is not None:
        return _attendance_page(workshop, form, code=409, typed_by=refusal, typed_at="#walk-in")
    if form.validate_on_submit():
        try:
            attendance = services.add_walk_in(workshop, current_user.id, form.registration_id.data or None,
                                              form.name.data or "", form.organisation.data or "")
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash_at("register", f"{isolate(attendance.name)} added to the register as present.", "success")
            return redirect(url_for(".attendance", workshop_id=workshop.id, _anchor="register"))
    return _attendance_page(workshop, form, code=400)


# --- notes ------------------------------------------------------------------------------


def _pending_tokens() -> dict:
    return dict(session.get(PENDING_KEY) or {})


def _pending_for_me(tokens: dict, workshop_id: int) -> str | None:
    """The kept-notes token of this workshop if its author is the person signed in now.

    Stored as "<author id>:<token>": on a shared tablet the next colleague to sign in must not
    save (under their own name) what someone else wrote.
    """
    author, token = _author_and_token(tokens.get(str(workshop_id)))
    # A bare token was kept before authors were recorded (within its 14 days): its author is unknown.
    if not token or (author and author != str(current_user.id)):
        return None
    return token


def _author_and_token(value: str | None) -> tuple[str, str]:
    author, _, token = (value or "").rpartition(":")
    return author, token


@user_logged_out.connect
def _forget_kept_notes(sender, user=None, **extra):
    """Signing out takes kept notes whose author is unknown off this browser and the server: they would be
    offered to whoever signs in next. Notes kept under an author stay, for that author only (_pending_for_me):
    deleting them would lose what a facilitator typed after their sign-in lapsed, if they signed in again
    elsewhere first and then signed out here without reopening the notes."""
    tokens = _pending_tokens()
    gone = [w for w, value in tokens.items() if not _author_and_token(value)[0]]
    if not gone:
        return
    dropped = [_author_and_token(tokens.pop(w))[1] for w in gone]
    if tokens:
        session[PENDING_KEY] = tokens
    else:
        session.pop(PENDING_KEY, None)
    services.discard_pending_saves([t for t in dropped if t])


# After a Save of notes another person typed (shown back as typed_by, then confirmed), the page shown
# next names that person's copy kept on this device by static/notes.js, once, so the script forgets it.
NOTES_SAVED_KEY = "notes_typist_saved"


def _notes_draft_key(user_id: int, workshop_id: int) -> str:
    return f"eventapp-notes-draft:{user_id}:{workshop_id}"


def _edit_page(workshop: Workshop, form: NotesForm, code: int = 200, conflict: Conflict | None = None,
               clashes: list[str] | None = None, restore_draft: bool = False, typed_by: TypedByOther | None = None,
               typed_for: int | None = None):
    # restore_draft: the form holds the stored notes, so static/notes.js may put back text typed on this
    # device that never reached the server. Not on a page that holds what was just sent (a merge, an error).
    # typed_for: who typed the text shown back for someone else to confirm; a page sent back again (a merge,
    # an error) keeps naming them.
    notes = services.notes_for(workshop.id)
    typed_for_ticket = (services.typed_by_ticket(typed_for) if typed_for is not None
                        else request.form.get("typed_for", "")[:200] if request.method == "POST" else "")
    saved = session.pop(NOTES_SAVED_KEY, None) if request.method == "GET" else None
    return render_template("notes/edit.html", workshop=workshop, form=form, notes=notes, sections=SECTIONS,
                           conflict=conflict, clashes=clashes or [], restore_draft=restore_draft, typed_by=typed_by,
                           keep=services.keep_ticket(workshop.id, current_user.id), typed_for=typed_for_ticket,
                           saved_draft=saved if saved and saved.endswith(f":{workshop.id}") else None), code


def _form_from(values: dict) -> NotesForm:
    form = NotesForm(formdata=None)
    for key in SECTIONS:
        form[key].data = values.get(key) or ""
        form[f"{key}_internal"].data = bool(values.get(f"{key}_internal"))
    form.version.data = str(values.get("version") or "0")
    return form


def _conflict_page(workshop: Workshop, form: NotesForm, conflict: Conflict):
    # The person's own text stays in the form; parts they had not touched take the stored
    # text (else pressing Save would undo the other person's work); real clashes show both.
    form.version.data = str(conflict.version)
    mine = {k: {"body": form[k].data or "", "internal": bool(form[f"{k}_internal"].data)} for k in SECTIONS}
    merged, clashes = services.merge_sections(mine, conflict)
    for key in SECTIONS:
        form[key].data, form[f"{key}_internal"].data = merged[key]["body"], merged[key]["internal"]
    return _edit_page(workshop, form, 409, conflict, clashes)


def _base_version(raw) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


@bp.get("/facilitator/workshops/<int:workshop_id>/notes")
@staff_required
def edit(workshop_id: int):
    workshop = load_workshop(workshop_id)
    if _pending_for_me(_pending_tokens(), workshop.id):
        return redirect(url_for(".resume", workshop_id=workshop.id))
    notes = services.notes_for(workshop.id)
    values = {"version": notes.version} if notes else {}
    if notes:
        for s in notes.sections:
            values[s.key], values[f"{s.key}_internal"] = s.body, s.internal
    return _edit_page(workshop, _form_from(values), restore_draft=True)


def _too_many(_limit):
    # A signed-out facilitator's notes: offered back to send again rather than lost behind an error page.
    return limited_send_again()


@bp.post("/facilitator/workshops/<int:workshop_id>/notes")
@limiter.limit("30 per minute", exempt_when=lambda: current_user.is_authenticated, on_breach=_too_many)
@csrf.exempt
def save(workshop_id: int):
    # Not behind login_required: its redirect would drop the text. A lapsed sign-in
    # or an expired form token keeps the text server-side and asks to sign in.
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or (current_user.is_authenticated and not services.can_access(current_user, workshop)):
        # Deleted, or its facilitator taken off it, while they typed: nothing is kept server-side for a
        # workshop not theirs, but what they sent is shown back to copy rather than lost behind an error page.
        return _notes_not_saved(workshop)
    csrf_ok = _csrf_ok()
    shown_to = services.ticket_author(request.form.get("keep"), workshop.id)
    if current_user.is_authenticated:
        try:
            services.check_typed_by(current_user.id, shown_to)
        except TypedByOther as refusal:
            # Typed by someone else (a shared tablet): shown back, saved only when this person presses Save.
            return _edit_page(workshop, NotesForm(), 409, typed_by=refusal, typed_for=shown_to)
    author = current_user.id if current_user.is_authenticated else shown_to
    if author is None:
        # Not posted from this workshop's notes page as shown to a signed-in person: nothing to keep.
        flash("Please sign in to write notes.", "info")
        return redirect(url_for("accounts.login", next=url_for(".edit", workshop_id=workshop.id)))
    if not current_user.is_authenticated or not csrf_ok:
        payload = {k: request.form.get(k, "") for k in PAYLOAD_KEYS}
        token = services.stash_pending_save(workshop.id, payload, trusted=csrf_ok)
        tokens = _pending_tokens()
        tokens[str(workshop.id)] = f"{author}:{token}"
        session[PENDING_KEY] = tokens
        resume = url_for(".resume", workshop_id=workshop.id)
        if current_user.is_authenticated:
            return redirect(resume)
        flash("Your sign-in had ended, but your notes are kept safe. Sign in again and they will be saved.", "info")
        return redirect(url_for("accounts.login", next=resume))
    form = NotesForm()
    form.validate()
    submit = request.form.get("intent") == "submit"
    try:
        notes, changed = services.save_notes(workshop, notes_data(form), _base_version(form.version.data),
                                             current_user.id, submit=submit, unanswered=_unanswered())
    except Conflict as conflict:
        return _conflict_page(workshop, form, conflict)
    except DomainError as err:
        apply_domain_error(form, err)
        return _edit_page(workshop, form, 400)
    typist = services.ticket_typist(request.form.get("typed_for"))
    if typist is not None and typist != current_user.id:
        # Saved now, so the copy the typist's page kept on this device must not be put back to them later.
        session[NOTES_SAVED_KEY] = _notes_draft_key(typist, workshop.id)
    if submit and notes.approved_at is None:
        flash("Notes saved and submitted to the organisers for review.", "success")
    else:
        flash("Notes saved." if changed else "No changes to save.", "success")
    _say_if_approved_before(notes, changed)
    return redirect(url_for(".edit", workshop_id=workshop.id))


def _say_if_approved_before(notes, changed: bool) -> None:
    if changed and notes.approved_at is not None:
        # Saved, not refused: but the facilitator should know the public page does not show it yet.
        flash("The organisers had already approved these notes for publication: the parts you changed are not on "
              "the public page until they approve them again (the notes are back in their list to review).", "info")


def _notes_refusal(workshop: Workshop | None, what: str = "notes") -> str:
    if workshop is None:
        return f"This workshop has been deleted, so its {what} can no longer be saved."
    return (f"You are no longer named as a facilitator of {workshop.title}, so you cannot save its {what}. "
            "If that is a mistake, ask the organisers to add you again.")


def _notes_not_saved(workshop: Workshop | None):
    """The notes a facilitator sent for a workshop they can no longer write to, shown back to copy."""
    typed = [(label + (" (internal only)" if request.form.get(f"{key}_internal") else ""),
              request.form.get(key, "")) for key, label in SECTIONS.items()]
    return render_template("notes/not_saved.html", heading="Your notes have not been saved",
                           reason=_notes_refusal(workshop), typed=typed,
                           next_url=url_for("facilitators.home") if current_user.is_authenticated else None,
                           next_label="Your workshops"), 404 if workshop is None else 403


@bp.get("/facilitator/workshops/<int:workshop_id>/notes/resume")
@staff_required
def resume(workshop_id: int):
    # A GET that writes, on purpose: it is where sign-in sends the person back. It only
    # completes a save this browser's session posted with a valid form token.
    tokens = _pending_tokens()
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is not None and not services.can_access(current_user, workshop):
        # Taken off the workshop while signed out: their own kept text is shown back to copy.
        mine = _pending_for_me(tokens, workshop.id)
        pending = services.peek_pending_save(mine) if mine else None
        if pending is None or pending.workshop_id != workshop.id:
            abort(403)
        typed = [(label + (" (internal only)" if pending.payload.get(f"{key}_internal") else ""),
                  pending.payload.get(key) or "") for key, label in SECTIONS.items()]
        # Kept (until it expires or they sign out): opening this page again shows it again.
        return render_template("notes/not_saved.html", heading="Your notes have not been saved",
                               reason=_notes_refusal(workshop), typed=typed, next_url=url_for("facilitators.home"),
                               next_label="Your workshops"), 403
    workshop = load_workshop(workshop_id)
    mine = _pending_for_me(tokens, workshop.id)
    if mine is None:
        # Someone else's kept text stays for them (and expires with its keeping).
        flash("There were no kept notes to save.", "info")
        return redirect(url_for(".edit", workshop_id=workshop.id))
    del tokens[str(workshop.id)]
    pending = services.peek_pending_save(mine)
    session[PENDING_KEY] = tokens
    if pending is None or pending.workshop_id != workshop.id:
        flash("There were no kept notes to save.", "info")
        return redirect(url_for(".edit", workshop_id=workshop.id))
    payload, trusted = pending.payload, pending.trusted
    services.discard_pending_save(pending)
    form = _form_from(payload)
    if not trusted:
        # The form token had expired, so we cannot be sure this browser sent it: ask.
        flash("We kept the text you sent when your session ended. Check it and press Save to store it.", "info")
        return _edit_page(workshop, form)
    try:
        notes, changed = services.save_notes(workshop, notes_data(form), _base_version(payload.get("version")),
                                             current_user.id, submit=payload.get("intent") == "submit",
                                             unanswered=_unanswered(payload.get("unanswered_saves") or ""))
    except Conflict as conflict:
        return _conflict_page(workshop, form, conflict)
    except DomainError as err:
        apply_domain_error(form, err)
        return _edit_page(workshop, form, 400)
    flash("You had been signed out, but your notes were kept: they are now saved.", "success")
    _say_if_approved_before(notes, changed)
    return redirect(url_for(".edit", workshop_id=workshop.id))


@bp.post("/facilitator/workshops/<int:workshop_id>/notes/autosave")
@csrf.exempt
def autosave(workshop_id: int):
    # JSON for static/notes.js: answers, never redirects, so the script can tell the person.
    if not current_user.is_authenticated:
        return jsonify(ok=False, error="signed_out",
                       message="You have been signed out. Press Save: your text will be kept while you sign in."), 401
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or not services.can_access(current_user, workshop):
        # static/notes.js stops, keeps its copy on this device and says this, with the text still on screen.
        return jsonify(ok=False, error="gone" if workshop is None else "forbidden",
                       message=_notes_refusal(workshop) + " Autosave has stopped. Your text is still on this "
                               "page: copy it before you leave (pressing Save shows it on a page to copy "
                               "from)."), 404 if workshop is None else 403
    if not _csrf_ok():
        return jsonify(ok=False, error="expired",
                       message="This page has expired. Press Save: your text will be kept."), 400
    try:
        services.check_typed_by(current_user.id, services.ticket_author(request.form.get("keep"), workshop.id))
    except TypedByOther as refusal:
        return jsonify(ok=False, error="typed_by", message=refusal.message + " Autosave has stopped."), 409
    form = NotesForm(meta={"csrf": False})
    try:
        notes, changed = services.save_notes(workshop, notes_data(form), _base_version(form.version.data),
                                             current_user.id, kind="autosave", save_key=_save_key(),
                                             unanswered=_unanswered())
    except Conflict as conflict:
        return jsonify(ok=False, error="conflict", version=conflict.version,
                       message=f"{conflict.by} saved these notes meanwhile. Autosave has stopped: "
                               "press Save to compare both versions and merge them."), 409
    except DomainError as err:
        return jsonify(ok=False, error="invalid", field=err.field, message=err.message), 400
    return jsonify(ok=True, version=notes.version, changed=changed)


@bp.get("/facilitator/workshops/<int:workshop_id>/notes/revisions")
@staff_required
def revisions(workshop_id: int):
    workshop = load_workshop(workshop_id)
    notes = services.notes_for(workshop.id)
    pager, views = (services.revisions(notes, request.args.get("page", 1, type=int)) if notes else (None, []))
    return render_template("notes/revisions.html", workshop=workshop, notes=notes, page=pager, views=views)


# --- actions ----------------------------------------------------------------------------


def _action_form(workshop: Workshop, form: ActionForm | None = None, action: Action | None = None) -> ActionForm:
    form = form or ActionForm(obj=action)
    # An action's owner set back to pending since stays on its form: otherwise every later change is refused.
    current_owner = action.owner_organisation_id if action is not None else None
    orgs = db.session.scalars(select(Organisation).where(or_(Organisation.status == "approved",
                                                             Organisation.id == current_owner))
                              .order_by(Organisation.name)).all()
    form.owner_organisation_id.choices = [SelectChoice(0, "Choose an organisation")] + [
        SelectChoice(o.id, o.name) for o in orgs]
    form.topic_ids.choices = [SelectChoice(t.id, t.name) for t in _assembly_topics(workshop)]
    if request.method == "GET":
        if action is not None:
            form.topic_ids.data = [t.id for t in action.topics]
            form.version.data = str(action.version)
        else:
            form.topic_ids.data = [workshop.topic_id]
    return form


def _assembly_topics(workshop: Workshop) -> list[Topic]:
    return list(db.session.scalars(
        select(Topic).join(Workshop, Workshop.topic_id == Topic.id).join(Round)
        .where(Round.assembly_id == workshop.round.assembly_id).distinct().order_by(Topic.name)))


def typed_action() -> list[tuple[str, str]]:
    """An action form's fields as sent, labelled and readable, to show back when it cannot be saved."""
    owner = db.session.get(Organisation, request.form.get("owner_organisation_id", type=int) or 0)
    internal = " (internal only)" if request.form.get("internal") else ""
    return [("What will be done" + internal, request.form.get("description", "")),
            ("Owner organisation", owner.name if owner is not None else ""),
            ("Lead person", request.form.get("lead_person", "")), ("Due date", request.form.get("due_date", "")),
            ("Status", ACTION_STATUSES.get(request.form.get("status", ""), ""))]


def _action_not_saved(workshop: Workshop | None, editing: bool):
    # Deleted, or its facilitator taken off it, while the form was open: nothing is saved, but what was typed
    # comes back to copy instead of a bare error page. drafts.js's copy on the device stays (no page names it saved).
    return render_template(
        "notes/not_saved.html", typed=typed_action(), reason=_notes_refusal(workshop, "actions"),
        heading="Your change to the action has not been saved" if editing else "Your action has not been added",
        next_url=url_for("facilitators.home"), next_label="Your workshops"), 404 if workshop is None else 403


def _writable_workshop(workshop_id: int, editing: bool = False):
    """The workshop of an action form, or the page showing back what was sent to one no longer writable."""
    workshop = db.session.get(Workshop, workshop_id)
    if request.method == "POST" and (workshop is None or not services.can_access(current_user, workshop)):
        return None, _action_not_saved(workshop, editing)
    return load_workshop(workshop_id), None


def _action_data(form: ActionForm) -> dict:
    return {"description": form.description.data, "owner_organisation_id": form.owner_organisation_id.data,
            "lead_person": form.lead_person.data, "due_date": form.due_date.data, "status": form.status.data,
            "topic_ids": form.topic_ids.data or [], "internal": form.internal.data}


@bp.route("/facilitator/workshops/<int:workshop_id>/actions", methods=["GET", "POST"])
@staff_required
def actions(workshop_id: int):
    workshop, not_saved = _writable_workshop(workshop_id)
    if not_saved:
        return not_saved
    form = _action_form(workshop)
    refusal = typed_by_refusal("Add action")
    if refusal is None and form.validate_on_submit():
        try:
            services.add_action(workshop, _action_data(form), current_user.id,
                                {t.id for t in _assembly_topics(workshop)})
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash_at("add-action", "Action added.", "success")
            _name_saved_drafts(ACTION_SAVED_KEY, lambda user_id: f"{_draft_key(workshop, user_id)}:new")
            # Back at the form, for the next action (the form's own #add-action would carry over anyway).
            return redirect(url_for(".actions", workshop_id=workshop.id, _anchor="add-action"))
    agreed = services.workshop_actions(workshop.id)
    return render_template("notes/actions.html", workshop=workshop, form=form, typed_by=refusal, actions=agreed,
                           latest=services.latest_copies([a.id for a in agreed]), **_draft_vars(workshop)), \
        409 if refusal else _status(form)


# static/drafts.js keeps an action form's text on the device until the server has it: the page shown
# after a save names that draft (once), and the first typist's too, so the script forgets them.
ACTION_SAVED_KEY = "notes_action_saved"


def _draft_key(workshop: Workshop, user_id: int) -> str:
    return f"eventapp-action-draft:{user_id}:{workshop.id}"


def _draft_vars(workshop: Workshop) -> dict:
    return {"draft_key": _draft_key(workshop, current_user.id), "restore_draft": request.method == "GET",
            "saved_drafts": _saved_drafts(ACTION_SAVED_KEY)}


def _carried_action_refused(workshop: Workshop, latest: Action):
    """A facilitator opening (or sending) the form of an action carried forward into a later assembly: 409."""
    reason = (f"This action has been carried forward into {latest.assembly.title} and is tracked there now, so it "
              "can no longer be changed from this workshop. The organisers change its owner, due date and status "
              "in the action tracker.")
    back = url_for(".actions", workshop_id=workshop.id)
    if request.method == "POST":
        # A form opened before it was carried: what was typed comes back to copy.
        return render_template("notes/not_saved.html", typed=typed_action(), reason=reason,
                               heading="Your change to the action has not been saved", next_url=back,
                               next_label=f"Actions of {workshop.title}"), 409
    return render_template("notes/action_carried.html", workshop=workshop, reason=reason, next_url=back), 409


@bp.route("/facilitator/workshops/<int:workshop_id>/actions/<int:action_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_action(workshop_id: int, action_id: int):
    workshop, not_saved = _writable_workshop(workshop_id, editing=True)
    if not_saved:
        return not_saved
    action = db.session.get(Action, action_id)
    if action is None and request.method == "POST":
        # Deleted while the form was open: what was typed comes back to copy, as for a deleted workshop.
        return render_template(
            "notes/not_saved.html", typed=typed_action(), heading="Your change to the action has not been saved",
            reason="This action has been deleted while you were changing it, so your change can no longer be "
                   "saved. Add it again as a new action if it is still needed.",
            next_url=url_for(".actions", workshop_id=workshop.id), next_label=f"Actions of {workshop.title}"), 404
    if action is None or action.workshop_id != workshop.id:
        abort(404)
    latest = services.latest_copies([action.id]).get(action.id)
    if latest is not None and not current_user.is_organiser:
        # Carried forward: only the organisers change it, where it is tracked now (the Actions page offers
        # a facilitator no Change link for it), so no form that can only be refused is shown.
        return _carried_action_refused(workshop, latest)
    if latest is not None and request.method == "GET":
        # Carried forward: changed where it is tracked now.
        return redirect(url_for("outcomes.edit_carried_action", action_id=latest.id))
    form = _action_form(workshop, action=action)
    theirs = None
    code = 200
    refusal = typed_by_refusal("Save action")
    if refusal is None and form.validate_on_submit():
        try:
            from ..outcomes.services import status_change_logger  # outcomes builds on notes

            services.update_action(action.id, _action_data(form), _base_version(form.version.data), current_user.id,
                                   {t.id for t in _assembly_topics(workshop)},
                                   also=status_change_logger("organiser" if current_user.is_organiser
                                                             else "facilitator", current_user.id),
                                   by_reviewer=current_user.is_organiser)
        except ActionConflict as conflict:
            form.form_errors.append(conflict.message)
            action = db.session.get(Action, action_id)
            form.version.data = str(action.version)
            theirs, code = action, 409
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash_at(f"action-{action.id}", "Action saved.", "success")
            _name_saved_drafts(ACTION_SAVED_KEY, lambda user_id: f"{_draft_key(workshop, user_id)}:{action.id}")
            return redirect(url_for(".actions", workshop_id=workshop.id, _anchor=f"action-{action.id}"))
    return render_template("notes/action_form.html", workshop=workshop, form=form, action=action,
                           theirs=theirs, typed_by=refusal, **_draft_vars(workshop)), \
        (409 if refusal else code if theirs else _status(form))


# --- organiser --------------------------------------------------------------------------


def _assembly(slug: str) -> Assembly:
    assembly = db.session.scalar(select(Assembly).where(Assembly.slug == slug))
    if assembly is None:
        abort(404)
    return assembly


@bp.get("/organiser/assemblies/<slug>/notes")
@organiser_required
def overview(slug: str):
    assembly = _assembly(slug)
    records = services.assembly_overview(assembly)
    totals = services.Counts()
    for r in records:
        totals.allocated += r.counts.allocated
        totals.present += r.counts.present
        totals.absent += r.counts.absent
        totals.walk_ins += r.counts.walk_ins
    missing = [r for r in records if r.missing_notes]
    return render_template("notes/overview.html", assembly=assembly, records=records, totals=totals,
                           missing=missing, after=datetime.combine(assembly.date, assembly.end_time)
                           <= utc_to_local(utcnow(), assembly.timezone))


@bp.route("/organiser/assemblies/<slug>/notes/<int:workshop_id>", methods=["GET", "POST"])
@organiser_required
def review(slug: str, workshop_id: int):
    assembly = _assembly(slug)
    workshop = db.session.get(Workshop, workshop_id)
    if workshop is None or workshop.round.assembly_id != assembly.id:
        abort(404)
    notes = services.notes_for(workshop.id)
    form = ConfirmForm()
    if form.validate_on_submit():
        chosen = [int(i) for i in request.form.getlist("actions") if is_number(i)]
        try:
            if (notes is None or not notes.has_text) and not services.workshop_actions(workshop.id):
                raise DomainError("There are no notes or actions to approve yet.")
            if notes is None or not notes.has_text:
                # No notes written: the actions agreed in the room are published on their own.
                services.approve_actions_without_notes(workshop, chosen, current_user.id, request.form.get("seen"))
                done = f"Actions of {isolate(workshop.title)} approved for publication."
            else:
                services.approve_notes(notes, request.form.getlist("sections"), chosen, current_user.id,
                                       request.form.get("seen"))
                done = f"Notes for {isolate(workshop.title)} approved for publication."
        except DomainError as err:
            form.form_errors.append(err.message)
        else:
            flash(done, "success")
            return redirect(url_for(".overview", slug=assembly.slug))
    counts = services.attendance_counts([workshop.id])[workshop.id]
    notes = services.notes_for(workshop.id)  # fresh after a refused approval
    actions = services.workshop_actions(workshop.id)
    return render_template("notes/review.html", assembly=assembly, workshop=workshop, notes=notes, form=form,
                           sections=SECTIONS, actions=actions, counts=counts,
                           seen=services.review_fingerprint(notes, actions),
                           offered=services.review_offers(notes, actions)), _status(form)


@bp.get("/organiser/actions")
@organiser_required
def all_actions():
    form = ActionFilterForm(request.args)
    form.fill_choices()
    valid = form.validate()
    from ..outcomes.services import first_origins, tracker_query  # outcomes builds on notes, not the other way

    # The tracker's query: a carried action is filtered by the status its latest copy has reached.
    stmt = tracker_query(
        assembly_id=form.assembly.data or None, topic_id=form.topic.data or None,
        organisation_id=form.organisation.data or None, status=form.status.data or None,
        due_from=form.due_from.data if valid else None, due_to=form.due_to.data if valid else None)
    page = db.paginate(stmt, per_page=current_app.config.get("PAGE_SIZE", 25), error_out=False)

    ids = [a.id for a in page.items]
    # A carried action stands where its latest copy is; a copy (no workshop) came from an earlier assembly.
    return render_template("notes/all_actions.html", form=form, page=page, latest=services.latest_copies(ids),
                           origins=first_origins(ids)), (200 if valid else 400)
