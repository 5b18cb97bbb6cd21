"""The registrations CSV as an organiser uses it: its file name says the assembly, the day and the filters; its
statements do not grow with the rows (10,000 delegates at a national event); and a downloaded file imports back."""
from __future__ import annotations

import io
import re
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import event, func, select

from eventapp.extensions import db
from eventapp.registration import services
from eventapp.registration.csvio import csv_response, download_name, parse_csv
from eventapp.registration.models import Preference, Registration
from eventapp.timeutil import local_today
from tests.conftest import csrf_from
from tests.factories import make_assembly, make_round, make_workshop
from tests.registration.conftest import outbox
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


def _assembly_like(setup, **kw):
    """Another assembly (next year's) offering the same topics."""
    other = make_assembly(**kw)
    rnd = make_round(other)
    for t in setup.topics:
        make_workshop(rnd, t)
    db.session.commit()
    return other


def _upload_to(client, slug: str, data: bytes, apply: bool) -> str:
    url = f"/organiser/assemblies/{slug}/registrations/import"
    form = {"csrf_token": csrf_from(client.get(url).get_data(as_text=True)), "file": (io.BytesIO(data), "list.csv")}
    if apply:
        form["apply"] = "y"
    resp = client.post(url, data=form, content_type="multipart/form-data")
    assert resp.status_code == 200
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


def test_an_everyone_export_imports_into_next_year_leaving_the_cancelled_out(app, as_organiser, setup):
    # Capacity 5, 2 per organisation: Dan (the constabulary's third) waits; Ben then cancels.
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 1, {"full_name": "Ben Baker"}),
                             (3, 0, {"full_name": "Cat Cole"}), (4, 0, {"full_name": "Dan Dale"}),
                             (5, 2, {"full_name": "Eve Earl"}), (6, 2, {"full_name": "Fay Ford"})])
    with app.test_request_context("/"):
        services.cancel_registration(regs[1])
        services.cancel_registration(regs[5])
    db.session.expire_all()
    assert {r.full_name: r.status for r in db.session.scalars(select(Registration))} == {
        "Ann Able": "confirmed", "Ben Baker": "cancelled", "Cat Cole": "confirmed", "Dan Dale": "waiting",
        "Eve Earl": "confirmed", "Fay Ford": "cancelled"}
    data = as_organiser.get(base(setup) + ".csv").get_data()
    text = data.decode("utf-8-sig")
    assert text.count(",Cancelled,") == 2 and text.count(",Waiting list,") == 1  # the export's own wording
    # Next year's, with room for everyone and no limit per organisation.
    other = _assembly_like(setup, capacity=50, org_limit=None)
    check = _upload_to(as_organiser, other.slug, data, apply=False)
    assert "Check of the file (nothing imported yet)" in check
    assert "4 rows can be imported." in check
    # The export lists the cancelled first (rows 2 and 3): how many, why and which, before anything is imported.
    assert "2 rows will be left out because their Status is &ldquo;Cancelled&rdquo;: a cancelled registration " \
           "is not imported (rows 2, 3)." in check
    assert "Status column is read only to leave out cancelled registrations" in check
    assert "Ben Baker" not in check and "Fay Ford" not in check and "problems" not in check
    # Dan waited last year (his organisation was at its limit): here there is a place for him.
    assert re.search(r"<bdi>Dan Dale</bdi>.*?<td data-label=\"Would be\">confirmed</td>", check)
    assert db.session.scalar(select(func.count()).select_from(Registration)
                             .where(Registration.assembly_id == other.id)) == 0
    # Where two places are left, last year's confirmed Eve would wait: capacity decides, not the file's status.
    small = _assembly_like(setup, capacity=2, org_limit=None)
    tight = _upload_to(as_organiser, small.slug, data, apply=False)
    assert "4 rows can be imported: 2 would be confirmed and 2 put on the waiting list" in tight
    assert re.search(r"<bdi>Eve Earl</bdi>.*?<td data-label=\"Would be\">on the waiting list</td>", tight)
    mailed_before = {m.id for m in outbox()}
    done = _upload_to(as_organiser, other.slug, data, apply=True)
    assert "4 registered and confirmed, 0 put on the waiting list." in done
    assert "2 rows were left out because their Status is &ldquo;Cancelled&rdquo;" in done
    imported = {r.full_name: r.status for r in db.session.scalars(
        select(Registration).where(Registration.assembly_id == other.id))}
    assert imported == {"Ann Able": "confirmed", "Cat Cole": "confirmed", "Dan Dale": "confirmed",
                        "Eve Earl": "confirmed"}
    db.session.refresh(other)
    assert (other.confirmed_count, other.waiting_count, other.cancelled_count) == (4, 0, 0)
    assert sorted(m.to_email for m in outbox() if m.id not in mailed_before) == [
        "delegate1@example.org", "delegate3@example.org", "delegate4@example.org", "delegate5@example.org"]


def test_a_status_column_leaves_out_cancelled_in_any_case_and_reads_nothing_else(app, as_organiser, setup):
    from eventapp.registration.csvio import is_cancelled_status
    from eventapp.registration.models import REGISTRATION_STATUSES

    assert is_cancelled_status(REGISTRATION_STATUSES["cancelled"])  # the export's own label
    for said in ("cancelled", " CANCELLED ", "Canceled", "Registration cancelled"):
        assert is_cancelled_status(said), said
    for said in ("", "Confirmed", "Waiting list", "Not cancelled", None):
        assert not is_cancelled_status(said), said
    # A list kept by hand: its own column name for the status, and statuses the import does not act on.
    text = ("Name,Email,Role,Organisation,Registration status\n"
            "Ann Able,ann@example.org,Officer,Mind in Shireford,CANCELLED\n"
            "Bo Bell,bo@example.org,Officer,Mind in Shireford,Waiting list\n"
            "Cy Cole,cy@example.org,Officer,Mind in Shireford,declined\n"
            "Di Dee,not-an-email,Officer,Mind in Shireford,cancelled\n")
    check = _upload_to(as_organiser, setup.assembly.slug, text.encode(), apply=False)
    assert "2 rows can be imported." in check and "(rows 2, 5)" in check and "problems" not in check
    done = _upload_to(as_organiser, setup.assembly.slug, text.encode(), apply=True)
    assert "2 registered and confirmed" in done
    assert sorted(db.session.scalars(select(Registration.email))) == ["bo@example.org", "cy@example.org"]
    # Without a status column, nothing is said of one.
    plain = _upload_to(as_organiser, setup.assembly.slug,
                       b"full_name,email,job_title,organisation\nEd,ed@example.org,Officer,Mind in Shireford\n",
                       apply=False)
    report = plain.split('id="report-title"', 1)[1].split("</section>", 1)[0]
    assert "1 row can be imported" in report and "Status" not in report and "left out" not in report


def _import_statements(app, assembly, rows) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with app.test_request_context("/"):
            services.import_registrations(assembly, rows, apply=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_reading_the_status_column_adds_no_statement(app, setup):
    header = "full_name,email,job_title,organisation"
    body = "".join(f"P{n},p{n}@example.org,Officer,Mind in Shireford\n" for n in range(30))
    plain = parse_csv(f"{header}\n{body}".encode())
    _import_statements(app, setup.assembly, plain)  # the assembly's own attributes are read in the first
    without = _import_statements(app, setup.assembly, plain)
    with_status = parse_csv((f"{header},Status\n" + body.replace("\n", ",Confirmed\n")).encode())
    assert _import_statements(app, setup.assembly, with_status) == without


def test_delegates_who_share_a_name_come_in_the_order_they_registered(app, as_organiser, setup):
    # Two officers called Sam Patel (one typed in lower case): the file put them in whatever order the database
    # gave (on PostgreSQL any; the one registered second often first), so two downloads differed and a row's
    # neighbour changed between them.
    seed(app, setup, [(1, 0, {"full_name": "Sam Patel", "email": "zz.sam.patel@example.org"}),
                      (2, 1, {"full_name": "sam patel", "email": "aa.sam.patel@example.org"})])
    for reg in db.session.scalars(select(Registration).where(Registration.email_key == "zz.sam.patel@example.org")):
        reg.full_name = "Sam PATEL"  # corrected since: stored again, after the other
    db.session.commit()
    body = as_organiser.get(base(setup) + ".csv").get_data(as_text=True)
    emails = [line.split(",")[1] for line in body.lstrip("\ufeff").splitlines()[1:]]
    assert emails == ["zz.sam.patel@example.org", "aa.sam.patel@example.org"]
