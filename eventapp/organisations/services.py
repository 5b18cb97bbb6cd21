"""Organisation use cases: add, edit, approve and merge duplicates."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..audit import services as audit
from ..domain import DomainError
from ..extensions import db
from ..listing import page_holding
from .models import SECTORS, STATUSES, Organisation, name_key

# The organisers' list: by name (name_key is unique; id only makes the order total for page_holding).
LIST_ORDER = (Organisation.name_key, Organisation.id)


def filtered(q: str = "", sector: str = "", status: str = ""):
    """The organisers' list narrowed by its filters (unknown sector or status values filter nothing), unordered."""
    stmt = select(Organisation)
    if q.strip():
        stmt = stmt.where(Organisation.name_key.contains(name_key(q), autoescape=True))
    if sector in SECTORS:
        stmt = stmt.where(Organisation.sector == sector)
    if status in STATUSES:
        stmt = stmt.where(Organisation.status == status)
    return stmt


def list_page(org_id: int, per_page: int, q: str = "", sector: str = "", status: str = "") -> int | None:
    """The page of the list, under these filters, that shows this organisation; None when they leave it out."""
    return page_holding(filtered(q, sector, status), LIST_ORDER, Organisation.id, org_id, per_page)


def _check(data: dict[str, Any], current: Organisation | None) -> str:
    name = " ".join((data.get("name") or "").split())
    if not name:
        raise DomainError("Enter the organisation's name.", "name")
    if data.get("sector") not in SECTORS:
        raise DomainError("Choose a sector from the list.", "sector")
    key = name_key(name)
    clash = db.session.scalar(select(Organisation.id).where(Organisation.name_key == key))
    if clash is not None and (current is None or clash != current.id):
        raise DomainError("An organisation with that name already exists.", "name")
    return name


def find_by_name(name: str) -> Organisation | None:
    """The organisation with this name, ignoring case and spacing."""
    return db.session.scalar(select(Organisation).where(Organisation.name_key == name_key(name)))


def save_organisation(data: dict[str, Any], org: Organisation | None = None, *, commit: bool = True) -> Organisation:
    """Create or update an organisation."""
    name = _check(data, org)
    if org is None:
        org = Organisation(status=data.get("status", "approved"))
        db.session.add(org)
    elif data.get("status"):
        org.status = data["status"]
    org.name = name
    org.name_key = name_key(name)
    org.sector = data["sector"]
    try:
        if commit:
            db.session.commit()
        else:
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise DomainError("An organisation with that name already exists.", "name") from None
    return org


def approve_organisation(org: Organisation) -> None:
    """Approve a pending organisation so delegates can choose it."""
    org.status = "approved"
    db.session.commit()


# What a merge moves, as the merge page names it; a table added later is counted as "other records".
_MOVED_LABELS = {"registration": ("registration", "registrations"), "action": ("action", "actions"),
                 "action_status_update": ("action update", "action updates"),
                 "agenda_item": ("agenda item", "agenda items"),
                 "assembly_message": ("email to its delegates", "emails to its delegates")}


def merge_preview(source: Organisation) -> list[tuple[tuple[str, str], int]]:
    """((singular, plural), count) of what merging ``source`` would move to another organisation, biggest first."""
    counts: dict[tuple[str, str], int] = {}
    for table in db.metadata.sorted_tables:
        if table.name == "partner_contact":
            continue  # the merge page says what happens to the partner contact
        for fk in table.foreign_keys:
            if fk.column.table is Organisation.__table__:
                n = db.session.scalar(select(func.count()).select_from(table).where(fk.parent == source.id)) or 0
                if n:
                    label = _MOVED_LABELS.get(table.name, ("other record", "other records"))
                    counts[label] = counts.get(label, 0) + n
    return sorted(counts.items(), key=lambda item: -item[1])


def merge_organisations(source: Organisation, target: Organisation, *, by: int | None = None) -> int:
    """Move everything that points at ``source`` to ``target`` and delete ``source``.

    Returns the number of rows moved. Every foreign key to organisation.id is
    followed, so areas added later (registrations, actions) merge too.
    """
    if source.id == target.id:
        raise DomainError("Choose a different organisation to merge into.", "target_id")
    moved = 0
    org_table = Organisation.__table__
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is org_table:
                if (fk.parent.unique or list(table.primary_key.columns) == [fk.parent]) and db.session.scalar(
                        select(fk.parent).where(fk.parent == target.id)) is not None:
                    # One row per organisation (its partner contact): the one of the organisation kept wins.
                    db.session.execute(delete(table).where(fk.parent == source.id))
                    continue
                result = db.session.execute(
                    update(table).where(fk.parent == source.id).values({fk.parent.name: target.id})
                )
                moved += result.rowcount or 0
    if target.status == "pending" and source.status == "approved":
        target.status = "approved"
    audit.record(by, "organisation.merge", subject=f"organisation {source.id}: {source.name} into {target.id}: {target.name}", detail=f"{moved} rows moved")
    db.session.delete(source)
    db.session.commit()
    return moved


def over_limit(organisation: Organisation) -> list[tuple[Any, int]]:
    """(assembly, confirmed delegates) for each coming assembly where the organisation has more than each may send."""
    from ..assemblies.models import Assembly
    from ..registration.models import Registration
    from ..registration.services import has_taken_place

    count = func.count(Registration.id)
    rows = db.session.execute(
        select(Assembly, count).join(Registration, Registration.assembly_id == Assembly.id)
        .where(Registration.organisation_id == organisation.id, Registration.status == "confirmed",
               Assembly.org_limit.is_not(None), Assembly.cancelled_at.is_(None))
        .group_by(Assembly.id).having(count > Assembly.org_limit).order_by(Assembly.date, Assembly.id)).all()
    return [(assembly, n) for assembly, n in rows if not has_taken_place(assembly)]
