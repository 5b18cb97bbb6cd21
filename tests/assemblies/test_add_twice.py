"""An "Add" form sent twice (a double click, Enter pressed twice, a browser resending after a slow answer) adds once."""
from __future__ import annotations

import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from eventapp import add_once
from eventapp.assemblies.models import AgendaItem, Assembly, Round, Topic, Workshop
from eventapp.extensions import db as _db
from tests.assemblies.test_console import assembly_form
from tests.concurrency import BACKENDS, at_once, own_database
from tests.conftest import PASSWORD, csrf_from, make_test_app, post_form
from tests.factories import make_assembly, make_round, make_topic, make_user
from tests.page_messages import WITHOUT_ISOLATES

ONCE_RE = re.compile(r'name="once"[^>]*? value="([^"]+)"')


def body(resp) -> str:
    return resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)


def _form(client, url: str) -> dict:
    """What the page's add form sends besides what is typed: its CSRF token and its one-time submission token."""
    html = client.get(url).get_data(as_text=True)
    match = ONCE_RE.search(html)
    assert match, "the add form has no one-time submission token"
    return {"csrf_token": csrf_from(html), "once": match.group(1)}


# (what is added, its form's address under the assembly, what is typed, its model, the answer)
CASES = {
    "round": ("rounds/new", {"name": "Afternoon", "starts_at": "14:00", "ends_at": "15:00", "position": "3"},
              Round, "Round saved"),
    "workshop": ("workshops/new", {"title": "County lines", "room": "Room 1", "capacity": "20"},
                 Workshop, "Workshop saved"),
    "agenda item": ("agenda/new", {"starts_at": "10:15", "ends_at": "10:45", "title": "The council's view",
                                   "speaker": "", "organisation_id": "0"},
                    AgendaItem, "Agenda item saved"),
}


def _setup(kind: str):
    a = make_assembly()
    rnd = make_round(a, name="Morning")
    path, typed, model, said = CASES[kind]
    typed = dict(typed)
    if kind == "workshop":
        typed.update(round_id=str(rnd.id), topic_id=str(make_topic("Exploitation").id))
    return a, f"/organiser/assemblies/{a.slug}/{path}", typed, model, said


def _count(db, model, a) -> int:
    stmt = select(func.count()).select_from(model)
    stmt = stmt.join(Round).where(Round.assembly_id == a.id) if model is Workshop else stmt.where(model.assembly_id == a.id)
    return db.session.scalar(stmt)


@pytest.mark.parametrize("kind", list(CASES))
def test_an_add_form_sent_twice_adds_once_and_says_so(as_organiser, db, kind):
    a, url, typed, model, said = _setup(kind)
    before = _count(db, model, a)
    data = {**_form(as_organiser, url), **typed}
    first = as_organiser.post(url, data=data)
    second = as_organiser.post(url, data=data)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    page = body(as_organiser.get(second.headers["Location"]))
    assert f"{said} (by your first click; the second added nothing)." in page
    assert _count(db, model, a) == before + 1


@pytest.mark.parametrize("kind", list(CASES))
def test_two_adds_from_two_forms_both_add(as_organiser, db, kind):
    a, url, typed, model, said = _setup(kind)
    before = _count(db, model, a)
    # Rounds of one assembly differ in name and time: a second round is another one, typed so.
    for second in (False, True):
        if second and kind == "round":
            typed = {**typed, "name": "Late afternoon", "starts_at": "15:00", "ends_at": "15:45"}
        resp = as_organiser.post(url, data={**_form(as_organiser, url), **typed})
        assert resp.status_code == 302
        page = body(as_organiser.get(resp.headers["Location"]))
        assert f"{said}." in page and "by your first click" not in page
    assert _count(db, model, a) == before + 2


def test_a_refused_add_keeps_its_token_and_adds_once_when_corrected(as_organiser, db):
    a, url, typed, model, said = _setup("round")
    data = {**_form(as_organiser, url), **typed}
    refused = as_organiser.post(url, data={**data, "ends_at": "13:00"})
    assert refused.status_code == 400
    assert f'value="{data["once"]}"' in refused.get_data(as_text=True)
    assert as_organiser.post(url, data=data).status_code == 302
    again = as_organiser.post(url, data=data)
    assert "by your first click" in body(as_organiser.get(again.headers["Location"]))
    assert _count(db, model, a) == 1 + 1  # the factory's round and the one added


def test_a_form_sent_again_after_its_window_is_refused_not_added_again(as_organiser, db, monkeypatch):
    a, url, typed, model, said = _setup("agenda item")
    data = {**_form(as_organiser, url), **typed}
    assert as_organiser.post(url, data=data).status_code == 302
    # An agenda item has no name of its own to tell a second one by: only the token stands in the way.
    # The window over: what remembered the first click may be gone, so the token itself is refused.
    later = add_once.clock() + add_once.max_age(as_organiser.application) + 60
    monkeypatch.setattr(add_once, "clock", lambda: later)
    again = as_organiser.post(url, data=data)
    assert again.status_code == 400
    page = body(again)
    assert "This form was opened too long ago" in page
    assert _count(db, model, a) == 1
    # The form shown again carries a fresh token: saving it is the organiser's own new add.
    fresh = ONCE_RE.search(again.get_data(as_text=True)).group(1)
    assert fresh != data["once"]
    assert as_organiser.post(url, data={**data, "once": fresh}).status_code == 302
    assert _count(db, model, a) == 2


def test_a_forged_token_is_refused(as_organiser, db):
    a, url, typed, model, said = _setup("agenda item")
    data = {**_form(as_organiser, url), **typed}
    resp = as_organiser.post(url, data={**data, "once": data["once"][:-2] + "xx"})
    assert resp.status_code == 400 and "This form was opened too long ago" in body(resp)
    assert _count(db, model, a) == 0


def test_remembered_submissions_are_forgotten_after_the_window(as_organiser, db, monkeypatch):
    a, url, typed, model, said = _setup("agenda item")
    assert as_organiser.post(url, data={**_form(as_organiser, url), **typed}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(add_once.Submission)) >= 1
    start = add_once.clock()
    later = start + add_once.max_age(as_organiser.application) + 60
    form = _form(as_organiser, url)
    monkeypatch.setattr(add_once, "clock", lambda: later)
    form = {**form, "once": add_once.issue(as_organiser.application)}
    assert as_organiser.post(url, data={**form, **typed}).status_code == 302
    # Only the latest is kept: every earlier one is past its window, and its token is refused anyway.
    assert db.session.scalar(select(func.count()).select_from(add_once.Submission)) == 1


@pytest.fixture
def database(request, tmp_path):
    with own_database(request.param, tmp_path, "add_twice") as url:
        yield url


def _two_tabs_at_once(app, browser, url: str, data: dict) -> list[tuple[int, str, str]]:
    """Post ``data`` to ``url`` from two tabs sharing ``browser``'s session, side by side (a double click):
    each answer's status, Location and the page it leads to, after checking both redirected."""
    cookie = browser.get_cookie("session").value

    def click(i, ready):
        tab = app.test_client()
        tab.set_cookie("session", cookie)
        ready()
        resp = tab.post(url, data=data)
        return resp.status_code, resp.headers.get("Location"), body(tab.get(resp.headers["Location"]))

    answers, errors = at_once(app, 2, click)
    assert not errors
    assert [code for code, _, _ in answers] == [302, 302]
    return answers


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_two_clicks_arriving_together_add_once(database):
    """Both requests of a double click carry the same session cookie and token, and may run side by side."""
    app = make_test_app(database, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 4, "max_overflow": 0})
    with app.app_context():
        upgrade()
        a = make_assembly()
        make_user("organiser", email="organiser@example.org")
        slug, assembly_id = a.slug, a.id
        _db.session.remove()
    browser = app.test_client()
    url = f"/organiser/assemblies/{slug}/agenda/new"
    assert post_form(browser, "/login", {"email": "organiser@example.org", "password": PASSWORD}).status_code == 302
    data = {**_form(browser, url), "starts_at": "10:15", "ends_at": "10:45", "title": "Welcome", "organisation_id": "0"}
    answers = _two_tabs_at_once(app, browser, url, data)
    assert answers[0][1] == answers[1][1]
    said = sorted("by your first click; the second added nothing" in page for _, _, page in answers)
    assert said == [False, True]
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(AgendaItem)
                                  .where(AgendaItem.assembly_id == assembly_id)) == 1
        _db.session.remove()
        _db.engine.dispose()


def test_add_a_topic_sent_twice_says_it_was_saved_not_that_it_exists(as_organiser, db):
    url = "/organiser/topics/new"
    data = {**_form(as_organiser, url), "name": "Hate crime", "description": ""}
    first = as_organiser.post(url, data=data)
    second = as_organiser.post(url, data=data)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    page = body(as_organiser.get(second.headers["Location"]))
    assert "Topic saved (by your first click; the second added nothing)." in page
    assert "already in the list" not in page
    assert db.session.scalar(select(func.count()).select_from(Topic).where(Topic.name == "Hate crime")) == 1




@pytest.mark.parametrize("copy", [False, True], ids=["new", "copy"])
def test_a_new_assembly_sent_twice_is_created_once_and_says_so(as_organiser, db, copy):
    if copy:
        source = make_assembly()
        make_round(source, name="Morning")
        url, said = f"/organiser/assemblies/{source.slug}/copy", "created from"
        typed = {**assembly_form(slug="shireford-2028", date="2028-03-16"), "copy_workshops": "y"}
    else:
        url, said = "/organiser/assemblies/new", "created. Next, add its rounds and workshops"
        typed = assembly_form(slug="shireford-2028", date="2028-03-16")
    data = {**_form(as_organiser, url), **typed}
    first = as_organiser.post(url, data=data)
    second = as_organiser.post(url, data=data)
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"] == "/organiser/assemblies/shireford-2028"
    page = body(as_organiser.get(second.headers["Location"]))
    assert f"{said}" in page and "(by your first click; the second added nothing)." in page
    assert "already uses that web address" not in page
    assert db.session.scalar(select(func.count()).select_from(Assembly).where(Assembly.slug == "shireford-2028")) == 1
    new = db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2028"))
    if copy:
        assert [r.name for r in new.rounds] == ["Morning"]


def test_a_new_assembly_with_a_taken_address_is_still_refused(as_organiser, db):
    taken = make_assembly()
    url = "/organiser/assemblies/new"
    resp = as_organiser.post(url, data={**_form(as_organiser, url), **assembly_form(slug=taken.slug)})
    assert resp.status_code == 400 and "Another assembly already uses that web address." in body(resp)


def test_a_new_assembly_form_without_a_token_still_creates(as_organiser, db):
    url = "/organiser/assemblies/new"
    form = _form(as_organiser, url)
    resp = as_organiser.post(url, data={"csrf_token": form["csrf_token"], **assembly_form(slug="shireford-2029")})
    assert resp.status_code == 302
    assert "created. Next" in body(as_organiser.get(resp.headers["Location"]))
    assert db.session.scalar(select(func.count()).select_from(Assembly).where(Assembly.slug == "shireford-2029")) == 1
    # The edit form has no token: saving it twice saves it twice, as before.
    edit = "/organiser/assemblies/shireford-2029/edit"
    assert ONCE_RE.search(as_organiser.get(edit).get_data(as_text=True)) is None


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_two_clicks_creating_an_assembly_together_create_it_once(database):
    """On PostgreSQL the second click's insert clashes on the web address, which the service tells as a refusal."""
    app = make_test_app(database, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 4, "max_overflow": 0})
    with app.app_context():
        upgrade()
        make_user("organiser", email="organiser@example.org")
        _db.session.remove()
    browser = app.test_client()
    url = "/organiser/assemblies/new"
    assert post_form(browser, "/login", {"email": "organiser@example.org", "password": PASSWORD}).status_code == 302
    data = {**_form(browser, url), **assembly_form(slug="shireford-2028")}
    answers = _two_tabs_at_once(app, browser, url, data)
    assert answers[0][1] == answers[1][1] == "/organiser/assemblies/shireford-2028"
    said = sorted("by your first click; the second added nothing" in page for _, _, page in answers)
    assert said == [False, True]
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Assembly)
                                  .where(Assembly.slug == "shireford-2028")) == 1
        _db.session.remove()
        _db.engine.dispose()
