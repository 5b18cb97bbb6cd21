"""The public form's POST registers exactly what RegistrationForm accepts.

Each case is posted, and the outcome compared with what RegistrationForm itself says of the
same data: anything the form refuses is refused (400, nothing stored), the rest registers.
Also: the topics on offer are cached per assembly version, and a change shows at once.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from eventapp.extensions import db
from eventapp.registration import services
from eventapp.registration.forms import RegistrationForm, with_choices
from eventapp.registration.models import Registration
from tests.conftest import csrf_from
from tests.factories import make_topic, make_workshop
from tests.registration.conftest import form_fields

CASES = {
    "as a browser sends it": {},
    "name 201 characters as typed, 200 once trimmed": {"full_name": " " + "N" * 200},
    "name ending in a control character that trimming removes": {"full_name": "Delegate\x1f"},
    "needs of 2,001 characters as typed, fewer once CRLF is LF": {"access_needs": "a\r\n" * 667},
    "needs with a tab and line breaks": {"dietary_needs": "Vegetarian\r\n\tno nuts"},
    "email with a space before it": {"email": " spaced@example.org"},
    "email not in the form name@example.org": {"email": "nobody-at-example.org"},
    "a gap in the required choices": {"choice_2": "0", "choice_4": "TOPIC3"},
    "the same topic twice": {"choice_2": "TOPIC0"},
    "a choice that is not a number": {"choice_3": "three"},
    "a topic not on offer": {"choice_3": "999999"},
    "a fourth, optional choice": {"choice_4": "TOPIC3"},
    "consent given as false": {"consent": "false"},
    "no consent": {"consent": None},
    "an unknown sector while the organisation is listed": {"new_organisation_sector": "pirates"},
    "a listed organisation and a sector": {"new_organisation_sector": "police"},
    "no organisation": {"organisation_name": "   "},
    "an organisation not in the list": {"organisation_name": "No such partnership"},
    "a new organisation": {"organisation_not_listed": "y", "organisation_name": "",
                           "new_organisation_name": "Shireford Food Bank",
                           "new_organisation_sector": "voluntary_community"},
}


def _fields(setup, n: int, case: dict) -> dict:
    values = {}
    for key, value in case.items():
        if isinstance(value, str) and value.startswith("TOPIC"):
            value = str(setup.topics[int(value[5:])].id)
        values[key] = value
    return form_fields(setup, n=n, **values)


def _form_accepts(app, setup, fields: dict) -> bool:
    topics = services.offered_topics(setup.assembly)
    with app.test_request_context(method="POST", data=fields):
        app.config["WTF_CSRF_ENABLED"] = False
        try:
            form = with_choices(RegistrationForm, topics, services.required_choices(setup.assembly, topics),
                                formdata=MultiDict(fields))
            return form.validate()
        finally:
            app.config["WTF_CSRF_ENABLED"] = True


@pytest.mark.parametrize("name", list(CASES))
def test_the_post_accepts_exactly_what_the_form_accepts(app, client, setup, name):
    fields = _fields(setup, 1, CASES[name])
    accepted_by_form = _form_accepts(app, setup, fields)
    token = csrf_from(client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True))
    resp = client.post(f"/a/{setup.assembly.slug}/register", data={"csrf_token": token, **fields})
    stored = db.session.scalar(select(func.count(Registration.id)))
    if not accepted_by_form:
        assert resp.status_code == 400 and stored == 0, name
    elif name == "an organisation not in the list":
        # The form accepts it; the service refuses it, shown on the form as before.
        assert resp.status_code == 400 and stored == 0
        assert "Choose your organisation from the list" in resp.get_data(as_text=True)
    else:
        assert resp.status_code == 302 and stored == 1, name


def test_without_a_csrf_token_nothing_is_stored(client, setup):
    resp = client.post(f"/a/{setup.assembly.slug}/register", data=form_fields(setup))
    assert resp.status_code == 400
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_a_full_assembly_without_the_waiting_list_box_shows_why_on_the_form(client, setup):
    setup.assembly.capacity = 0
    db.session.commit()
    token = csrf_from(client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True))
    resp = client.post(f"/a/{setup.assembly.slug}/register",
                       data={"csrf_token": token, **form_fields(setup, join_waiting_list=None)})
    assert resp.status_code == 400
    assert "The assembly is full. Tick this box to join the waiting list." in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Registration.id))) == 0


def test_a_workshop_added_to_the_assembly_is_offered_at_once(client, setup):
    before = client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True)
    assert "Youth violence" not in before
    topic = make_topic("Youth violence")
    make_workshop(setup.assembly.rounds[0], topic)
    db.session.commit()
    after = client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True)
    assert "Youth violence" in after and "5th choice (optional)" in after
    # And it can be chosen at once.
    fields = form_fields(setup, n=2, choice_1=str(topic.id), choice_5="0")
    resp = client.post(f"/a/{setup.assembly.slug}/register", data={"csrf_token": csrf_from(after), **fields})
    assert resp.status_code == 302
    reg = db.session.scalar(select(Registration).where(Registration.email == "delegate2@example.org"))
    assert reg.choice_topic_ids[0] == topic.id
