"""Rounds given the same Order number are listed by their time, then as added, on every page and database."""
from __future__ import annotations

from datetime import time

from eventapp.registration import services as registration
from eventapp.registration.services import make_manage_token
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.invites.helpers import publish_assignments


def _tied(db):
    # The organiser typed Order 1 on both rounds; the afternoon's was added first.
    assembly = make_assembly()
    afternoon = make_round(assembly, "Afternoon breakouts", time(14, 0), time(15, 0), position=1)
    morning = make_round(assembly, "Morning breakouts", time(10, 0), time(11, 0), position=1)
    topics = [make_topic("Tied rounds A"), make_topic("Tied rounds B")]
    pm = make_workshop(afternoon, topics[0], "Afternoon workshop")
    am = make_workshop(morning, topics[1], "Morning workshop")
    return assembly, am, pm, topics


def _in_order(html: str, *texts: str) -> bool:
    return all(t in html for t in texts) and [html.index(t) for t in texts] == sorted(html.index(t) for t in texts)


def test_tied_rounds_are_listed_by_their_time_on_the_public_and_organiser_pages(as_organiser, db):
    assembly, *_ = _tied(db)
    public = as_organiser.get(f"/a/{assembly.slug}").get_data(as_text=True)
    assert _in_order(public, "Morning workshop", "Afternoon workshop")
    console = as_organiser.get(f"/organiser/assemblies/{assembly.slug}").get_data(as_text=True)
    assert _in_order(console, "Morning breakouts", "Afternoon breakouts")


def test_a_delegate_sees_their_workshops_of_tied_rounds_in_the_order_of_the_day(client, db, email_request_context):
    assembly, am, pm, topics = _tied(db)
    org = make_org("Tied Rounds Police", "police")
    person = registration.register(assembly, {
        "full_name": "Tia Tied", "email": "tia.tied@example.org", "job_title": "Officer", "organisation_id": org.id,
        "access_needs": "", "dietary_needs": "", "topic_ids": [t.id for t in topics], "consent": True}).registration
    publish_assignments(assembly, {person: [pm, am]})
    html = client.get(f"/manage/{make_manage_token(person)}").get_data(as_text=True)
    assert _in_order(html, "Morning workshop", "Afternoon workshop")


def test_a_facilitator_sees_their_workshops_of_tied_rounds_in_the_order_of_the_day(client, auth, db):
    from tests.factories import make_user

    assembly, am, pm, _ = _tied(db)
    facilitator = make_user("facilitator", email="tied.facilitator@example.org", name="Fay Tied")
    am.facilitators, pm.facilitators = [facilitator], [facilitator]
    db.session.commit()
    auth.login(facilitator.email)
    html = client.get("/facilitator/").get_data(as_text=True)
    assert _in_order(html, "Morning workshop", "Afternoon workshop")



def test_agenda_items_at_one_time_and_workshops_of_one_title_stay_in_the_order_added(as_organiser, db):
    # Ties came back in the order rows lie on disk (on PostgreSQL any): here the later id is stored first.
    from eventapp.assemblies.models import AgendaItem, Workshop

    assembly = make_assembly()
    rnd = make_round(assembly, "Breakouts", time(10, 0), time(11, 0))
    topics = [make_topic("One title A"), make_topic("One title B")]
    db.session.add_all([
        AgendaItem(id=88889, assembly=assembly, title="Networking in the foyer", starts_at=time(12, 30)),
        AgendaItem(id=88888, assembly=assembly, title="Lunch in the hall", starts_at=time(12, 30)),
        Workshop(id=88889, round=rnd, topic=topics[1], title="Breakout", room="Room Beta"),
        Workshop(id=88888, round=rnd, topic=topics[0], title="Breakout", room="Room Alpha")])
    db.session.flush()  # in that order, one statement each
    db.session.commit()
    for url in (f"/a/{assembly.slug}", f"/organiser/assemblies/{assembly.slug}"):
        html = as_organiser.get(url).get_data(as_text=True)
        assert _in_order(html, "Lunch in the hall", "Networking in the foyer")
        assert _in_order(html, "Room Alpha", "Room Beta")
