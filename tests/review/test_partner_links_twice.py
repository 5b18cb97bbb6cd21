"""Review: 'Yes, email N links' pressed twice (a double click, or Back and press again) emails every partner
twice: unlike organisers' messages (a send key), the bulk partner-link form carries nothing that makes a second
press find the first."""
from __future__ import annotations

from tests.conftest import csrf_from
from tests.outcomes.test_partner_links_in_bulk import links_sent, partners_world


def test_a_second_press_of_the_confirmation_does_not_email_everyone_again(as_organiser, organiser):
    partners_world(organiser)
    url = "/organiser/partners/send-links?q=housing"
    token = csrf_from(as_organiser.get(url).get_data(as_text=True))
    # The same confirmation page submitted twice (a double click).
    assert as_organiser.post(url, data={"csrf_token": token}).status_code == 302
    assert as_organiser.post(url, data={"csrf_token": token}).status_code == 302
    assert links_sent() == ["east@housing.example.org", "north@housing.example.org", "south@housing.example.org"]
