"""Check-in on the day: reception finds a delegate, marks them arrived, and can take it back."""
from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from eventapp.checkin import services
from eventapp.checkin.models import Arrival
from eventapp.domain import DomainError
from eventapp.extensions import db
from eventapp.timeutil import local_today
from tests.conftest import csrf_from
from tests.factories import make_assembly, make_org
from tests.notes.helpers import make_registration
from tests.page_messages import WITHOUT_ISOLATES

HOSTILE = "<script>alert(1)</script> \u202eRTL \U0001F600 ' OR 1=1; --"


@pytest.fixture
def today_assembly(db):
    """An assembly held today, with three confirmed delegates, one on the waiting list and one cancelled."""
    # Until the very end of today, whatever the hour the suite runs: the code is shown until the day is over.
    assembly = make_assembly(date=local_today("Europe/London"), end_time=time(23, 59, 59))
    police, council = make_org("Shireford Constabulary"), make_org("Northvale <b>District</b> Council")
    people = [make_registration(assembly, police, "Aisha Khan", access_needs="Wheelchair user"),
              make_registration(assembly, council, "Ben Jones"),
              make_registration(assembly, council, HOSTILE),
              make_registration(assembly, police, "Will Waiting", status="waiting"),
              make_registration(assembly, police, "Carl Cancelled", status="cancelled")]
    return assembly, people


def arrivals() -> int:
    return db.session.scalar(select(func.count(Arrival.registration_id)))


def url(assembly, rest: str = "") -> str:
    return f"/organiser/assemblies/{assembly.slug}/check-in{rest}"


def tap(client, assembly, reg, action: str = "arrived", **back):
    token = csrf_from(client.get(url(assembly)).get_data(as_text=True))
    return client.post(url(assembly, f"/{reg.id}/{action}"), data={"csrf_token": token, **back})


def test_marking_an_arrival_twice_keeps_the_first_and_counts_once(today_assembly):
    assembly, (aisha, *_rest) = today_assembly
    first = services.mark_arrived(assembly, aisha.id)
    again = services.mark_arrived(assembly, aisha.id)
    assert not first.already and again.already and again.arrived_at == first.arrived_at
    assert arrivals() == 1 and services.arrived_count(assembly) == 1


def test_only_confirmed_delegates_of_this_assembly_on_its_day_can_arrive(today_assembly):
    assembly, (aisha, _ben, _h, waiting, cancelled) = today_assembly
    with pytest.raises(DomainError, match="Will Waiting is on the waiting list: an organiser must confirm their registration first"):
        services.mark_arrived(assembly, waiting.id)
    with pytest.raises(DomainError, match="Carl Cancelled is cancelled"):
        services.mark_arrived(assembly, cancelled.id)
    other = make_assembly(date=assembly.date)
    with pytest.raises(DomainError, match="no such registration"):
        services.mark_arrived(other, aisha.id)
    tomorrow = make_assembly(date=local_today("Europe/London") + timedelta(days=1))
    early = make_registration(tomorrow, make_org(), "Eager Early")
    with pytest.raises(DomainError, match="Check-in opens on the day of the assembly"):
        services.mark_arrived(tomorrow, early.id)
    assert arrivals() == 0


def test_undo_takes_an_arrival_back(today_assembly):
    assembly, (aisha, ben, *_rest) = today_assembly
    services.mark_arrived(assembly, aisha.id)
    services.undo_arrival(assembly, aisha.id)
    assert arrivals() == 0
    with pytest.raises(DomainError, match="Ben Jones was not marked as arrived"):
        services.undo_arrival(assembly, ben.id)


def test_reception_finds_a_delegate_taps_arrived_and_sees_who_is_still_expected(as_organiser, today_assembly):
    assembly, (aisha, ben, hostile, *_rest) = today_assembly
    page = as_organiser.get(url(assembly)).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "<strong>0 of 3</strong> confirmed delegates have arrived." in page
    names = [page.index(n) for n in ("&lt;script&gt;alert(1)&lt;/script&gt;", "Aisha Khan", "Ben Jones")]
    assert names == sorted(names) and "Will Waiting" not in page and "Carl Cancelled" not in page
    assert "<script>alert(1)" not in page and "Northvale &lt;b&gt;District&lt;/b&gt; Council" in page
    assert "Access: Wheelchair user" in page  # reception sees who needs help at the door

    found = as_organiser.get(url(assembly, "?q=constab")).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Aisha Khan" in found and "Ben Jones" not in found  # by organisation too

    response = tap(as_organiser, assembly, aisha, q="constab")
    # The search box is empty again for the next person in the queue.
    assert response.status_code == 302 and response.headers["Location"].endswith(url(assembly))
    after = as_organiser.get(response.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert re.search(r'role="status">\s*<p><strong><bdi>Aisha Khan</bdi></strong> has arrived \(\d\d:\d\d \w+\)', after)
    assert "<strong>1 of 3</strong> confirmed delegate has arrived." in after
    assert "Aisha Khan" not in after.split("<table")[1]  # she left the list of those expected
    assert "Nobody still expected matches &ldquo;constab&rdquo;" in as_organiser.get(
        url(assembly, "?q=constab")).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "role=\"status\"" not in as_organiser.get(url(assembly)).get_data(as_text=True).translate(WITHOUT_ISOLATES)  # said once

    arrived = as_organiser.get(url(assembly, "?show=arrived")).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Aisha Khan" in arrived and "Ben Jones" not in arrived and re.search(r"Arrived \d\d:\d\d", arrived)
    undone = tap(as_organiser, assembly, aisha, action="undo", show="arrived")
    assert undone.headers["Location"].endswith(url(assembly, "?show=arrived"))
    page = as_organiser.get(undone.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Aisha Khan is no longer marked as arrived." in page and "Nobody has arrived yet." in page


def test_a_second_desk_marking_the_same_person_is_told_so(as_organiser, today_assembly):
    assembly, (aisha, *_rest) = today_assembly
    services.mark_arrived(assembly, aisha.id)  # the other desk, a moment before
    response = tap(as_organiser, assembly, aisha)
    page = as_organiser.get(response.headers["Location"]).get_data(as_text=True)
    assert "<bdi>Aisha Khan</bdi> had already been checked in, at" in page
    assert arrivals() == 1


def test_before_the_day_the_page_lists_but_does_not_check_in(as_organiser, db):
    assembly = make_assembly()  # next year
    reg = make_registration(assembly, make_org(), "Early Bird")
    page = as_organiser.get(url(assembly)).get_data(as_text=True)
    assert "Check-in opens on the day of the assembly, 18 March 2027." in page
    assert "Early Bird" in page and ">Arrived<span" not in page
    refused = tap(as_organiser, assembly, reg)
    assert "Check-in opens on the day" in as_organiser.get(refused.headers["Location"]).get_data(as_text=True)
    assert arrivals() == 0


def test_hostile_search_text_is_kept_escaped_and_matches_literally(as_organiser, today_assembly):
    assembly, _people = today_assembly
    for q in ("%", "_", "<img src=x onerror=alert(1)>", "\r\nX-Injected: 1"):
        response = as_organiser.get(url(assembly), query_string={"q": q})
        html = response.get_data(as_text=True)
        assert response.status_code == 200, q
        assert "<img src=x" not in html and "X-Injected: 1\r" not in html
    assert "Nobody still expected matches &ldquo;%&rdquo;" in as_organiser.get(url(assembly, "?q=%25")).get_data(as_text=True)


def test_the_list_pages_through_many_delegates_in_a_fixed_number_of_queries(as_organiser, db):
    from sqlalchemy import event

    assembly = make_assembly(date=local_today("Europe/London"))
    org = make_org()

    def statements(n_people: int, start: int) -> int:
        for i in range(start, start + n_people):
            make_registration(assembly, org, f"Person {i:04d}")
        counted = []
        listener = lambda *args: counted.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert as_organiser.get(url(assembly)).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(counted)

    few = statements(10, 0)
    many = statements(90, 10)
    assert few == many
    page = as_organiser.get(url(assembly, "?page=4")).get_data(as_text=True)
    assert "Page 4 of 4 (100 in all)" in page


def test_the_delegates_own_data_says_when_they_arrived(client, today_assembly):
    from eventapp.registration.services import personal_data

    assembly, (aisha, ben, *_rest) = today_assembly
    services.mark_arrived(assembly, aisha.id)
    assert personal_data(aisha)["registration"]["arrived_at"].endswith("Z")
    assert personal_data(ben)["registration"]["arrived_at"] is None


def test_the_report_counts_those_checked_in_at_reception(as_organiser, today_assembly):
    import csv
    import io
    import json

    assembly, (aisha, ben, *_rest) = today_assembly
    report = f"/organiser/assemblies/{assembly.slug}/report"
    assert "checked in at reception" not in as_organiser.get(report).get_data(as_text=True)  # check-in not used
    services.mark_arrived(assembly, aisha.id)
    services.mark_arrived(assembly, ben.id)
    html = as_organiser.get(report).get_data(as_text=True)
    assert "3 registered (confirmed), 2 checked in at reception, 0 attended at least one workshop" in html
    assert json.loads(as_organiser.get(report + ".json").get_data(as_text=True))["checked_in_at_reception"] == 2
    rows = list(csv.reader(io.StringIO(as_organiser.get(report + ".csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert ["checked_in_at_reception", "All", "", "3", "2"] == [row for row in rows
                                                                 if row[0] == "checked_in_at_reception"][0][:5]


def test_the_registrations_export_says_who_arrived_and_when(as_organiser, today_assembly):
    import csv
    import io

    assembly, (aisha, *_rest) = today_assembly
    marked = services.mark_arrived(assembly, aisha.id)
    body = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/registrations.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    by_name = {row["Full name"]: row["Arrived at (UTC)"] for row in rows}
    assert by_name["Aisha Khan"] == marked.arrived_at.strftime("%Y-%m-%d %H:%M")
    assert by_name["Ben Jones"] == "" and len(rows) == 5


def test_a_delegates_code_opens_them_on_receptions_phone_with_one_button(app, client, auth, organiser, today_assembly,
                                                                         email_request_context, monkeypatch):
    import segno

    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://events.example.org")
    from eventapp.registration.services import make_manage_token

    assembly, (aisha, _ben, _h, waiting, cancelled) = today_assembly
    manage = client.get(f"/manage/{make_manage_token(aisha)}").get_data(as_text=True)
    token = services.scan_token(aisha)
    scan_url = f"/organiser/assemblies/{assembly.slug}/check-in/scan/{token}"
    # The code on her page is that address (on the public host).
    expected = segno.make(f"https://events.example.org{scan_url}", error="m").svg_inline(
        scale=4, dark="#000", light="#fff", border=4, svgclass="checkin-code", omitsize=True)
    assert "At reception" in manage and expected in manage
    assert 'role="img" aria-label="Your check-in code for reception"' in manage
    for other in (waiting, cancelled):
        assert "At reception" not in client.get(f"/manage/{make_manage_token(other)}").get_data(as_text=True)

    # Scanned by someone not signed in: sign in first, then back to her.
    response = client.get(scan_url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login(organiser.email)
    page = client.get(scan_url).get_data(as_text=True)
    assert "<h1><bdi>Aisha Khan</bdi></h1>" in page and "Access: Wheelchair user" in page
    tap = client.post(f"/organiser/assemblies/{assembly.slug}/check-in/{aisha.id}/arrived",
                      data={"csrf_token": csrf_from(page)})
    assert tap.status_code == 302 and arrivals() == 1
    assert re.search(r"Arrived at \d\d:\d\d \w+\.", client.get(scan_url).get_data(as_text=True))
    # A code that was not made here, or is another assembly's, finds nobody.
    assert client.get(scan_url[:-3] + "xyz").status_code == 404
    other = make_assembly(date=assembly.date)
    assert client.get(f"/organiser/assemblies/{other.slug}/check-in/scan/{token}").status_code == 404


def test_the_arrival_just_marked_is_not_shown_to_the_next_person_signed_in(client, auth, today_assembly):
    from tests.conftest import post_form
    from tests.factories import make_user

    assembly, (aisha, *_rest) = today_assembly
    make_user("reception", email="desk1@example.org")
    make_user("reception", email="desk2@example.org")
    auth.login("desk1@example.org")
    assert tap(client, assembly, aisha).status_code == 302  # signs out before the page it goes back to
    post_form(client, "/logout", {}, form_url="/check-in")
    auth.login("desk2@example.org")
    page = client.get(url(assembly)).get_data(as_text=True)
    assert "<strong>1 of 3</strong> confirmed delegate has arrived." in page
    assert "Aisha Khan</bdi></strong> has arrived" not in page and ">Undo<" not in page


def test_an_organiser_searching_for_someone_on_the_waiting_list_is_sent_to_their_registration(as_organiser,
                                                                                              today_assembly):
    assembly, people = today_assembly
    page = as_organiser.get(url(assembly, "?q=carl")).get_data(as_text=True)
    carl = people[-1]
    assert (f'<a href="/organiser/assemblies/{assembly.slug}/registrations/{carl.id}/edit"><bdi>Carl Cancelled</bdi></a>, '
            "<bdi>Shireford Constabulary</bdi>: cancelled") in page
    assert "confirm their registration first, then check them in" in page


def test_a_cancelled_assemblys_personal_page_shows_no_code_and_says_the_workshops_are_off(client, today_assembly,
                                                                                         app, monkeypatch):
    from eventapp.assemblies.services import set_cancelled
    from eventapp.registration.services import make_manage_token
    from tests.factories import make_round, make_workshop
    from tests.invites.helpers import publish_assignments

    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://events.example.org")
    assembly, (aisha, *_rest) = today_assembly
    workshop = make_workshop(make_round(assembly), title="Spotting hidden harm", room="Room 4")
    publish_assignments(assembly, {aisha: [workshop]})
    page = f"/manage/{make_manage_token(aisha)}"
    before = client.get(page).get_data(as_text=True)
    assert "At reception" in before and "Spotting hidden harm, Room 4" in before
    set_cancelled(assembly, True)
    html = client.get(page).get_data(as_text=True)
    assert "This assembly has been cancelled." in html
    assert "At reception" not in html and "checkin-code" not in html
    assert "As the assembly has been cancelled, its workshops are not taking place." in html
    assert "Spotting hidden harm" not in html and "choices can no longer change" not in html
