"""Feedback use cases: when delegates can give it, saving it, and the organiser's summary and CSV."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..assemblies.models import ROUND_ORDER, Assembly, Round, Workshop
from ..domain import DomainError
from ..extensions import db
from ..registration.models import Registration
from ..registration.services import clean_text
from ..timeutil import local_today, utcnow
from .models import SCALE, Feedback, WorkshopRating

# How long after the day delegates can still give (or change) their feedback.
OPEN_DAYS = 30
TEXT_MAX = 5000


def closes_on(assembly: Assembly) -> date:
    return assembly.date + timedelta(days=OPEN_DAYS)


def window(assembly: Assembly) -> tuple[bool, str]:
    """(open, why not): from the end of the day until OPEN_DAYS after it; never for a cancelled assembly."""
    from ..registration.services import has_taken_place

    if assembly.cancelled_at is not None:
        return False, "This assembly was cancelled."
    if not has_taken_place(assembly):
        return False, "You can tell us how it went once the assembly is over."
    end = closes_on(assembly)
    if local_today(assembly.timezone) > end:
        return False, f"Feedback closed on {end.day} {end:%B %Y}. Thank you to everyone who gave theirs."
    return True, ""


def can_give(registration: Registration) -> tuple[bool, str]:
    """(may, why not) for one delegate: confirmed delegates, while feedback is open."""
    is_open, why = window(registration.assembly)
    if not is_open:
        return False, why
    if registration.status != "confirmed":
        return False, "Feedback is for the delegates who had a place at the assembly."
    return True, ""


@dataclass
class Offer:
    given: bool
    closes_on: date


def offer(registration: Registration) -> Offer | None:
    """What the delegate's personal page offers: feedback to give (or change), or nothing."""
    if not can_give(registration)[0]:
        return None
    given = db.session.scalar(select(Feedback.id).where(Feedback.registration_id == registration.id))
    return Offer(given=given is not None, closes_on=closes_on(registration.assembly))


def workshops_to_rate(registration: Registration) -> list[Workshop]:
    """The workshops a delegate was placed in (once places were published) or recorded at, in the day's order."""
    from ..notes.models import Attendance
    from ..placements.models import Placement
    from ..registration.services import allocation_published

    placed = (select(Placement.workshop_id).where(Placement.registration_id == registration.id)
              if allocation_published(registration.assembly) else None)
    attended = select(Attendance.workshop_id).where(Attendance.registration_id == registration.id,
                                                    Attendance.status.in_(("present", "walk_in")))
    ids = Workshop.id.in_(attended) if placed is None else or_(Workshop.id.in_(placed), Workshop.id.in_(attended))
    return list(db.session.scalars(
        select(Workshop).join(Round, Round.id == Workshop.round_id)
        .where(Round.assembly_id == registration.assembly_id, ids)
        .options(selectinload(Workshop.round)).order_by(*ROUND_ORDER, Workshop.title, Workshop.id)))


def feedback_of(registration: Registration) -> Feedback | None:
    """The feedback this delegate gave, if any."""
    return db.session.scalar(select(Feedback).where(Feedback.registration_id == registration.id)
                             .options(selectinload(Feedback.ratings)))


def _rating(value, what: str) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number not in SCALE:
        raise DomainError(f"Choose one of the answers for {what}.")
    return number


def save_feedback(registration: Registration, data: dict) -> Feedback:
    """Record (or replace) a delegate's feedback: an overall rating, optional workshop ratings and two comments."""
    may, why = can_give(registration)
    if not may:
        raise DomainError(why)
    overall = _rating(data.get("overall"), "how useful the assembly was")
    if overall is None:
        raise DomainError("Choose how useful the assembly was for your work.", "overall")
    allowed = {w.id: w for w in workshops_to_rate(registration)}
    ratings = {}
    for workshop_id, value in (data.get("workshops") or {}).items():
        if workshop_id in allowed:
            rating = _rating(value, allowed[workshop_id].title)
            if rating is not None:
                ratings[workshop_id] = rating
    texts = {name: clean_text(data.get(name), name, max_len=TEXT_MAX) for name in ("differently", "next_time")}
    sector = registration.organisation.sector if registration.organisation else ""
    for attempt in (1, 2):
        feedback = feedback_of(registration)
        if feedback is None:
            feedback = Feedback(assembly_id=registration.assembly_id, registration_id=registration.id)
            db.session.add(feedback)
        feedback.overall, feedback.sector, feedback.updated_at = overall, sector, utcnow()
        feedback.differently, feedback.next_time = texts["differently"], texts["next_time"]
        feedback.ratings = [WorkshopRating(workshop_id=w, rating=r) for w, r in sorted(ratings.items())]
        try:
            db.session.commit()
            return feedback
        except IntegrityError:
            # The same form sent twice at once: the other copy made the row; this one replaces its answers.
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class Tally:
    counts: dict[int, int] = field(default_factory=lambda: {n: 0 for n in SCALE})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def average(self) -> float | None:
        return sum(n * c for n, c in self.counts.items()) / self.total if self.total else None

    @property
    def useful_share(self) -> float | None:
        """The share answering useful or very useful."""
        return (self.counts[4] + self.counts[5]) / self.total if self.total else None


@dataclass
class Summary:
    responses: int
    confirmed: int
    overall: Tally
    workshops: list[tuple[Workshop, Tally]]
    by_sector: dict[str, Tally]


def summary(assembly: Assembly) -> Summary:
    """The organiser's view: responses, the overall rating, each workshop's and each sector's. Four queries."""
    overall, by_sector = Tally(), {}
    for sector, rating, n in db.session.execute(
            select(Feedback.sector, Feedback.overall, func.count()).where(Feedback.assembly_id == assembly.id)
            .group_by(Feedback.sector, Feedback.overall)):
        overall.counts[rating] += n
        by_sector.setdefault(sector, Tally()).counts[rating] += n
    workshops = list(db.session.scalars(
        select(Workshop).join(Round, Round.id == Workshop.round_id).where(Round.assembly_id == assembly.id)
        .options(selectinload(Workshop.round)).order_by(*ROUND_ORDER, Workshop.title, Workshop.id)))
    tallies = {w.id: Tally() for w in workshops}
    for workshop_id, rating, n in db.session.execute(
            select(WorkshopRating.workshop_id, WorkshopRating.rating, func.count())
            .join(Feedback, Feedback.id == WorkshopRating.feedback_id).where(Feedback.assembly_id == assembly.id)
            .group_by(WorkshopRating.workshop_id, WorkshopRating.rating)):
        if workshop_id in tallies:
            tallies[workshop_id].counts[rating] += n
    return Summary(responses=overall.total, confirmed=assembly.confirmed_count, overall=overall,
                   workshops=[(w, tallies[w.id]) for w in workshops], by_sector=dict(sorted(by_sector.items())))


def comments(assembly: Assembly, *, which: str, page: int | None = None, per_page: int = 25):
    """A page of what delegates wrote in answer to one question, newest first, without their names."""
    column = {"differently": Feedback.differently, "next_time": Feedback.next_time}[which]
    return db.paginate(select(Feedback).where(Feedback.assembly_id == assembly.id, column != "")
                       .order_by(Feedback.submitted_at.desc(), Feedback.id.desc()),
                       page=page, per_page=per_page, error_out=False)


def rows_for_csv(assembly: Assembly) -> tuple[list[str], list[list]]:
    """Every response as a row (no names: the sector only), each workshop a column."""
    from ..organisations.models import SECTORS

    workshops = [w for w, _t in summary(assembly).workshops]
    header = ["Submitted (UTC)", "Sector", "Assembly overall (1-5)",
              *[f"{w.round.name}: {w.title} (1-5)" for w in workshops],
              "What will you do differently", "What should the next assembly cover"]
    rows = []
    for f in db.session.scalars(select(Feedback).where(Feedback.assembly_id == assembly.id)
                                .options(selectinload(Feedback.ratings)).order_by(Feedback.submitted_at, Feedback.id)):
        given = {r.workshop_id: r.rating for r in f.ratings}
        rows.append([f.submitted_at.strftime("%Y-%m-%d %H:%M"), SECTORS.get(f.sector, f.sector), f.overall,
                     *[given.get(w.id, "") for w in workshops], f.differently, f.next_time])
    return header, rows
