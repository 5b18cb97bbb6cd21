"""After the assembly has taken place: a personal link no longer cancels, nobody is promoted into a day gone by."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from eventapp.domain import DomainError
from eventapp.extensions import db
from eventapp.notes.models import Attendance
from eventapp.notes.services import attendance_counts
from eventapp.placements.models import Placement
from eventapp.registration import services
from eventapp.registration.models import Registration
from tests.conftest import csrf_from, post_form
from tests.registration.conftest import form_fields, outbox, person
from tests.registration.test_public import manage_path, register


def _after_the_day(client, setup):
    """Two delegates (capacity 1: the second waits), the first placed and marked present; the day is over."""
    setup.assembly.capacity = 1
    db.session.commit()
    register(client, setup, n=1)
    register(client, setup, n=2, org=1)
    first = db.session.scalar(select(Registration).where(Registration.email == "delegate1@example.org"))
    workshop = setup.assembly.rounds[0].workshops[0]
    db.session.add(Placement(registration_id=first.id, round_id=workshop.round_id, topic_id=workshop.topic_id,
                             workshop_id=workshop.id))
    db.session.add(Attendance(workshop_id=workshop.id, registration_id=first.id, status="present"))
    path = manage_path("delegate1@example.org")
    # The cancel page opened before the day, still in a browser tab.
    token = csrf_from(client.get(path + "/cancel").get_data(as_text=True))
    setup.assembly.date = date(2026, 3, 18)  # before today: the assembly took place
    db.session.commit()
    return first, workshop, path, token


def test_a_delegate_cannot_cancel_after_the_assembly_took_place(client, setup):
    first, workshop, path, token = _after_the_day(client, setup)
    page = client.get(path).get_data(as_text=True)
    assert "Cancel your registration" not in page
    resp = client.post(path + "/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "took place" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, first.id).status == "confirmed"
    # The facilitator's record of the day is unchanged: still allocated and present, not a walk-in.
    counts = attendance_counts([workshop.id])[workshop.id]
    assert (counts.allocated, counts.present, counts.walk_ins) == (1, 1, 0)
    # Nobody on the waiting list is told "you now have a place" at an assembly that is over.
    second = db.session.scalar(select(Registration).where(Registration.email == "delegate2@example.org"))
    assert second.status == "waiting"
    assert [m.kind for m in outbox(to="delegate2@example.org")] == ["waiting_list"]
    assert outbox(kind="cancelled") == []


def test_the_cancel_page_after_the_day_explains_instead_of_asking(client, setup):
    _, _, path, _ = _after_the_day(client, setup)
    resp = client.get(path + "/cancel", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "took place" in html and "Yes, cancel" not in html


def test_the_waiting_list_page_after_the_day_promises_no_place(client, setup):
    _after_the_day(client, setup)
    page = client.get(manage_path("delegate2@example.org")).get_data(as_text=True)
    assert "no place came free before the assembly took place" in page
    assert "we will give it to you automatically" not in page and "at position" not in page


def test_after_the_day_workshop_choices_no_longer_change_though_the_details_still_do(client, setup):
    register(client, setup, n=1)
    reg = db.session.scalar(select(Registration).where(Registration.email == "delegate1@example.org"))
    path = manage_path("delegate1@example.org")
    choices = reg.choice_topic_ids
    setup.assembly.date = date(2026, 3, 18)  # places were never published, and the day is over
    db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "Change your details or choices" not in page and "Change your details" in page
    assert "The assembly has taken place, so your choices can no longer change." in page
    form = client.get(path + "/edit").get_data(as_text=True)
    assert "The assembly has taken place, so workshop choices can no longer be changed." in form
    assert 'name="choice_1"' not in form
    # A form opened before the day, sent now with other choices: the details are saved, the choices kept.
    swapped = form_fields(setup, n=1, full_name="Delegate One", choice_1=str(setup.topics[3].id))
    resp = post_form(client, path + "/edit", swapped, follow_redirects=True)
    assert "Your changes are saved." in resp.get_data(as_text=True)
    db.session.expire_all()
    reg = db.session.get(Registration, reg.id)
    assert reg.full_name == "Delegate One" and reg.choice_topic_ids == choices
    # The rule is the service's, whatever form sends the choices.
    with pytest.raises(DomainError, match="workshop choices can no longer change"):
        services.update_registration(reg, person(setup, n=1, topic_ids=[t.id for t in setup.topics[1:4]]))
