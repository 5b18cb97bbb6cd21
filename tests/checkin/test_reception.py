"""A reception account: the check-in pages and nothing else (least privilege for the desk on the day)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from eventapp.timeutil import local_today
from tests.conftest import csrf_from
from tests.factories import make_assembly, make_org, make_user
from tests.notes.helpers import make_registration


@pytest.fixture
def desk(client, auth, db):
    user = make_user("reception", email="desk@example.org", name="Desk Volunteer")
    auth.login(user.email)
    return user


@pytest.fixture
def today(db):
    assembly = make_assembly(title="Shireford Assembly", date=local_today("Europe/London"))
    org = make_org("Shireford Constabulary")
    return assembly, [make_registration(assembly, org, "Aisha Khan", access_needs="Wheelchair user"),
                      make_registration(assembly, org, "Will Waiting", status="waiting")]


def test_reception_lands_on_the_days_to_check_in_at_and_checks_a_delegate_in(client, auth, db, today):
    assembly, (aisha, _waiting) = today
    coming = make_assembly(title="Northvale Assembly", date=local_today() + timedelta(days=30))
    make_assembly(title="Old Assembly", date=local_today() - timedelta(days=30))
    make_assembly(title="Draft Assembly", date=local_today(), status="draft")
    user = make_user("reception", email="desk@example.org", name="Desk Volunteer")

    landed = auth.login(user.email, follow_redirects=True)
    home = landed.get_data(as_text=True)
    assert landed.request.path == "/check-in"
    assert "Shireford Assembly" in home and "Northvale Assembly" in home
    assert "Old Assembly" not in home and "Draft Assembly" not in home
    assert home.index("Shireford Assembly") < home.index("Northvale Assembly")
    assert "<strong>Today</strong>" in home and "(check-in opens on the day)" in home
    # Their navigation: check-in, password, sign out; no organiser or facilitator pages.
    nav = home.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert "/check-in" in nav and "/organiser/" not in nav and "/facilitator/" not in nav

    page = client.get(f"/organiser/assemblies/{assembly.slug}/check-in").get_data(as_text=True)
    assert "Aisha Khan" in page and "Wheelchair user" in page
    assert f"/organiser/assemblies/{assembly.slug}\"" not in page  # no link back to the organiser's page
    sent = client.post(f"/organiser/assemblies/{assembly.slug}/check-in/{aisha.id}/arrived",
                       data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "has arrived" in sent.get_data(as_text=True)
    assert "1 of 1</strong> confirmed delegate has arrived" in sent.get_data(as_text=True)
    assert "1 of 1 confirmed delegate has arrived" in client.get("/check-in").get_data(as_text=True)
    assert coming.slug in client.get("/check-in").get_data(as_text=True)


def test_a_search_that_finds_nobody_tells_reception_to_ask_an_organiser(client, desk, today):
    assembly, _people = today
    page = client.get(f"/organiser/assemblies/{assembly.slug}/check-in?q=Nobody+Here").get_data(as_text=True)
    assert "ask an organiser to add them at the door" in page
    assert "/registrations/new" not in page


@pytest.mark.parametrize("path", ["/organiser/", "/organiser/assemblies/{slug}", "/organiser/assemblies/{slug}/registrations",
                                  "/organiser/assemblies/{slug}/day-sheets", "/organiser/users", "/organiser/outbox/",
                                  "/facilitator/", "/organiser/assemblies/{slug}/registrations.csv"])
def test_reception_cannot_open_anything_else(client, desk, today, path):
    assembly, _people = today
    assert client.get(path.format(slug=assembly.slug)).status_code == 403


def test_facilitators_cannot_open_check_in(client, auth, facilitator, today):
    assembly, _people = today
    auth.login(facilitator.email)
    assert client.get("/check-in").status_code == 403
    assert client.get(f"/organiser/assemblies/{assembly.slug}/check-in").status_code == 403


def test_a_search_that_finds_only_someone_not_confirmed_says_why_they_are_not_listed(client, desk, today):
    assembly, _people = today
    page = client.get(f"/organiser/assemblies/{assembly.slug}/check-in?q=waiting").get_data(as_text=True)
    assert "Nobody still expected matches &ldquo;waiting&rdquo;." in page
    assert "<bdi>Will Waiting</bdi>, <bdi>Shireford Constabulary</bdi>: on the waiting list" in page
    assert "an organiser must confirm them before they can be checked in" in page
    assert "/registrations" not in page  # reception cannot open the organisers' list


def test_searching_everyone_confirmed_offers_no_link_back_to_the_same_search(client, desk, today):
    assembly, _people = today
    page = client.get(f"/organiser/assemblies/{assembly.slug}/check-in?show=all&q=Nobody").get_data(as_text=True)
    assert "Nobody confirmed matches &ldquo;Nobody&rdquo;." in page
    assert "Search everyone confirmed" not in page and "Ask an organiser to add them at the door." in page
    arrived = client.get(f"/organiser/assemblies/{assembly.slug}/check-in?show=arrived&q=Aisha").get_data(as_text=True)
    assert "Nobody who has arrived matches &ldquo;Aisha&rdquo;." in arrived and "Search everyone confirmed" in arrived


def test_a_search_with_confirmed_matches_also_counts_those_not_confirmed(client, desk, today):
    assembly, _people = today
    make_registration(assembly, make_org("Shireford Fire"), "Cal Cancelled", status="cancelled")
    page = client.get(f"/organiser/assemblies/{assembly.slug}/check-in?q=Shireford").get_data(as_text=True)
    assert "<bdi>Aisha Khan</bdi>" in page
    assert "Also matching, but not confirmed so not listed: 1 on the waiting list, 1 cancelled." in page
    assert "Will Waiting" not in page
    only = client.get(f"/organiser/assemblies/{assembly.slug}/check-in?q=Aisha").get_data(as_text=True)
    assert "<bdi>Aisha Khan</bdi>" in only and "not confirmed" not in only


def test_reception_cannot_open_check_in_for_an_assembly_the_list_does_not_show(client, auth, db):
    # The list shows the last week's, today's and coming assemblies: typing another's address must not
    # open its delegates (names, organisations, access needs) to a desk account. Organisers keep access.
    org = make_org("Shireford Constabulary")
    old = make_assembly(title="Old <b>Assembly</b>", date=local_today() - timedelta(days=30))
    person = make_registration(old, org, "Olga Oldtimer", access_needs="Hearing loop")
    last_week = make_assembly(title="Last Week Assembly", date=local_today() - timedelta(days=6))
    draft = make_assembly(title="Draft Assembly", date=local_today(), status="draft")
    auth.login(make_user("reception", email="desk@example.org", name="Desk Volunteer").email)
    page = client.get("/check-in").get_data(as_text=True)
    assert "Last Week Assembly" in page and "Old &lt;b&gt;Assembly" not in page
    assert client.get(f"/organiser/assemblies/{last_week.slug}/check-in").status_code == 200

    base = f"/organiser/assemblies/{old.slug}/check-in"
    r = client.get(base)
    html = r.get_data(as_text=True)
    assert r.status_code == 403
    assert "Check-in is not open for <bdi>Old &lt;b&gt;Assembly&lt;/b&gt;</bdi>" in html
    assert "Check-in is open on the day of an assembly and for 7 days after it" in html
    assert "Olga Oldtimer" not in html and "Hearing loop" not in html
    assert 'href="/check-in"' in html
    token = csrf_from(client.get("/check-in").get_data(as_text=True))
    for url in (f"{base}/{person.id}/arrived", f"{base}/{person.id}/undo"):
        assert client.post(url, data={"csrf_token": token}).status_code == 403
    from eventapp.checkin.services import scan_token
    scanned = client.get(f"{base}/scan/{scan_token(person)}")
    assert scanned.status_code == 403 and "Olga Oldtimer" not in scanned.get_data(as_text=True)
    r = client.get(f"/organiser/assemblies/{draft.slug}/check-in")
    assert r.status_code == 403 and "have not opened the assembly yet" in r.get_data(as_text=True)

    auth.logout()
    auth.login(make_user("organiser", email="boss@example.org").email)
    r = client.get(base)
    assert r.status_code == 200 and "Olga Oldtimer" in r.get_data(as_text=True)
