"""Confirm-first: a form sent to a mistyped address, then sent again by the same person with the right one, is
withdrawn, so the stranger who owns the mistyped address cannot read it, is not reminded, and cannot confirm it."""
from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.registration.models import PendingRegistration
from tests.conftest import post_form
from tests.registration.conftest import form_fields, outbox
from tests.registration.test_confirm_first import _confirm_first, _confirm_path


def _pending(email: str):
    return db.session.scalar(select(PendingRegistration).where(PendingRegistration.email_key == email))


def test_the_form_sent_to_a_mistyped_address_stops_working_once_sent_again(client, setup):
    _confirm_first(setup)
    url = f"/a/{setup.assembly.slug}/register"
    needs = "Wheelchair user; epilepsy (seizure plan attached)"
    post_form(client, url, form_fields(setup, email="delegate1@exmaple.org", access_needs=needs))
    page = client.get(f"{url}/check-your-email").get_data(as_text=True)
    assert "the form sent to the wrong address is then withdrawn" in page
    stranger = _confirm_path("delegate1@exmaple.org")
    # Even before, the link shows no health details to whoever holds it.
    assert "epilepsy" not in client.application.test_client().get(stranger).get_data(as_text=True)
    post_form(client, url, form_fields(setup, email="delegate1@example.org", access_needs=needs))
    shown = client.application.test_client().get(stranger)
    assert shown.status_code == 410 and "epilepsy" not in shown.get_data(as_text=True)
    assert _pending("delegate1@exmaple.org") is None and _pending("delegate1@example.org") is not None
    # Its reminder is gone with it; the right address has its own email and reminder.
    reminders = [m.to_email for m in outbox(kind="confirm_registration_reminder")]
    assert reminders == ["delegate1@example.org"]


def test_a_colleague_registered_next_from_the_same_browser_keeps_the_first_form(client, setup):
    # A PA registering three people one after another: different names, nothing is withdrawn.
    _confirm_first(setup)
    url = f"/a/{setup.assembly.slug}/register"
    post_form(client, url, form_fields(setup, n=1))
    post_form(client, url, form_fields(setup, n=2, org=1))
    assert _pending("delegate1@example.org") is not None and _pending("delegate2@example.org") is not None


def _value(html: str, name: str) -> str | None:
    tag = re.search(rf'<(?:input|textarea)[^>]*\bname="{name}"[^>]*>([^<]*)', html)
    if tag is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html_lib.unescape(value.group(1) if value else tag.group(1).strip())


def test_correcting_the_address_brings_the_form_back_filled_in_but_the_address(client, app, setup):
    _confirm_first(setup)
    url = f"/a/{setup.assembly.slug}/register"
    needs = "Hearing loop <please> & BSL"
    post_form(client, url, form_fields(setup, email="delegate1@exmaple.org", job_title="PCSO", access_needs=needs,
                                       choice_1=str(setup.topics[3].id)))
    page = client.get(f"{url}/check-your-email").get_data(as_text=True)
    again = re.search(r'href="([^"]*/register\?again=1)"', page).group(1)
    form = client.get(again).get_data(as_text=True)
    assert "Here is the form as you sent it, but the email address" in form
    assert (_value(form, "full_name"), _value(form, "job_title"), _value(form, "access_needs")) == (
        "Delegate 1", "PCSO", needs)
    assert _value(form, "organisation_name") == setup.orgs[0].name
    assert re.search(rf'name="choice_1"[^>]*>.*?<option selected value="{setup.topics[3].id}"', form, re.S)
    assert not _value(form, "email") and "exmaple" not in form
    # Another browser, or the plain form, gets an empty form.
    for other, link in ((app.test_client(), again), (client, url)):
        blank = other.get(link).get_data(as_text=True)
        assert "Here is the form as you sent it" not in blank and _value(blank, "job_title") in (None, "")
    # Sent with the right address, it corrects the first one, as typing it all again did.
    post_form(client, again, form_fields(setup, email="delegate1@example.org", job_title="PCSO", access_needs=needs))
    assert _pending("delegate1@exmaple.org") is None and _pending("delegate1@example.org") is not None
    # Past the correction window the link brings an empty form.
    with client.session_transaction() as session:
        session["sent_form"][-1] -= 31 * 60
        session.modified = True
    assert "Here is the form as you sent it" not in client.get(again).get_data(as_text=True)
