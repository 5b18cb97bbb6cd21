"""Review: in a confirm-first assembly, a form sent to a mistyped address keeps working after the delegate
sends the form again with the right address ("a mistyped address holds nothing"): the stranger who owns the
mistyped address is shown the delegate's access and dietary needs, is reminded a day later, and can confirm
the form, taking a place in the delegate's name."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.registration.models import PendingRegistration, Registration
from tests.conftest import post_form
from tests.registration.conftest import form_fields, outbox, setup  # noqa: F401
from tests.registration.test_confirm_first import _confirm_first, _confirm_path


def test_the_form_sent_to_a_mistyped_address_stops_working_once_sent_again(client, setup):
    _confirm_first(setup)
    url = f"/a/{setup.assembly.slug}/register"
    needs = "Wheelchair user; epilepsy (seizure plan attached)"
    post_form(client, url, form_fields(setup, email="delegate1@exmaple.org", access_needs=needs))
    # The check-your-email page says: a mistyped address holds nothing, fill in the form again.
    page = client.get(f"{url}/check-your-email").get_data(as_text=True)
    assert "a mistyped address holds nothing" in page
    post_form(client, url, form_fields(setup, email="delegate1@example.org", access_needs=needs))

    # The stranger at the mistyped address opens the link they were sent.
    stranger = _confirm_path("delegate1@exmaple.org")
    shown = client.application.test_client().get(stranger).get_data(as_text=True)
    assert "epilepsy" not in shown, "the delegate's health details are shown to whoever owns the mistyped address"
    assert db.session.scalar(select(PendingRegistration).where(
        PendingRegistration.email_key == "delegate1@exmaple.org")) is None, "the mistyped form is still live"
