"""The registrations CSV as an organiser uses it: its file name says the assembly, the day and the filters; its
statements do not grow with the rows (10,000 delegates at a national event); and a downloaded file imports back."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy import event, select

from eventapp.extensions import db
from eventapp.registration import services
from eventapp.registration.csvio import csv_response, download_name, parse_csv
from eventapp.registration.models import Preference, Registration
from eventapp.timeutil import local_today
from tests.factories import make_assembly, make_round, make_workshop
from tests.registration.test_organiser import base, seed


def test_download_name_and_header_are_safe_and_carry_an_rfc_5987_name(app):
    on = datetime(2027, 3, 1).date()
    assert download_name("registrations", "csa-2027", "", "waiting", "Étude 1/2", on=on) == \
        "registrations-csa-2027-waiting-tude-1-2-2027-03-01.csv"
    with app.test_request_context("/"):
        resp = csv_response("\ufeffa\r\n", "registrations-csa-2027-2027-03-01.csv")
    assert resp.headers["Content-Disposition"] == ('attachment; filename="registrations-csa-2027-2027-03-01.csv"; '
                                                   "filename*=UTF-8''registrations-csa-2027-2027-03-01.csv")
    assert resp.headers["Cache-Control"] == "no-store" and resp.mimetype == "text/csv"
    assert resp.get_data().startswith(b"\xef\xbb\xbf")


def test_the_file_name_says_the_assembly_the_day_and_the_filters(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "Ann Able"})])
    today = local_today(setup.assembly.timezone).isoformat()
    slug = setup.assembly.slug
    everyone = as_organiser.get(base(setup) + ".csv")
    assert f'filename="registrations-{slug}-{today}.csv"' in everyone.headers["Content-Disposition"]
    waiting = as_organiser.get(base(setup) + f".csv?status=waiting&sector=police&needs=dietary"
                               f"&organisation={setup.orgs[0].id}&q=ann")
    # The search is named, not what was searched for (a delegate's name).
    name = f"registrations-{slug}-waiting-police-organisation-dietary-needs-search-{today}.csv"
    assert waiting.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    # Nothing matches: the column names alone, not an error.
    empty = as_organiser.get(base(setup) + ".csv?q=nobody")
    assert empty.status_code == 200 and empty.get_data().decode("utf-8-sig").count("\r\n") == 1


def _count_statements(client, url: str) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def _add_many(setup, n: int, start: int) -> None:
    regs = [Registration(assembly_id=setup.assembly.id, organisation_id=setup.orgs[i % 3].id,
                         full_name=f"Bulk {i}", email=f"bulk{i}@example.org", email_key=f"bulk{i}@example.org",
                         job_title="Officer", status="confirmed") for i in range(start, start + n)]
    db.session.add_all(regs)
    db.session.flush()
    db.session.add_all(Preference(registration_id=r.id, topic_id=t.id, rank=rank)
                       for r in regs for rank, t in enumerate(setup.topics[:2], start=1))
    db.session.commit()


def test_the_export_sends_as_many_statements_for_a_thousand_delegates_as_for_one(as_organiser, setup):
    _add_many(setup, 1, 0)
    few = _count_statements(as_organiser, base(setup) + ".csv")
    few_filtered = _count_statements(as_organiser, base(setup) + ".csv?sector=police")
    _add_many(setup, 1_200, 1)
    assert _count_statements(as_organiser, base(setup) + ".csv") == few
    assert _count_statements(as_organiser, base(setup) + ".csv?sector=police") == few_filtered


def test_a_downloaded_file_imports_back_with_its_choices_and_hostile_text(app, as_organiser, setup):
    names = ["=cmd|' /C calc'!A0", "Zoë Ní Bhriain 🙂", "\u0645\u0631\u064a\u0645 \u0627\u0644\u0639\u0644\u064a",
             "'Quoted' Name", "-Minus Person"]
    seed(app, setup, [(i, i % 3, {"full_name": name, "job_title": "+44 01234 567890",
                                  "access_needs": "Step-free\r\nhearing loop", "dietary_needs": "@vegan"})
                      for i, name in enumerate(names, start=1)])
    data = as_organiser.get(base(setup) + ".csv").get_data()
    # Another assembly offering the same topics (next year's): every row is read, none refused.
    other = make_assembly(capacity=50, org_limit=None)
    rnd = make_round(other)
    for t in setup.topics:
        make_workshop(rnd, t)
    db.session.commit()
    rows = parse_csv(data)
    with app.test_request_context("/"):
        report = services.import_registrations(other, rows, apply=True)
    assert report.errors == [] and report.added == len(names)
    imported = {r.email: r for r in db.session.scalars(select(Registration).where(Registration.assembly_id == other.id))}
    originals = db.session.scalars(select(Registration).where(Registration.assembly_id == setup.assembly.id)).all()
    for reg in originals:
        back = imported[reg.email]
        assert (back.full_name, back.job_title, back.dietary_needs) == (reg.full_name, reg.job_title, reg.dietary_needs)
        assert back.access_needs.replace("\r\n", "\n") == reg.access_needs.replace("\r\n", "\n")
        assert back.choice_topic_ids == reg.choice_topic_ids
