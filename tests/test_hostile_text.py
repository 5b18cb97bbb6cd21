"""Hostile text is stored exactly as typed and always rendered escaped."""
from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import select

from eventapp.assemblies.models import Assembly, Topic, Workshop
from eventapp.organisations.models import Organisation
from tests.conftest import post_form
from tests.factories import make_assembly, make_round, make_topic

SCRIPT = "<script>alert('x')</script> & \"quotes\""
CRLF = "Line one\r\nSet-Cookie: evil=1"
EMOJI = "Assembly 🛡️👮‍♀️🏳️‍🌈"
RTL = "جمعية السلامة \u202eevil\u202c עברית"
BIG = "W" * 10_000

HOSTILE = [SCRIPT, CRLF, EMOJI, RTL]


def _assert_escaped(page: str, value: str) -> None:
    assert "<script>alert" not in page
    assert str(escape(value)) in page


@pytest.mark.parametrize("title", HOSTILE, ids=["script", "crlf", "emoji", "rtl"])
def test_hostile_assembly_title_is_stored_faithfully_and_escaped(as_organiser, client, db, title):
    from tests.assemblies.test_console import assembly_form

    resp = post_form(as_organiser, "/organiser/assemblies/new", assembly_form(title=title, slug="hostile",
                                                                             summary=title, venue_name=title))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    stored = db.session.scalar(select(Assembly).where(Assembly.slug == "hostile"))
    assert stored.title == title and stored.venue_name == title
    assert stored.summary == title.replace("\r\n", "\n") or stored.summary == title

    for path in ("/organiser/assemblies/hostile", "/a/hostile", "/organiser/", "/", "/organiser/assemblies/hostile/edit"):
        page = as_organiser.get(path).get_data(as_text=True)
        assert "<script>alert" not in page, path
    detail = as_organiser.get("/organiser/assemblies/hostile").get_data(as_text=True)
    _assert_escaped(detail, title.splitlines()[0])


def test_hostile_names_in_organisations_topics_and_workshops(as_organiser, db):
    for i, name in enumerate(HOSTILE):
        resp = post_form(as_organiser, "/organiser/organisations/new", {"name": name, "sector": "other",
                                                                       "status": "pending"})
        assert resp.status_code == 302, name
        resp = post_form(as_organiser, "/organiser/topics/new", {"name": name, "description": name})
        assert resp.status_code == 302, name
    orgs = set(db.session.scalars(select(Organisation.name)))
    # Names are stored as typed, apart from runs of whitespace (incl. CR/LF) folded to one space.
    assert orgs == {" ".join(n.split()) for n in HOSTILE}
    listing = as_organiser.get("/organiser/organisations/").get_data(as_text=True)
    topics = as_organiser.get("/organiser/topics").get_data(as_text=True)
    for page in (listing, topics):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;" in page
        assert EMOJI in page and " ".join(RTL.split()) in page

    assembly = make_assembly(slug="hostile-workshops")
    rnd = make_round(assembly)
    topic = db.session.scalar(select(Topic).where(Topic.name == SCRIPT))
    resp = post_form(as_organiser, "/organiser/assemblies/hostile-workshops/workshops/new",
                     {"round_id": rnd.id, "topic_id": topic.id, "title": SCRIPT, "description": CRLF + EMOJI,
                      "room": RTL, "capacity": "10"})
    assert resp.status_code == 302
    w = db.session.scalar(select(Workshop).where(Workshop.round_id == rnd.id))
    assert (w.title, w.room) == (SCRIPT, RTL)
    assert w.description.replace("\r\n", "\n") == (CRLF + EMOJI).replace("\r\n", "\n")
    public = as_organiser.get("/a/hostile-workshops").get_data(as_text=True)
    assert "<script>alert" not in public and "&lt;script&gt;" in public and RTL in public


def test_ten_kilobytes_of_text_is_stored_whole(as_organiser, db):
    from tests.assemblies.test_console import assembly_form

    resp = post_form(as_organiser, "/organiser/assemblies/new",
                     assembly_form(slug="big-text", summary=BIG, privacy_notice=BIG))
    assert resp.status_code == 302
    stored = db.session.scalar(select(Assembly).where(Assembly.slug == "big-text"))
    assert stored.summary == BIG and stored.privacy_notice == BIG
    assert BIG in as_organiser.get("/a/big-text").get_data(as_text=True)
    topic = make_topic()
    resp = post_form(as_organiser, f"/organiser/topics/{topic.id}/edit", {"name": topic.name, "description": BIG})
    assert resp.status_code == 302
    db.session.refresh(topic)
    assert topic.description == BIG


def test_hostile_text_in_a_flash_message_is_escaped(as_organiser):
    resp = post_form(as_organiser, "/organiser/organisations/new", {"name": SCRIPT, "sector": "other",
                                                                   "status": "approved"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "saved." in page and "<script>alert" not in page
