"""A copy of an organiser's message waits in the outbox until the worker sends it: a delegate whose address
changed meanwhile (a typo corrected, another officer sent in their place) gets it at the new address, with
their current personal link, and the old address gets nothing of it."""
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
from tests.mail_sink import html_of, sink, text_of  # noqa: F401 - fixture
from tests.messages.test_messages import HOSTILE, people  # noqa: F401 - fixture

SUBJECT = "Parking at the Guildhall"


def _send(assembly, audience="confirmed", key="k1"):
    return services.send_message(assembly, {"audience": audience, "subject": SUBJECT,
                                            "body": "Park at the rear."}, key, None)


def _move(reg_id: int, *, email: str, name: str | None = None, organiser=None) -> None:
    """Change a registration's address (and name) through the service the manage page or the organiser's edit uses."""
    reg = db.session.get(Registration, reg_id)
    data = {"full_name": name or reg.full_name, "email": email, "job_title": reg.job_title or "Officer",
            "organisation_id": reg.organisation_id, "access_needs": reg.access_needs,
            "dietary_needs": reg.dietary_needs}
    if organiser is None:
        registration.update_registration(reg, data)
    else:
        registration.update_registration(reg, data, by_organiser=True, by=organiser.id)


def _copy_of(reg_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "message",
                                                         OutboxMessage.registration_id == reg_id))


def _message_copies(sink, report) -> list:
    """(To header, envelope recipients, message) of every copy of the message the sink received."""
    sink.wait_for(report.sent)
    with sink.lock:
        pairs = list(zip(sink.messages, sink.envelopes))
    return [(str(m["To"]), rcpts, m) for m, (_, rcpts) in pairs if str(m["Subject"]) == SUBJECT]


def _link(message) -> str:
    found = re.search(r"Change or cancel your registration: (\S+)", text_of(message))
    assert found, text_of(message)
    return re.sub(r"^https?://[^/]+", "", found.group(1))


@pytest.mark.parametrize("who", ["delegate", "organiser"])
def test_a_copy_goes_to_the_address_the_delegate_has_when_its_turn_comes(client, organiser, people, sink, who):
    assembly, aisha, ben = people["assembly"], people["aisha"], people["ben"]
    old = ben.email
    _send(assembly)
    # The delegate corrects a typo on their manage page; or their organisation sends another officer instead.
    new, name = (f"ben.jones.fixed.{assembly.id}@example.org", "Ben Jones") if who == "delegate" else \
        (f"priya.patel.{assembly.id}@example.org", "Priya Patel")
    _move(ben.id, email=new, name=name, organiser=organiser if who == "organiser" else None)
    report = mail.send_pending()
    copies = _message_copies(sink, report)
    to_ben = [c for c in copies if new in c[0]]
    assert len(to_ben) == 1, [c[0] for c in copies]
    header, rcpts, message = to_ben[0]
    assert header == f"{name} <{new}>" and rcpts == [new]
    assert f"Dear {name}," in text_of(message)
    # Nothing of the message reaches the old address.
    assert not [c for c in copies if old in c[0] or old in c[1]]
    assert sorted(c[0] for c in copies) == sorted([f"Aisha Khan <{aisha.email}>", header])
    # The personal link works and opens this registration, at its new address.
    page = client.get(_link(message))
    assert page.status_code == 200 and new in page.get_data(as_text=True)
    # The outbox row says where the copy actually went.
    row = _copy_of(ben.id)
    assert (row.status, row.to_email, row.to_name) == ("sent", new, name)
    assert report.not_sent == 0


def test_a_copy_whose_address_did_not_change_is_sent_as_before(client, people, sink):
    assembly, aisha, ben = people["assembly"], people["aisha"], people["ben"]
    _send(assembly)
    _move(ben.id, email=f"ben.new.{assembly.id}@example.org")
    report = mail.send_pending()
    (header, rcpts, message), = [c for c in _message_copies(sink, report) if "Aisha" in c[0]]
    assert header == f"Aisha Khan <{aisha.email}>" and rcpts == [aisha.email]
    assert client.get(_link(message)).status_code == 200
    row = _copy_of(aisha.id)
    assert (row.status, row.to_email, row.to_name) == ("sent", aisha.email, "Aisha Khan")


def test_the_outbox_page_shows_the_address_the_copy_went_to(as_organiser, organiser, people, sink):
    assembly, ben = people["assembly"], people["ben"]
    old, new = ben.email, f"priya.patel.{assembly.id}@example.org"
    _send(assembly)
    _move(ben.id, email=new, name="Priya Patel", organiser=organiser)
    mail.send_pending()
    row = _copy_of(ben.id)
    linked = re.compile(rf'href="/organiser/outbox/{row.id}[?"]')
    assert linked.search(as_organiser.get(f"/organiser/outbox/?q={new}").get_data(as_text=True))
    detail = as_organiser.get(f"/organiser/outbox/{row.id}").get_data(as_text=True)
    assert new in detail and "Priya Patel" in detail and old not in detail
    # The old address's search finds no copy of the message.
    assert not linked.search(as_organiser.get(f"/organiser/outbox/?q={old}").get_data(as_text=True))


def test_a_hostile_new_name_and_address_are_escaped_in_the_copy(people, sink):
    assembly, ben = people["assembly"], people["ben"]
    old, new = ben.email, f"o'hara+{assembly.id}@example.org"
    _send(assembly)
    _move(ben.id, email=new, name=HOSTILE)
    # The forms refuse line breaks in a name; one stored otherwise (an old import, say) must not add a header.
    reg = db.session.get(Registration, ben.id)
    name = reg.full_name + "\r\nBcc: victim@example.org"
    reg.full_name = name
    db.session.commit()
    report = mail.send_pending()
    copies = _message_copies(sink, report)
    assert not [c for c in copies if old in c[0] or old in c[1]]
    (header, rcpts, message), = [c for c in copies if new in c[1]]
    assert rcpts == [new] and message["Bcc"] is None and "victim" not in str(message["To"]).rpartition("<")[2]
    html = html_of(message)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in text_of(message)
    row = _copy_of(ben.id)
    assert row.to_email == new and row.to_name == mail.clean_header(name)
    # Stored as typed on the registration, never normalised.
    assert db.session.get(Registration, ben.id).full_name == name
