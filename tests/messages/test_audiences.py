"""Organisers write to the confirmed delegates with access or dietary needs, or to one organisation's."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail.services import send_pending
from eventapp.messages.models import AssemblyMessage
from eventapp.organisations.services import merge_organisations
from eventapp.timeutil import utcnow
from tests.factories import make_org
from tests.mail_sink import sink  # noqa: F401 - fixture
from tests.messages.test_messages import _compose, _outbox, people  # noqa: F401 - fixture
from tests.messages.test_scheduled import _later
from tests.notes.helpers import make_registration


def _send(client, assembly, audience, **data):
    url, payload = _compose(client, assembly, audience=audience, **data)
    return client.post(url, data={**payload, "action": "send"}, follow_redirects=True)


def test_the_form_offers_needs_and_organisations_with_their_counts(as_organiser, people):
    assembly = people["assembly"]
    people["aisha"].access_needs = "Step-free access"
    db.session.commit()
    council = make_org("Shire Council")
    make_registration(assembly, council, "Cleo Council")
    make_registration(assembly, council, "Wes Waiting", status="cancelled")
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/new").get_data(as_text=True)
    assert "Confirmed delegates who told us of access needs (1)" in page
    assert "Confirmed delegates who told us of dietary needs (0)" in page
    assert f'value="organisation:{council.id}">Shire Council (1)' in page
    assert "Shire Police (2)" in page


def test_a_message_to_those_with_access_needs_reaches_only_them(as_organiser, people):
    assembly = people["assembly"]
    people["aisha"].access_needs = "Hearing loop"
    people["waiting"].access_needs = "Hearing loop"  # waiting: not among the confirmed
    db.session.commit()
    page = _send(as_organiser, assembly, "access").get_data(as_text=True)
    assert "Your message to 1 person is in the outbox." in page
    assert [r.to_name for r in _outbox(assembly)] == ["Aisha Khan"]
    html = _send(as_organiser, assembly, "dietary").get_data(as_text=True)
    assert "No confirmed delegate has told us of dietary needs." in html


def test_a_message_to_one_organisation_reaches_its_confirmed_delegates(as_organiser, people):
    assembly = people["assembly"]
    council = make_org("Shire Council")
    make_registration(assembly, council, "Cleo Council")
    make_registration(assembly, council, "Wes Waiting", status="cancelled")
    _send(as_organiser, assembly, f"organisation:{council.id}")
    assert [r.to_name for r in _outbox(assembly)] == ["Cleo Council"]
    message = db.session.scalar(select(AssemblyMessage))
    assert message.audience_label == "Confirmed delegates from “Shire Council”"
    empty = make_org("Shire Fire")
    html = _send(as_organiser, assembly, f"organisation:{empty.id}").get_data(as_text=True)
    assert "No delegate from “Shire Fire” is confirmed." in html


def test_a_scheduled_message_to_an_organisation_merged_meanwhile_reaches_the_one_kept(as_organiser, people, sink):
    assembly = people["assembly"]
    typo = make_org("Shire Councl")
    council = make_org("Shire Council")
    make_registration(assembly, typo, "Cleo Council")
    _send(as_organiser, assembly, f"organisation:{typo.id}", **_later(assembly))
    merge_organisations(typo, council)
    message = db.session.scalar(select(AssemblyMessage))
    assert message.organisation_id == council.id
    message.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    send_pending()
    assert [r.to_name for r in _outbox(assembly)] == ["Cleo Council"]


def test_after_check_in_the_form_offers_those_who_came_and_those_who_did_not(as_organiser, people):
    from eventapp.checkin.services import mark_arrived
    from eventapp.timeutil import local_today

    assembly = people["assembly"]
    url = f"/organiser/assemblies/{assembly.slug}/messages/new"
    assert "checked in at reception" not in as_organiser.get(url).get_data(as_text=True)  # check-in not used yet
    assembly.date = local_today(assembly.timezone)
    db.session.commit()
    mark_arrived(assembly, people["aisha"].id)
    page = as_organiser.get(url).get_data(as_text=True)
    assert 'value="arrived">Confirmed delegates checked in at reception (1)' in page
    # Ben is expected; the waiting list, the cancelled and the anonymised are not written to.
    assert 'value="not_arrived">Confirmed delegates not checked in at reception (1)' in page
    _send(as_organiser, assembly, "arrived", subject="Thank you for coming")
    assert [r.to_name for r in _outbox(assembly)] == ["Aisha Khan"]
    _send(as_organiser, assembly, "not_arrived", subject="Are you on your way?")
    assert sorted(r.to_name for r in _outbox(assembly)) == ["Aisha Khan", "Ben Jones"]
    labels = set(db.session.scalars(select(AssemblyMessage.audience_label)))
    assert labels == {"Confirmed delegates checked in at reception", "Confirmed delegates not checked in at reception"}
    mark_arrived(assembly, people["ben"].id)
    html = _send(as_organiser, assembly, "not_arrived", subject="Anyone else?").get_data(as_text=True)
    assert "Every confirmed delegate has been checked in at reception." in html
