"""The allocation's delegates list at a national event's size: filter by workshop, organisation and address,
come back to the same filtered page after changing someone, and download the list as CSV for rooms and badges."""
from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from eventapp.timeutil import local_today
from eventapp.extensions import db
from eventapp.placements.models import AllocationRun
from tests.conftest import post_form
from tests.factories import make_org

from .helpers import delegates, make_registration, two_round_assembly
from .test_views import _run


def _world(as_organiser, n=6):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    police, health = make_org("Shireford Police", sector="police"), make_org("Shireford NHS Trust", sector="health")
    regs = delegates(assembly, topics, n, orgs=[police, health])
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun).order_by(AllocationRun.id.desc()))
    return assembly, rounds, ws, regs, run, police, health


def _url(assembly, rest=""):
    return f"/organiser/assemblies/{assembly.slug}/allocation/delegates{rest}"


def test_filter_by_workshop_organisation_and_email(as_organiser):
    assembly, rounds, ws, regs, run, police, health = _world(as_organiser)
    in_1a = {int(r) for r, w in run.result["assignments"].items() if str(ws["1A"].id) in w}
    html = as_organiser.get(_url(assembly, f"?workshop={ws['1A'].id}")).get_data(as_text=True)
    for reg in regs:
        assert (f">{reg.full_name}<" in html) == (reg.id in in_1a), reg.full_name
    assert f'<option value="{ws["1A"].id}" selected>' in html
    html = as_organiser.get(_url(assembly, f"?organisation={health.id}")).get_data(as_text=True)
    for reg in regs:
        assert (f">{reg.full_name}<" in html) == (reg.organisation_id == health.id)
    html = as_organiser.get(_url(assembly, f"?q={regs[3].email}")).get_data(as_text=True)
    assert f">{regs[3].full_name}<" in html and f">{regs[2].full_name}<" not in html
    html = as_organiser.get(_url(assembly, "?workshop=999999")).get_data(as_text=True)
    assert "No delegates match." in html


def _keep_workshops_and_expect_the_filtered_page(as_organiser, assembly, move, run, reg, rounds, ws, police, *, pin):
    """Save the move form with the delegate's own workshops (pinned or not): back to the police-filtered page 1."""
    current = run.result["assignments"][str(reg.id)]
    data = {f"round_{rounds['1'].id}": next(w for w in current if w in (str(ws["1A"].id), str(ws["1B"].id))),
            f"round_{rounds['2'].id}": next(w for w in current if w in (str(ws["2B"].id), str(ws["2C"].id))),
            "pin": pin}
    resp = post_form(as_organiser, move, data)
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == _url(assembly)
    assert parse_qs(location.query) == {"organisation": [str(police.id)], "page": ["1"]}


def test_changing_someone_comes_back_to_the_same_filtered_page(as_organiser):
    assembly, rounds, ws, regs, run, police, health = _world(as_organiser)
    listed = _url(assembly, f"?organisation={police.id}&page=1")
    html = as_organiser.get(listed).get_data(as_text=True)
    reg = next(r for r in regs if r.organisation_id == police.id)
    assert f'href="{_url(assembly, f"/{reg.id}?organisation={police.id}&amp;page=1")}"' in html
    move = _url(assembly, f"/{reg.id}?organisation={police.id}&page=1")
    page = as_organiser.get(move).get_data(as_text=True)
    assert f'href="{_url(assembly, f"?organisation={police.id}&amp;page=1")}">Back to delegates' in page
    _keep_workshops_and_expect_the_filtered_page(as_organiser, assembly, move, run, reg, rounds, ws, police, pin="y")


def test_the_list_downloads_as_csv_with_a_column_per_round(as_organiser):
    assembly, rounds, ws, regs, run, police, health = _world(as_organiser, n=4)
    make_registration(assembly, police, "=HYPERLINK(evil)", [])
    _run(as_organiser, assembly)
    html = as_organiser.get(_url(assembly, f"?organisation={police.id}")).get_data(as_text=True)
    assert f'href="{_url(assembly, f".csv?organisation={police.id}")}"' in html
    resp = as_organiser.get(_url(assembly, f".csv?organisation={police.id}"))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    today = local_today(assembly.timezone).isoformat()
    assert f'filename="workshops-{assembly.slug}-organisation-{today}.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["Full name", "Email", "Organisation", "Sector", "Morning", "Afternoon"]
    names = [r[0] for r in rows[1:]]
    assert sorted(names) == sorted([r.full_name for r in regs if r.organisation_id == police.id]
                                   + ["'=HYPERLINK(evil)"])
    run = db.session.scalar(select(AllocationRun).order_by(AllocationRun.id.desc()))
    reg = next(r for r in regs if r.organisation_id == police.id)
    row = next(r for r in rows if r[0] == reg.full_name)
    titles = {str(w.id): f"{w.title} ({w.room})" for w in ws.values()}
    assert set(row[4:]) == {titles[w] for w in run.result["assignments"][str(reg.id)]}
    # The unfiltered download holds everyone.
    rows = list(csv.reader(io.StringIO(as_organiser.get(_url(assembly, ".csv")).get_data().decode("utf-8-sig"))))
    assert len(rows) == 1 + len(regs) + 1


def test_only_organisers_download_the_list(as_facilitator):
    assembly, topics, rounds, ws = two_round_assembly()
    assert as_facilitator.get(_url(assembly, ".csv")).status_code == 403


def test_names_and_organisations_typed_by_delegates_are_isolated_in_the_list(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    org = make_org("\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7", sector="voluntary_community")
    make_registration(assembly, org, "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2", [topics["A"], topics["C"]])
    _run(as_organiser, assembly)
    html = as_organiser.get(_url(assembly)).get_data(as_text=True)
    assert ("<tr><td><bdi>\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2</bdi></td>"
            "<td data-label=\"Organisation\"><bdi>\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7</bdi></td>") in html


def test_moving_someone_in_the_published_allocation_comes_back_to_the_same_filtered_page(as_organiser):
    assembly, rounds, ws, regs, run, police, health = _world(as_organiser)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    reg = next(r for r in regs if r.organisation_id == police.id)
    move = _url(assembly, f"/{reg.id}?organisation={police.id}&page=1")
    page = as_organiser.get(move).get_data(as_text=True)
    # Cancel goes back where the organiser came from, like "Back to delegates".
    assert f'<a href="{_url(assembly, f"?organisation={police.id}&amp;page=1")}">Cancel</a>' in page
    _keep_workshops_and_expect_the_filtered_page(as_organiser, assembly, move, run, reg, rounds, ws, police, pin="")


def test_coming_back_to_a_page_the_change_emptied_shows_the_last_page_not_no_match(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=60)
    regs = delegates(assembly, topics, 51, choices="AB")
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun).order_by(AllocationRun.id.desc()))
    assert all(str(ws["1A"].id) in w for w in run.result["assignments"].values())
    # Page 2 of ASB (morning) holds one delegate, the last by name; they are moved to the other workshop.
    listed = f"?workshop={ws['1A'].id}&page=2"
    last = regs[-1]
    assert f">{last.full_name}<" in as_organiser.get(_url(assembly, listed)).get_data(as_text=True)
    second = next(w for w in run.result["assignments"][str(last.id)] if w != str(ws["1A"].id))
    resp = post_form(as_organiser, _url(assembly, f"/{last.id}{listed}"),
                     {f"round_{rounds['1'].id}": str(ws["1B"].id), f"round_{rounds['2'].id}": second, "pin": "y"},
                     follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "No delegates match." not in page
    assert "50 delegates" in page and f">{regs[0].full_name}<" in page and f">{last.full_name}<" not in page
    # Its Change links come back to the page shown.
    assert f'/{regs[0].id}?workshop={ws["1A"].id}&amp;page=1"' in page
