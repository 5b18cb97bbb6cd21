"""Organiser pages: list, filters, counts, add/edit/cancel on someone's behalf, moves, pending organisations, CSV."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.organisations.models import Organisation
from eventapp.registration import services
from eventapp.registration.csvio import csv_cell
from eventapp.registration.models import Registration
from tests.conftest import csrf_from, post_form
from tests.registration.conftest import form_fields, outbox, person
from tests.page_messages import WITHOUT_ISOLATES


def seed(app, setup, people):
    with app.test_request_context("/"):
        return [services.register(setup.assembly, person(setup, n, org=o, **kw)).registration for n, o, kw in people]


def base(setup):
    return f"/organiser/assemblies/{setup.assembly.slug}/registrations"


def test_only_organisers_see_registrations(client, setup, as_facilitator):
    assert as_facilitator.get(base(setup)).status_code == 403


def test_assembly_page_links_to_registrations(as_organiser, setup):
    html = as_organiser.get(f"/organiser/assemblies/{setup.assembly.slug}").get_data(as_text=True)
    assert f'href="{base(setup)}"' in html


def test_list_shows_totals_and_filters(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "Aisha Khan"}), (2, 1, {"full_name": "李小龍"}), (3, 2, {}),
                      (4, 0, {}), (5, 1, {}), (6, 2, {"full_name": "Waiting Wendy"})])
    html = as_organiser.get(base(setup)).get_data(as_text=True)
    assert "5 confirmed of 5 places" in html and "1 on the waiting list" in html
    assert "李小龍" in html and "Aisha Khan" in html
    html = as_organiser.get(base(setup) + "?q=aisha").get_data(as_text=True)
    assert "Aisha Khan" in html and "李小龍" not in html
    html = as_organiser.get(base(setup) + "?status=waiting").get_data(as_text=True)
    assert "Waiting Wendy" in html and "Aisha Khan" not in html and "(no. 1)" in html
    html = as_organiser.get(base(setup) + "?sector=local_authority").get_data(as_text=True)
    assert "李小龍" in html and "Aisha Khan" not in html
    html = as_organiser.get(base(setup) + f"?organisation={setup.orgs[0].id}").get_data(as_text=True)
    assert "Aisha Khan" in html and "李小龍" not in html
    html = as_organiser.get(base(setup) + "?q=nobody-like-this").get_data(as_text=True)
    assert "No registrations match." in html


def _row(html: str, name: str) -> str:
    """The table row of the delegate called ``name``."""
    start = html.index(f"<td><bdi>{name}</bdi>")
    return html[start:html.index("</tr>", start)]


def test_each_row_offers_the_actions_of_its_status(app, as_organiser, setup):
    # Two per organisation: the third from the police is waiting; one other is then cancelled.
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 1, {"full_name": "Ben Baker"}),
                             (3, 0, {"full_name": "Cat Cole"}), (4, 0, {"full_name": "Dan Dale"})])
    with app.test_request_context("/"):
        services.cancel_registration(regs[1])
    db.session.expire_all()
    regs = [db.session.get(Registration, r.id) for r in regs]
    assert {r.status for r in regs} == {"confirmed", "waiting", "cancelled"}
    html = as_organiser.get(base(setup) + "?status=all").get_data(as_text=True)
    for reg in regs:
        row, url = _row(html, reg.full_name), f"{base(setup)}/{reg.id}"
        assert f'<a href="{url}/edit?status=all">Edit<span class="visually-hidden"> {reg.full_name}</span></a>' in row
        sector = "Police" if reg.organisation_id == setup.orgs[0].id else "Local authority (district or borough)"
        assert f'<bdi>{reg.organisation.name}</bdi><br><span class="meta">{sector}</span>' in row
        if reg.status == "confirmed":
            assert "<td>Confirmed</td>" in row
            assert f'action="{url}/waiting?status=all" class="inline">' in row
            assert f'Move to waiting list<span class="visually-hidden"> {reg.full_name}</span>' in row
        elif reg.status == "waiting":
            assert f"<td>Waiting list (no. {reg.waiting_position})</td>" in row
            assert f'action="{url}/confirm?status=all" class="inline">' in row
            assert f'Confirm<span class="visually-hidden"> {reg.full_name}</span>' in row
        else:
            assert "<td>Cancelled</td>" in row
            assert f'action="{url}/reinstate?status=all" class="inline">' in row
            assert f'Reinstate<span class="visually-hidden"> {reg.full_name}</span>' in row
        assert (f'<a href="{url}/cancel?status=all">Cancel<span class="visually-hidden"> {reg.full_name}</span></a>' in row) == (
            reg.status != "cancelled")


def test_filters_combine_and_the_pages_keep_them(app, as_organiser, setup, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 1, {"full_name": "Ben Baker"}),
                             (3, 0, {"full_name": "Cat Cole", "job_title": "Analyst"}),
                             (4, 0, {"full_name": "Dan Dale"}), (5, 2, {"full_name": "Eve East"})])
    html = as_organiser.get(base(setup) + "?q=officer&sector=police&status=all").get_data(as_text=True)
    # Cat is an analyst: two police officers, one page (no page links).
    assert "Ann Able" in html and "Dan Dale" in html and "Cat Cole" not in html and "Ben Baker" not in html
    assert "Page 1 of" not in html
    html = as_organiser.get(base(setup) + "?q=officer&status=all").get_data(as_text=True)
    assert "Page 1 of 2 (4 in all)" in html and "Ann Able" in html and "Ben Baker" in html
    html = as_organiser.get(base(setup) + "?sector=police&status=all").get_data(as_text=True)
    assert "Page 1 of 2 (3 in all)" in html and "Ann Able" in html and "Cat Cole" in html
    # The links to other pages keep the filters, in the order they came.
    assert f'href="{base(setup)}?sector=police&amp;status=all&amp;page=2" rel="next"' in html
    html = as_organiser.get(base(setup) + "?sector=police&status=all&page=2").get_data(as_text=True)
    assert "Dan Dale" in html and "Ann Able" not in html and "Page 2 of 2 (3 in all)" in html
    waiting = next(r for r in regs if r.status == "waiting")
    html = as_organiser.get(base(setup) + f"?organisation={setup.orgs[0].id}&status=waiting").get_data(as_text=True)
    assert f"{waiting.full_name}</bdi>" in html and html.count("<tr>") == 2  # the header and its row
    html = as_organiser.get(base(setup) + f"?organisation={setup.orgs[2].id}&q=eve").get_data(as_text=True)
    assert "Eve East" in html and html.count("<tr>") == 2 and "Page 1 of" not in html


def test_pagination_links_built_once_match_page_url(app, setup):
    for query in ("?status=all&q=x", "?q=4611686018427387903&page=2", "?page=3&sector=police"):
        with app.test_request_context(base(setup) + query):
            page_url, page_urls = app.jinja_env.globals["page_url"], app.jinja_env.globals["page_urls"]
            assert [page_urls()(n) for n in (1, 2, 40)] == [page_url(n) for n in (1, 2, 40)]


def test_list_of_an_unknown_assembly_is_not_found(as_organiser, setup):
    assert as_organiser.get("/organiser/assemblies/no-such-assembly/registrations").status_code == 404


def test_list_builds_its_queries_once_per_combination_of_filters(app, as_organiser, setup):
    from eventapp.registration.views import _list_statements

    seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 1, {"full_name": "Ben Baker"})])
    assert "Ann Able" in as_organiser.get(base(setup) + "?q=ann&sector=police").get_data(as_text=True)
    built = _list_statements.cache_info().misses
    html = as_organiser.get(base(setup) + "?q=ben&sector=local_authority").get_data(as_text=True)
    assert "Ben Baker" in html and "Ann Able" not in html
    assert _list_statements.cache_info().misses == built


def test_empty_state(as_organiser, setup):
    assert "Nobody has registered yet." in as_organiser.get(base(setup)).get_data(as_text=True)


def test_counts_by_sector_and_organisation(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {}), (2, 0, {}), (3, 1, {}), (4, 0, {})])
    html = as_organiser.get(base(setup) + "/counts").get_data(as_text=True)
    assert "<td>Police</td><td>2</td><td>1</td>" in html.replace("<bdi>", "").replace("</bdi>", "")
    assert "Northvale District Council" in html


def test_add_on_someones_behalf_needs_no_consent(as_organiser, setup):
    fields = form_fields(setup, n=9, full_name="Kwame Mensah")
    fields.pop("consent")
    resp = post_form(as_organiser, base(setup) + "/new", fields)
    assert resp.status_code == 302
    reg = db.session.scalar(select(Registration))
    assert reg.full_name == "Kwame Mensah" and reg.source == "organiser" and reg.consent_at is None
    assert outbox("registration_confirmed")[0].to_email == "delegate9@example.org"


def test_edit_and_cancel_on_someones_behalf(app, as_organiser, setup):
    [reg] = seed(app, setup, [(1, 0, {})])
    url = f"{base(setup)}/{reg.id}/edit"
    assert 'value="Delegate 1"' in as_organiser.get(url).get_data(as_text=True)
    resp = post_form(as_organiser, url, form_fields(setup, n=1, job_title="Chief Inspector"))
    assert resp.status_code == 302
    assert reg.job_title == "Chief Inspector"
    page = as_organiser.get(f"{base(setup)}/{reg.id}/cancel").get_data(as_text=True)
    assert "Yes, cancel the registration" in page and reg.status == "confirmed"
    post_form(as_organiser, f"{base(setup)}/{reg.id}/cancel", {})
    db.session.expire_all()
    assert db.session.get(Registration, reg.id).status == "cancelled"


def test_move_between_waiting_list_and_confirmed(app, as_organiser, setup):
    regs = seed(app, setup, [(n, n % 3, {}) for n in range(6)])
    waiting = regs[5]
    resp = post_form(as_organiser, f"{base(setup)}/{waiting.id}/confirm", {}, form_url=base(setup), follow_redirects=True)
    assert "The assembly is full." in resp.get_data(as_text=True)
    post_form(as_organiser, f"{base(setup)}/{regs[0].id}/waiting", {}, form_url=base(setup))
    post_form(as_organiser, f"{base(setup)}/{waiting.id}/confirm", {}, form_url=base(setup))
    db.session.expire_all()
    assert db.session.get(Registration, waiting.id).status == "confirmed"
    assert db.session.get(Registration, regs[0].id).status == "waiting"
    setup.assembly.capacity = 6
    db.session.commit()
    resp = post_form(as_organiser, f"{base(setup)}/promote", {}, form_url=base(setup), follow_redirects=True)
    assert "1 person promoted" in resp.get_data(as_text=True)


def test_pending_organisations_can_be_approved_or_merged(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"organisation_id": None, "organisation_not_listed": True,
                              "new_organisation_name": "Shireford Constab.", "new_organisation_sector": "police"})])
    html = as_organiser.get(base(setup)).get_data(as_text=True)
    assert "Organisations to check" in html and "<bdi>Shireford Constab.</bdi> (Police)" in html
    # The delegate's row names the organisation, its sector, that it is pending, and the status.
    assert '<bdi>Shireford Constab.</bdi><br><span class="meta">Police, pending</span>' in html
    assert "<td>Confirmed</td>" in html
    pending = db.session.scalar(select(Organisation).where(Organisation.status == "pending"))
    resp = post_form(as_organiser, f"/organiser/organisations/{pending.id}/merge", {"target_id": setup.orgs[0].id})
    assert resp.status_code == 302
    reg = db.session.scalar(select(Registration))
    db.session.refresh(reg)
    assert reg.organisation_id == setup.orgs[0].id
    assert "Organisations to check" not in as_organiser.get(base(setup)).get_data(as_text=True)


def test_csv_export_opens_in_excel_and_neutralises_formulas(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "=HYPERLINK(\"http://evil\")", "job_title": "+44 1234", "dietary_needs": "@SUM(A1)\nline two"}),
                      (2, 1, {"full_name": "Zoë Ní Bhriain", "job_title": "-Officer"})])
    resp = as_organiser.get(base(setup) + ".csv")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "Full name"
    by_email = {r[1]: r for r in rows[1:]}
    evil = by_email["delegate1@example.org"]
    assert evil[0] == "'=HYPERLINK(\"http://evil\")" and evil[2] == "'+44 1234" and evil[8] == "'@SUM(A1)\nline two"
    assert by_email["delegate2@example.org"][0] == "Zoë Ní Bhriain" and by_email["delegate2@example.org"][2] == "'-Officer"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_csv_cell_escapes_every_formula_starter():
    for bad in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert csv_cell(bad) == "'" + bad
    assert csv_cell("Plain") == "Plain" and csv_cell(None) == ""


def test_csv_cell_escapes_a_formula_behind_leading_spaces_in_every_export():
    from eventapp.outcomes.services import csv_safe

    for bad in (" =1+1", "   @SUM(A1)", " \t=1+1", "\u00a0+1", "\u3000-1", "＝1+1", " ＠x"):
        assert csv_cell(bad) == "'" + bad, repr(bad)
        assert csv_safe(bad) == "'" + bad  # the report's CSV, written row by row, uses the same rule
    for fine in (" plain", "a=b", "   ", "", "Zoë"):
        assert csv_cell(fine) == fine
    assert csv_safe(3) == 3


def _upload(client, setup, text: str, apply: bool):
    page = client.get(base(setup) + "/import").get_data(as_text=True)
    from tests.conftest import csrf_from

    data = {"csrf_token": csrf_from(page), "file": (io.BytesIO(text.encode("utf-8-sig")), "list.csv")}
    if apply:
        data["apply"] = "y"
    return client.post(base(setup) + "/import", data=data, content_type="multipart/form-data")


IMPORT = (
    "full_name,email,job_title,organisation,access_needs,dietary_needs,choice_1,choice_2,choice_3\n"
    "Siobhán O'Brien,siobhan@example.org,Inspector,Shireford Constabulary,,,Anti-social behaviour,Criminal exploitation,Poor mental health\n"
    "No Org,noorg@example.org,Officer,Nowhere Council,,,,,\n"
    "Bad Mail,not-an-email,Officer,Mind in Shireford,,,,,\n"
    "Twice,siobhan@example.org,Officer,Mind in Shireford,,,,,\n"
    "Bad Topic,bt@example.org,Officer,Mind in Shireford,,,Knitting,Criminal exploitation,Poor mental health\n"
    "李小龍,li@example.org,Analyst,Northvale District Council,,,,,\n"
)


def test_csv_import_dry_run_reports_row_errors_and_changes_nothing(as_organiser, setup):
    resp = _upload(as_organiser, setup, IMPORT, apply=False)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "nothing imported yet" in html and "2 rows can be imported" in html and "4 rows have problems" in html
    assert "No organisation called “Nowhere Council”" in html and "“not-an-email” is not in the form" in html
    assert "is on row 2 too" in html and "no workshop topic called “Knitting”" in html
    assert '<td data-label="Row">3</td>' in html  # the spreadsheet row number of "No Org"
    assert db.session.query(Registration).count() == 0 and outbox() == []


def test_csv_import_reads_excel_semicolon_files(as_organiser, setup):
    # Excel with French or German regional settings saves "CSV UTF-8" with semicolons; a name may hold a comma.
    text = IMPORT.replace(",", ";").replace("Siobhán O'Brien", "\"O'Brien, Siobhán\"")
    html = _upload(as_organiser, setup, text, apply=True).get_data(as_text=True)
    assert "Import done" in html and "2 registered and confirmed" in html and "4 rows skipped" in html
    regs = {r.email: r for r in db.session.scalars(select(Registration))}
    assert set(regs) == {"siobhan@example.org", "li@example.org"}
    assert regs["siobhan@example.org"].full_name == "O'Brien, Siobhán"
    assert regs["siobhan@example.org"].choice_topic_ids[0] == setup.topics[0].id


def test_csv_import_page_says_semicolon_and_tab_separated_files_are_read_too(as_organiser, setup):
    html = as_organiser.get(base(setup) + "/import").get_data(as_text=True)
    intro = html.split("<h1>", 1)[1].split("</p>", 1)[0]
    assert "commas, semicolons" in intro and "or tabs" in intro


def test_csv_import_reads_columns_named_in_the_spreadsheet_s_own_words(as_organiser, setup):
    # A partner's list: its own column names and order, any case, spaces or hyphens, an extra column.
    text = ("E-mail Address,Name,ORGANIZATION,Job-Title,Notes,Dietary requirements,Choice 1,Choice 2,Choice 3\n"
            "siobhan@example.org,Siobhán O'Brien,Shireford Constabulary,Inspector,ignored,Vegan,"
            "Anti-social behaviour,Criminal exploitation,Poor mental health\n")
    html = _upload(as_organiser, setup, text, apply=True).get_data(as_text=True)
    assert "1 registered and confirmed" in html
    reg = db.session.scalar(select(Registration))
    assert (reg.full_name, reg.email, reg.job_title, reg.dietary_needs) == (
        "Siobhán O'Brien", "siobhan@example.org", "Inspector", "Vegan")
    assert reg.organisation_id == setup.orgs[0].id and reg.choice_topic_ids[0] == setup.topics[0].id
    for header in ("Full name,Email,Role,Organisation", "full_name,e_mail,job title,organisation_name"):
        check = _upload(as_organiser, setup, header + "\nAnn,ann@example.org,Officer,Mind in Shireford\n", apply=False)
        assert "1 row can be imported" in check.get_data(as_text=True), header


def test_csv_import_with_columns_missing_names_those_found_and_those_expected(as_organiser, setup):
    text = "First name,Surname,Email address,Organisation\nAnn,Able,ann@example.org,Mind in Shireford\n"
    resp = _upload(as_organiser, setup, text, apply=False)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "missing: full_name, job_title." in html
    assert "It has “First name”, “Surname”, “Email address”, “Organisation”." in html
    assert "Expected: full_name (or “Name”), email" in html
    assert db.session.query(Registration).count() == 0


def test_csv_import_reads_tab_separated_files(as_organiser, setup):
    # Excel's "Text (Tab delimited)", or rows pasted from a spreadsheet into a text editor; a name may hold a comma.
    text = IMPORT.replace(",", "\t").replace("Siobhán O'Brien", "O'Brien, Siobhán")
    html = _upload(as_organiser, setup, text, apply=True).get_data(as_text=True)
    assert "Import done" in html and "2 registered and confirmed" in html and "4 rows skipped" in html
    regs = {r.email: r for r in db.session.scalars(select(Registration))}
    assert regs["siobhan@example.org"].full_name == "O'Brien, Siobhán"
    assert regs["siobhan@example.org"].choice_topic_ids[0] == setup.topics[0].id


def test_csv_import_skips_a_title_above_the_column_names_and_counts_rows_as_the_spreadsheet(as_organiser, setup):
    # Excel saves a title cell as a row of commas; the error names the row the organiser sees (row 5).
    text = ("Shireford assembly: invited delegates,,,\n,,,\n"
            "full_name,email,job_title,organisation\n"
            "Ann Able,ann@example.org,Officer,Mind in Shireford\n"
            "Bad Mail,not-an-email,Officer,Mind in Shireford\n")
    html = _upload(as_organiser, setup, text, apply=False).get_data(as_text=True)
    assert "1 row can be imported" in html and "1 row has problems" in html
    assert re.search(r'<tr><td data-label="Row">5</td><td data-label="Problem">[^<]*email', html)
    assert "Shireford assembly" not in html.split("Rows with problems")[1]


def test_csv_import_refuses_people_above_the_column_names_saying_where_the_names_are(as_organiser, setup):
    text = ("Ann Able,ann@example.org,Officer,Mind in Shireford\n"
            "full_name,email,job_title,organisation\n"
            "Bo Bell,bo@example.org,Officer,Mind in Shireford\n")
    resp = _upload(as_organiser, setup, text, apply=True)
    assert resp.status_code == 400
    assert "Row 2 holds the column names, but row 1 above it is not a title" in resp.get_data(as_text=True)
    assert db.session.query(Registration).count() == 0


def test_csv_import_refuses_a_duplicated_column_naming_it(as_organiser, setup):
    # The second, empty "Email" used to win: every row was refused for an empty address.
    text = "full_name,email,job_title,organisation,Email\nAnn Able,ann@example.org,Officer,Mind in Shireford,\n"
    resp = _upload(as_organiser, setup, text, apply=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Two columns are read as email: “email” (column B) and “Email” (column E)." in html
    # Two spellings of one column are a duplicate too.
    text = "Name,E-mail,Role,Organisation,Email address\nAnn Able,ann@example.org,Officer,Mind in Shireford,x@y.org\n"
    html = _upload(as_organiser, setup, text, apply=False).get_data(as_text=True)
    assert "“E-mail” (column B) and “Email address” (column E)" in html
    assert db.session.query(Registration).count() == 0


def test_csv_import_reads_a_windows_excel_csv_with_accented_names(as_organiser, setup):
    # Excel on Windows saves "CSV (Comma delimited)" in Windows-1252, not UTF-8.
    text = "full_name,email,job_title,organisation\nZoë Ní Bhriain,zoe@example.org,Agent de liaison,Mind in Shireford\n"
    page = as_organiser.get(base(setup) + "/import").get_data(as_text=True)
    resp = as_organiser.post(base(setup) + "/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "apply": "y", "file": (io.BytesIO(text.encode("cp1252")), "list.csv")})
    assert resp.status_code == 200 and "1 registered and confirmed" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Registration.full_name)) == "Zoë Ní Bhriain"


def test_csv_import_names_the_spreadsheet_row_even_after_blank_rows(as_organiser, setup):
    # Excel saves an empty row as commas; the next is truly empty; Siobhán's access needs span two lines.
    text = IMPORT.replace("\nNo Org", "\n,,,,,,,,\n\nNo Org").replace(
        "Constabulary,,,", "Constabulary,\"Step-free access\nHearing loop\",,")
    html = _upload(as_organiser, setup, text, apply=False).get_data(as_text=True)
    rows = dict(re.findall(r'<tr><td data-label="Row">(\d+)</td><td data-label="Problem">([^<]*)</td></tr>', html))
    # Row 1 holds the column names, row 2 Siobhán, rows 3 and 4 are blank: "No Org" is row 5.
    assert rows["5"].startswith("No organisation called “Nowhere Council” on the organisations list")
    assert rows["6"] == "The email address “not-an-email” is not in the form name@example.org."
    assert rows["7"] == "The email address siobhan@example.org is on row 2 too."
    assert rows["8"].startswith("Choice 1: no workshop topic called “Knitting”")
    assert set(rows) == {"5", "6", "7", "8"}


def test_csv_import_row_problems_speak_to_the_organiser_about_the_file(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"email": "taken@example.org"})])
    text = ("full_name,email,job_title,organisation,dietary_needs\n"
            ",nobody@example.org,Officer,Mind in Shireford,\n"
            "No Mail,,Officer,Mind in Shireford,\n"
            "No Job,nojob@example.org,,Mind in Shireford,\n"
            "No Org,noorg@example.org,Officer,,\n"
            + "Long," + "x" * 250 + "@example.org,Officer,Mind in Shireford,\n"
            "Taken,taken@example.org,Officer,Mind in Shireford,\n"
            "Bell,bell@example.org,Officer,Mind in Shireford,\"Tea\x07\"\n")
    html = _upload(as_organiser, setup, text, apply=False).get_data(as_text=True)
    rows = dict(re.findall(r'<tr><td data-label="Row">(\d+)</td><td data-label="Problem">([^<]*)</td></tr>', html))
    assert rows == {
        "2": "The full name is empty.",
        "3": "The email address is empty.",
        "4": "The job title is empty.",
        "5": "The organisation is empty.",
        "6": "The email address is 262 characters long; at most 254 fit.",
        "7": "taken@example.org is already registered for this assembly.",
        "8": "The dietary needs have a control character in them.",
    }
    assert "Enter your" not in html


def test_csv_import_applies_valid_rows_and_emails_links(as_organiser, setup):
    resp = _upload(as_organiser, setup, IMPORT, apply=True)
    html = resp.get_data(as_text=True)
    assert "Import done" in html and "2 registered and confirmed" in html
    regs = {r.email: r for r in db.session.scalars(select(Registration))}
    assert set(regs) == {"siobhan@example.org", "li@example.org"}
    assert regs["siobhan@example.org"].choice_topic_ids[0] == setup.topics[0].id
    assert regs["li@example.org"].source == "import"
    assert {m.to_email for m in outbox("registration_confirmed")} == set(regs)


def test_csv_imported_delegates_get_the_imported_confirmation_and_their_invitation_from_the_mail_worker(
        as_organiser, setup, mail_sink):
    from tests.mail_sink import text_of

    _upload(as_organiser, setup, IMPORT, apply=True)
    queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_email == "li@example.org")
                                .order_by(OutboxMessage.id)).all()
    # Queued as recipes, rendered by the worker when it sends: the confirmation ahead of the invitation.
    assert [(m.kind, m.render is not None) for m in queued] == [("registration_confirmed", True), ("invite", True)]
    result = as_organiser.application.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "failed 0" in result.output, result.output
    mail_sink.wait_for(4)
    to_li = [m for m in mail_sink.messages if m["To"].addresses[0].addr_spec == "li@example.org"]
    [confirmation] = [m for m in to_li if m["Subject"] == f"Your place at {setup.assembly.title} is confirmed"]
    body = text_of(confirmation)
    assert f"The organisers have registered you for {setup.assembly.title}." in body
    assert "Thank you for registering" not in body and "Dear 李小龍," in body
    link = re.search(r"http://localhost(/manage/[A-Za-z0-9_.\-]+)", body).group(1)
    assert "李小龍" in as_organiser.get(link).get_data(as_text=True)
    [ics] = [p.get_content() for m in to_li for p in m.walk() if p.get_content_type() == "text/calendar"]
    assert "METHOD:REQUEST" in ics and "mailto:li@example.org" in ics and setup.assembly.title in ics
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {"sent"}


def test_csv_import_check_says_who_would_go_on_the_waiting_list_as_the_import_then_does(as_organiser, setup):
    # Capacity 5, at most 2 per organisation: of 8 rows, 2 from the constabulary's 4 and all 5 places go first.
    rows = "".join(f"P{n},p{n}@example.org,Officer,{setup.orgs[0 if n < 4 else 1 + n % 2].name}\n" for n in range(8))
    text = "full_name,email,job_title,organisation\n" + rows
    check = re.sub(r"\s+", " ", _upload(as_organiser, setup, text, apply=False).get_data(as_text=True))
    assert "8 rows can be imported: 5 would be confirmed and 3 put on the waiting list" in check
    done = _upload(as_organiser, setup, text, apply=True).get_data(as_text=True)
    assert "5 registered and confirmed, 3 put on the waiting list" in done


def test_csv_import_check_shows_the_first_rows_as_the_import_then_stores_them(as_organiser, setup):
    # Capacity 5, at most 2 per organisation; a name with markup and right-to-left text is shown escaped.
    names = ["<b>Zoë</b> & מרים", *(f"Person {n}" for n in range(1, 12))]
    rows = "".join(f"\"{name}\",p{n}@example.org,Officer,{setup.orgs[n % 3].name.upper()}\n"
                   for n, name in enumerate(names))
    text = "full_name,email,job_title,organisation\n" + rows
    check = _upload(as_organiser, setup, text, apply=False).get_data(as_text=True)
    assert "The first 10 rows as they would be imported" in check and "and 2 more rows to import." in check
    shown = re.findall(r'<tr><td data-label="Row">(\d+)</td><td data-label="Name"><bdi>([^<]*)</bdi></td>'
                       r'<td data-label="Email"><bdi>([^<]*)</bdi></td><td data-label="Organisation"><bdi>([^<]*)</bdi>'
                       r'</td><td data-label="Would be">([^<]*)</td></tr>', check)
    assert len(shown) == 10 and shown[0][:2] == ("2", "&lt;b&gt;Zoë&lt;/b&gt; &amp; מרים")
    assert "<b>Zoë" not in check and "Person 10" not in check and "Person 11" not in check
    done = _upload(as_organiser, setup, text, apply=True).get_data(as_text=True)
    assert "Import done" in done
    stored = db.session.scalars(select(Registration).order_by(Registration.id).limit(10)).all()
    from markupsafe import escape

    assert [(str(escape(r.full_name)), r.email, r.organisation.name,
             "confirmed" if r.status == "confirmed" else "on the waiting list") for r in stored] == \
        [row[1:] for row in shown]
    assert stored[0].full_name == names[0] and stored[0].organisation_id == setup.orgs[0].id


def test_csv_import_rejects_a_file_that_is_not_csv(as_organiser, setup):
    resp = _upload(as_organiser, setup, "hello\n", apply=False)
    assert resp.status_code == 400 and "missing: full_name" in resp.get_data(as_text=True)
    page = as_organiser.get(base(setup) + "/import").get_data(as_text=True)
    from tests.conftest import csrf_from

    resp = as_organiser.post(base(setup) + "/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "file": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")})
    assert resp.status_code == 400 and "Save the file as “CSV UTF-8”" in resp.get_data(as_text=True)


def test_privacy_purge_is_a_dry_run_until_applied(app, db, setup):
    regs = seed(app, setup, [(1, 0, {"access_needs": "Wheelchair"}), (2, 1, {}), (3, 1, {})])
    setup.assembly.status = "archived"
    setup.assembly.retention_days = 30
    setup.assembly.date = date.today() - timedelta(days=31)
    recent = make_recent_archived(setup)
    with app.test_request_context("/"):
        services.register(recent, person(setup, 9, topic_ids=[]), check_window=False)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert f"Would anonymise 3 registrations of {setup.assembly.slug}" in result.output
    assert recent.slug not in result.output
    db.session.expire_all()
    assert db.session.get(Registration, regs[0].id).full_name == "Delegate 1"
    counts_before = services.counts_by(setup.assembly, "sector")
    result = runner.invoke(args=["privacy", "purge", "--apply"])
    assert f"Anonymised 3 registrations of {setup.assembly.slug}" in result.output
    db.session.expire_all()
    for reg in db.session.scalars(select(Registration).where(Registration.assembly_id == setup.assembly.id)):
        assert (reg.full_name, reg.email, reg.access_needs) == ("Anonymised delegate", "", "")
        assert reg.anonymised_at is not None
    assert services.counts_by(setup.assembly, "sector") == counts_before
    from eventapp.mail.models import OutboxMessage

    assert db.session.query(OutboxMessage).filter_by(assembly_id=setup.assembly.id).count() == 0
    assert "Nothing to purge." in runner.invoke(args=["privacy", "purge"]).output


def make_recent_archived(setup):
    from tests.factories import make_assembly

    return make_assembly(status="archived", retention_days=365, date=date.today() - timedelta(days=10))


def test_counts_in_the_thousands_are_written_with_separators(as_organiser, setup):
    from tests.production.world import add_registrations

    setup.assembly.capacity = 25_000
    db.session.commit()
    add_registrations(setup.assembly, setup.orgs, setup.topics, 1_200)
    html = as_organiser.get(base(setup)).get_data(as_text=True)
    assert "1,200 confirmed of 25,000 places" in html
    assert "Page 1 of 48 (1,200 in all)" in html
    counts = as_organiser.get(base(setup) + "/counts").get_data(as_text=True)
    assert "<td>400</td>" in counts  # three organisations, 400 each: under a thousand, as it was
    detail = as_organiser.get(f"/organiser/assemblies/{setup.assembly.slug}").get_data(as_text=True)
    assert "<dd>25,000, at most 2 per organisation</dd>" in detail


def test_an_organiser_can_undo_a_cancellation(app, as_organiser, setup):
    # Capacity 5, two per organisation: Ann (police) is cancelled, then her place is taken.
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 1, {})])
    ann = regs[0]
    cancelled = post_form(as_organiser, f"{base(setup)}/{ann.id}/cancel", {}, follow_redirects=True)
    assert "To undo it, choose Reinstate on their row under the status Cancelled." in cancelled.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    db.session.expire_all()
    assert db.session.get(Registration, ann.id).status == "cancelled"
    old_link = [m for m in outbox("registration_confirmed", to=ann.email)][0].body_text

    page = as_organiser.get(base(setup) + "?status=cancelled").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    resp = post_form(as_organiser, f"{base(setup)}/{ann.id}/reinstate?status=cancelled", {},
                     form_url=base(setup) + "?status=cancelled", follow_redirects=True)
    html = resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Ann Able&#39;s registration is back, confirmed. We emailed them a new personal link." in html
    assert "Reinstate" in page
    db.session.expire_all()
    back = db.session.get(Registration, ann.id)
    assert back.status == "confirmed" and back.cancelled_at is None and back.token_version == 2
    assert "2 confirmed of 5 places" in as_organiser.get(base(setup)).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    confirmations = outbox("registration_confirmed", to=ann.email)
    assert len(confirmations) == 2 and confirmations[-1].body_text != old_link
    # Her calendar has the assembly again.
    from eventapp.invites.models import CalendarEntry

    entries = db.session.scalars(select(CalendarEntry).where(CalendarEntry.registration_id == ann.id)).all()
    assert entries and all(e.status != "cancelled" for e in entries)

    # Reinstating twice says so and changes nothing.
    again = post_form(as_organiser, f"{base(setup)}/{ann.id}/reinstate", {}, form_url=base(setup),
                      follow_redirects=True).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Ann Able&#39;s registration is not cancelled." in again
    assert len(outbox("registration_confirmed", to=ann.email)) == 2


def test_a_reinstated_delegate_joins_the_waiting_list_when_no_place_is_free(app, as_organiser, setup):
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 0, {}), (3, 1, {}), (4, 1, {}), (5, 2, {})])
    with app.test_request_context("/"):
        services.cancel_registration(regs[0])
        seed(app, setup, [(6, 2, {})])  # the free place is taken
    resp = post_form(as_organiser, f"{base(setup)}/{regs[0].id}/reinstate", {}, form_url=base(setup),
                     follow_redirects=True)
    assert ("Ann Able&#39;s registration is back, on the waiting list (no. 1): no place is free."
            in resp.get_data(as_text=True).translate(WITHOUT_ISOLATES))
    db.session.expire_all()
    assert db.session.get(Registration, regs[0].id).status == "waiting"
    assert len(outbox("waiting_list", to=regs[0].email)) == 1


def test_the_edit_page_shows_the_emails_about_the_delegate_whatever_address_they_went_to(app, as_organiser, setup):
    [reg, other] = seed(app, setup, [(1, 0, {}), (2, 1, {})])
    url = f"{base(setup)}/{reg.id}/edit"
    post_form(as_organiser, url, form_fields(setup, n=1, email="new.address@example.org"))
    page = as_organiser.get(url).get_data(as_text=True)
    emails = page.split('id="emails-title"')[1]
    assert f"Your place at {setup.assembly.title} is confirmed" in emails and "delegate1@example.org" in emails
    assert f"Your email address for {setup.assembly.title} is changed" in emails
    assert "new.address@example.org" in emails and "delegate2@example.org" not in emails
    # The outbox, filtered to this delegate, holds the same and nobody else's.
    outbox_page = as_organiser.get(f"/organiser/outbox/?registration={reg.id}").get_data(as_text=True)
    assert "Only the emails about <strong><bdi>Delegate 1</bdi></strong>" in outbox_page
    assert "delegate1@example.org" in outbox_page and "delegate2@example.org" not in outbox_page
    # Someone no email was ever about says so.
    db.session.execute(db.delete(OutboxMessage).where(OutboxMessage.registration_id == other.id))
    db.session.commit()
    page = as_organiser.get(f"{base(setup)}/{other.id}/edit").get_data(as_text=True)
    assert "No email has been sent about this registration." in page


def test_possible_duplicates_lists_one_person_registered_twice(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "Aisha Khan", "email": "aisha@exmaple.org"}),
                      (2, 0, {"full_name": "  aisha  KHAN", "email": "aisha@example.org"}),
                      (3, 1, {"full_name": "Aisha Khan", "email": "aisha.khan@council.example.org"}),  # another org
                      (4, 0, {"full_name": "Ben Jones"})])
    page = as_organiser.get(f"{base(setup)}/duplicates").get_data(as_text=True)
    assert page.count("<section") == 1
    group = page.split("<section")[1]
    assert "aisha@exmaple.org" in group and "aisha@example.org" in group
    assert "aisha.khan@council.example.org" not in group and "Ben Jones" not in group
    assert f'href="{base(setup)}/duplicates">Possible duplicates</a>' in as_organiser.get(base(setup)).get_data(
        as_text=True)
    # Once the unused one is cancelled, nothing is left to check.
    reg = db.session.scalar(select(Registration).where(Registration.email == "aisha@exmaple.org"))
    post_form(as_organiser, f"{base(setup)}/{reg.id}/cancel", {})
    assert "No two registrations share a name and an organisation." in as_organiser.get(
        f"{base(setup)}/duplicates").get_data(as_text=True)


def test_cancelling_from_the_possible_duplicates_comes_back_to_them(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "Aisha Khan", "email": "aisha@exmaple.org"}),
                      (2, 0, {"full_name": "Aisha Khan", "email": "aisha@example.org"}),
                      (3, 1, {"full_name": "Ben Jones"}), (4, 1, {"full_name": "Ben Jones", "email": "ben@example.org"})])
    page = as_organiser.get(f"{base(setup)}/duplicates").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    cancel_url = re.search(r'href="([^"]*/cancel[^"]*)">Cancel<span class="visually-hidden"> the registration with '
                           r'aisha@exmaple.org', page).group(1).replace("&amp;", "&")
    confirm = as_organiser.get(cancel_url).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert f'<a href="{base(setup)}/duplicates">No, keep it</a>' in confirm
    resp = post_form(as_organiser, cancel_url, {})
    # Back on the duplicates, Ben's pair still to check, and told what was done.
    assert resp.status_code == 302 and resp.headers["Location"] == f"{base(setup)}/duplicates"
    page = as_organiser.get(resp.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Aisha Khan&#39;s registration is cancelled." in page and page.count("<section") == 1 and "Ben Jones" in page


def test_cancel_several_ticked_registrations_at_once(app, as_organiser, setup):
    # An organisation withdraws two of its delegates: tick both, check who, cancel; the place goes to the next in line.
    regs = seed(app, setup, [(n, n % 3, {}) for n in range(6)])
    waiting = regs[5]
    assert waiting.status == "waiting"
    plain = as_organiser.get(f"{base(setup)}?organisation={setup.orgs[0].id}").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert 'form="bulk-cancel"' not in plain  # ticks only once asked for
    assert f'href="{base(setup)}?organisation={setup.orgs[0].id}&amp;select=1">Select several registrations' in plain
    listing = as_organiser.get(f"{base(setup)}?organisation={setup.orgs[0].id}&select=1").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    for reg in (regs[0], regs[3]):
        assert f'<input type="checkbox" name="reg" value="{reg.id}" form="bulk-cancel" id="tick-{reg.id}">' in listing
    assert '<input type="hidden" name="organisation" value="%d">' % setup.orgs[0].id in listing
    check = as_organiser.get(f"{base(setup)}/cancel-selected?organisation={setup.orgs[0].id}"
                             f"&reg={regs[0].id}&reg={regs[3].id}&reg=abc&reg=99999999")
    page = check.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert check.status_code == 200 and "Cancel 2 registrations?" in page
    assert "Delegate 0" in page and "Delegate 3" in page and "Delegate 1" not in page
    assert db.session.get(Registration, regs[0].id).status == "confirmed"  # asking changed nothing
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = as_organiser.post(f"{base(setup)}/cancel-selected?organisation={setup.orgs[0].id}",
                             data={"csrf_token": token, "reg": [str(regs[0].id), str(regs[3].id)]})
    assert resp.status_code == 302 and resp.headers["Location"] == f"{base(setup)}?organisation={setup.orgs[0].id}"
    db.session.expire_all()
    assert [db.session.get(Registration, r.id).status for r in regs] == \
        ["cancelled", "confirmed", "confirmed", "cancelled", "confirmed", "confirmed"]
    flashed = as_organiser.get(resp.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "2 registrations cancelled; each delegate is emailed." in flashed
    assert "Promoted from the waiting list: Delegate 5." in flashed
    kinds = sorted(m.kind for m in outbox() if m.kind in ("cancelled", "promoted"))
    assert kinds == ["cancelled", "cancelled", "promoted"]
    # Ticking only cancelled ones again: nothing to do, said so.
    page = as_organiser.get(f"{base(setup)}/cancel-selected?reg={regs[0].id}").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Nothing to cancel" in page
    resp = as_organiser.post(f"{base(setup)}/cancel-selected", data={"csrf_token": token, "reg": [str(regs[0].id)]},
                             follow_redirects=True)
    assert "they are cancelled already" in resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    # Nothing ticked: back to the list with a hint.
    resp = as_organiser.get(f"{base(setup)}/cancel-selected", follow_redirects=True)
    assert "Tick the registrations to cancel first." in resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)


def test_every_registration_a_filter_picks_can_be_cancelled_not_only_one_page(app, as_organiser, setup, monkeypatch):
    # An organisation withdraws all its delegates, more than a page of them: one confirmation for them all.
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    regs = seed(app, setup, [(n, n % 3, {}) for n in range(8)])
    org = setup.orgs[0].id
    mine = [r for r in regs if r.organisation_id == org]
    assert len(mine) == 3
    listing = as_organiser.get(f"{base(setup)}?organisation={org}&select=1").get_data(as_text=True)
    assert 'name="all" value="1"' in listing and "matching these filters (3, on every page)" in listing
    # With cancelled ones listed too, the list's total is not how many would be cancelled: no number given.
    listed_all = as_organiser.get(f"{base(setup)}?organisation={org}&status=all&select=1").get_data(as_text=True)
    assert 'name="all" value="1"' in listed_all and "those cancelled already are left as they are" in listed_all
    unfiltered = as_organiser.get(f"{base(setup)}?select=1").get_data(as_text=True)
    assert 'name="all"' not in unfiltered  # everyone at once is not one press away
    check = as_organiser.get(f"{base(setup)}/cancel-selected?organisation={org}&all=1")
    page = check.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert check.status_code == 200 and "Cancel 3 registrations?" in page
    assert all(f"Delegate {n}<" in page for n in (0, 3, 6)) and "Delegate 1<" not in page
    assert {r.status for r in mine} != {"cancelled"}  # asking changed nothing
    resp = as_organiser.post(f"{base(setup)}/cancel-selected?organisation={org}",
                             data={"csrf_token": csrf_from(page), "reg": re.findall(r'name="reg" value="(\d+)"', page)})
    assert resp.status_code == 302
    db.session.expire_all()
    assert {db.session.get(Registration, r.id).status for r in mine} == {"cancelled"}
    assert all(db.session.get(Registration, r.id).status != "cancelled" for r in regs if r not in mine)
    # More than can be cancelled at once: said so, nothing listed to confirm.
    monkeypatch.setattr(services, "BULK_CANCEL_MAX", 2)
    resp = as_organiser.get(f"{base(setup)}/cancel-selected?organisation={setup.orgs[1].id}&all=1", follow_redirects=True)
    text = resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "More than 2 registrations match these filters" in text and "Cancel 3 registrations?" not in text


def test_registrations_of_another_assembly_are_never_cancelled_from_this_one(app, as_organiser, setup):
    from tests.factories import make_assembly

    [mine] = seed(app, setup, [(1, 0, {})])
    other = make_assembly(capacity=5)
    with app.test_request_context("/"):
        theirs = services.register(other, {**person(setup, 2), "topic_ids": []}, check_window=False).registration
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      as_organiser.get(f"{base(setup)}/cancel-selected?reg={mine.id}").get_data(as_text=True)).group(1)
    as_organiser.post(f"{base(setup)}/cancel-selected", data={"csrf_token": token, "reg": [str(mine.id), str(theirs.id)]})
    db.session.expire_all()
    assert db.session.get(Registration, mine.id).status == "cancelled"
    assert db.session.get(Registration, theirs.id).status == "confirmed"


def test_after_the_day_ticked_registrations_are_not_cancelled(app, as_organiser, setup):
    regs = seed(app, setup, [(1, 0, {}), (2, 1, {})])
    setup.assembly.date = date.today() - timedelta(days=2)
    db.session.commit()
    page = as_organiser.get(f"{base(setup)}/cancel-selected?reg={regs[0].id}").get_data(as_text=True)
    assert "Registrations can no longer be cancelled" in page and "Yes, cancel" not in page
    token = csrf_from(as_organiser.get(base(setup)).get_data(as_text=True))  # the sign-out form's
    resp = as_organiser.post(f"{base(setup)}/cancel-selected", data={"csrf_token": token, "reg": [str(regs[0].id)]},
                             follow_redirects=True)
    assert "registrations can no longer be cancelled" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, regs[0].id).status == "confirmed"


def test_searching_the_list_does_not_fill_the_shared_link_cache(app, as_organiser, setup):
    # Every process keeps 4,096 links; each search's row and page links were kept too, so after a few
    # thousand searches no new link was cached anywhere in the app.
    seed(app, setup, [(n, n % 3, {}) for n in range(5)])
    as_organiser.get(base(setup))
    as_organiser.get(f"{base(setup)}?q=warm-up")  # the links only a filtered page has (Clear the filters)
    links = app.extensions["eventapp.links"]
    before, snapshot = len(links), dict(links)
    for i in range(5):
        page = as_organiser.get(f"{base(setup)}?q=Delegate&page=1&sector=police&x={i}").get_data(as_text=True)
        assert "Delegate 0" in page
    for i in range(5):
        assert as_organiser.get(f"{base(setup)}?q=search{i}").status_code == 200
    assert len(links) == before, sorted(set(links) - set(snapshot))


def test_moving_a_delegate_to_another_organisation_gives_the_freed_place_to_the_next_one_waiting(app, as_organiser, setup):
    # Two per organisation: the Constabulary's third delegate waits while places are free.
    first, _, third = seed(app, setup, [(1, 0, {}), (2, 0, {}), (3, 0, {"full_name": "Mei Ahmed"})])
    assert third.status == "waiting"
    # The first was put down under the wrong organisation; the organiser corrects it.
    resp = post_form(as_organiser, f"{base(setup)}/{first.id}/edit", form_fields(setup, n=1, org=1),
                     follow_redirects=True)
    assert "Promoted from the waiting list: Mei Ahmed." in resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    db.session.expire_all()
    assert db.session.get(Registration, third.id).status == "confirmed"
    assert len(outbox(kind="promoted", to="delegate3@example.org")) == 1


def test_adding_someone_already_registered_opens_their_registration_and_emails_nothing_unasked(app, as_organiser, setup):
    [reg] = seed(app, setup, [(1, 0, {"full_name": "Aisha Khan", "job_title": "Inspector"})])
    emails_before = len(outbox())
    # The organiser types her in again, from a list, not knowing she registered herself.
    resp = post_form(as_organiser, base(setup) + "/new", form_fields(setup, n=1, full_name="A. Khan"))
    assert resp.headers["Location"] == f"{base(setup)}/{reg.id}/edit"
    page = as_organiser.get(resp.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert ("Aisha Khan is already registered for this assembly with that email address: here is the registration. "
            "Nothing was emailed to them; to send them their personal link again, choose "
            "&#34;Email their personal link again&#34;.") in page
    assert 'value="Inspector"' in page
    assert db.session.scalar(select(func.count(Registration.id))) == 1
    assert len(outbox()) == emails_before and outbox(kind="manage_link") == []
    assert f'action="{base(setup)}/{reg.id}/send-link"' in page and "Email their personal link again</button>" in page

    # She says she lost her link: the organiser asks for it, once; a second click sends nothing more.
    send = f"{base(setup)}/{reg.id}/send-link"
    resp = post_form(as_organiser, send, {}, form_url=f"{base(setup)}/{reg.id}/edit", follow_redirects=True)
    assert "Aisha Khan&#39;s personal link is emailed to them again." in resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    [link] = outbox(kind="manage_link", to="delegate1@example.org")
    # Her own working link (built at another second than the one sent, it would differ in its timestamp).
    [token] = re.findall(r"/manage/([A-Za-z0-9_.-]+)", link.body_text)
    with app.test_request_context("/"):
        assert services.load_manage_token(token).id == reg.id
    resp = post_form(as_organiser, send, {}, form_url=f"{base(setup)}/{reg.id}/edit", follow_redirects=True)
    assert "was emailed to them in the last 15 minutes already" in resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert len(outbox(kind="manage_link")) == 1


def test_sending_the_link_again_needs_the_form_token(app, as_organiser, setup):
    [reg] = seed(app, setup, [(1, 0, {})])
    assert as_organiser.post(f"{base(setup)}/{reg.id}/send-link").status_code == 400
    assert outbox(kind="manage_link") == []


def test_the_list_numbers_the_waiting_list_as_the_delegates_own_page_does(app, as_organiser, setup):
    # Capacity 5: the 6th, 7th and 8th wait (no. 1, 2, 3); a cancellation lets the 6th in.
    regs = seed(app, setup, [(n, n % 3, {}) for n in range(8)])
    post_form(as_organiser, f"{base(setup)}/{regs[0].id}/cancel", {})
    db.session.expire_all()
    seventh = db.session.get(Registration, regs[6].id)
    assert seventh.status == "waiting"
    with app.test_request_context("/"):
        token = services.make_manage_token(seventh)
    assert "You are on the waiting list at position 1" in as_organiser.get(f"/manage/{token}").get_data(as_text=True)
    html = as_organiser.get(base(setup) + "?status=waiting").get_data(as_text=True)
    assert re.findall(r"Waiting list \(no\. (\d+)\)", html) == ["1", "2"]
    rows = list(csv.reader(io.StringIO(as_organiser.get(base(setup) + ".csv").get_data(as_text=True).lstrip("\ufeff"))))
    column = rows[0].index("Waiting position")
    assert [row[column] for row in rows[1:] if row[column]] == ["1", "2"]
    # Downloaded for one organisation only, the 8th is still second in the queue.
    eighth = db.session.get(Registration, regs[7].id)
    rows = list(csv.reader(io.StringIO(as_organiser.get(
        f"{base(setup)}.csv?organisation={eighth.organisation_id}").get_data(as_text=True).lstrip("\ufeff"))))
    assert [(row[0], row[column]) for row in rows[1:] if row[column]] == [("Delegate 7", "2")]


def test_the_organisation_filter_follows_a_renamed_organisation_and_marks_the_chosen_one(app, setup, as_organiser):
    # The filter's options are kept per process, keyed by the organisations as read on each request.
    seed(app, setup, [(1, 0, {"full_name": "Aisha Khan"}), (2, 1, {})])
    org_id = setup.orgs[0].id
    html = as_organiser.get(base(setup)).get_data(as_text=True)
    assert f'<option value="{org_id}">' in html and f'<option value="{org_id}" selected>' not in html
    html = as_organiser.get(base(setup) + f"?organisation={org_id}").get_data(as_text=True)
    assert f'<option value="{org_id}" selected>' in html
    with app.app_context():
        db.session.get(Organisation, org_id).name = "Renamed <Trust> & Co"
        db.session.commit()
    html = as_organiser.get(base(setup) + f"?organisation={org_id}").get_data(as_text=True)
    assert f'<option value="{org_id}" selected>Renamed &lt;Trust&gt; &amp; Co</option>' in html


def test_add_on_someones_behalf_sent_twice_adds_once_and_says_so(as_organiser, setup):
    from tests.assemblies.test_add_twice import ONCE_RE

    url = base(setup) + "/new"
    html = as_organiser.get(url).get_data(as_text=True)
    once = ONCE_RE.search(html)
    assert once, "the add form has no one-time submission token"
    data = {**form_fields(setup, n=9, full_name="Kwame Mensah"), "csrf_token": csrf_from(html), "once": once.group(1)}
    first = as_organiser.post(url, data=data)
    second = as_organiser.post(url, data=data)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    page = as_organiser.get(second.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert ("Kwame Mensah added (confirmed) (by your first click; the second added nothing). "
            "We emailed them their personal link.") in page
    assert "already registered" not in page and "Nothing was emailed" not in page
    assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    assert len(outbox("registration_confirmed")) == 1


def test_adding_someone_already_registered_from_a_new_form_still_opens_their_registration(as_organiser, setup):
    url = base(setup) + "/new"
    assert post_form(as_organiser, url, form_fields(setup, n=9)).status_code == 302
    again = post_form(as_organiser, url, form_fields(setup, n=9))
    assert again.status_code == 302 and "/edit" in again.headers["Location"]
    page = as_organiser.get(again.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "is already registered for this assembly with that email address: here is the registration." in page
