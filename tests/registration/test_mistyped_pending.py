"""Confirm-first: a form sent to a mistyped address, then sent again by the same person with the right one, is
withdrawn, so the stranger who owns the mistyped address cannot read it, is not reminded, and cannot confirm it."""
from __future__ import annotations

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
