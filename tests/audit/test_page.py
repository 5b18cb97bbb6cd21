"""The organisers' audit log page: newest first, filtered, paginated, escaped, downloadable (the download logged)."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from html import unescape

from eventapp.timeutil import local_today
from eventapp.audit.models import AuditEvent
from eventapp.extensions import db
from tests.audit.helpers import logged
from tests.conftest import post_form
from tests.factories import make_assembly, make_user
from tests.registration.conftest import setup  # noqa: F401 - fixture

SCRIPT = "<script>alert('x')</script> & \"quotes\""


def add(n: int, **kw) -> list[AuditEvent]:
    """n events, one minute apart, the last one newest."""
    start = datetime(2027, 3, 18, 9, 0)
    rows = [AuditEvent(**{"action": "registration.edit", "subject": f"registration {i}: Delegate {i:03d}",
                          "detail": "changed: email", "at": start + timedelta(minutes=i), **kw}) for i in range(n)]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_only_organisers_open_the_log_and_its_download(client, auth, facilitator):
    assert client.get("/organiser/audit").headers["Location"].startswith("/login")
    auth.login(facilitator.email)
    assert client.get("/organiser/audit").status_code == 403
    assert client.get("/organiser/audit.csv").status_code == 403
    assert logged() == []


def test_an_empty_log_says_so_and_the_users_page_links_to_it(as_organiser):
    assert 'href="/organiser/audit"' in as_organiser.get("/organiser/users").get_data(as_text=True)
    page = as_organiser.get("/organiser/audit").get_data(as_text=True)
    assert "Nothing has been logged yet." in page and "<table" not in page
    filtered = as_organiser.get("/organiser/audit?action=privacy.purge").get_data(as_text=True)
    assert "No entries match." in filtered and 'href="/organiser/audit">Clear the filters' in filtered


def test_newest_first_fifty_a_page(as_organiser, organiser):
    add(120, actor_id=organiser.id, actor_name="Olu Organiser")
    page = as_organiser.get("/organiser/audit").get_data(as_text=True)
    assert page.index("Delegate 119") < page.index("Delegate 118") < page.index("Delegate 070")
    assert "Delegate 069" not in page and page.count("Olu Organiser") == 50
    assert "Page 1 of 3 (120 in all)" in page
    last = as_organiser.get("/organiser/audit?page=3").get_data(as_text=True)
    assert "Delegate 019" in last and "Delegate 000" in last and "Delegate 020" not in last


def test_filters_by_action_assembly_who_and_subject_text(as_organiser, organiser):
    other = make_user("organiser", email="other@example.org", name="Priya Patel")
    shire, vale = make_assembly(title="Shire Assembly"), make_assembly(title="Vale Assembly")
    add(1, actor_id=organiser.id, actor_name="Test User", assembly_id=shire.id, subject="registration 1: Jo Bloggs")
    add(1, actor_id=other.id, actor_name="Priya Patel", assembly_id=vale.id, subject="registration 2: Ann 100%_x",
        action="registration.cancel")
    add(1, action="privacy.purge", assembly_id=vale.id, subject=f"assembly {vale.slug}")

    def shown(query):
        page = as_organiser.get(f"/organiser/audit?{query}").get_data(as_text=True)
        return {s for s in ("Jo Bloggs", "Ann 100%_x", f"assembly {vale.slug}") if s in page}

    assert shown("") == {"Jo Bloggs", "Ann 100%_x", f"assembly {vale.slug}"}
    assert shown("action=registration.cancel") == {"Ann 100%_x"}
    assert shown(f"assembly={vale.id}") == {"Ann 100%_x", f"assembly {vale.slug}"}
    assert shown(f"who={other.id}") == {"Ann 100%_x"}
    assert shown("who=none") == {f"assembly {vale.slug}"}
    assert shown("q=bloggs") == {"Jo Bloggs"}
    assert shown("q=100%25_") == {"Ann 100%_x"} and shown("q=%25") == {"Ann 100%_x"}  # % and _ are literal
    assert shown(f"q=jo&assembly={vale.id}") == set()
    assert shown("action=nonsense&who=abc&assembly=x") == {"Jo Bloggs", "Ann 100%_x", f"assembly {vale.slug}"}
    page = as_organiser.get(f"/organiser/audit?who={other.id}&action=registration.cancel").get_data(as_text=True)
    assert f'<option value="{other.id}" selected>Priya Patel</option>' in page
    assert '<option value="registration.cancel" selected>Registration cancelled</option>' in page
    assert "Command line" in page


def test_hostile_text_is_escaped(as_organiser, organiser):
    hostile = make_assembly(title=SCRIPT)
    add(1, actor_name=SCRIPT, actor_id=organiser.id, assembly_id=hostile.id, subject=SCRIPT, detail=SCRIPT)
    page = as_organiser.get("/organiser/audit").get_data(as_text=True)
    assert "<script>alert" not in page
    assert page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;") >= 4


def test_the_filtered_rows_download_as_csv_and_the_download_is_logged(as_organiser, organiser):
    shire = make_assembly(title="Shire Assembly")
    add(3, actor_id=organiser.id, actor_name="Test User", assembly_id=shire.id)
    add(1, action="privacy.purge", subject="=HYPERLINK(\"http://evil\")")
    page = as_organiser.get("/organiser/audit?action=registration.edit&q=Delegate").get_data(as_text=True)
    assert 'href="/organiser/audit.csv?action=registration.edit&amp;q=Delegate">Download the 3 entries shown' in page
    resp = as_organiser.get("/organiser/audit.csv?action=registration.edit&q=Delegate")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    assert resp.headers["Cache-Control"] == "no-store"
    # The filters by name; the words searched for (a delegate's name) are not in it.
    name = f"audit-log-registration-edit-search-{local_today().isoformat()}.csv"
    assert resp.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["When (UTC)", "Who", "Action", "Assembly", "Subject", "Detail"]
    assert rows[1] == ["2027-03-18 09:02:00", "Test User", "Delegate's details changed", "Shire Assembly",
                       "registration 2: Delegate 002", "changed: email"]
    assert len(rows) == 4
    [download] = logged("audit.export")
    assert (download.actor_id, download.subject) == (organiser.id, "audit log")
    assert download.detail == "3 rows; filtered: action=registration.edit, a search"
    # The whole log: formulas neutralised, and the earlier download is in it.
    everything = list(csv.reader(io.StringIO(as_organiser.get("/organiser/audit.csv").get_data().decode("utf-8-sig"))))
    assert "'=HYPERLINK(\"http://evil\")" in [r[4] for r in everything]
    assert "Audit log downloaded (CSV)" in [r[2] for r in everything]
    assert len(logged("audit.export")) == 2


def _who_by_action(html: str) -> dict[str, str]:
    """The log table's rows as {action shown: who shown} (each action once in these tests)."""
    rows = re.findall(r"<tr>\s*<td>.*?</tr>", html, re.S)
    cells = [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
             for row in rows]
    return {c[2]: c[1] for c in cells}


def test_who_says_what_acted_without_an_account_on_the_page_and_in_the_csv(app, client, auth, organiser, setup,
                                                                         tmp_path):
    from eventapp.registration import services as registrations
    from tests.registration.conftest import person

    with app.test_request_context("/"):
        ann, _, wes = [registrations.register(setup.assembly, person(setup, n, org=0)).registration
                       for n in (1, 2, 3)]  # Wes waits: the organisation's two places are taken
        path = f"/manage/{registrations.make_manage_token(ann)}"
    # Ann cancels on her own link: Wes is given her place.
    assert post_form(client, path + "/cancel", {}).status_code == 302
    assert app.test_cli_runner().invoke(args=["backup", str(tmp_path / "snapshot.backup")]).exit_code == 0
    add(1, action="message.release", subject="message 7: Parking", detail="scheduled by Test User; 9 recipients")
    auth.login(organiser.email)

    expected = {"Promoted from the waiting list (place freed)": "A delegate (own link)",
                "Database backed up": "Command line", "Scheduled message went out": "Scheduled (automatic)"}
    html = client.get("/organiser/audit").get_data(as_text=True)
    assert _who_by_action(html) == expected
    assert f"registration {wes.id}: Delegate 3" in html
    rows = list(csv.reader(io.StringIO(client.get("/organiser/audit.csv").get_data().decode("utf-8-sig"))))
    assert {r[2]: r[1] for r in rows[1:]} == expected
    # The "who" filter offers each of them, and picks it alone.
    assert '<option value="delegate">A delegate (own link)</option>' in html
    assert '<option value="scheduled">Scheduled (automatic)</option>' in html
    assert '<option value="none">Command line</option>' in html
    for who, action in (("delegate", "Promoted from the waiting list (place freed)"),
                        ("scheduled", "Scheduled message went out"), ("none", "Database backed up")):
        page = client.get(f"/organiser/audit?who={who}").get_data(as_text=True)
        assert list(_who_by_action(page)) == [action], who
    assert f'<option value="{organiser.id}">Test User</option>' in html
    assert list(_who_by_action(client.get(f"/organiser/audit?who={organiser.id}").get_data(as_text=True))) == [
        "Audit log downloaded (CSV)"]


def test_after_the_privacy_purge_no_purged_name_is_left_on_the_log_page_or_in_its_csv(app, client, auth, organiser,
                                                                                   setup):
    from datetime import date

    from eventapp.registration import services as registrations
    from eventapp.registration.models import PendingRegistration
    from tests.messages.test_messages import _compose
    from tests.registration.conftest import person

    with app.test_request_context("/"):
        jo = registrations.register(setup.assembly, person(setup, 1, full_name="Jo Bloggs")).registration
        registrations.register(setup.assembly, person(setup, 2, org=1, full_name="Ann Able"))
    db.session.add(PendingRegistration(assembly_id=setup.assembly.id, full_name="Pat Pending",
                                       email="pat@example.org", email_key="pat@example.org", data={}))
    db.session.commit()
    auth.login(organiser.email)
    # Organisers type delegates' names (and addresses) into messages' subjects, in any case and spacing.
    for subject in ("Parking for jo  BLOGGS (delegate1@example.org)", "Ann Able and Pat Pending: your badges",
                    "Annabel's talk moved"):
        url, payload = _compose(client, setup.assembly, subject=subject)
        assert client.post(url, data={**payload, "action": "send"}).status_code == 302
    post_form(client, f"/organiser/assemblies/{setup.assembly.slug}/registrations/{jo.id}/cancel", {},
              follow_redirects=True)
    setup.assembly.status, setup.assembly.retention_days = "archived", 30
    setup.assembly.date = date.today() - timedelta(days=31)
    db.session.commit()
    assert app.test_cli_runner().invoke(args=["privacy", "purge", "--apply"]).exit_code == 0

    page = client.get("/organiser/audit").get_data(as_text=True)
    rows = client.get("/organiser/audit.csv").get_data().decode("utf-8-sig")
    for text in (unescape(page), rows):
        for gone in ("bloggs", "delegate1@example.org", "ann able", "pat pending", "pat@example.org"):
            assert gone not in text.lower(), gone
        assert "Parking for Anonymised delegate (Anonymised delegate)" in text
        assert "Anonymised delegate and Anonymised delegate: your badges" in text
        assert "Annabel's talk moved" in text  # not a purged name, though it starts like one
        assert f"registration {jo.id}: Anonymised delegate" in text
    [purge] = logged("privacy.purge")
    assert purge.detail.endswith("; 3 audit events redacted")  # two messages and the cancellation


def test_a_page_past_the_end_goes_to_the_last_page_with_the_filters(as_organiser, organiser):
    add(120, actor_id=organiser.id, actor_name="Olu Organiser")
    resp = as_organiser.get("/organiser/audit?page=999")
    assert resp.status_code == 302 and resp.headers["Location"] == "/organiser/audit?page=3"
    last = as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Page 3 of 3 (120 in all)" in last and "Delegate 000" in last and "Nothing has been logged yet" not in last
    resp = as_organiser.get("/organiser/audit?q=Delegate+00&action=registration.edit&page=7")
    assert resp.headers["Location"] == "/organiser/audit?action=registration.edit&q=Delegate+00"
    assert "Delegate 009" in as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    # A search that finds nothing is still "No entries match", whatever the page.
    assert "No entries match." in as_organiser.get("/organiser/audit?q=nobody&page=2").get_data(as_text=True)


def test_an_empty_log_past_its_first_page_still_says_it_is_empty(as_organiser):
    assert "Nothing has been logged yet." in as_organiser.get("/organiser/audit?page=999").get_data(as_text=True)
