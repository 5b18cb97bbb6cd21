"""The organiser console for assemblies, rounds, workshops, topics and the agenda."""
from __future__ import annotations

from html import unescape
from datetime import date, datetime, time
import re

import pytest
from sqlalchemy import select

from eventapp.assemblies.models import AgendaItem, Assembly, Round, Topic, Workshop
from tests.conftest import csrf_from, post_form
from tests.factories import (
    make_agenda_item,
    make_assembly,
    make_org,
    make_round,
    make_topic,
    make_user,
    make_workshop,
)
from tests.page_messages import where_shown
from tests.page_messages import WITHOUT_ISOLATES


def assembly_form(**overrides) -> dict:
    data = {
        "title": "Shireford Community Safety Assembly 2027", "slug": "shireford-2027", "series_name": "",
        "summary": "Launching the Community Safety Agreement.", "venue_name": "Shireford Guildhall",
        "venue_address": "Market Square", "date": "2027-03-18", "start_time": "09:00", "end_time": "16:00",
        "timezone": "Europe/London", "registration_opens_at": "2027-01-10T09:00",
        "registration_closes_at": "2027-03-11T17:00", "capacity": "150", "org_limit": "8",
        "privacy_notice": "We keep your details for a year.", "retention_days": "365", "status": "open",
    }
    data.update(overrides)
    return data


def body(resp) -> str:
    """The page, its flashed sentences read without their bidi isolates."""
    return resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)


# --- assemblies ----------------------------------------------------------------------


def test_organiser_creates_an_assembly(as_organiser, db):
    resp = post_form(as_organiser, "/organiser/assemblies/new", assembly_form(series_name="County Assembly"))
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/organiser/assemblies/shireford-2027"
    a = db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2027"))
    assert (a.title, a.date, a.start_time, a.end_time) == ("Shireford Community Safety Assembly 2027",
                                                            date(2027, 3, 18), time(9), time(16))
    assert a.registration_opens_at == datetime(2027, 1, 10, 9, 0)
    assert (a.capacity, a.org_limit, a.retention_days, a.status) == (150, 8, 365, "open")
    assert a.series.name == "County Assembly"
    detail = as_organiser.get(resp.headers["Location"])
    assert "created" in body(detail) and "Shireford Guildhall" in body(detail)


def test_new_assembly_form_defaults_to_london(as_organiser):
    html = body(as_organiser.get("/organiser/assemblies/new"))
    assert 'value="Europe/London"' in html
    assert "<h1>Create an assembly</h1>" in html


def test_assembly_page_names_the_time_zone_as_the_emails_do(as_organiser):
    london = make_assembly(timezone="Europe/London")
    paris = make_assembly(timezone="Europe/Paris")
    html = body(as_organiser.get(f"/organiser/assemblies/{london.slug}"))
    assert "09:00&ndash;16:00 (UK time)" in html and "(Europe/London)" not in html
    html = body(as_organiser.get(f"/organiser/assemblies/{paris.slug}"))
    assert "09:00&ndash;16:00 (Europe/Paris time)" in html


def test_organiser_edits_an_assembly_and_its_series_carries_over(as_organiser, db):
    first = make_assembly(slug="first-year")
    post_form(as_organiser, "/organiser/assemblies/first-year/edit",
              assembly_form(slug="first-year", title="Year one", series_name="County Assembly"))
    resp = post_form(as_organiser, "/organiser/assemblies/new",
                     assembly_form(slug="second-year", title="Year two", series_name="County Assembly"))
    assert resp.status_code == 302
    second = db.session.scalar(select(Assembly).where(Assembly.slug == "second-year"))
    db.session.refresh(first)
    assert first.title == "Year one"
    assert first.series_id == second.series_id is not None

    form = body(as_organiser.get("/organiser/assemblies/second-year/edit"))
    assert 'value="County Assembly"' in form and 'value="Year two"' in form


def test_next_years_assembly_joins_the_series_however_its_name_is_typed(as_organiser, db):
    # A year on, nobody remembers the exact capitals or spacing: a new series made by mistake would leave
    # last year's open actions off the carry-forward page.
    post_form(as_organiser, "/organiser/assemblies/new",
              assembly_form(slug="year-one", title="Year one", date="2026-03-19", series_name="County Assembly"))
    form = body(as_organiser.get("/organiser/assemblies/new"))
    assert '<option value="County Assembly">' in form and 'list="series_name-list"' in form
    resp = post_form(as_organiser, "/organiser/assemblies/new",
                     assembly_form(slug="year-two", title="Year two", series_name="  county   assembly "))
    assert resp.status_code == 302
    one, two = (db.session.scalar(select(Assembly).where(Assembly.slug == s)) for s in ("year-one", "year-two"))
    assert one.series_id == two.series_id is not None and two.series.name == "County Assembly"
    page = body(as_organiser.get("/organiser/assemblies/year-two/carry-forward"))
    assert "earlier assemblies in the series &ldquo;County Assembly&rdquo;" in page


def test_duplicate_slug_is_refused_and_input_kept(as_organiser, db):
    make_assembly(slug="taken-slug")
    resp = post_form(as_organiser, "/organiser/assemblies/new", assembly_form(slug="taken-slug", title="My new one"))
    assert resp.status_code == 400
    html = body(resp)
    assert "Another assembly already uses that web address." in html
    assert "There is a problem" in html
    assert 'value="My new one"' in html and 'value="taken-slug"' in html
    assert db.session.query(Assembly).filter_by(title="My new one").count() == 0


def test_renaming_slug_onto_another_is_refused(as_organiser, db):
    make_assembly(slug="one")
    make_assembly(slug="two")
    resp = post_form(as_organiser, "/organiser/assemblies/two/edit", assembly_form(slug="one"))
    assert resp.status_code == 400
    assert "Another assembly already uses that web address." in body(resp)
    # Keeping its own slug is fine.
    assert post_form(as_organiser, "/organiser/assemblies/two/edit", assembly_form(slug="two")).status_code == 302


@pytest.mark.parametrize("overrides, field_id, message", [
    ({"slug": "Not A Slug!"}, "slug", "Use lower-case letters, digits and single hyphens"),
    ({"end_time": "08:00"}, "end_time", "The day must end after it starts."),
    ({"end_time": "09:00"}, "end_time", "The day must end after it starts."),
    ({"registration_closes_at": "2027-01-01T09:00"}, "registration_closes_at",
     "Registration must close after it opens."),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Choose a time zone from the list."),
    ({"title": "x" * 201}, "title", "Use at most 200 characters."),
    ({"slug": "a" * 101}, "slug", "Use at most 100 characters."),
    ({"summary": "y" * 10_001}, "summary", "Use at most 10,000 characters (you used 10,001)."),
    ({"title": "   "}, "title", "Enter a title."),
    ({"date": "18/03/2027"}, "date", "Enter the date as year-month-day, e.g. 2027-03-18."),
    ({"date": ""}, "date", "Enter the date, e.g. 2027-03-18."),
    ({"capacity": "-1"}, "capacity", "Enter a number from 0 to 100,000."),
    ({"capacity": "lots"}, "capacity", "Enter the capacity as a whole number, e.g. 120."),
    ({"org_limit": "0"}, "org_limit", "Enter a number from 1 to 100,000, or leave it empty."),
    # Above the most, it said "at least 1" of 100001.
    ({"org_limit": "100001"}, "org_limit", "Enter a number from 1 to 100,000, or leave it empty."),
    ({"status": "published"}, "status", "Choose a status from the list."),
])
def test_assembly_form_refuses_bad_input_with_a_message(as_organiser, db, overrides, field_id, message):
    resp = post_form(as_organiser, "/organiser/assemblies/new", assembly_form(**overrides))
    assert resp.status_code == 400
    html = body(resp)
    assert message in html
    assert f'href="#{field_id}"' in html  # the summary links to the field
    assert f'id="{field_id}-error"' in html
    assert db.session.query(Assembly).count() == 0
    # What was typed is kept (long values too).
    for key, value in overrides.items():
        if key not in ("status",) and value.strip():
            assert f'value="{value}"' in html or f"\n{value}</textarea>" in html


def test_organiser_list_paginates_and_filters(as_organiser):
    for i in range(25):
        make_assembly(title=f"Assembly {i:02d}", slug=f"list-{i:02d}", status="draft" if i % 5 == 0 else "open",
                      venue_name="Northvale Hall" if i == 7 else "Shireford Guildhall")
    first = body(as_organiser.get("/organiser/"))
    assert "Page 1 of 2 (25 in all)" in first
    assert first.count('href="/organiser/assemblies/list-') == 20
    second = body(as_organiser.get("/organiser/?page=2"))
    assert second.count('href="/organiser/assemblies/list-') == 5
    drafts = body(as_organiser.get("/organiser/?status=draft"))
    assert drafts.count('href="/organiser/assemblies/list-') == 5
    by_venue = body(as_organiser.get("/organiser/?q=northvale"))
    assert "Assembly 07" in by_venue and by_venue.count('href="/organiser/assemblies/list-') == 1
    none = body(as_organiser.get("/organiser/?q=nothing-like-this"))
    assert "No assemblies match." in none
    # A page past the end is an empty page, not an error.
    assert as_organiser.get("/organiser/?page=99").status_code == 200


def test_empty_console_invites_the_first_assembly(as_organiser):
    assert "There are no assemblies yet." in body(as_organiser.get("/organiser/"))


# --- public pages and drafts -----------------------------------------------------------


def test_draft_assembly_is_hidden_from_the_public(client, auth, organiser):
    draft = make_assembly(status="draft", title="Secret Draft Assembly")
    assert client.get(f"/a/{draft.slug}").status_code == 404
    assert "Secret Draft Assembly" not in body(client.get("/"))
    auth.login(organiser.email)
    resp = client.get(f"/a/{draft.slug}")
    assert resp.status_code == 200
    assert "Draft: only organisers can see this page." in body(resp)


def test_public_page_shows_agenda_and_workshops(client, db):
    assembly = make_assembly(title="Open Assembly")
    org = make_org("Shireford Constabulary")
    item = make_agenda_item(assembly, title="Policing priorities", starts_at=time(9, 45))
    item.speaker = "Chief Constable"
    item.organisation = org
    db.session.commit()
    rnd = make_round(assembly, name="Morning breakouts")
    make_workshop(rnd, topic=make_topic("Anti-social behaviour"), title="ASB: what works", room="Main Hall")
    html = body(client.get(f"/a/{assembly.slug}"))
    assert "Policing priorities" in html and "Chief Constable, Shireford Constabulary" in html
    assert "Morning breakouts, 11:00&ndash;12:15" in html
    assert "ASB: what works" in html and "Room: Main Hall" in html and "Topic: Anti-social behaviour" in html


def test_public_home_lists_open_assemblies(client):
    make_assembly(title="Upcoming One", date=date(2099, 5, 1))
    make_assembly(title="Last Year's", date=date(2001, 5, 1), status="closed")
    make_assembly(title="Archived One", status="archived")
    html = body(client.get("/"))
    assert "Upcoming One" in html and "Last Year&#39;s" in html and "Past assemblies" in html
    assert "Archived One" not in html


@pytest.mark.parametrize("path", [
    "/a/no-such-assembly",
    "/organiser/assemblies/no-such-assembly",
    "/organiser/assemblies/no-such-assembly/edit",
    "/organiser/assemblies/no-such-assembly/rounds/new",
    "/organiser/assemblies/no-such-assembly/workshops/new",
    "/organiser/assemblies/no-such-assembly/agenda/new",
    "/organiser/topics/999999/edit",
])
def test_unknown_slugs_and_ids_are_404_pages(as_organiser, path):
    resp = as_organiser.get(path)
    assert resp.status_code == 404
    assert "Page not found" in body(resp)


def test_children_of_another_assembly_are_404(as_organiser):
    mine, other = make_assembly(), make_assembly()
    their_round = make_round(other)
    their_workshop = make_workshop(their_round)
    their_item = make_agenda_item(other)
    for path in (
        f"/organiser/assemblies/{mine.slug}/rounds/{their_round.id}/edit",
        f"/organiser/assemblies/{mine.slug}/rounds/{their_round.id}/delete",
        f"/organiser/assemblies/{mine.slug}/workshops/{their_workshop.id}/edit",
        f"/organiser/assemblies/{mine.slug}/agenda/{their_item.id}/edit",
        f"/organiser/assemblies/{mine.slug}/rounds/999999/edit",
        f"/organiser/assemblies/{mine.slug}/workshops/999999/delete",
    ):
        assert as_organiser.get(path).status_code == 404, path


# --- rounds ------------------------------------------------------------------------------


def test_rounds_create_edit_and_refusals(as_organiser, db):
    a = make_assembly()
    base = f"/organiser/assemblies/{a.slug}/rounds"
    resp = post_form(as_organiser, f"{base}/new", {"name": "Morning", "starts_at": "11:00", "ends_at": "12:15"})
    assert resp.status_code == 302
    post_form(as_organiser, f"{base}/new", {"name": "Afternoon", "starts_at": "13:45", "ends_at": "15:00"})
    rounds = db.session.scalars(select(Round).where(Round.assembly_id == a.id).order_by(Round.position)).all()
    assert [(r.name, r.position) for r in rounds] == [("Morning", 1), ("Afternoon", 2)]

    resp = post_form(as_organiser, f"{base}/new", {"name": "Morning", "starts_at": "16:00", "ends_at": "17:00"})
    assert resp.status_code == 400 and "This assembly already has a round with that name." in body(resp)
    resp = post_form(as_organiser, f"{base}/new", {"name": "Late", "starts_at": "16:00", "ends_at": "15:00"})
    assert resp.status_code == 400 and "The round must end after it starts." in body(resp)
    assert 'value="Late"' in body(resp)
    resp = post_form(as_organiser, f"{base}/new", {"name": "L" * 101, "starts_at": "16:00", "ends_at": "17:00"})
    assert resp.status_code == 400 and "Use at most 100 characters." in body(resp)

    morning = rounds[0]
    resp = post_form(as_organiser, f"{base}/{morning.id}/edit", {"name": "Morning breakouts", "starts_at": "11:00",
                                                                  "ends_at": "12:30", "position": "1"})
    assert resp.status_code == 302
    db.session.refresh(morning)
    assert (morning.name, morning.ends_at) == ("Morning breakouts", time(12, 30))


def test_rounds_that_would_run_at_the_same_time_are_refused(as_organiser, db):
    a = make_assembly()
    base = f"/organiser/assemblies/{a.slug}/rounds"
    post_form(as_organiser, f"{base}/new", {"name": "Morning", "starts_at": "10:30", "ends_at": "11:45"})
    resp = post_form(as_organiser, f"{base}/new", {"name": "Afternoon", "starts_at": "11:30", "ends_at": "12:30"})
    assert resp.status_code == 400
    assert ("This round overlaps Morning (10:30–11:45). Each delegate has a workshop in every round, so rounds cannot "
            "run at the same time.") in body(resp)
    assert 'value="Afternoon"' in body(resp)
    # Back to back is fine, and a round can be edited within its own times.
    assert post_form(as_organiser, f"{base}/new", {"name": "Afternoon", "starts_at": "11:45",
                                                   "ends_at": "12:30"}).status_code == 302
    morning = db.session.scalar(select(Round).where(Round.assembly_id == a.id, Round.name == "Morning"))
    assert post_form(as_organiser, f"{base}/{morning.id}/edit", {"name": "Morning", "starts_at": "10:00",
                                                                 "ends_at": "11:45", "position": "1"}).status_code == 302
    resp = post_form(as_organiser, f"{base}/{morning.id}/edit", {"name": "Morning", "starts_at": "10:00",
                                                                 "ends_at": "12:00", "position": "1"})
    assert resp.status_code == 400 and "This round overlaps Afternoon (11:45–12:30)." in body(resp)


def test_deleting_a_round_asks_first_then_removes_its_workshops(as_organiser, db):
    a = make_assembly()
    rnd = make_round(a, name="Doomed round")
    make_workshop(rnd, title="Doomed workshop")
    url = f"/organiser/assemblies/{a.slug}/rounds/{rnd.id}/delete"
    confirm = as_organiser.get(url)
    assert confirm.status_code == 200
    assert "Delete the round “Doomed round”?" in body(confirm) and "1 workshop will be deleted too" in body(confirm)
    assert db.session.get(Round, rnd.id) is not None
    resp = post_form(as_organiser, url, {})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Round, rnd.id) is None
    assert db.session.query(Workshop).filter_by(title="Doomed workshop").count() == 0


# --- workshops ------------------------------------------------------------------------------


def test_workshop_needs_a_round_first(as_organiser):
    a = make_assembly()
    resp = as_organiser.get(f"/organiser/assemblies/{a.slug}/workshops/new")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/organiser/assemblies/{a.slug}/rounds/new")


def test_workshops_with_room_capacity_and_facilitators(as_organiser, db):
    a = make_assembly()
    rnd = make_round(a, name="Morning")
    topic = make_topic("Criminal exploitation")
    amira = make_user("facilitator", email="amira@example.org", name="Amira Haddad")
    tom = make_user("facilitator", email="tom@example.org", name="Tom O'Brien")
    url = f"/organiser/assemblies/{a.slug}/workshops/new"
    form = body(as_organiser.get(f"{url}?round={rnd.id}"))
    assert "Amira Haddad" in form and f'<option selected value="{rnd.id}">' in form

    resp = post_form(as_organiser, url, {"round_id": rnd.id, "topic_id": topic.id, "title": "County lines",
                                         "description": "Cuckooing and exploitation.", "room": "Committee Room 1",
                                         "capacity": "24", "facilitator_ids": [amira.id, tom.id]})
    assert resp.status_code == 302
    w = db.session.scalar(select(Workshop).where(Workshop.title == "County lines"))
    assert (w.room, w.capacity, w.round_id, w.topic_id) == ("Committee Room 1", 24, rnd.id, topic.id)
    assert {u.email for u in w.facilitators} == {"amira@example.org", "tom@example.org"}
    detail = body(as_organiser.get(f"/organiser/assemblies/{a.slug}"))
    assert "<bdi>Amira Haddad</bdi>, <bdi>Tom O&#39;Brien</bdi>" in detail

    edit = f"/organiser/assemblies/{a.slug}/workshops/{w.id}/edit"
    assert "Committee Room 1" in body(as_organiser.get(edit))
    resp = post_form(as_organiser, edit, {"round_id": rnd.id, "topic_id": topic.id, "title": "County lines",
                                          "room": "Main Hall", "capacity": "40", "facilitator_ids": [tom.id]})
    assert resp.status_code == 302
    db.session.refresh(w)
    assert (w.room, w.capacity, [u.email for u in w.facilitators]) == ("Main Hall", 40, ["tom@example.org"])


def test_workshop_refusals_keep_input(as_organiser, db):
    a = make_assembly()
    rnd = make_round(a)
    topic = make_topic()
    url = f"/organiser/assemblies/{a.slug}/workshops/new"
    good = {"round_id": rnd.id, "topic_id": topic.id, "title": "Kept title", "room": "Kept room", "capacity": "20"}

    resp = post_form(as_organiser, url, {**good, "capacity": "-5"})
    assert resp.status_code == 400 and "Enter a number from 0 to 10,000." in body(resp)
    assert 'value="Kept title"' in body(resp) and 'value="Kept room"' in body(resp)
    resp = post_form(as_organiser, url, {**good, "facilitator_ids": [999999]})
    assert resp.status_code == 400 and "Choose the facilitators from the list." in body(resp)
    resp = post_form(as_organiser, url, {**good, "topic_id": 999999})
    assert resp.status_code == 400 and "Choose a topic from the list, or type a new one below." in body(resp)
    resp = post_form(as_organiser, url, {**good, "title": "t" * 201})
    assert resp.status_code == 400 and "Use at most 200 characters." in body(resp)
    other_round = make_round(make_assembly())
    resp = post_form(as_organiser, url, {**good, "round_id": other_round.id})
    assert resp.status_code == 400 and "Choose a round from the list." in body(resp)
    assert db.session.query(Workshop).count() == 0


def test_a_topic_missing_from_the_list_is_named_on_the_workshop_form_without_leaving_it(as_organiser, db):
    a = make_assembly()
    rnd = make_round(a)
    listed = make_topic("Hidden harm")
    url = f"/organiser/assemblies/{a.slug}/workshops/new"
    form = body(as_organiser.get(url))
    # Nothing on the form leads away from it (and loses what was typed) to add a topic.
    assert 'href="/organiser/topics/new"' not in form and 'name="new_topic"' in form
    good = {"round_id": rnd.id, "topic_id": listed.id, "title": "Online harms", "room": "Room 2", "capacity": "20"}
    # Refused for another reason: what was typed stays, and no topic is added yet.
    resp = post_form(as_organiser, url, {**good, "title": "", "new_topic": "Online exploitation"})
    assert resp.status_code == 400 and 'value="Online exploitation"' in body(resp) and 'value="Room 2"' in body(resp)
    assert db.session.scalar(select(Topic).where(Topic.name == "Online exploitation")) is None
    resp = post_form(as_organiser, url, {**good, "new_topic": "  Online   exploitation "})
    assert resp.status_code == 302
    added = db.session.scalar(select(Topic).where(Topic.name == "Online exploitation"))
    workshop = db.session.scalar(select(Workshop).where(Workshop.title == "Online harms"))
    assert added is not None and workshop.topic_id == added.id
    # Named again in another case, it is the same topic, not a second one.
    resp = post_form(as_organiser, url, {**good, "title": "Online harms 2", "new_topic": "ONLINE EXPLOITATION"})
    assert resp.status_code == 302
    assert db.session.scalar(select(Workshop).where(Workshop.title == "Online harms 2")).topic_id == added.id
    assert db.session.query(Topic).count() == 2


def test_moving_a_workshop_into_a_round_its_delegates_attend_is_refused_on_the_form(as_organiser, db):
    from eventapp.placements.models import Placement
    from tests.placements.helpers import make_registration

    a = make_assembly()
    morning, afternoon = make_round(a, "Morning"), make_round(a, "Afternoon", time(14, 0), time(15, 0))
    moving = make_workshop(morning, make_topic("ASB"), title="ASB", room="Room 1")
    staying = make_workshop(afternoon, make_topic("Harm"), title="Harm")
    reg = make_registration(a, make_org(), "Delegate A", [])
    for w in (moving, staying):
        db.session.add(Placement(registration_id=reg.id, round_id=w.round_id, topic_id=w.topic_id, workshop_id=w.id))
    db.session.commit()
    resp = post_form(as_organiser, f"/organiser/assemblies/{a.slug}/workshops/{moving.id}/edit",
                     {"round_id": afternoon.id, "topic_id": moving.topic_id, "title": "ASB", "room": "Room 9",
                      "capacity": "20"})
    assert resp.status_code == 400
    assert ("1 delegate placed in this workshop already has a workshop in Afternoon. Move them in the "
            "allocation first, or keep this workshop in Morning.") in body(resp)
    assert 'value="Room 9"' in body(resp)
    db.session.expire_all()
    assert (moving.round_id, moving.room) == (morning.id, "Room 1")


def test_cutting_a_workshops_capacity_below_its_published_places_warns(as_organiser, db):
    from eventapp.placements.models import Placement
    from tests.placements.helpers import make_registration

    a = make_assembly()
    rnd = make_round(a, "Morning")
    w = make_workshop(rnd, make_topic("ASB"), title="ASB", room="Main Hall", capacity=3)
    for i in range(3):
        reg = make_registration(a, make_org(), f"Delegate {i}", [])
        db.session.add(Placement(registration_id=reg.id, round_id=rnd.id, topic_id=w.topic_id, workshop_id=w.id))
    db.session.commit()
    url = f"/organiser/assemblies/{a.slug}/workshops/{w.id}/edit"
    form = {"round_id": rnd.id, "topic_id": w.topic_id, "title": "ASB", "room": "Library"}
    page = body(post_form(as_organiser, url, {**form, "capacity": "3"}, follow_redirects=True))
    assert "Workshop saved." in page and "more than its" not in page
    page = body(post_form(as_organiser, url, {**form, "capacity": "2"}, follow_redirects=True))
    assert ("The published allocation places 3 delegates in “ASB”, more than its 2 seats. Run the allocation again "
            "and publish it to move some of them.") in page


def test_an_organiser_cannot_be_a_workshop_facilitator(as_organiser, organiser, db):
    a = make_assembly()
    rnd = make_round(a)
    resp = post_form(as_organiser, f"/organiser/assemblies/{a.slug}/workshops/new",
                     {"round_id": rnd.id, "topic_id": make_topic().id, "title": "T", "capacity": "5",
                      "facilitator_ids": [organiser.id]})
    assert resp.status_code == 400
    assert db.session.query(Workshop).count() == 0


def test_deleting_a_workshop_asks_first(as_organiser, db):
    a = make_assembly()
    w = make_workshop(make_round(a), title="Short-lived")
    url = f"/organiser/assemblies/{a.slug}/workshops/{w.id}/delete"
    assert "Delete the workshop “Short-lived”?" in body(as_organiser.get(url))
    assert post_form(as_organiser, url, {}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Workshop, w.id) is None


def test_deleting_a_workshop_or_round_says_who_is_emailed_and_what_notes_are_lost(as_organiser, db,
                                                                                  email_request_context):
    from eventapp.invites.services import sync_calendar
    from eventapp.notes.models import Action, Attendance, SessionNotes
    from eventapp.placements.models import Placement
    from eventapp.registration.services import move_to_waiting_list
    from tests.placements.helpers import make_registration

    a = make_assembly()
    rnd = make_round(a, "Morning")
    w = make_workshop(rnd, title="Hidden harm")
    make_workshop(rnd, title="Empty one")
    org = make_org()
    regs = [make_registration(a, org, f"Delegate {i}", []) for i in range(4)]
    for reg in regs:
        db.session.add(Placement(registration_id=reg.id, round_id=rnd.id, topic_id=w.topic_id, workshop_id=w.id))
        db.session.add(Attendance(workshop_id=w.id, registration_id=reg.id, status="present"))
    db.session.add(SessionNotes(workshop_id=w.id))
    db.session.add_all([Action(assembly_id=a.id, workshop_id=w.id, description=f"Action {i}",
                               owner_organisation_id=org.id) for i in range(2)])
    sync_calendar([r.id for r in regs])
    db.session.commit()
    # The fourth has had the workshop taken out of their calendar already: nothing more is sent to them.
    move_to_waiting_list(regs[3])
    db.session.query(Attendance).filter_by(registration_id=regs[3].id).delete()
    db.session.commit()
    page = body(as_organiser.get(f"/organiser/assemblies/{a.slug}/workshops/{w.id}/delete"))
    assert ("3 delegates placed in this workshop are emailed a calendar cancellation. What facilitators recorded "
            "in this workshop is deleted too: 1 set of session notes, 3 attendance records, 2 agreed actions.") \
        in page
    page = body(as_organiser.get(f"/organiser/assemblies/{a.slug}/rounds/{rnd.id}/delete"))
    assert ("Its 2 workshops will be deleted too. 3 delegates placed in its workshops are emailed a calendar "
            "cancellation. What facilitators recorded in its workshops is deleted too: 1 set of session notes, "
            "3 attendance records, 2 agreed actions.") in page
    # The warning is true: deleting the workshop takes its notes and actions with it.
    post_form(as_organiser, f"/organiser/assemblies/{a.slug}/workshops/{w.id}/delete", {})
    db.session.expire_all()
    assert db.session.query(Action).count() == 0 and db.session.query(SessionNotes).count() == 0


def test_same_topic_runs_in_several_rounds_and_assemblies(db):
    topic = make_topic("Building public confidence")
    first, second = make_assembly(), make_assembly()
    for rnd in (make_round(first, name="Morning"), make_round(first, name="Afternoon"), make_round(second)):
        make_workshop(rnd, topic=topic)
    assert db.session.query(Workshop).filter_by(topic_id=topic.id).count() == 3


# --- topics ------------------------------------------------------------------------------------


def test_topics_add_rename_and_refuse_duplicates(as_organiser, db):
    resp = post_form(as_organiser, "/organiser/topics/new", {"name": "  Poor   mental health ", "description": "x"})
    assert resp.status_code == 302
    topic = db.session.scalar(select(Topic).where(Topic.name == "Poor mental health"))
    assert topic is not None
    resp = post_form(as_organiser, "/organiser/topics/new", {"name": "POOR MENTAL  HEALTH"})
    assert resp.status_code == 400
    assert "That topic is already in the list." in body(resp) and 'value="POOR MENTAL  HEALTH"' in body(resp)
    resp = post_form(as_organiser, f"/organiser/topics/{topic.id}/edit", {"name": "Poor Mental Health"})
    assert resp.status_code == 302
    db.session.refresh(topic)
    assert topic.name == "Poor Mental Health"
    resp = post_form(as_organiser, "/organiser/topics/new", {"name": "t" * 121})
    assert resp.status_code == 400 and "Use at most 120 characters." in body(resp)


def test_topic_list_counts_paginates_and_filters(as_organiser):
    topics = [make_topic(f"Topic {i:02d}") for i in range(30)]
    a = make_assembly()
    make_workshop(make_round(a, name="R1"), topic=topics[3])
    make_workshop(make_round(a, name="R2"), topic=topics[3])
    first = body(as_organiser.get("/organiser/topics"))
    assert "Page 1 of 2 (30 in all)" in first
    assert "<td><bdi>Topic 03</bdi></td><td data-label=\"Workshops\">2</td>" in first
    assert "Topic 29" in body(as_organiser.get("/organiser/topics?page=2"))
    found = body(as_organiser.get("/organiser/topics?q=topic 1"))
    assert "Topic 15" in found and "Topic 25" not in found
    assert "No topics match." in body(as_organiser.get("/organiser/topics?q=zzz"))


def test_a_saved_topic_is_shown_on_the_page_of_the_list_where_its_name_falls(as_organiser, db):
    for i in range(30):
        make_topic(f"Topic {i:02d}")
    resp = post_form(as_organiser, "/organiser/topics/new", {"name": "Youth violence"})
    added = db.session.scalar(select(Topic).where(Topic.name == "Youth violence"))
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/organiser/topics?page=2#topic-{added.id}"
    shown = body(as_organiser.get(resp.headers["Location"]))
    assert f'<tr id="topic-{added.id}"><td><bdi>Youth violence' in shown
    # The message is in the topic's row, where the page opens, not at the top of the page off screen.
    [box] = where_shown(shown, "Topic saved.")
    assert box.beside(f"topic-{added.id}") and not box.at_top and box.role == "status"
    # Renamed to sort first, it is found on the first page.
    resp = post_form(as_organiser, f"/organiser/topics/{added.id}/edit", {"name": "Adult violence"})
    assert resp.headers["Location"] == f"/organiser/topics#topic-{added.id}"
    assert f'<tr id="topic-{added.id}"><td><bdi>Adult violence</bdi><div class="flashes"' in body(as_organiser.get("/organiser/topics"))


def test_editing_a_topic_from_a_filtered_list_goes_back_to_that_list(as_organiser, db):
    for i in range(30):
        make_topic(f"Topic {i:02d}")
    make_topic("Youth violence")
    listed = body(as_organiser.get("/organiser/topics?q=topic&page=2"))
    target = db.session.scalar(select(Topic).where(Topic.name == "Topic 29"))
    edit = f"/organiser/topics/{target.id}/edit?q=topic&amp;page=2"
    assert f'<a href="{edit}">Edit' in listed
    form = body(as_organiser.get(unescape(edit)))
    assert '<a href="/organiser/topics?q=topic&amp;page=2">Cancel</a>' in form
    resp = post_form(as_organiser, unescape(edit), {"name": "Topic 29 (schools)"})
    assert resp.headers["Location"] == f"/organiser/topics?q=topic&page=2#topic-{target.id}"
    # Renamed out of the filter: the same page of the filtered list, saying where the topic went.
    resp = post_form(as_organiser, unescape(edit), {"name": "Knife crime"})
    assert resp.headers["Location"] == "/organiser/topics?q=topic&page=2"
    shown = body(as_organiser.get(resp.headers["Location"]))
    assert "“Knife crime” does not match the filter, so is not in the list below." in shown


# --- agenda -------------------------------------------------------------------------------------


def test_agenda_items(as_organiser, db):
    a = make_assembly()
    org = make_org("Shireford County Council", sector="county_council")
    pending = make_org("Pending Group", status="pending")
    url = f"/organiser/assemblies/{a.slug}/agenda/new"
    form = body(as_organiser.get(url))
    assert "Shireford County Council" in form and "Pending Group" not in form
    resp = post_form(as_organiser, url, {"starts_at": "10:15", "ends_at": "10:45", "title": "The council's view",
                                         "speaker": "Director of Public Health", "organisation_id": org.id})
    assert resp.status_code == 302
    item = db.session.scalar(select(AgendaItem).where(AgendaItem.assembly_id == a.id))
    assert (item.starts_at, item.ends_at, item.organisation_id) == (time(10, 15), time(10, 45), org.id)

    resp = post_form(as_organiser, url, {"starts_at": "10:15", "ends_at": "10:00", "title": "Backwards"})
    assert resp.status_code == 400 and "The item must end after it starts." in body(resp)
    resp = post_form(as_organiser, url, {"starts_at": "10:15", "title": "Pending org", "organisation_id": pending.id})
    assert resp.status_code == 400 and "Choose an organisation from the list." in body(resp)

    edit = f"/organiser/assemblies/{a.slug}/agenda/{item.id}/edit"
    resp = post_form(as_organiser, edit, {"starts_at": "10:20", "ends_at": "", "title": "The council's view",
                                          "speaker": "", "organisation_id": 0})
    assert resp.status_code == 302
    db.session.refresh(item)
    assert (item.starts_at, item.ends_at, item.organisation_id) == (time(10, 20), None, None)

    delete = f"/organiser/assemblies/{a.slug}/agenda/{item.id}/delete"
    assert "Delete the agenda item" in body(as_organiser.get(delete))
    assert post_form(as_organiser, delete, {}).status_code == 302
    db.session.expire_all()
    assert db.session.get(AgendaItem, item.id) is None


def test_rounds_stay_within_the_assemblys_hours(as_organiser, db):
    """The day's calendar entry runs start to end: a workshop outside it would be missing from that picture."""
    a = make_assembly(slug="hours-2027", start_time=time(9, 0), end_time=time(16, 0))
    base = f"/organiser/assemblies/{a.slug}/rounds"
    resp = post_form(as_organiser, f"{base}/new", {"name": "Evening", "starts_at": "16:30", "ends_at": "17:30"})
    assert resp.status_code == 400
    assert "The assembly runs 09:00–16:00: a round must fit within those hours." in body(resp)
    assert 'value="Evening"' in body(resp)
    assert post_form(as_organiser, f"{base}/new", {"name": "Afternoon", "starts_at": "14:00",
                                                   "ends_at": "16:00"}).status_code == 302
    # Shortening the day under an existing round is refused too, keeping what was typed.
    resp = post_form(as_organiser, f"/organiser/assemblies/{a.slug}/edit",
                     assembly_form(slug=a.slug, end_time="15:00", title="Shorter day"))
    assert resp.status_code == 400
    assert "Afternoon runs 14:00–16:00, outside these hours." in body(resp) and 'value="Shorter day"' in body(resp)
    assert post_form(as_organiser, f"/organiser/assemblies/{a.slug}/edit",
                     assembly_form(slug=a.slug, end_time="16:30")).status_code == 302


def test_the_organiser_page_says_registration_closed_once_the_closing_time_has_passed(as_organiser, db):
    assembly = make_assembly(status="open", registration_closes_at=datetime(2022, 2, 3, 17, 0))
    html = body(as_organiser.get(f"/organiser/assemblies/{assembly.slug}"))
    assert "<dt>Status</dt><dd>Registration closed" in html
    assert "Open for registration" not in html


def test_the_organisers_list_shows_and_filters_the_status_registration_really_has(as_organiser, db):
    # Stored "open" but its window over (or its day): the list must say closed, as the assembly's own page
    # does, and each status filter must list exactly the rows showing that status.
    from datetime import timedelta

    from eventapp.timeutil import utc_to_local, utcnow

    today = date.today()
    kiritimati = utc_to_local(utcnow(), "Pacific/Kiritimati")  # UTC+14: its evening is London's morning
    made = {
        "Still Open": dict(status="open", date=today + timedelta(days=60)),
        "Window Over": dict(status="open", date=today + timedelta(days=60),
                            registration_closes_at=datetime(2022, 2, 3, 17, 0)),
        "Day Over": dict(status="open", date=today - timedelta(days=3)),
        "Not Yet": dict(status="open", date=today + timedelta(days=90),
                        registration_opens_at=datetime.combine(today + timedelta(days=30), datetime.min.time())),
        # Closed an hour ago on its own clock, which London has not reached yet.
        "Closed Far East": dict(status="open", date=today + timedelta(days=60), timezone="Pacific/Kiritimati",
                                registration_closes_at=kiritimati - timedelta(hours=1)),
        "Stored Closed": dict(status="closed", date=today + timedelta(days=60)),
        "Cancelled Open": dict(status="open", date=today + timedelta(days=60)),
        "A Draft": dict(status="draft", date=today + timedelta(days=60)),
        "Old Archive": dict(status="archived", date=today - timedelta(days=400)),
    }
    for title, fields in made.items():
        make_assembly(title=title, **fields)
    cancelled = db.session.scalar(select(Assembly).where(Assembly.title == "Cancelled Open"))
    cancelled.cancelled_at = datetime(2026, 1, 1)
    db.session.commit()

    def rows(url):
        html = body(as_organiser.get(url))
        return dict(re.findall(r'<tr><td><a href="[^"]+">([^<]+)</a></td>\s*<td>[^<]*</td><td>[^<]*</td>'
                               r'<td>([^<]+)</td></tr>', html))

    shown = rows("/organiser/")
    assert shown == {"Still Open": "Open for registration", "Window Over": "Registration closed",
                     "Day Over": "Registration closed", "Not Yet": "Registration not yet open",
                     "Closed Far East": "Registration closed", "Stored Closed": "Registration closed",
                     "Cancelled Open": "Cancelled", "A Draft": "Draft", "Old Archive": "Archived"}
    html = body(as_organiser.get("/organiser/"))
    options = dict((label, value) for value, label in re.findall(r'<option value="(\w+)">([^<]+)</option>', html))
    assert set(options) == set(shown.values())
    for label, value in options.items():
        assert rows(f"/organiser/?status={value}") == {t: s for t, s in shown.items() if s == label}, label


def test_a_workshop_form_opened_before_another_save_does_not_undo_it(as_organiser, db):
    # Two tabs on the same workshop: the room moved in one must not be put back by a later save of the
    # other (every placed delegate would be sent the old room), and what was typed in it is not lost.
    a = make_assembly()
    rnd = make_round(a, "Morning")
    topic = make_topic("ASB")
    w = make_workshop(rnd, topic, title="ASB", room="Main Hall", capacity=20)
    url = f"/organiser/assemblies/{a.slug}/workshops/{w.id}/edit"
    first, second = body(as_organiser.get(url)), body(as_organiser.get(url))
    seen = re.search(r'name="seen" type="hidden" value="([^"]*)"', second).group(1)
    form = {"round_id": rnd.id, "topic_id": topic.id, "title": "ASB"}

    resp = as_organiser.post(url, data={"csrf_token": csrf_from(first), **form, "room": "Library", "capacity": "20",
                                        "seen": re.search(r'name="seen" type="hidden" value="([^"]*)"', first).group(1)})
    assert resp.status_code == 302
    resp = as_organiser.post(url, data={"csrf_token": csrf_from(second), **form, "room": "Main Hall",
                                        "capacity": "25", "seen": seen})
    page = body(resp)
    assert resp.status_code == 400
    assert "Someone saved this workshop after you opened this form" in page and "“Library”" in page
    assert 'value="25"' in page  # what was typed is kept on the form
    db.session.refresh(w)
    assert (w.room, w.capacity) == ("Library", 20)

    # Saving the form shown back, as it now stands, is what the organiser means.
    again = re.search(r'name="seen" type="hidden" value="([^"]*)"', page).group(1)
    resp = as_organiser.post(url, data={"csrf_token": csrf_from(page), **form, "room": "Library", "capacity": "25",
                                        "seen": again})
    assert resp.status_code == 302
    db.session.refresh(w)
    assert (w.room, w.capacity) == ("Library", 25)


def test_a_round_form_opened_before_another_save_does_not_move_the_round_back(as_organiser, db):
    # A round's times are its workshops' times in every placed delegate's calendar: a form opened before
    # the round was moved must not move it back unseen.
    a = make_assembly()
    rnd = make_round(a, "Morning")
    url = f"/organiser/assemblies/{a.slug}/rounds/{rnd.id}/edit"
    first, second = body(as_organiser.get(url)), body(as_organiser.get(url))
    seen = re.compile(r'name="seen" type="hidden" value="([^"]*)"')
    old_start, old_end = f"{rnd.starts_at:%H:%M}", f"{rnd.ends_at:%H:%M}"

    resp = as_organiser.post(url, data={"csrf_token": csrf_from(first), "seen": seen.search(first).group(1),
                                        "name": "Morning", "starts_at": "11:30", "ends_at": "12:30", "position": "1"})
    assert resp.status_code == 302
    resp = as_organiser.post(url, data={"csrf_token": csrf_from(second), "seen": seen.search(second).group(1),
                                        "name": "Morning breakouts", "starts_at": old_start, "ends_at": old_end,
                                        "position": "1"})
    page = body(resp)
    assert resp.status_code == 400
    assert "Someone saved this round after you opened this form" in page and "11:30–12:30" in page
    assert 'value="Morning breakouts"' in page
    db.session.refresh(rnd)
    assert (rnd.name, rnd.starts_at, rnd.ends_at) == ("Morning", time(11, 30), time(12, 30))

    resp = as_organiser.post(url, data={"csrf_token": csrf_from(page), "seen": seen.search(page).group(1),
                                        "name": "Morning breakouts", "starts_at": "11:30", "ends_at": "12:30",
                                        "position": "1"})
    assert resp.status_code == 302
    db.session.refresh(rnd)
    assert rnd.name == "Morning breakouts"


def test_saving_a_workshop_or_round_after_publishing_says_how_many_delegates_are_emailed(as_organiser, db,
                                                                                          email_request_context):
    from eventapp.invites.services import sync_calendar
    from eventapp.placements.models import Placement
    from tests.placements.helpers import make_registration

    a = make_assembly()
    rnd = make_round(a, "Morning")
    w = make_workshop(rnd, title="Hidden harm", room="Room 1")
    org = make_org()
    regs = [make_registration(a, org, f"Delegate {i}", []) for i in range(3)]
    for reg in regs:
        db.session.add(Placement(registration_id=reg.id, round_id=rnd.id, topic_id=w.topic_id, workshop_id=w.id))
    sync_calendar([r.id for r in regs])
    db.session.commit()
    url = f"/organiser/assemblies/{a.slug}/workshops/{w.id}/edit"
    fields = {"round_id": str(rnd.id), "topic_id": str(w.topic_id), "title": "Hidden harm", "description": "",
              "room": "Council Chamber", "capacity": "20"}
    # A room change reaches the calendars of the 3 placed: the organiser is told, as a published move says so.
    page = body(post_form(as_organiser, url, fields, follow_redirects=True))
    assert "Workshop saved. 3 calendar updates for placed delegates are in the outbox." in page
    # More seats change nobody's calendar: nothing is said to have been sent.
    page = body(post_form(as_organiser, url, {**fields, "capacity": "25"}, follow_redirects=True))
    assert "Workshop saved." in page and "calendar update" not in page
    page = body(post_form(as_organiser, f"/organiser/assemblies/{a.slug}/rounds/{rnd.id}/edit",
                          {"name": "Morning", "starts_at": "11:15", "ends_at": "12:30", "position": "1"},
                          follow_redirects=True))
    assert "Round saved. 3 calendar updates for placed delegates are in the outbox." in page


def test_public_home_lists_assemblies_on_one_day_as_the_organisers_list_does(client):
    # Two districts hold theirs the same day: the home page put them in whatever order the database gave
    # (here by status; on PostgreSQL any), the organisers' list newest added first.
    make_assembly(title="Northvale Assembly", date=date(2099, 5, 1), status="closed")
    make_assembly(title="Southvale Assembly", date=date(2099, 5, 1), status="open")
    html = body(client.get("/"))
    assert html.index("Southvale Assembly") < html.index("Northvale Assembly")
