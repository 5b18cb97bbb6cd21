"""Calling an assembly off cancels every calendar entry; reinstating it invites everyone again."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from eventapp.assemblies import services as assemblies
from eventapp.invites.models import CalendarEntry
from eventapp.invites.services import sync_assembly
from eventapp.mail.services import send_pending
from eventapp.registration import services as registration
from eventapp.extensions import db
from tests.conftest import csrf_from, post_form
from tests.invites.helpers import icaljs, outbox, publish_assignments, vevent
from tests.invites.test_sync import received_calendars, register, world  # noqa: F401 - fixture


def _new_since(before: set[int]):
    return [m for m in outbox() if m.id not in before]


def test_cancelling_the_assembly_cancels_every_entry_and_reinstating_invites_again(world, sink):
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    publish_assignments(world.assembly, {a: [world.ws.asb, world.ws.harm], b: [world.ws.mh]})
    requested = {(m.to_email, str(vevent(m.ics)[1]["UID"])): int(vevent(m.ics)[1]["SEQUENCE"])
                 for m in outbox() if m.ics}
    assert len(requested) == 5  # A: plenary and two workshops; B: plenary and one workshop

    before = {m.id for m in outbox()}
    queued = assemblies.set_cancelled(world.assembly, True)
    cancels = _new_since(before)
    assert queued == len(cancels) == 5
    for m in cancels:
        cal, event = vevent(m.ics)
        assert (m.kind, m.ics_method, str(cal["METHOD"]), str(event["STATUS"])) == (
            "invite_cancelled", "CANCEL", "CANCEL", "CANCELLED")
        uid = str(event["UID"])
        # The same entries, one step further: calendars remove exactly what they hold.
        assert int(event["SEQUENCE"]) == requested[(m.to_email, uid)] + 1
        assert "Community Safety Assembly 2027 has been cancelled" in m.body_text
        # Nothing to answer: calendars offer no Accept/Decline on a cancellation.
        attendee = event["ATTENDEE"]
        assert str(attendee) == f"mailto:{m.to_email}" and attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert "RSVP" not in attendee.params and "PARTSTAT" not in attendee.params
    assert {(m.to_email, str(vevent(m.ics)[1]["UID"])) for m in cancels} == set(requested)
    assert set(db.session.scalars(select(CalendarEntry.status))) == {"cancelled"}

    # Nobody can register meanwhile, and re-saving sends nothing more.
    open_now, why = registration.registration_window(world.assembly)
    assert not open_now and why == "This assembly has been cancelled."
    before = {m.id for m in outbox()}
    assert sync_assembly(world.assembly) == 0 and not _new_since(before)

    assemblies.set_cancelled(world.assembly, False)
    again = _new_since(before)
    assert len(again) == 5
    for m in again:
        _, event = vevent(m.ics)
        assert m.ics_method == "REQUEST" and str(event["STATUS"]) == "CONFIRMED"
        assert event["ATTENDEE"].params["RSVP"] == "TRUE"
        assert int(event["SEQUENCE"]) == requested[(m.to_email, str(event["UID"]))] + 2
    assert registration.registration_window(world.assembly)[0]

    # What the SMTP server receives parses in an independent client library.
    send_pending()
    received = received_calendars(sink, "b@example.org")
    assert [method for method, _, _ in received] == ["REQUEST"] * 2 + ["CANCEL"] * 2 + ["REQUEST"] * 2
    parsed = icaljs([text for _, text, _ in received])
    assert [js["events"][0]["status"] for js in parsed] == ["CONFIRMED"] * 2 + ["CANCELLED"] * 2 + ["CONFIRMED"] * 2


def test_cancelling_twice_is_refused(world):
    assemblies.set_cancelled(world.assembly, True)
    try:
        assemblies.set_cancelled(world.assembly, True)
    except assemblies.DomainError as exc:
        assert "already cancelled" in str(exc)
    else:
        raise AssertionError("a second cancellation was accepted")


def test_organiser_cancels_after_confirming_and_the_public_page_says_so(world, as_organiser):
    register(world, "Delegate A", "a@example.org")
    slug = world.assembly.slug
    confirm = as_organiser.get(f"/organiser/assemblies/{slug}/cancel")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "the confirmed delegate is sent" in page
    assert world.assembly.cancelled_at is None  # the GET changes nothing
    done = post_form(as_organiser, f"/organiser/assemblies/{slug}/cancel", {}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "The assembly was cancelled; 1 calendar message is in the outbox." in text
    assert "Reinstate it" in text
    public = as_organiser.application.test_client().get(f"/a/{slug}").get_data(as_text=True)
    assert "This assembly has been cancelled." in public and "Register to attend" not in public
    assert csrf_from(page)


def test_cancel_confirmation_says_the_waiting_list_is_not_emailed(world, as_organiser):
    world.assembly.capacity = 1
    db.session.commit()
    register(world, "Delegate A", "a@example.org")
    register(world, "Delegate B", "b@example.org")
    page = as_organiser.get(f"/organiser/assemblies/{world.assembly.slug}/cancel").get_data(as_text=True)
    assert "the confirmed delegate is sent" in page
    assert "The person on the waiting list is not emailed" in page
    assert f'href="/organiser/assemblies/{world.assembly.slug}/registrations.csv"' in page


def test_nobody_is_promoted_to_a_cancelled_assembly(world, as_organiser):
    world.assembly.capacity = 1
    db.session.commit()
    a = register(world, "Delegate A", "a@example.org")
    b = register(world, "Delegate B", "b@example.org")
    assemblies.set_cancelled(world.assembly, True)
    # A confirmed delegate tidies up by cancelling: the waiting one is not told "Good news: you now have a place".
    registration.cancel_registration(a)
    assert outbox("b@example.org", ["promoted"]) == []
    db.session.refresh(b)
    assert b.status == "waiting"
    base = f"/organiser/assemblies/{world.assembly.slug}/registrations"
    page = post_form(as_organiser, f"{base}/promote", {}, form_url=base, follow_redirects=True).get_data(as_text=True)
    assert "This assembly is cancelled: reinstate it before giving places from the waiting list." in page
    with pytest.raises(assemblies.DomainError, match="reinstate it"):
        registration.confirm_from_waiting_list(b)
    db.session.rollback()
    assert outbox("b@example.org", ["promoted"]) == []
    # Reinstated, the free place can be given.
    assemblies.set_cancelled(world.assembly, False)
    assert [r.id for r in registration.promote_waiting(world.assembly)] == [b.id]
    assert len(outbox("b@example.org", ["promoted"])) == 1


def test_an_organiser_cannot_add_import_or_reinstate_delegates_into_a_cancelled_assembly(world, as_organiser):
    import io

    a = register(world, "Delegate A", "a@example.org")
    registration.cancel_registration(a)
    assemblies.set_cancelled(world.assembly, True)
    before = {m.id for m in outbox()}
    base = f"/organiser/assemblies/{world.assembly.slug}/registrations"
    message = "This assembly is cancelled: reinstate it before adding or reinstating delegates."
    resp = post_form(as_organiser, f"{base}/new", {
        "full_name": "New Person", "email": "new@example.org", "job_title": "Officer",
        "organisation_name": world.org.name, "choice_1": world.topics[0].id, "choice_2": world.topics[1].id,
        "choice_3": world.topics[2].id, "join_waiting_list": "y"})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    page = post_form(as_organiser, f"{base}/{a.id}/reinstate", {}, form_url=base, follow_redirects=True)
    assert message in page.get_data(as_text=True)
    form_page = as_organiser.get(f"{base}/import").get_data(as_text=True)
    resp = as_organiser.post(f"{base}/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(form_page), "apply": "y", "file": (io.BytesIO(
            b"full_name,email,job_title,organisation\nLi Wei,li@example.org,Analyst,Shireford Constabulary\n"),
            "list.csv")})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert [m for m in outbox() if m.id not in before] == []
    db.session.refresh(a)
    assert a.status == "cancelled"
