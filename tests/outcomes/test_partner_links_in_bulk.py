"""Partner contacts at a national event (300 organisations): find one, filter, and email the links to a
whole filtered selection at once after a confirmation, rather than opening each organisation in turn."""
from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from eventapp.extensions import db

from eventapp.mail.models import OutboxMessage
from eventapp.notes import services as notes
from eventapp.outcomes import services
from tests.conftest import csrf_from
from tests.factories import make_org
from tests.outcomes.helpers import build_scene


def press_yes(client, url: str, form_url: str | None = None, follow_redirects: bool = False):
    """Press "Yes, email …" on the confirmation page: its token and its own send key."""
    page = client.get(form_url or url).get_data(as_text=True)
    key = re.search(r'name="send_key" value="([^"]+)"', page).group(1)
    return client.post(url, data={"csrf_token": csrf_from(page), "send_key": key}, follow_redirects=follow_redirects)


def partners_world(organiser, with_contact=("North", "South", "East"), without_contact=("West", "Central")):
    """The outcomes scene plus one organisation per name owning an open action; some have a contact email."""
    scene = build_scene(organiser=organiser)
    orgs = {}
    for name in with_contact + without_contact:
        org = orgs[name] = make_org(f"{name} Housing {scene.previous.slug}", sector="housing")
        notes.add_action(scene.old_workshop, {"description": f"Action of {name}", "owner_organisation_id": org.id,
                                        "lead_person": "Lead", "due_date": date.today() + timedelta(days=9),
                                        "status": "open", "internal": False, "topic_ids": []}, None)
        if name in with_contact:
            services.save_contact(org, f"{name} lead", f"{name.lower()}@housing.example.org")
    return scene, orgs


def links_sent() -> list[str]:
    return sorted(db.session.scalars(select(OutboxMessage.to_email).where(OutboxMessage.kind == "partner_link")))


def test_partners_page_searches_and_filters(as_organiser, organiser):
    scene, orgs = partners_world(organiser)
    html = as_organiser.get("/organiser/partners?q=north").get_data(as_text=True)
    assert orgs["North"].name in html and orgs["South"].name not in html and scene.police.name not in html
    # By contact email too.
    html = as_organiser.get("/organiser/partners?q=south@housing").get_data(as_text=True)
    assert orgs["South"].name in html and orgs["North"].name not in html
    html = as_organiser.get("/organiser/partners?show=no_contact").get_data(as_text=True)
    assert orgs["West"].name in html and orgs["Central"].name in html and orgs["North"].name not in html
    assert '<option value="no_contact" selected>' in html
    html = as_organiser.get("/organiser/partners?q=nothing-like-this").get_data(as_text=True)
    assert "No organisation matches." in html and "Clear the filters" in html


def test_links_go_to_a_whole_filtered_selection_after_a_confirmation(as_organiser, organiser):
    scene, orgs = partners_world(organiser)
    html = as_organiser.get("/organiser/partners?q=housing").get_data(as_text=True)
    assert 'href="/organiser/partners/send-links?q=housing"' in html
    confirm = as_organiser.get("/organiser/partners/send-links?q=housing")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and links_sent() == []  # a GET sends nothing
    assert "Email the partner link to 3 organisations?" in page
    assert "2 organisations in the selection have no contact email" in page
    for name in ("North", "South", "East"):
        assert orgs[name].name in page
    resp = press_yes(as_organiser, "/organiser/partners/send-links?q=housing")
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/organiser/partners" and parse_qs(location.query) == {"q": ["housing"]}
    assert links_sent() == ["east@housing.example.org", "north@housing.example.org", "south@housing.example.org"]
    for name in ("North", "South", "East"):
        assert services.contact_for(orgs[name].id).link_sent_at is not None
    html = as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Partner links queued for 3 organisations." in html
    assert "2 organisations without a contact email were left out" in html


def test_bulk_sending_keeps_to_the_filter_and_says_when_nobody_can_be_emailed(as_organiser, organiser):
    scene, orgs = partners_world(organiser)
    press_yes(as_organiser, "/organiser/partners/send-links?q=north")
    assert links_sent() == ["north@housing.example.org"]
    page = as_organiser.get("/organiser/partners/send-links?show=no_contact").get_data(as_text=True)
    assert "No organisation in the selection has a contact email" in page and "Yes, email" not in page
    resp = press_yes(as_organiser, "/organiser/partners/send-links?show=no_contact",
                   form_url="/organiser/partners/send-links?q=north", follow_redirects=True)
    assert "No partner link was sent" in resp.get_data(as_text=True)
    assert links_sent() == ["north@housing.example.org"]
    # Without the form's token nothing is sent.
    assert as_organiser.post("/organiser/partners/send-links?q=south").status_code == 400
    assert links_sent() == ["north@housing.example.org"]


def test_only_organisers_send_links_in_bulk(as_facilitator):
    assert as_facilitator.get("/organiser/partners/send-links").status_code == 403


def test_a_second_press_of_the_confirmation_does_not_email_everyone_again(as_organiser, organiser):
    # A double click, or Back and press again, on "Yes, email 300 links" (review).
    partners_world(organiser)
    url = "/organiser/partners/send-links?q=housing"
    page = as_organiser.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "send_key": re.search(r'name="send_key" value="([^"]+)"', page).group(1)}
    assert as_organiser.post(url, data=data).status_code == 302
    again = as_organiser.post(url, data=data, follow_redirects=True)
    assert "These partner links were sent already: nobody was emailed twice." in again.get_data(as_text=True)
    assert links_sent() == ["east@housing.example.org", "north@housing.example.org", "south@housing.example.org"]
    # A new confirmation page is a new send.
    press_yes(as_organiser, "/organiser/partners/send-links?q=north")
    assert links_sent().count("north@housing.example.org") == 2
