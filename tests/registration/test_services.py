"""Registration use cases: places, the waiting list, one registration per email, manage tokens."""
from __future__ import annotations

import time
from datetime import datetime

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from eventapp.domain import DomainError
from eventapp.extensions import db
from eventapp.organisations.models import Organisation
from eventapp.registration import services
from eventapp.registration.models import Registration
from tests.registration.conftest import outbox, person


@pytest.fixture
def req(app):
    # Manage links are absolute URLs: build them as a request would.
    with app.test_request_context("/", base_url="https://events.example.org"):
        yield


def test_first_registrations_are_confirmed_and_emailed(setup, req):
    result = services.register(setup.assembly, person(setup, 1))
    assert result.outcome == "confirmed"
    reg = result.registration
    assert reg.status == "confirmed" and reg.consent_at is not None
    assert reg.choice_topic_ids == [t.id for t in setup.topics[:3]]
    [mail] = outbox("registration_confirmed")
    assert mail.to_email == "delegate1@example.org"
    assert "https://events.example.org/manage/" in mail.body_text


def test_full_assembly_puts_people_on_the_waiting_list_with_their_position(setup, req):
    for n in range(5):
        services.register(setup.assembly, person(setup, n, org=n % 3))
    sixth = services.register(setup.assembly, person(setup, 6, org=2))
    seventh = services.register(setup.assembly, person(setup, 7, org=1))
    assert (sixth.outcome, sixth.waiting_position) == ("waiting", 1)
    assert (seventh.outcome, seventh.waiting_position) == ("waiting", 2)
    mail = outbox("waiting_list", to="delegate7@example.org")[0]
    assert "position 2" in mail.body_text


def test_organisation_limit_sends_the_third_person_to_the_waiting_list(setup, req):
    services.register(setup.assembly, person(setup, 1, org=0))
    services.register(setup.assembly, person(setup, 2, org=0))
    third = services.register(setup.assembly, person(setup, 3, org=0))
    other = services.register(setup.assembly, person(setup, 4, org=1))
    assert third.outcome == "waiting"
    assert other.outcome == "confirmed"


def test_no_place_and_no_waiting_list_wanted_is_refused_with_a_reason(setup, req):
    services.register(setup.assembly, person(setup, 1, org=0))
    services.register(setup.assembly, person(setup, 2, org=0))
    with pytest.raises(DomainError) as err:
        services.register(setup.assembly, person(setup, 3, org=0, join_waiting_list=False))
    assert err.value.field == "join_waiting_list"
    assert "Shireford Constabulary already has 2" in err.value.message
    assert db.session.scalar(select(Registration).where(Registration.email == "delegate3@example.org")) is None


def test_same_email_again_creates_nothing_and_emails_the_link(setup, req):
    first = services.register(setup.assembly, person(setup, 1))
    again = services.register(setup.assembly, person(setup, 1, full_name="Someone Else", email="  DELEGATE1@Example.org "))
    assert again.outcome == "duplicate"
    assert again.registration.id == first.registration.id
    assert again.registration.full_name == "Delegate 1"
    assert db.session.query(Registration).count() == 1
    [link] = outbox("manage_link")
    assert link.to_email == "delegate1@example.org"
    assert "/manage/" in link.body_text


def test_email_key_is_unique_per_assembly_in_the_database(setup, req):
    services.register(setup.assembly, person(setup, 1))
    db.session.add(Registration(assembly_id=setup.assembly.id, organisation_id=setup.orgs[0].id, full_name="X",
                                email="Delegate1@example.org", email_key="delegate1@example.org", status="confirmed"))
    with pytest.raises(Exception) as err:
        db.session.flush()
    assert "unique" in str(err.value).lower()
    db.session.rollback()


def test_a_cancelled_person_can_register_again(setup, req):
    reg = services.register(setup.assembly, person(setup, 1)).registration
    old_token = services.make_manage_token(reg)
    services.cancel_registration(reg)
    again = services.register(setup.assembly, person(setup, 1, full_name="Delegate One"))
    assert again.outcome == "confirmed" and again.registration.id == reg.id
    assert again.registration.full_name == "Delegate One"
    with pytest.raises(services.TokenInvalid):
        services.load_manage_token(old_token)


def test_cancelling_promotes_the_first_eligible_waiting_person_and_emails_them(setup, req):
    people = [services.register(setup.assembly, person(setup, n, org=o)).registration
              for n, o in enumerate([0, 0, 1, 1, 2])]
    blocked = services.register(setup.assembly, person(setup, 10, org=0)).registration  # org 0 at its limit
    eligible = services.register(setup.assembly, person(setup, 11, org=2)).registration
    assert blocked.status == eligible.status == "waiting"
    promoted = services.cancel_registration(people[2])  # an org-1 place frees up
    assert promoted == [eligible]
    assert eligible.status == "confirmed" and eligible.waiting_position is None
    assert blocked.status == "waiting" and services.waiting_rank(blocked) == 1
    [mail] = outbox("promoted")
    assert mail.to_email == "delegate11@example.org"
    # An org-0 place frees up: now the blocked person is next and eligible.
    assert services.cancel_registration(people[0]) == [blocked]


def test_the_promoted_email_gives_the_venue_address_as_the_confirmation_does(setup, req):
    setup.assembly.venue_address = "High Street\nShireford SH1 1AA"
    setup.assembly.capacity = 1
    first = services.register(setup.assembly, person(setup, 1)).registration
    services.register(setup.assembly, person(setup, 2))
    services.cancel_registration(first)
    [mail] = outbox("promoted")
    assert "Where: Shireford Guildhall, High Street, Shireford SH1 1AA" in mail.body_text
    assert "<bdi>Shireford Guildhall</bdi>, <bdi>High Street, Shireford SH1 1AA</bdi>" in mail.body_html


@pytest.mark.parametrize("kind", ["registration_confirmed", "promoted"])
def test_an_address_typed_on_several_lines_reads_as_one_line_in_both_parts(setup, req, kind):
    # As a browser sends a textarea: CRLF line ends. A CR left in the text part starts a new line there
    # (", Shireford" alone), and in the HTML part the lines ran together with no comma between them.
    setup.assembly.venue_address = "High Street\r\n\r\nShireford SH1 1AA\r\n"
    setup.assembly.capacity = 1
    first = services.register(setup.assembly, person(setup, 1)).registration
    services.register(setup.assembly, person(setup, 2))
    services.cancel_registration(first)
    [mail] = outbox(kind)
    for part in (mail.body_text, mail.body_html.replace("<bdi>", "").replace("</bdi>", "")):
        assert "Where: Shireford Guildhall, High Street, Shireford SH1 1AA\n" in part.replace("</p>", "\n")
        assert "\r" not in part


RTL_NAME = "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a"  # Sarah Ali, in Arabic


def test_html_emails_to_a_right_to_left_name_isolate_it_so_the_comma_stays_after_it(setup, req):
    # Without <bdi> the comma after "Dear <name>" joins the right-to-left run and shows on its left.
    setup.assembly.capacity = 1
    first = services.register(setup.assembly, person(setup, 1, full_name=RTL_NAME)).registration
    services.register(setup.assembly, person(setup, 2, full_name=f"{RTL_NAME} 2"))
    services.cancel_registration(first)
    mails = {(m.kind, m.to_email): m for m in outbox()}
    for kind, n in (("registration_confirmed", 1), ("cancelled", 1), ("waiting_list", 2), ("promoted", 2)):
        mail = mails[kind, f"delegate{n}@example.org"]
        name = RTL_NAME if n == 1 else f"{RTL_NAME} 2"
        assert f"<p>Dear <bdi>{name}</bdi>,</p>" in mail.body_html, kind
        assert f"Dear {name}," in mail.body_text, kind
        assert "<strong><bdi>" in mail.body_html, kind  # the assembly's title too


def test_registration_window_closed_or_not_yet_open(setup, req):
    setup.assembly.registration_closes_at = datetime(2021, 1, 1, 12, 0)
    with pytest.raises(DomainError, match="Registration closed on 1 January 2021"):
        services.register(setup.assembly, person(setup, 1))
    setup.assembly.registration_closes_at = None
    setup.assembly.registration_opens_at = datetime(2098, 5, 4, 9, 30)
    with pytest.raises(DomainError, match="Registration opens on 4 May 2098 at 09:30"):
        services.register(setup.assembly, person(setup, 1))


@pytest.mark.parametrize("ids, message", [
    ([1, 2], "Rank at least 3"),
    ([1, 1, 2], "already chosen"),
    ([1, 2, 99], "from the list"),
])
def test_choices_must_be_three_distinct_offered_topics(setup, req, ids, message):
    mapping = {1: setup.topics[0].id, 2: setup.topics[1].id, 99: 10**6}
    with pytest.raises(DomainError, match=message):
        services.register(setup.assembly, person(setup, 1, topic_ids=[mapping[i] for i in ids]))


def test_not_listed_organisation_is_created_pending_or_reuses_a_match(setup, req):
    data = person(setup, 1, organisation_id=None, organisation_not_listed=True,
                  new_organisation_name="  Shireford   Street Pastors ", new_organisation_sector="voluntary_community")
    reg = services.register(setup.assembly, data).registration
    assert reg.organisation.name == "Shireford Street Pastors" and reg.organisation.status == "pending"
    data2 = person(setup, 2, organisation_id=None, organisation_not_listed=True,
                   new_organisation_name="shireford street pastors", new_organisation_sector="other")
    reg2 = services.register(setup.assembly, data2).registration
    assert reg2.organisation_id == reg.organisation_id
    assert db.session.query(Organisation).filter_by(status="pending").count() == 1


def test_update_changes_details_and_ranked_choices(setup, req):
    reg = services.register(setup.assembly, person(setup, 1)).registration
    new_order = [setup.topics[3].id, setup.topics[0].id, setup.topics[1].id]
    services.update_registration(reg, person(setup, 1, full_name="Zoë O'Brien-Ní Bhriain", topic_ids=new_order))
    db.session.expire_all()
    reg = db.session.get(Registration, reg.id)
    assert reg.full_name == "Zoë O'Brien-Ní Bhriain"
    assert reg.choice_topic_ids == new_order


def test_choices_are_frozen_once_the_allocation_is_published(setup, req, monkeypatch):
    reg = services.register(setup.assembly, person(setup, 1)).registration
    monkeypatch.setattr(services, "allocation_published", lambda assembly: True)
    with pytest.raises(DomainError, match="can no longer change"):
        services.update_registration(reg, person(setup, 1, topic_ids=[setup.topics[3].id, setup.topics[0].id, setup.topics[1].id]))
    services.update_registration(reg, {k: v for k, v in person(setup, 1, job_title="Inspector").items() if k != "topic_ids"})
    assert reg.job_title == "Inspector"


def test_moving_to_an_organisation_at_its_limit_is_refused(setup, req):
    services.register(setup.assembly, person(setup, 1, org=0))
    services.register(setup.assembly, person(setup, 2, org=0))
    reg = services.register(setup.assembly, person(setup, 3, org=1)).registration
    with pytest.raises(DomainError, match="already has 2"):
        services.update_registration(reg, person(setup, 3, org=0))


def test_manage_token_round_trip_tamper_revoke_and_expiry(setup, req, monkeypatch):
    reg = services.register(setup.assembly, person(setup, 1)).registration
    token = services.make_manage_token(reg)
    assert services.load_manage_token(token).id == reg.id
    with pytest.raises(services.TokenInvalid):
        services.load_manage_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(services.TokenInvalid):
        services.load_manage_token("not-a-token")
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 61 * 86400)
    old = services.make_manage_token(reg)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    with pytest.raises(services.TokenExpired):
        services.load_manage_token(old)
    services.revoke_manage_links(reg)
    with pytest.raises(services.TokenInvalid):
        services.load_manage_token(token)
    assert services.load_manage_token(services.make_manage_token(reg)).id == reg.id


def test_public_base_url_builds_links_without_a_request(app, setup):
    app.config["PUBLIC_BASE_URL"] = "https://assembly.example.gov.uk/"
    try:
        with app.app_context():
            reg = services.register(setup.assembly, person(setup, 1)).registration
            assert services.manage_url(reg).startswith("https://assembly.example.gov.uk/manage/")
    finally:
        app.config["PUBLIC_BASE_URL"] = None


def test_organiser_moves_between_confirmed_and_waiting(setup, req):
    regs = [services.register(setup.assembly, person(setup, n, org=n % 3)).registration for n in range(6)]
    waiting = regs[5]
    assert waiting.status == "waiting"
    with pytest.raises(DomainError, match="The assembly is full"):
        services.confirm_from_waiting_list(waiting)
    services.move_to_waiting_list(regs[0])
    assert regs[0].status == "waiting" and services.waiting_rank(regs[0]) == 2
    services.confirm_from_waiting_list(waiting)
    assert waiting.status == "confirmed"
    setup.assembly.capacity = 6
    db.session.commit()
    assert services.promote_waiting(setup.assembly) == [regs[0]]


def test_confirmed_registrations_lists_only_confirmed_in_order(setup, req):
    regs = [services.register(setup.assembly, person(setup, n, org=n % 3)).registration for n in range(7)]
    services.cancel_registration(regs[1])
    ids = [r.id for r in services.confirmed_registrations(setup.assembly)]
    assert ids == sorted(ids) and len(ids) == 5 and regs[1].id not in ids
