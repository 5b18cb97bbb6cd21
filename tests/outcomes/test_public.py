"""The public updates page and its Atom feed: approved outcomes only, nothing internal, no personal data."""
from __future__ import annotations

from datetime import date
from xml.etree import ElementTree as ET

from eventapp.notes import services as notes_services
from eventapp.outcomes import services
from eventapp.outcomes.models import AssemblyUpdate
from tests.conftest import post_form
from tests.factories import make_assembly, make_workshop
from tests.outcomes.helpers import (DELEGATE_EMAIL, DELEGATE_NAME, INTERNAL_ACTION_MARK, INTERNAL_MARK, LEAD_PERSON,
                                    PUBLIC_MARK, WALK_IN_NAME, build_scene, carried_copy)

ATOM = "{http://www.w3.org/2005/Atom}"
SECRETS = (INTERNAL_MARK, INTERNAL_ACTION_MARK, DELEGATE_NAME, DELEGATE_EMAIL, LEAD_PERSON, WALK_IN_NAME)


def _add_update(assembly, title="Six months on", body="Progress **made**."):
    return services.save_update(assembly, {"title": title, "published_on": date(2026, 9, 1), "body": body})


def test_updates_page_shows_updates_and_approved_outcomes(client, db, organiser):
    scene = build_scene(organiser=organiser)
    _add_update(scene.previous)
    html = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    assert "Six months on" in html and "<strong>made</strong>" in html
    assert PUBLIC_MARK in html
    assert "Publish a who-to-call guide" in html and scene.police.name in html
    assert f'href="/a/{scene.previous.slug}/updates.atom"' in html
    # Linked to the other assembly of the series, and from the assembly's public page.
    assert f"/a/{scene.current.slug}/updates" in html
    assert f'/a/{scene.current.slug}/updates"' in client.get(f"/a/{scene.current.slug}").get_data(as_text=True)


def test_no_internal_text_or_personal_data_on_any_public_page_or_feed(app, client, db, organiser):
    scene = build_scene(organiser=organiser)
    _add_update(scene.previous)
    # Carried copies are public-facing too (partner view): the internal one must not leak.
    services.carry_forward(scene.current, None, organiser.id)
    services.save_contact(scene.police, "Police contact", "contact@police.example.org")
    token = services.make_partner_token(scene.police.id)
    public_urls = ["/"]
    for a in (scene.previous, scene.current):
        public_urls += [f"/a/{a.slug}", f"/a/{a.slug}/updates", f"/a/{a.slug}/updates.atom"]
    public_urls += [f"/partner/{token}", f"/partner/{services.make_partner_token(scene.health.id)}"]
    # Every public GET route of the app is covered (the list above names them all).
    public_endpoints = {r.endpoint for r in app.url_map.iter_rules()
                        if r.endpoint.startswith("outcomes.") and not r.rule.startswith(("/organiser", "/facilitator"))}
    assert public_endpoints == {"outcomes.public_updates", "outcomes.feed", "outcomes.partner",
                                "outcomes.partner_status", "outcomes.partner_reopen"}
    for url in public_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        for secret in SECRETS:
            assert secret not in body, f"{secret!r} leaked on {url}"
    # Sanity: the marker strings really are in the database, and the organiser's report shows them.
    post_form(client, "/login", {"email": organiser.email, "password": "correct horse battery staple"})
    report = client.get(f"/organiser/assemblies/{scene.previous.slug}/report").get_data(as_text=True)
    assert LEAD_PERSON in report and INTERNAL_ACTION_MARK in report


def test_feed_is_valid_atom_and_escapes_hostile_text(client, db):
    assembly = make_assembly(status="closed")
    hostile = "<script>alert(1)</script> & \"quotes\" \u202eRTL 🎉\x01"
    _add_update(assembly, title=hostile[:190], body=f"{hostile}\n\n[link](javascript:alert(1))")
    response = client.get(f"/a/{assembly.slug}/updates.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    raw = response.get_data()
    assert b"<script>" not in raw
    root = ET.fromstring(raw)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith(f"/a/{assembly.slug}/updates.atom")
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text.startswith("<script>alert(1)</script> & \"quotes\"")
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert "<script" not in content.text and 'href="javascript' not in content.text
    assert "&lt;script&gt;" in content.text
    for child in ("id", "updated", "title", "link"):
        assert entry.find(f"{ATOM}{child}") is not None


def test_updates_page_escapes_hostile_text(client, db):
    assembly = make_assembly(status="closed")
    _add_update(assembly, title="<img src=x onerror=alert(1)>", body="<script>alert(2)</script>")
    html = client.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_draft_assembly_updates_are_hidden_from_the_public(client, db):
    assembly = make_assembly(status="draft")
    assert client.get(f"/a/{assembly.slug}/updates").status_code == 404
    assert client.get(f"/a/{assembly.slug}/updates.atom").status_code == 404
    assert client.get("/a/no-such-assembly/updates").status_code == 404


def test_empty_states(client, db):
    assembly = make_assembly(status="open")
    html = client.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)
    assert "No updates have been published yet." in html
    assert "will be published here once the organisers have reviewed them" in html
    root = ET.fromstring(client.get(f"/a/{assembly.slug}/updates.atom").get_data())
    assert root.find(f"{ATOM}entry") is None


def test_updates_are_newest_first(client, db):
    assembly = make_assembly(status="open")
    for day, title in ((1, "First update"), (3, "Third update"), (2, "Second update")):
        services.save_update(assembly, {"title": title, "published_on": date(2026, 10, day), "body": "x"})
    html = client.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)
    assert html.index("Third update") < html.index("Second update") < html.index("First update")
    assert db.session.query(AssemblyUpdate).filter_by(assembly_id=assembly.id).count() == 3


def test_last_years_page_shows_the_status_the_partner_gave_the_carried_action(client, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    # The police lead marks the action done through their partner link (it lists the carried copy).
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    token = page.split(f'name="a{copy.id}-csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post(f"{url}/actions/{copy.id}", data={f"a{copy.id}-csrf_token": token,
                                                           f"a{copy.id}-status": "done"}).status_code == 302
    html = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    item = html.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert "Status: Done" in item and "In progress" not in item


def test_an_update_dated_ahead_is_published_on_its_day(as_organiser, db, monkeypatch):
    """Organisers write the six-month update ahead: it stays off the page and feed until its date (London time)."""
    from datetime import datetime

    import eventapp.outcomes.services as outcome_services

    assembly = make_assembly(status="closed")
    from eventapp import timeutil

    def at(moment):
        # Today is read where the assembly is held (timeutil.local_today), the feed's times here.
        monkeypatch.setattr(outcome_services, "utcnow", lambda: moment)
        monkeypatch.setattr(timeutil, "utcnow", lambda: moment)

    at(datetime(2027, 9, 17, 22, 30))  # 23:30 BST on the 17th
    r = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/updates/new",
                  {"title": "Six months on", "published_on": "2027-09-18", "body": "Progress."}, follow_redirects=True)
    assert "Update saved. It is published on 18 September 2027." in r.get_data(as_text=True)
    listed = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/updates").get_data(as_text=True)
    assert 'Saturday 18 September 2027 <span class="tag">Scheduled</span>' in listed

    def public() -> tuple[str, bytes]:
        return (as_organiser.get(f"/a/{assembly.slug}/updates").get_data(as_text=True),
                as_organiser.get(f"/a/{assembly.slug}/updates.atom").get_data())

    page, feed = public()
    assert "Six months on" not in page and b"Six months on" not in feed
    at(datetime(2027, 9, 17, 23, 0))  # midnight in London
    page, feed = public()
    assert "Six months on" in page and b"Six months on" in feed
    # Written days before, it is new on its day for a feed reader that goes by <updated>.
    entry = ET.fromstring(feed).find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}updated").text == "2027-09-18T09:00:00Z"


def test_an_action_carried_into_the_next_assembly_says_so_on_last_years_page(client, db, organiser):
    # "Due 29 October · Status: Open" alone reads as forgotten: a reader must see it went on to this year's
    # assembly (a link to its page once public), and nothing about one still in draft.
    scene = build_scene(organiser=organiser)
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)
    html = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    item = html.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert f'Carried forward to <a href="/a/{scene.current.slug}/updates#carried">{scene.current.title}</a>' in item
    item = html.split("Publish a who-to-call guide")[1].split("</li>")[0]
    assert "Carried forward" not in item
    scene.current.status = "draft"
    db.session.commit()
    html = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    item = html.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert scene.current.title not in item and "Carried forward to the next assembly" in item


def test_the_updates_page_of_an_assembly_not_yet_held_or_cancelled_does_not_say_it_was_held(client, db, app):
    from datetime import timedelta

    from eventapp.timeutil import utcnow

    coming = make_assembly(status="open", date=date.today() + timedelta(days=90))
    html = client.get(f"/a/{coming.slug}/updates").get_data(as_text=True)
    assert "What was discussed at the assembly" not in html
    assert "The assembly meets on" in html
    coming.cancelled_at = utcnow()
    db.session.commit()
    html = client.get(f"/a/{coming.slug}/updates").get_data(as_text=True)
    assert "What was discussed at the assembly" not in html and "was cancelled" in html
    held = make_assembly(status="closed", date=date.today() - timedelta(days=3))
    assert "What was discussed at the assembly on" in client.get(f"/a/{held.slug}/updates").get_data(as_text=True)


def test_this_years_updates_page_lists_the_actions_carried_into_it(client, db, organiser):
    # The reader who follows "Carried forward to <this year's assembly>" must find the action there,
    # at its current owner, due date and status; an internal one never appears.
    scene = build_scene(organiser=organiser)
    services.carry_forward(scene.current, None, organiser.id)
    (copy,) = [a for a in services.partner_actions(scene.police.id)
               if a.description == scene.overdue_action.description]
    services.set_action_status(copy.id, "done", "", "organiser")
    last_year = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    assert f'href="/a/{scene.current.slug}/updates#carried"' in last_year
    html = client.get(f"/a/{scene.current.slug}/updates").get_data(as_text=True)
    carried = html.split('id="carried"')[1]
    item = carried.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert f"Agreed at {scene.previous.title}" in item and "Status: Done" in item
    assert "Publish a who-to-call guide" in carried
    for secret in SECRETS:
        assert secret not in html


def test_the_feed_carries_each_workshops_published_outcomes_as_an_entry(client, db, organiser):
    # A journalist subscribed to the feed learns when the outcomes are out, not only the organisers' updates.
    scene = build_scene(organiser=organiser)
    root = ET.fromstring(client.get(f"/a/{scene.previous.slug}/updates.atom").get_data())
    (entry,) = [e for e in root.findall(f"{ATOM}entry") if e.find(f"{ATOM}title").text.startswith("Outcomes: ")]
    assert entry.find(f"{ATOM}title").text == f"Outcomes: {scene.old_workshop.title}"
    assert entry.find(f"{ATOM}id").text.endswith(f":outcome:{scene.old_workshop.id}")
    anchor = f"outcome-workshop-{scene.old_workshop.id}"
    assert entry.find(f"{ATOM}link").get("href").endswith(f"/a/{scene.previous.slug}/updates#{anchor}")
    assert f'id="{anchor}">' + scene.old_workshop.title in client.get(f"/a/{scene.previous.slug}/updates").get_data(
        as_text=True)
    content = entry.find(f"{ATOM}content").text
    assert PUBLIC_MARK in content and "Publish a who-to-call guide" in content and scene.police.name in content
    for secret in SECRETS:
        assert secret not in content
    assert root.find(f"{ATOM}updated").text >= entry.find(f"{ATOM}updated").text


def test_a_public_status_says_how_fresh_it_is(client, db, organiser):
    # "In progress" from a year ago and from last week are different news.
    from datetime import datetime

    from eventapp.notes.models import Action

    scene = build_scene(organiser=organiser)
    action = db.session.get(Action, scene.overdue_action.id)
    action.updated_at = datetime(2026, 10, 5, 12, 0)
    db.session.commit()
    html = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    line = html.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert "Status: In progress, as of Monday 5 October 2026" in line
    services.set_action_status(action.id, "done", "Case list live", "partner", organisation_id=scene.police.id)
    html = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    line = html.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert "Status: Done, as of " in line and "5 October 2026" not in line


def test_a_link_to_a_workshops_outcomes_still_leads_there_once_another_is_published_before_it(client, db, organiser):
    # A feed reader keeps an entry's first link, and people share it: it must not come to point at another workshop.
    scene = build_scene(organiser=organiser)
    feed = f"/a/{scene.previous.slug}/updates.atom"

    def link_to(workshop) -> str:
        root = ET.fromstring(client.get(feed).get_data())
        (entry,) = [e for e in root.findall(f"{ATOM}entry")
                    if e.find(f"{ATOM}title").text == f"Outcomes: {workshop.title}"]
        return entry.find(f"{ATOM}link").get("href").split("#")[1]

    before = link_to(scene.old_workshop)
    earlier = make_workshop(scene.old_workshop.round, title="Aardvark first")
    saved, _ = notes_services.save_notes(earlier, {"summary": "Agreed early"}, 0, organiser.id, submit=True)
    notes_services.approve_notes(saved, ["summary"], [], organiser.id)

    page = client.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    assert page.index("Aardvark first") < page.index(scene.old_workshop.title)  # published before it on the page
    assert link_to(scene.old_workshop) == before
    assert f'id="{before}">{scene.old_workshop.title}<' in page
    assert link_to(earlier) != before


def test_the_feed_says_when_an_action_was_carried_forward_as_the_updates_page_does(client, db, organiser):
    # A subscriber must not read last year's "Status: Open" as forgotten, and this year's feed must carry
    # what was taken on from last year, as both updates pages do. Hostile text stays text.
    scene = build_scene(organiser=organiser)
    scene.current.title = "Assembly <b>2027</b> & \u202eRTL"
    scene.previous.title = "Assembly <i>2026</i> & co"
    db.session.commit()
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)

    raw = client.get(f"/a/{scene.previous.slug}/updates.atom").get_data()
    assert b"<b>2027" not in raw
    (entry,) = [e for e in ET.fromstring(raw).findall(f"{ATOM}entry")
                if e.find(f"{ATOM}title").text.startswith("Outcomes: ")]
    item = entry.find(f"{ATOM}content").text.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    href = f"http://localhost/a/{scene.current.slug}/updates#carried"
    assert f'Carried forward to <a href="{href}">Assembly &lt;b&gt;2027&lt;/b&gt; &amp; \u202eRTL</a>' in item
    item = entry.find(f"{ATOM}content").text.split("Publish a who-to-call guide")[1].split("</li>")[0]
    assert "Carried forward" not in item

    raw = client.get(f"/a/{scene.current.slug}/updates.atom").get_data()
    assert b"<i>2026" not in raw
    root = ET.fromstring(raw)
    (entry,) = [e for e in root.findall(f"{ATOM}entry")
                if e.find(f"{ATOM}title").text == "Carried forward from earlier assemblies"]
    assert entry.find(f"{ATOM}id").text.endswith(":carried")
    assert entry.find(f"{ATOM}link").get("href") == href
    assert entry.find(f"{ATOM}updated").text <= root.find(f"{ATOM}updated").text
    content = entry.find(f"{ATOM}content").text
    item = content.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert f"Agreed at Assembly &lt;i&gt;2026&lt;/i&gt; &amp; co ({scene.old_workshop.title})" in item
    assert "Status: In progress" in item and scene.police.name in item
    assert "Publish a who-to-call guide" not in content
    for secret in SECRETS:
        assert secret not in content

    # This year's assembly still a draft: last year's feed does not name it, as its page does not.
    scene.current.status = "draft"
    db.session.commit()
    content = [e for e in ET.fromstring(client.get(f"/a/{scene.previous.slug}/updates.atom").get_data())
               .findall(f"{ATOM}entry") if e.find(f"{ATOM}title").text.startswith("Outcomes: ")][0] \
        .find(f"{ATOM}content").text
    assert "Carried forward to the next assembly" in content and "2027" not in content
