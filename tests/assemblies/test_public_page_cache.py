"""The public assembly page is served from a per-process cache that is never older than the last commit.

The cache key is the assembly's ``content_version``, which database triggers change in the
same transaction as anything the page shows: each test below makes one kind of change (through
the services, the ORM, a bulk statement or a merge) and checks that the next anonymous view,
served through the cache, is exactly what a fresh render shows.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, time

import pytest
from sqlalchemy import delete, event, select, update

from eventapp.assemblies import services as assembly_services
from eventapp.assemblies.models import AgendaItem, Assembly, Round, Workshop
from eventapp.assemblies.views import public_pages
from eventapp.extensions import db as _db
from eventapp.organisations import services as org_services
from eventapp.registration import services as registration_services
from tests.factories import make_agenda_item, make_assembly, make_org, make_round, make_topic, make_workshop


@contextmanager
def counting():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)


@pytest.fixture
def world(db):
    public_pages.clear()
    assembly = make_assembly(title="Open Assembly", summary="Partners working together.")
    org = make_org("Shireford Constabulary")
    other = make_org("Northvale Police")
    item = make_agenda_item(assembly, title="Policing priorities", starts_at=time(9, 45))
    item.speaker = "Chief Constable"
    item.organisation = org
    db.session.commit()
    rnd = make_round(assembly, name="Morning breakouts")
    topic = make_topic("Anti-social behaviour")
    workshop = make_workshop(rnd, topic=topic, title="ASB: what works", room="Main Hall")
    yield {"assembly": assembly, "org": org, "other": other, "item": item, "round": rnd, "topic": topic,
           "workshop": workshop, "db": db}
    public_pages.clear()


def page(client, assembly) -> str:
    resp = client.get(f"/a/{assembly.slug}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def fresh(client, assembly) -> str:
    public_pages.clear()
    return page(client, assembly)


def served(client, assembly) -> str:
    """The page as the cache serves it now, checked against a render from nothing."""
    cached = page(client, assembly)
    assert cached == fresh(client, assembly), "the cached page is older than the database"
    page(client, assembly)  # back in the cache for the next change
    return cached


def test_a_hit_is_one_query_and_the_same_bytes(client, world):
    assembly = world["assembly"]
    first = page(client, assembly)
    with counting() as statements:
        again = client.get(f"/a/{assembly.slug}")
    assert again.get_data(as_text=True) == first
    assert len(statements) == 1 and "content_version" in statements[0]
    assert again.headers["Content-Security-Policy"] and again.headers["X-Frame-Options"] == "DENY"


def test_assembly_edits_through_the_service_show_at_once(client, world):
    assembly = world["assembly"]
    served(client, assembly)
    data = {f: getattr(assembly, f) for f in assembly_services.ASSEMBLY_FIELDS}
    data.update(title="Renamed <Assembly>", summary="New summary", series_name="")
    assembly_services.save_assembly(data, assembly)
    html = served(client, assembly)
    assert "Renamed &lt;Assembly&gt;" in html and "New summary" in html


def test_closing_registration_removes_the_register_button(client, world):
    assembly = world["assembly"]
    assert "Register to attend" in served(client, assembly)
    assembly.status = "closed"
    world["db"].session.commit()
    assert "Register to attend" not in served(client, assembly)


def test_a_draft_is_404_for_the_public_even_when_it_was_cached(client, world):
    assembly = world["assembly"]
    served(client, assembly)
    assembly.status = "draft"
    world["db"].session.commit()
    assert client.get(f"/a/{assembly.slug}").status_code == 404


@pytest.mark.parametrize("change", ["room", "title", "topic rename", "bulk room", "new workshop", "delete workshop",
                                    "round time", "delete round"])
def test_round_workshop_and_topic_changes_show_at_once(client, world, change):
    db, assembly, rnd, workshop = world["db"], world["assembly"], world["round"], world["workshop"]
    before = served(client, assembly)
    expect = None
    if change == "room":
        workshop.room = "Committee Room 2"
        expect = "Committee Room 2"
    elif change == "title":
        assembly_services.save_workshop(rnd, {"topic_id": workshop.topic_id, "title": "ASB: evidence", "room": "Main Hall",
                                              "capacity": 20, "facilitator_ids": []}, workshop)
        expect = "ASB: evidence"
    elif change == "topic rename":
        assembly_services.save_topic({"name": "Anti-social behaviour (ASB)", "description": ""}, world["topic"])
        expect = "Topic: Anti-social behaviour (ASB)"
    elif change == "bulk room":
        db.session.execute(update(Workshop).where(Workshop.round_id == rnd.id).values(room="Annexe"))
        expect = "Room: Annexe"
    elif change == "new workshop":
        make_workshop(rnd, topic=make_topic("Hidden harm"), title="Spotting hidden harm")
        expect = "Spotting hidden harm"
    elif change == "delete workshop":
        assembly_services.delete_workshop(workshop)
    elif change == "round time":
        rnd.starts_at = time(10, 5)
        expect = "Morning breakouts, 10:05&ndash;12:15"
    elif change == "delete round":
        db.session.execute(delete(Round).where(Round.id == rnd.id))
    db.session.commit()
    after = served(client, assembly)
    assert after != before
    if expect:
        assert expect in after
    else:
        assert "ASB: what works" not in after


@pytest.mark.parametrize("change", ["speaker", "new item", "delete item", "organisation rename", "organisation merge"])
def test_agenda_and_organisation_changes_show_at_once(client, world, change):
    db, assembly, item, org = world["db"], world["assembly"], world["item"], world["org"]
    before = served(client, assembly)
    if change == "speaker":
        assembly_services.save_agenda_item(assembly, {"starts_at": item.starts_at, "title": item.title,
                                                      "speaker": "Deputy Chief Constable",
                                                      "organisation_id": org.id}, item)
        expect = "Deputy Chief Constable, Shireford Constabulary"
    elif change == "new item":
        make_agenda_item(assembly, title="Lunch", starts_at=time(12, 30))
        expect = "Lunch"
    elif change == "delete item":
        db.session.execute(delete(AgendaItem).where(AgendaItem.id == item.id))
        db.session.commit()
        expect = "The agenda will be published soon."
    elif change == "organisation rename":
        org_services.save_organisation({"name": "Shireford Police", "sector": org.sector, "status": org.status}, org)
        expect = "Chief Constable, Shireford Police"
    else:
        org_services.merge_organisations(org, world["other"])
        expect = "Chief Constable, Northvale Police"
    after = served(client, assembly)
    assert after != before and expect in after


def test_registrations_and_cancellations_leave_the_page_exact(app, client, world):
    """Registering changes nothing the page shows, so the cached page stays (and stays exact)."""
    db, assembly = world["db"], world["assembly"]
    version = assembly.content_version
    served(client, assembly)
    data = {"full_name": "Aisha Khan", "email": "aisha@example.org", "job_title": "Officer",
            "organisation_id": world["org"].id, "topic_ids": [world["topic"].id], "consent": True}
    with app.test_request_context("/"):
        reg = registration_services.register(assembly, data).registration
        served(client, assembly)
        registration_services.cancel_registration(reg)
    served(client, assembly)
    assert db.session.scalar(select(Assembly.content_version).where(Assembly.id == assembly.id)) == version


def test_signed_in_visitors_and_waiting_messages_get_their_own_render(client, auth, organiser, world):
    assembly = world["assembly"]
    anonymous = page(client, assembly)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "A message for this visitor only")]
    assert "A message for this visitor only" in page(client, assembly)
    assert page(client, assembly) == anonymous
    auth.login(organiser.email)
    signed_in = page(client, assembly)
    assert "Sign out" in signed_in and "Sign out" not in anonymous
    assert 'name="csrf_token"' in signed_in and 'name="csrf_token"' not in anonymous


def test_the_version_is_random_per_change_so_a_restored_backup_cannot_reuse_one(world):
    db, assembly, workshop = world["db"], world["assembly"], world["workshop"]
    seen = {assembly.content_version}
    for room in ("A", "B", "C"):
        workshop.room = room
        db.session.commit()
        db.session.refresh(assembly)
        seen.add(assembly.content_version)
    assert len(seen) == 4


def test_the_page_says_when_registration_opens_and_closes_as_the_clock_moves(client, world, monkeypatch):
    """No commit marks the moment registration opens or closes: the cached page must follow the clock."""
    assembly = world["assembly"]
    assembly.registration_opens_at = datetime(2027, 1, 10, 9, 0)
    assembly.registration_closes_at = datetime(2027, 3, 1, 17, 0)
    _db.session.commit()
    register = f'href="/a/{assembly.slug}/register">Register to attend</a>'

    def at(moment: datetime) -> str:
        monkeypatch.setattr(registration_services, "utcnow", lambda: moment)
        return served(client, assembly)

    before = at(datetime(2027, 1, 10, 8, 59))  # 08:59 in London (GMT)
    assert "Registration opens on 10 January 2027 at 09:00." in before and register not in before
    during = at(datetime(2027, 1, 10, 9, 0))
    assert register in during and "Registration opens" not in during
    after = at(datetime(2027, 3, 1, 17, 0))
    assert "Registration closed on 1 March 2027 at 17:00." in after and register not in after


def test_after_the_day_the_page_no_longer_offers_to_cancel_a_registration(client, world, monkeypatch):
    """Registration closed weeks before: nothing about the form changes at the end of the day, the wording does."""
    assembly = world["assembly"]
    assembly.registration_closes_at = datetime(2027, 3, 1, 17, 0)
    _db.session.commit()

    def at(moment: datetime) -> str:
        monkeypatch.setattr(registration_services, "utcnow", lambda: moment)
        return served(client, assembly)

    before = at(datetime(2027, 3, 18, 15, 59))  # the assembly runs 09:00-16:00 in London (GMT)
    assert "to see, change or cancel your registration." in before
    after = at(datetime(2027, 3, 18, 16, 0))
    assert "to see or change your registration." in after and "cancel your registration" not in after
