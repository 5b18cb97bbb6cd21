"""The CSV import at a national event's size: its statements do not grow with the file (no lookup per row)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.registration import services
from eventapp.registration.models import Registration
from tests.factories import make_assembly, make_round, make_workshop
from tests.test_query_counts import counting


def _rows(setup, n: int) -> list[dict[str, str]]:
    # Each row names an organisation (in its own capitals), a third of them give their three choices.
    return [{"full_name": f"Person {i}", "email": f"p{i}@example.org", "job_title": "Officer",
             "organisation": setup.orgs[i % 3].name.upper(), "access_needs": "", "dietary_needs": "",
             **({f"choice_{k}": t.name for k, t in enumerate(setup.topics[:3], start=1)} if i % 3 == 0 else {})}
            for i in range(n)]


def _assembly(setup, capacity: int):
    assembly = make_assembly(capacity=capacity, org_limit=capacity // 3)
    rnd = make_round(assembly)
    for topic in setup.topics:
        make_workshop(rnd, topic)
    return assembly


def _statements(app, assembly, rows, *, apply: bool) -> int:
    with app.test_request_context("/"):
        with counting() as statements:
            report = services.import_registrations(db.session.get(type(assembly), assembly.id), rows, apply=apply)
        assert not report.errors and report.added + report.waiting == len(rows)
    return len(statements)


@pytest.mark.parametrize("apply", [False, True])
def test_an_import_of_300_rows_sends_as_many_statements_as_one_of_30(app, setup, apply):
    # Each file fills two thirds of its assembly's places and puts the rest on the waiting list.
    small, large = _assembly(setup, 20), _assembly(setup, 200)
    few = _statements(app, small, _rows(setup, 30), apply=apply)
    many = _statements(app, large, _rows(setup, 300), apply=apply)
    assert many == few, (few, many)
    assert few < 40
    if apply:
        assert db.session.scalar(select(func.count(Registration.id)).where(Registration.assembly_id == large.id)) == 300
        # Every delegate's email, and a first invitation for each confirmed one, queued as recipes.
        queued = db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.assembly_id == large.id, OutboxMessage.render.is_not(None)))
        assert queued == 300 + large.confirmed_count


def test_the_import_decides_places_in_file_order_as_the_check_said(setup, email_request_context):
    # Capacity 9, three per organisation, and an address already registered: the check and the import agree,
    # row by row, and the waiting list continues after the people already on it.
    assembly = _assembly(setup, 9)
    for n, org in ((1, 0), (2, 0), (3, 0), (4, 0)):
        services.register(assembly, {"full_name": f"Early {n}", "email": f"early{n}@example.org",
                                     "job_title": "Officer", "organisation_id": setup.orgs[org].id, "topic_ids": [],
                                     "consent": True, "join_waiting_list": True}, check_window=False, topics=[])
    rows = _rows(setup, 12) + [{**_rows(setup, 1)[0], "email": "EARLY2@example.org"}]
    check = services.import_registrations(assembly, rows, apply=False)
    done = services.import_registrations(assembly, rows, apply=True)
    assert (check.added, check.waiting) == (done.added, done.waiting) == (6, 6)
    assert done.errors == [(14, "EARLY2@example.org is already registered for this assembly.")]
    regs = db.session.scalars(select(Registration).where(Registration.assembly_id == assembly.id,
                                                         Registration.source == "import")
                              .order_by(Registration.id)).all()
    assert [r.email for r in regs] == [f"p{i}@example.org" for i in range(12)]
    assert [r.status for r in regs] == ["confirmed" if i in (1, 2, 4, 5, 7, 8) else "waiting" for i in range(12)]
    # The Constabulary has its three (rows 0, 3, 6 wait), then the assembly is full (rows 9 to 11 wait);
    # Early 4 waits at position 1 and the imported join the queue behind, in file order.
    assert [r.waiting_position for r in regs if r.status == "waiting"] == [2, 3, 4, 5, 6, 7]
    assert [len(r.preferences) for r in regs] == [3 if i % 3 == 0 else 0 for i in range(12)]


def test_an_address_registered_while_the_file_is_imported_imports_nothing_and_says_why(setup, email_request_context,
                                                                                     monkeypatch):
    # On PostgreSQL the rows are checked before the lock: someone may register one of the addresses in between.
    assembly = _assembly(setup, 50)
    rows = _rows(setup, 5)
    lock = services._lock_places

    def someone_registers_first(assembly_id):
        places = lock(assembly_id)
        # As a public form committed just before the lock (here in the same transaction, which the failure undoes).
        db.session.add(Registration(assembly_id=assembly_id, full_name="Quick Person", email=rows[2]["email"],
                                    email_key=services.email_key(rows[2]["email"]), job_title="Officer",
                                    organisation_id=setup.orgs[0].id, status="confirmed", source="form"))
        db.session.flush()
        return places

    monkeypatch.setattr(services, "_lock_places", someone_registers_first)
    with pytest.raises(services.DomainError) as refused:
        services.import_registrations(assembly, rows, apply=True)
    assert refused.value.message.startswith("Nothing was imported: while the file was being imported, one of its "
                                            "addresses was registered")
    assert refused.value.field == "file"
    assert db.session.scalar(select(func.count(Registration.id)).where(Registration.assembly_id == assembly.id)) == 0
