"""A copy of an organiser's message waits in the outbox until the worker sends it: a delegate who has left its
audience meanwhile (cancelled, erased, given a place off the waiting list...) is not sent it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail import services as mail
from eventapp.mail.models import OutboxMessage
from eventapp.messages import services
from eventapp.registration import services as registration
from eventapp.registration.models import Registration
from tests.mail_sink import sink, text_of  # noqa: F401 - fixture
from tests.messages.test_messages import people  # noqa: F401 - fixture


def _send(assembly, audience="confirmed", key="k1"):
    return services.send_message(assembly, {"audience": audience, "subject": "Parking at the Guildhall",
                                            "body": "Park at the rear."}, key, None)


def _copies(assembly) -> dict[str, OutboxMessage]:
    db.session.expire_all()
    return {r.to_name: r for r in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "message", OutboxMessage.assembly_id == assembly.id))}


def _received(sink, n) -> dict[str, str]:
    return {str(m["To"]): text_of(m) for m in sink.wait_for(n) if str(m["Subject"]) == "Parking at the Guildhall"}


def test_a_delegate_who_cancels_before_the_worker_sends_is_not_sent_the_copy(people, sink):
    assembly, ben = people["assembly"], people["ben"]
    _send(assembly)
    registration.cancel_registration(db.session.get(Registration, ben.id))
    report = mail.send_pending()
    copies = _copies(assembly)
    assert copies["Aisha Khan"].status == "sent"
    ben_copy = copies["Ben Jones"]
    assert ben_copy.status == "skipped" and ben_copy.sent_at is None
    assert "cancelled their registration" in ben_copy.last_error
    assert report.not_sent == 1
    received = _received(sink, report.sent)
    assert list(received) == [f"Aisha Khan <{people['aisha'].email}>"]
    # Never sent again by "Retry failed", nor left failed.
    assert mail.retry_failed() == (0, 0)


def test_the_outbox_shows_the_copy_as_not_sent_with_why(as_organiser, people, sink):
    assembly, ben = people["assembly"], people["ben"]
    _send(assembly)
    registration.cancel_registration(db.session.get(Registration, ben.id))
    mail.send_pending()
    page = as_organiser.get("/organiser/outbox/?q=ben.jones").get_data(as_text=True)
    assert "Not sent (out of date)" in page
    row = _copies(assembly)["Ben Jones"]
    detail = as_organiser.get(f"/organiser/outbox/{row.id}").get_data(as_text=True)
    assert "cancelled their registration before its turn came" in detail


def test_the_normal_case_sends_every_copy_with_a_working_personal_link(as_organiser, people, sink):
    assembly = people["assembly"]
    _send(assembly)
    report = mail.send_pending()
    assert (report.sent, report.not_sent, report.failed) >= (2, 0, 0) and report.not_sent == 0
    received = _received(sink, report.sent)
    # The addresses name the assembly's id, which PostgreSQL does not reuse between tests.
    aisha, ben = f"Aisha Khan <{people['aisha'].email}>", f"Ben Jones <{people['ben'].email}>"
    assert sorted(received) == [aisha, ben]
    link = re.search(r"Change or cancel your registration: (\S+)", received[ben])
    assert as_organiser.get(re.sub(r"^https?://[^/]+", "", link.group(1))).status_code == 200
    assert {r.status for r in _copies(assembly).values()} == {"sent"}


def test_an_erased_registration_is_not_sent_the_copy(people, sink):
    assembly, ben = people["assembly"], people["ben"]
    _send(assembly)
    reg = db.session.get(Registration, ben.id)
    reg.anonymised_at, reg.email, reg.email_key = reg.created_at, "", f"anonymised-{reg.id}"
    db.session.commit()
    mail.send_pending()
    ben_copy = _copies(assembly)["Ben Jones"]
    assert ben_copy.status == "skipped" and "erased" in ben_copy.last_error


@pytest.mark.parametrize("audience", ["registered", "access", "workshop", "organisation", "not_arrived"])
def test_every_delegate_audience_leaves_out_a_delegate_cancelled_meanwhile(people, sink, audience):
    from tests.factories import make_org

    assembly, aisha = people["assembly"], people["aisha"]
    reg = db.session.get(Registration, aisha.id)
    reg.access_needs = "Step-free access"
    db.session.commit()
    value = {"workshop": f"workshop:{people['workshop'].id}",
             "organisation": f"organisation:{aisha.organisation_id}"}.get(audience, audience)
    _send(assembly, value)
    make_org("Somewhere Else")
    registration.cancel_registration(db.session.get(Registration, aisha.id))
    mail.send_pending()
    copy = _copies(assembly)["Aisha Khan"]
    assert copy.status == "skipped" and "cancelled their registration" in copy.last_error


def test_a_message_to_the_waiting_list_does_not_reach_someone_given_a_place_meanwhile(people, sink):
    assembly, waiting = people["assembly"], people["waiting"]
    _send(assembly, "waiting")
    reg = db.session.get(Registration, waiting.id)
    reg.status, reg.waiting_position = "confirmed", None
    db.session.commit()
    report = mail.send_pending()
    copy = _copies(assembly)["Wendy Wait"]
    assert copy.status == "skipped" and "given a place" in copy.last_error and "waiting list" in copy.last_error
    assert report.sent == 0 or not _received(sink, report.sent)


def test_a_message_to_everyone_confirmed_does_not_reach_someone_moved_to_the_waiting_list(people, sink):
    assembly, ben = people["assembly"], people["ben"]
    _send(assembly)
    registration.move_to_waiting_list(db.session.get(Registration, ben.id))
    mail.send_pending()
    assert "moved to the waiting list" in _copies(assembly)["Ben Jones"].last_error


def test_a_workshop_message_does_not_reach_a_delegate_moved_out_of_the_workshop(people, sink):
    from eventapp.placements.models import Placement

    assembly, aisha = people["assembly"], people["aisha"]
    _send(assembly, f"workshop:{people['workshop'].id}")
    placement = db.session.scalar(select(Placement).where(Placement.registration_id == aisha.id))
    placement.workshop_id = people["other"].id
    db.session.commit()
    mail.send_pending()
    copy = _copies(assembly)["Aisha Khan"]
    assert copy.status == "skipped" and "no longer placed" in copy.last_error, (copy.status, copy.last_error)


def test_are_you_on_your_way_does_not_reach_someone_checked_in_meanwhile(people, sink):
    from eventapp.checkin.models import Arrival

    assembly, aisha, ben = people["assembly"], people["aisha"], people["ben"]
    db.session.add(Arrival(registration_id=aisha.id, assembly_id=assembly.id))
    db.session.commit()
    _send(assembly, "not_arrived")
    db.session.add(Arrival(registration_id=ben.id, assembly_id=assembly.id))
    db.session.commit()
    mail.send_pending()
    copy = _copies(assembly)["Ben Jones"]
    assert copy.status == "skipped" and "checked in" in copy.last_error


def test_a_message_written_before_the_call_off_is_not_sent_but_one_written_after_is(people, sink):
    from eventapp.assemblies import services as assemblies

    assembly = people["assembly"]
    _send(assembly, key="before")
    assemblies.set_cancelled(assembly, True)
    services.send_message(assembly, {"audience": "confirmed", "subject": "We are sorry",
                                     "body": "The assembly is called off."}, "after", None)
    report = mail.send_pending()
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "message")
                              .order_by(OutboxMessage.id)).all()
    before = [r for r in rows if r.subject == "Parking at the Guildhall"]
    after = [r for r in rows if r.subject == "We are sorry"]
    assert len(before) == len(after) == 2
    assert all(r.status == "skipped" and "called off" in r.last_error for r in before)
    assert {r.status for r in after} == {"sent"}
    assert report.sent >= 2


def test_the_facilitators_copies_are_not_checked_against_any_registration(people, sink):
    from tests.factories import make_user

    assembly = people["assembly"]
    fran = make_user("facilitator", email="fran@example.org", name="Fran Facilitator")
    people["workshop"].facilitators.append(fran)
    db.session.commit()
    services.send_message(assembly, {"audience": "facilitators", "subject": "Parking at the Guildhall",
                                     "body": "Park at the rear."}, "staff", None)
    # Even every delegate cancelled: the staff still get it.
    for reg in (people["aisha"], people["ben"]):
        registration.cancel_registration(db.session.get(Registration, reg.id))
    report = mail.send_pending()
    (copy,) = _copies(assembly).values()
    assert copy.status == "sent" and report.not_sent == 0
    assert "Fran Facilitator <fran@example.org>" in _received(sink, report.sent)


def _crowd(assembly, org, n: int) -> None:
    from eventapp.registration.models import email_key

    for i in range(n):
        email = f"crowd{i}@example.org"
        db.session.add(Registration(assembly_id=assembly.id, organisation_id=org.id, full_name=f"Crowd {i}",
                                    email=email, email_key=email_key(email), status="confirmed"))
    db.session.commit()


def test_sending_a_message_to_300_delegates_reads_them_in_a_few_statements(app, people, sink, monkeypatch):
    """The checks and the renderer read what the batch needs at once: no statement per copy (929 before)."""
    from tests.test_query_counts import counting

    assembly = people["assembly"]
    _crowd(assembly, people["aisha"].organisation, 298)
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 300)
    message = _send(assembly)
    assert message.recipients == 300
    gone = db.session.scalars(select(Registration).where(Registration.full_name.in_(["Crowd 7", "Crowd 70"]))).all()
    registration.cancel_registrations(assembly, [r.id for r in gone])
    # A hundred addresses changed meanwhile: those copies go to the new ones, still in no statement per copy.
    from eventapp.registration.models import email_key

    for reg in db.session.scalars(select(Registration).where(Registration.full_name.like("Crowd 1__"))):
        reg.email = f"moved.{reg.email}"
        reg.email_key = email_key(reg.email)
    db.session.commit()
    db.session.remove()
    with counting() as statements:
        report = mail.send_pending()
    sink.wait_for(report.sent)
    assert report.not_sent == 2 and report.sent >= 298
    with sink.lock:
        rcpts = [address for _, to in sink.envelopes for address in to]
    assert len([a for a in rcpts if a.startswith("moved.crowd1")]) == 100
    assert not [a for a in rcpts if re.fullmatch(r"crowd1\d\d@example.org", a)]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(statements) < 60, len(statements)
    # Registrations, messages and assemblies: once for the checks, once again after the not-sent rows' commit.
    assert sum("FROM registration " in s or "FROM registration\n" in s for s in reads) <= 3


def test_a_batch_whose_data_cannot_be_loaded_waits_for_the_next_pass_and_stops_nothing_else(people, sink,
                                                                                              monkeypatch):
    from eventapp.mail.services import queue_email

    assembly = people["assembly"]
    _send(assembly)
    queue_email("manage_link", "other@example.org", "Other", context={
        "registration": people["aisha"], "assembly": assembly, "manage_url": "https://x.example/manage/t",
        "position": None, "valid_days": 30, "waiting_because": None})
    db.session.commit()

    def boom(pairs):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(mail._PREPARES, "message", boom)
    report = mail.send_pending()
    assert report.sent == 1 and report.retrying == 2
    copies = _copies(assembly).values()
    assert {(r.status, r.last_error.split(":")[0]) for r in copies} == {("pending", "Could not render this email")}
