"""after the assembly took place a registration can no longer be cancelled and nobody is promoted from
the waiting list, yet the registrations list's 'Move to waiting list' and 'Confirm' still work: the first deletes
the delegate's workshop places (their attendance then counts as a walk-in, the report changes) and emails them
they are on the waiting list; the second emails 'you now have a place' for a day that is over."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.notes.services import attendance_counts
from eventapp.registration.models import Registration
from tests.conftest import post_form
from tests.registration.conftest import outbox
from tests.registration.test_after_the_day import _after_the_day


def test_moving_to_the_waiting_list_is_refused_after_the_day(client, setup, as_organiser):
    first, workshop, _, _ = _after_the_day(client, setup)
    slug = setup.assembly.slug
    post_form(as_organiser, f"/organiser/assemblies/{slug}/registrations/{first.id}/waiting", {},
              form_url=f"/organiser/assemblies/{slug}/registrations")
    db.session.expire_all()
    assert db.session.get(Registration, first.id).status == "confirmed"
    counts = attendance_counts([workshop.id])[workshop.id]
    assert (counts.allocated, counts.present, counts.walk_ins) == (1, 1, 0)


def test_confirming_from_the_waiting_list_is_refused_after_the_day(client, setup, as_organiser):
    setup.assembly.capacity = 1
    db.session.commit()
    _after_the_day(client, setup)
    setup.assembly.capacity = 2  # a place free after the day
    db.session.commit()
    second = db.session.scalar(select(Registration).where(Registration.email == "delegate2@example.org"))
    slug = setup.assembly.slug
    post_form(as_organiser, f"/organiser/assemblies/{slug}/registrations/{second.id}/confirm", {},
              form_url=f"/organiser/assemblies/{slug}/registrations")
    assert outbox(kind="promoted") == []


def test_reinstating_a_cancelled_registration_is_refused_after_the_day(client, setup, as_organiser):
    first, _, _, _ = _after_the_day(client, setup)
    slug = setup.assembly.slug
    db.session.execute(Registration.__table__.update().where(Registration.id == first.id)
                       .values(status="cancelled", cancelled_at=first.created_at))
    db.session.commit()
    emails = len(outbox())
    resp = post_form(as_organiser, f"/organiser/assemblies/{slug}/registrations/{first.id}/reinstate", {},
                     form_url=f"/organiser/assemblies/{slug}/registrations", follow_redirects=True)
    assert "a cancelled registration can no longer be reinstated" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Registration, first.id).status == "cancelled" and len(outbox()) == emails


def test_after_the_day_the_list_offers_no_moves_and_says_why(client, setup, as_organiser):
    first, _, _, _ = _after_the_day(client, setup)
    page = as_organiser.get(f"/organiser/assemblies/{setup.assembly.slug}/registrations").get_data(as_text=True)
    assert "has taken place: its registrations stay as they were on the day" in page
    assert f"/registrations/{first.id}/edit" in page  # details can still be corrected
    for gone in ("Move to waiting list", "Fill free places", f"/registrations/{first.id}/cancel",
                 'form="bulk-cancel"', "Cancel the ticked registrations"):
        assert gone not in page, gone
