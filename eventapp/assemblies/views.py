"""Public assembly pages and the organiser console for assemblies, rounds, workshops, agenda and topics."""
from __future__ import annotations


from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from ..accounts.access import organiser_required
from ..accounts.models import User
from ..domain import DomainError, NotFound
from ..extensions import db
from ..add_once import SECOND_CLICK, add_once, issue
from ..forms_util import apply_domain_error
from ..templating import counted, flash_at
from ..organisations.models import Organisation
from ..registration.services import has_taken_place, registration_state, registration_window
from ..text import isolate
from ..timeutil import local_today
from . import services
from .forms import AgendaItemForm, AssemblyForm, CopyAssemblyForm, RoundForm, TopicForm, WorkshopForm
from .models import AGENDA_ORDER, ROUND_ORDER, AgendaItem, Assembly, Round, Topic, Workshop

bp = Blueprint("assemblies", __name__)


def _status(form) -> int:
    return 400 if form.errors else 200


def load_assembly(slug: str) -> Assembly:
    """The assembly with this slug, or a 404 page."""
    try:
        return services.get_assembly(slug)
    except NotFound:
        abort(404)


def load_public_assembly(slug: str) -> Assembly:
    """The assembly with this slug if the public may see it (organisers see drafts too), or a 404 page."""
    assembly = load_assembly(slug)
    if not assembly.is_public and not (current_user.is_authenticated and current_user.is_organiser):
        abort(404)
    return assembly


def _child(model, obj_id: int, assembly: Assembly):
    obj = db.session.get(model, obj_id)
    if obj is None:
        abort(404)
    owner = obj.round.assembly_id if isinstance(obj, Workshop) else obj.assembly_id
    if owner != assembly.id:
        abort(404)
    return obj


def _deleted_already(model, obj_id: int, what: str):
    """For a delete confirmed twice (a double click): the first click deleted it, so say so instead of a 404."""
    if request.method != "POST" or db.session.get(model, obj_id) is not None:
        return None
    flash(f"That {what} was deleted already.", "info")
    return redirect(url_for(".detail", slug=request.view_args["slug"]))


# --- public -----------------------------------------------------------------


@bp.route("/")
def index():
    assemblies = db.session.scalars(
        # As the organisers' list: assemblies on one day, newest added first (else in any order on PostgreSQL).
        select(Assembly).where(Assembly.status.in_(("open", "closed"))).order_by(Assembly.date.desc(), Assembly.id.desc())
    ).all()
    # Each assembly's own today: one held in another time zone moves to 'past' at its own midnight.
    upcoming = [a for a in assemblies if a.date >= local_today(a.timezone)]
    past = [a for a in assemblies if a.date < local_today(a.timezone)]
    return render_template("assemblies/index.html", upcoming=upcoming, past=past,
                           status_labels={a.id: _public_status(a) for a in upcoming})


def _public_status(assembly: Assembly, state: str | None = None) -> str:
    """The status a visitor reads: "Open for registration" only while the form takes registrations."""
    if assembly.status == "open" and not assembly.is_cancelled:
        state = state or registration_state(assembly)[0]
        if state != "open":
            return "Registration not yet open" if state == "not_yet" else "Registration closed"
    return assembly.status_label


class PublicPageCache:
    """Rendered public assembly pages, per process, keyed by the assembly's content version.

    The database gives the assembly a new random ``content_version`` in the same transaction
    as any change to what the page shows (triggers of migration 0008), so a hit costs one
    one-row query and can never be older than the last commit. Only pages for visitors who
    are not signed in and have no message waiting are kept: those pages are the same for
    everyone (no CSRF token, no name, no flashed message; the CSP has no nonce).
    """

    def __init__(self, size: int = 256):
        self.size = size
        self._pages: dict[str, tuple[tuple, str]] = {}

    # Built once; Core on the session's connection, as the ORM's per-statement work would cost
    # more than this one-row query.
    # With what the registration window needs: the page says whether the form is open, and that
    # changes with the clock, not only with the content version.
    _version = select(*(Assembly.__table__.c[name] for name in (
        "id", "status", "content_version", "cancelled_at", "timezone", "registration_opens_at",
        "registration_closes_at", "title", "date", "end_time"))).where(Assembly.__table__.c.slug == bindparam("slug"))

    def version(self, slug: str):
        """(id, status, content_version, and the registration window's columns) of the assembly with this slug, or None."""
        return db.session.connection().execute(self._version, {"slug": slug}).first()

    def get(self, slug: str, key: tuple) -> str | None:
        hit = self._pages.get(slug)
        return hit[1] if hit is not None and hit[0] == key else None

    def put(self, slug: str, key: tuple, page: str) -> None:
        if slug not in self._pages and len(self._pages) >= self.size:
            try:
                self._pages.pop(next(iter(self._pages)), None)
            except (RuntimeError, StopIteration):  # another thread changed it meanwhile
                pass
        self._pages[slug] = (key, page)

    def clear(self) -> None:
        self._pages.clear()


public_pages = PublicPageCache()


def _same_for_everyone() -> bool:
    return not current_user.is_authenticated and not session.get("_flashes")


@bp.route("/a/<slug>")
def public(slug: str):
    shared = _same_for_everyone()
    if shared:
        row = public_pages.version(slug)
        if row is None or row.status == "draft":
            abort(404)
        # Everything the page's wording follows besides its content: the form's window and whether the day is over.
        key = _page_key(row)
        page = public_pages.get(slug, key)
        if page is not None:
            return page
    page = _render_public(slug)
    # Kept only if nothing changed while it was rendered (each statement may see a newer
    # commit on PostgreSQL): the page is then exactly the content of this version.
    if shared:
        again = public_pages.version(slug)
        if again is not None and _page_key(again) == key:
            public_pages.put(slug, key, page)
    return page


def _page_key(row) -> tuple:
    return row.id, row.content_version, registration_window(row), has_taken_place(row)


def _render_public(slug: str) -> str:
    assembly = load_public_assembly(slug)
    rounds = db.session.scalars(
        select(Round)
        .where(Round.assembly_id == assembly.id)
        .options(selectinload(Round.workshops).selectinload(Workshop.topic))
        .order_by(*ROUND_ORDER)
    ).all()
    agenda = db.session.scalars(
        select(AgendaItem)
        .where(AgendaItem.assembly_id == assembly.id)
        .options(selectinload(AgendaItem.organisation))
        .order_by(*AGENDA_ORDER)
    ).all()
    from ..documents.services import list_documents

    state = registration_state(assembly)
    return render_template("assemblies/public.html", assembly=assembly, rounds=rounds, agenda=agenda,
                           registration=state, status_label=_public_status(assembly, state[0]),
                           taken_place=has_taken_place(assembly),
                           documents=list_documents(assembly.id, visibility="public"))


@bp.route("/accessibility")
def accessibility():
    return render_template("assemblies/accessibility.html")


@bp.route("/cookies")
def cookies():
    return render_template("assemblies/cookies.html", session_hours=int(
        current_app.permanent_session_lifetime.total_seconds() // 3600))


# --- organiser: assemblies ----------------------------------------------------


@bp.route("/organiser/")
@organiser_required
def organiser_index():
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    stmt = select(Assembly).order_by(Assembly.date.desc(), Assembly.id.desc())
    if q:
        # autoescape: a % or _ typed is looked for as itself, not as a wildcard.
        stmt = stmt.where(or_(Assembly.title.icontains(q, autoescape=True),
                              Assembly.venue_name.icontains(q, autoescape=True)))
    shown = services.list_status_where(status)
    if shown is not None:
        stmt = stmt.where(shown)
    page = db.paginate(stmt, per_page=20, error_out=False)
    return render_template(
        "assemblies/organiser_index.html", page=page, q=q, status=status, statuses=services.LIST_STATUSES,
        status_of=_public_status)


def _assembly_data(form: AssemblyForm) -> dict:
    data = {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "once")}
    for key in ("summary", "venue_address", "privacy_notice", "series_name"):
        data[key] = data.get(key) or ""
    data["slug"] = (data["slug"] or "").strip()
    data["timezone"] = (data["timezone"] or "Europe/London").strip()
    return data


@bp.route("/organiser/assemblies/new", methods=["GET", "POST"])
@organiser_required
def new_assembly():
    form = AssemblyForm()
    if request.method == "GET":
        form.once.data = issue()
        form.timezone.data = "Europe/London"
        form.capacity.data = 150
    if form.validate_on_submit():
        data = _assembly_data(form)
        try:
            assembly, first = add_once(form.once, "assembly", lambda once: services.save_assembly(data, once=once))
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            assembly = assembly if first else db.get_or_404(Assembly, assembly)
            flash(f"Assembly “{isolate(assembly.title)}” created"
                  f"{'' if first else SECOND_CLICK}. Next, add its rounds and workshops.", "success")
            return redirect(url_for(".detail", slug=assembly.slug))
    return _assembly_form_page(form, None)


@bp.route("/organiser/assemblies/<slug>")
@organiser_required
def detail(slug: str):
    assembly = load_assembly(slug)
    rounds = db.session.scalars(
        select(Round)
        .where(Round.assembly_id == assembly.id)
        .options(
            selectinload(Round.workshops).selectinload(Workshop.topic),
            selectinload(Round.workshops).selectinload(Workshop.facilitators),
        )
        .order_by(*ROUND_ORDER)
    ).all()
    agenda = db.session.scalars(
        select(AgendaItem).where(AgendaItem.assembly_id == assembly.id).order_by(*AGENDA_ORDER)
    ).all()
    return render_template("assemblies/detail.html", assembly=assembly, rounds=rounds, agenda=agenda,
                           attention=services.needs_attention(assembly), status_label=_public_status(assembly))


# What a copy keeps: everything but the day, the web address and the registration window.
COPIED_FIELDS = ("title", "summary", "venue_name", "venue_address", "start_time", "end_time", "timezone", "capacity",
                 "org_limit", "confirm_email_first", "privacy_notice", "retention_days")


@bp.route("/organiser/assemblies/<slug>/copy", methods=["GET", "POST"])
@organiser_required
def copy_assembly(slug: str):
    source = load_assembly(slug)
    form = CopyAssemblyForm()
    if request.method == "GET":
        form.once.data = issue()
        for name in COPIED_FIELDS:
            form[name].data = getattr(source, name)
        form.series_name.data = source.series.name if source.series else ""
        form.status.data = "draft"
    if form.validate_on_submit():
        data = _assembly_data(form)
        for name in ("copy_workshops", "copy_facilitators", "copy_agenda", "copy_documents"):
            data.pop(name, None)
        try:
            assembly, first = add_once(form.once, "assembly", lambda once: services.copy_assembly(
                source, data, workshops=form.copy_workshops.data, facilitators=form.copy_facilitators.data,
                agenda=form.copy_agenda.data, documents=form.copy_documents.data, once=once))
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            assembly = assembly if first else db.get_or_404(Assembly, assembly)
            flash(f"Assembly “{isolate(assembly.title)}” created from “{isolate(source.title)}”"
                  f"{'' if first else SECOND_CLICK}. Check its rounds, workshops and agenda below, then open "
                  "registration.", "success")
            return redirect(url_for(".detail", slug=assembly.slug))
    return _assembly_form_page(form, None, source=source)


@bp.route("/organiser/assemblies/<slug>/cancel", methods=["GET", "POST"], endpoint="cancel_assembly")
@bp.route("/organiser/assemblies/<slug>/reinstate", methods=["GET", "POST"], endpoint="reinstate_assembly")
@organiser_required
def cancel_or_reinstate(slug: str):
    assembly = load_assembly(slug)
    cancelling = request.endpoint.endswith("cancel_assembly")
    if request.method == "POST":
        try:
            queued = services.set_cancelled(assembly, cancelling)
        except DomainError as exc:
            flash(str(exc), "error")
        else:
            done = "cancelled" if cancelling else "reinstated"
            flash(f"The assembly was {done}; {counted(queued, 'calendar message')} "
                  f"{'is' if queued == 1 else 'are'} in the outbox.", "success")
        return redirect(url_for(".detail", slug=slug))
    return render_template("assemblies/cancel_confirm.html", assembly=assembly, cancelling=cancelling)


@bp.route("/organiser/assemblies/<slug>/edit", methods=["GET", "POST"])
@organiser_required
def edit_assembly(slug: str):
    assembly = load_assembly(slug)
    form = AssemblyForm(obj=assembly)
    if request.method == "GET":
        form.series_name.data = assembly.series.name if assembly.series else ""
    if form.validate_on_submit():
        try:
            services.save_assembly(_assembly_data(form), assembly)
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash("Assembly saved.", "success")
            return redirect(url_for(".detail", slug=assembly.slug))
    return _assembly_form_page(form, assembly)


def _assembly_form_page(form: AssemblyForm, assembly: Assembly | None, source: Assembly | None = None):
    form.series_name.render_kw = {**(form.series_name.render_kw or {}), "list": "series_name-list"}
    return render_template("assemblies/assembly_form.html", form=form, assembly=assembly, source=source,
                           series_names=services.series_names()), _status(form)


# --- organiser: rounds ----------------------------------------------------------


def _calendar_updates(saved) -> str:
    n = getattr(saved, "calendar_updates", 0)
    return f" {counted(n, 'calendar update')} for placed delegates {'is' if n == 1 else 'are'} in the outbox." if n else ""


@bp.route("/organiser/assemblies/<slug>/rounds/new", methods=["GET", "POST"])
@bp.route("/organiser/assemblies/<slug>/rounds/<int:round_id>/edit", methods=["GET", "POST"])
@organiser_required
def round_form(slug: str, round_id: int | None = None):
    assembly = load_assembly(slug)
    rnd = _child(Round, round_id, assembly) if round_id else None
    form = RoundForm(obj=rnd)
    if request.method == "GET":
        if rnd:
            form.seen.data = services.round_version(rnd)
        else:
            form.once.data = issue()
    if form.validate_on_submit():
        data = {"name": form.name.data.strip(), "starts_at": form.starts_at.data, "ends_at": form.ends_at.data,
                "position": form.position.data, "seen": form.seen.data or ""}
        try:
            if rnd:
                saved = services.save_round(assembly, data, rnd)
            else:
                saved, first = add_once(form.once, "round", lambda once: services.save_round(assembly, data, once=once))
                if not first:
                    flash(f"Round saved{SECOND_CLICK}.", "success")
                    return redirect(url_for(".detail", slug=slug))
        except DomainError as err:
            apply_domain_error(form, err)
            if rnd:
                # Checked first: any refusal has shown the round as it stands, so the next save is the organiser's.
                form.seen.data = services.round_version(rnd)
        else:
            flash("Round saved." + _calendar_updates(saved), "success")
            return redirect(url_for(".detail", slug=slug))
    return render_template("assemblies/round_form.html", form=form, assembly=assembly, rnd=rnd), _status(form)


@bp.route("/organiser/assemblies/<slug>/rounds/<int:round_id>/delete", methods=["GET", "POST"])
@organiser_required
def delete_round(slug: str, round_id: int):
    assembly = load_assembly(slug)
    if gone := _deleted_already(Round, round_id, "round"):
        return gone
    rnd = _child(Round, round_id, assembly)
    if request.method == "POST":
        services.delete_round(rnd)
        flash(f"Round “{isolate(rnd.name)}” and its workshops were deleted.", "success")
        return redirect(url_for(".detail", slug=slug))
    return render_template(
        "confirm_delete.html",
        title=f"Delete the round “{rnd.name}”?",
        warning=(f"Its {counted(len(rnd.workshops), 'workshop')} will be deleted too. " if rnd.workshops else "")
        + services.deletion_effects([w.id for w in rnd.workshops], "its workshops"),
        cancel_url=url_for(".detail", slug=slug),
    )


# --- organiser: workshops -----------------------------------------------------------


def _workshop_choices(form: WorkshopForm, assembly: Assembly) -> None:
    form.round_id.choices = [SelectChoice(r.id, r.name) for r in assembly.rounds]
    form.topic_id.choices = [SelectChoice(t.id, t.name) for t in db.session.scalars(select(Topic).order_by(Topic.name))]
    form.facilitator_ids.choices = [
        SelectChoice(u.id, u.display_name)
        for u in db.session.scalars(select(User).where(User.role == "facilitator").order_by(User.name))
    ]


@bp.route("/organiser/assemblies/<slug>/workshops/new", methods=["GET", "POST"])
@bp.route("/organiser/assemblies/<slug>/workshops/<int:workshop_id>/edit", methods=["GET", "POST"])
@organiser_required
def workshop_form(slug: str, workshop_id: int | None = None):
    assembly = load_assembly(slug)
    workshop = _child(Workshop, workshop_id, assembly) if workshop_id else None
    if not assembly.rounds:
        flash("Add a round first: every workshop runs in a round.", "info")
        return redirect(url_for(".round_form", slug=slug))
    form = WorkshopForm(obj=workshop)
    _workshop_choices(form, assembly)
    if request.method == "GET":
        if workshop:
            form.facilitator_ids.data = [u.id for u in workshop.facilitators]
            form.seen.data = services.workshop_version(workshop)
        else:
            form.once.data = issue()
            form.capacity.data = 20
            if request.args.get("round", type=int):
                form.round_id.data = request.args.get("round", type=int)
    if form.validate_on_submit():
        rnd = _child(Round, form.round_id.data, assembly)
        data = {"topic_id": form.topic_id.data, "new_topic": form.new_topic.data or "", "title": form.title.data.strip(),
                "description": form.description.data or "", "room": (form.room.data or "").strip(),
                "capacity": form.capacity.data, "facilitator_ids": form.facilitator_ids.data,
                "seen": form.seen.data or ""}
        try:
            if workshop:
                saved = services.save_workshop(rnd, data, workshop)
            else:
                saved, first = add_once(form.once, "workshop",
                                        lambda once: services.save_workshop(rnd, data, once=once))
                if not first:
                    flash(f"Workshop saved{SECOND_CLICK}.", "success")
                    return redirect(url_for(".detail", slug=slug))
        except DomainError as err:
            apply_domain_error(form, err)
            if workshop:
                # Checked first, so any refusal means the organiser has now been shown the workshop as it
                # stands: the next save is theirs to make.
                form.seen.data = services.workshop_version(workshop)
        else:
            flash("Workshop saved." + _calendar_updates(saved), "success")
            placed = services.placed_count(saved)
            if placed > saved.capacity:
                flash(f"The published allocation places {counted(placed, 'delegate')} in “{isolate(saved.title)}”, more than its "
                      f"{counted(saved.capacity, 'seat')}. Run the allocation again and publish it to move some of them.",
                      "error")
            return redirect(url_for(".detail", slug=slug))
    return render_template("assemblies/workshop_form.html", form=form, assembly=assembly, workshop=workshop), _status(form)


@bp.route("/organiser/assemblies/<slug>/workshops/<int:workshop_id>/delete", methods=["GET", "POST"])
@organiser_required
def delete_workshop(slug: str, workshop_id: int):
    assembly = load_assembly(slug)
    if gone := _deleted_already(Workshop, workshop_id, "workshop"):
        return gone
    workshop = _child(Workshop, workshop_id, assembly)
    if request.method == "POST":
        services.delete_workshop(workshop)
        flash(f"Workshop “{isolate(workshop.title)}” was deleted.", "success")
        return redirect(url_for(".detail", slug=slug))
    return render_template(
        "confirm_delete.html", title=f"Delete the workshop “{workshop.title}”?",
        warning=services.deletion_effects([workshop.id]),
        cancel_url=url_for(".detail", slug=slug),
    )


# --- organiser: agenda ----------------------------------------------------------------


@bp.route("/organiser/assemblies/<slug>/agenda/new", methods=["GET", "POST"])
@bp.route("/organiser/assemblies/<slug>/agenda/<int:item_id>/edit", methods=["GET", "POST"])
@organiser_required
def agenda_form(slug: str, item_id: int | None = None):
    assembly = load_assembly(slug)
    item = _child(AgendaItem, item_id, assembly) if item_id else None
    form = AgendaItemForm(obj=item)
    form.organisation_id.choices = [SelectChoice(0, "— none —")] + [
        SelectChoice(o.id, o.name)
        for o in db.session.scalars(
            select(Organisation).where(Organisation.status == "approved").order_by(Organisation.name)
        )
    ]
    if request.method == "GET" and item and item.organisation_id is None:
        form.organisation_id.data = 0
    if request.method == "GET" and not item:
        form.once.data = issue()
    if form.validate_on_submit():
        data = {"starts_at": form.starts_at.data, "ends_at": form.ends_at.data, "title": form.title.data.strip(),
                "speaker": (form.speaker.data or "").strip(), "organisation_id": form.organisation_id.data or None}
        try:
            if item:
                services.save_agenda_item(assembly, data, item)
            else:
                _, first = add_once(form.once, "agenda item",
                                    lambda once: services.save_agenda_item(assembly, data, once=once))
                if not first:
                    flash(f"Agenda item saved{SECOND_CLICK}.", "success")
                    return redirect(url_for(".detail", slug=slug))
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            flash("Agenda item saved.", "success")
            return redirect(url_for(".detail", slug=slug))
    return render_template("assemblies/agenda_form.html", form=form, assembly=assembly, item=item), _status(form)


@bp.route("/organiser/assemblies/<slug>/agenda/<int:item_id>/delete", methods=["GET", "POST"])
@organiser_required
def delete_agenda_item(slug: str, item_id: int):
    assembly = load_assembly(slug)
    if gone := _deleted_already(AgendaItem, item_id, "agenda item"):
        return gone
    item = _child(AgendaItem, item_id, assembly)
    if request.method == "POST":
        services.delete_agenda_item(item)
        flash(f"Agenda item “{isolate(item.title)}” was deleted.", "success")
        return redirect(url_for(".detail", slug=slug))
    return render_template(
        "confirm_delete.html", title=f"Delete the agenda item “{item.title}”?", warning="",
        cancel_url=url_for(".detail", slug=slug),
    )


# --- organiser: topics ----------------------------------------------------------------------


@bp.route("/organiser/topics")
@organiser_required
def topics():
    q = request.args.get("q", "").strip()
    stmt = select(Topic).order_by(*services.TOPIC_ORDER)
    if q:
        stmt = stmt.where(Topic.name.icontains(q, autoescape=True))
    page = db.paginate(stmt, per_page=current_app.config.get("PAGE_SIZE", 25), error_out=False)
    counts = dict(
        db.session.execute(
            select(Workshop.topic_id, func.count(Workshop.id))
            .where(Workshop.topic_id.in_([t.id for t in page.items] or [0]))
            .group_by(Workshop.topic_id)
        ).all()
    )
    return render_template("assemblies/topics.html", page=page, q=q, counts=counts, list_args=_topic_list_args())


@bp.route("/organiser/topics/new", methods=["GET", "POST"])
@bp.route("/organiser/topics/<int:topic_id>/edit", methods=["GET", "POST"])
@organiser_required
def topic_form(topic_id: int | None = None):
    topic = db.get_or_404(Topic, topic_id) if topic_id else None
    form = TopicForm(obj=topic)
    if request.method == "GET" and not topic:
        form.once.data = issue()
    if form.validate_on_submit():
        data = {"name": form.name.data, "description": form.description.data or ""}
        said = "Topic saved."
        try:
            if topic:
                topic = services.save_topic(data, topic)
            else:
                topic, first = add_once(form.once, "topic", lambda once: services.save_topic(data, once=once))
                if not first:
                    topic, said = db.get_or_404(Topic, topic), f"Topic saved{SECOND_CLICK}."
        except DomainError as err:
            apply_domain_error(form, err)
        else:
            # Back to the list as it was filtered, where the topic now is (in name order, not always the
            # first page), at its row; or the same page, saying so, when the filter no longer finds it.
            args = _topic_list_args()
            page = services.topic_list_page(topic, current_app.config.get("PAGE_SIZE", 25), args.get("q", ""))
            if page is None:
                flash(f"{said} “{isolate(topic.name)}” does not match the filter, so is not in the list below.",
                      "success")
                return redirect(url_for(".topics", **args))
            flash_at(f"topic-{topic.id}", said, "success")
            return redirect(url_for(".topics", **{**args, "page": page if page > 1 else None},
                                    _anchor=f"topic-{topic.id}"))
    return render_template("assemblies/topic_form.html", form=form, topic=topic,
                           list_args=_topic_list_args()), _status(form)


def _topic_list_args() -> dict[str, str]:
    """The topics list's own query values (its filter and page), carried to the form and back; nothing else."""
    return {k: v for k in ("q", "page") if (v := request.args.get(k, "").strip())}
