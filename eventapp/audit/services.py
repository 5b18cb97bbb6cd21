"""Recording who did what with personal data and accounts, and reading it back for organisers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Select, insert, select

from ..accounts.models import User
from ..extensions import db
from ..timeutil import utcnow
from ..txn import begin_writes
from .models import ACTIONS, CAUSES, COMMAND_LINE, UNATTENDED, AuditEvent
from ..text import is_number

# What a delegate's name becomes in the log once the privacy purge has run.
ANONYMISED = "Anonymised delegate"


def record(actor_id: int | None, action: str, *, assembly_id: int | None = None, subject: str = "",
           detail: str = "") -> AuditEvent:
    """Add an audit event to the caller's transaction: it commits or rolls back with the action it records."""
    # The actor is almost always the signed-in user, already in the session: no statement.
    actor = db.session.get(User, actor_id) if actor_id is not None else None
    event = AuditEvent(actor_id=actor_id, actor_name=actor.display_name if actor else "", action=action,
                       assembly_id=assembly_id, subject=subject, detail=detail)
    db.session.add(event)
    return event


def record_many(actor_id: int | None, action: str, *, assembly_id: int | None, entries: Iterable[tuple[str, str]]) -> None:
    """record() for many (subject, detail) of one action, in one statement (an action on hundreds of delegates)."""
    actor = db.session.get(User, actor_id) if actor_id is not None else None
    rows = [{"actor_id": actor_id, "actor_name": actor.display_name if actor else "", "action": action,
             "assembly_id": assembly_id, "subject": subject, "detail": detail, "at": utcnow()}
            for subject, detail in entries]
    if rows:
        db.session.execute(insert(AuditEvent.__table__), rows)


def registration_subject(registration) -> str:
    """How the log names one delegate's registration; forget_delegates() relies on the "registration <id>:" start."""
    return f"registration {registration.id}: {registration.full_name}"


def user_subject(user: User) -> str:
    """How the log names a staff account."""
    return f"account {user.id}: {user.display_name} <{user.email}>"


def record_export(actor_id: int, assembly, rows: int, filters: str) -> None:
    """Log a download of an assembly's registrations (a GET, so it takes the write lock here) and commit."""
    begin_writes()
    record(actor_id, "registrations.export", assembly_id=assembly.id, subject=f"registrations of {assembly.slug}",
           detail=f"{rows} rows" + (f"; filtered: {filters}" if filters else ""))
    db.session.commit()


def forget_delegates(assembly_id: int, people: Iterable[str]) -> int:
    """Take purged delegates' names and addresses (``people``) out of an assembly's audit events; returns how many
    changed (the privacy purge; the caller commits)."""
    # Not only the registration events' subjects: an organiser may have typed a name into a message's subject.
    needles = Needles(people)
    changed = 0
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.assembly_id == assembly_id)).all():
        subject = event.subject
        if subject.startswith("registration "):
            # The id stays, so "who changed registration 42, and when" can still be answered.
            subject = f"{subject.split(':', 1)[0]}: {ANONYMISED}"
        subject, detail = needles.out_of(subject), needles.out_of(event.detail)
        if (subject, detail) != (event.subject, event.detail):
            event.subject, event.detail = subject, detail
            changed += 1
    return changed


_WORD = re.compile(r"\w+")


class Needles:
    """Names and addresses to find in text as whole words, in any case and spacing (the privacy purge's; the
    messages to delegates are scrubbed with the same, see messages.services.forget_delegates)."""

    def __init__(self, people: Iterable[str]):
        # By first word: a text is only searched for the few names one of its words starts (a purge
        # may take thousands of names out of thousands of events).
        self.by_first_word: dict[str, set[str]] = {}
        for person in people:
            words = _WORD.findall(person.lower())
            if words:
                self.by_first_word.setdefault(words[0], set()).add(person.strip())

    def out_of(self, text: str) -> str:
        """The text with each of the names in it replaced by ANONYMISED."""
        found = set().union(*(self.by_first_word.get(w, ()) for w in set(_WORD.findall(text.lower()))))
        if not found:
            return text
        # Longest first, so "Jo Bloggs-Smith" goes whole rather than leaving "-Smith".
        alternatives = "|".join(r"\s+".join(map(re.escape, n.split())) for n in sorted(found, key=len, reverse=True))
        return re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", ANONYMISED, text, flags=re.IGNORECASE)


@dataclass(frozen=True)
class Filters:
    """The log page's filters, as typed (empty means any)."""

    action: str = ""
    assembly_id: int | None = None
    who: str = ""  # a user id, a key of CAUSES (no account), or empty
    q: str = ""

    @classmethod
    def parse(cls, args) -> "Filters":
        """Filters from a query string, ignoring values that mean nothing."""
        action = args.get("action", "")
        assembly = args.get("assembly", "")
        who = args.get("who", "")
        return cls(action=action if action in ACTIONS else "",
                   assembly_id=int(assembly) if is_number(assembly, 11) else None,
                   who=who if who in CAUSES or is_number(who, 11) else "",
                   q=args.get("q", "").strip()[:200])

    def args(self) -> dict[str, Any]:
        """The filters as query-string arguments (for the CSV link and the pages)."""
        out = {"action": self.action, "assembly": self.assembly_id or "", "who": self.who, "q": self.q}
        return {k: v for k, v in out.items() if v}

    def __str__(self) -> str:
        # The search text may be a delegate's name, which the log must not keep past the privacy purge.
        return ", ".join("a search" if k == "q" else f"{k}={v}" for k, v in self.args().items())


def events(filters: Filters) -> Select:
    """The audit events the filters pick, newest first."""
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.assembly_id is not None:
        stmt = stmt.where(AuditEvent.assembly_id == filters.assembly_id)
    if filters.who in CAUSES:
        # As AuditEvent.who reads it: no name kept, and the action says the cause.
        stmt = stmt.where(AuditEvent.actor_id.is_(None), AuditEvent.actor_name == "")
        if filters.who == COMMAND_LINE:
            stmt = stmt.where(AuditEvent.action.not_in(list(UNATTENDED)))
        else:
            stmt = stmt.where(AuditEvent.action.in_([a for a, cause in UNATTENDED.items() if cause == filters.who]))
    elif filters.who:
        stmt = stmt.where(AuditEvent.actor_id == int(filters.who))
    if filters.q:
        stmt = stmt.where(AuditEvent.subject.icontains(filters.q, autoescape=True))
    return stmt


def assembly_titles() -> dict[int, str]:
    """Every assembly's title by id, newest first: the filter's options and the table's assembly column."""
    from ..assemblies.models import Assembly

    return dict(db.session.execute(select(Assembly.id, Assembly.title).order_by(Assembly.date.desc(), Assembly.id)).all())


def people() -> list[tuple[str, str]]:
    """The "who" filter's options: every staff account, then what acts without one (the command line,
    a delegate on their own link, the scheduled sending)."""
    rows = db.session.execute(select(User.id, User.name, User.email).order_by(User.name, User.email)).all()
    return [(str(uid), name or email) for uid, name, email in rows] + list(CAUSES.items())


CSV_HEADER = ["When (UTC)", "Who", "Action", "Assembly", "Subject", "Detail"]


def filename_words(filters: Filters) -> list[str]:
    """What the download's file name says of the filters: the action, the assembly's slug, whose and that it
    is a search (not the words searched for, nor a person's name: a file name outlives the purge)."""
    from ..assemblies.models import Assembly

    slug = db.session.scalar(select(Assembly.slug).where(Assembly.id == filters.assembly_id)) \
        if filters.assembly_id is not None else None
    return [filters.action, slug or ("assembly" if filters.assembly_id is not None else ""),
            filters.who if filters.who in CAUSES else "by-one-person" if filters.who else "",
            "search" if filters.q else ""]


def export_csv(actor_id: int, filters: Filters) -> str:
    """The filtered events as CSV; the download itself is logged (a GET: the write lock is taken here) and committed."""
    from ..registration.csvio import to_csv

    titles = assembly_titles()
    rows = db.session.scalars(events(filters)).all()
    body = to_csv(CSV_HEADER, _csv_rows(rows, titles))
    begin_writes()
    record(actor_id, "audit.export", subject="audit log", detail=f"{len(rows)} rows"
           + (f"; filtered: {filters}" if str(filters) else ""))
    db.session.commit()
    return body


def _csv_rows(rows: Iterable[AuditEvent], titles: dict[int, str]):
    for e in rows:
        yield [e.at.strftime("%Y-%m-%d %H:%M:%S"), e.who, e.action_label,
               titles.get(e.assembly_id, "") if e.assembly_id else "", e.subject, e.detail]
