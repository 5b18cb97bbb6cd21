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
