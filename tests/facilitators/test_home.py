"""The facilitator's home shows only the workshops they run."""
from __future__ import annotations

from tests.factories import make_assembly, make_round, make_user, make_workshop


def test_facilitator_sees_only_their_own_workshops(as_facilitator, facilitator):
    colleague = make_user("facilitator", email="colleague@example.org", name="Kwame Mensah")
    assembly = make_assembly(title="Shireford Assembly")
    rnd = make_round(assembly, name="Morning breakouts")
    make_workshop(rnd, title="Mine: hidden harm", room="Library", facilitators=[facilitator])
    make_workshop(rnd, title="Shared: public confidence", facilitators=[facilitator, colleague])
    make_workshop(rnd, title="Theirs: exploitation", facilitators=[colleague])
    make_workshop(rnd, title="Nobody's yet")

    html = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert "Mine: hidden harm" in html and "Library" in html and "Shared: public confidence" in html
    assert "Theirs: exploitation" not in html and "Nobody&#39;s yet" not in html
    assert "Shireford Assembly" in html and "Morning breakouts, 11:00&ndash;12:15" in html


def test_facilitator_without_workshops_gets_an_empty_state(as_facilitator):
    html = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert "You are not facilitating any workshops yet." in html


def test_facilitator_nav_has_no_organiser_links(as_facilitator):
    html = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert 'href="/organiser/' not in html
    assert "Sign out" in html


def test_facilitator_home_needs_sign_in(client):
    resp = client.get("/facilitator/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
