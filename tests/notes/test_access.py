"""Every route of the facilitator workspace, with every role: only the right people get in."""
from __future__ import annotations

import pytest

from eventapp.notes import services
from tests.conftest import csrf_from, tickets_from
from tests.factories import make_user, PASSWORD

from .helpers import notes_form, scene

AREAS = ("notes.", "facilitators.")
ROLES = ("anonymous", "other_facilitator", "facilitator", "organiser")
OK, FORBIDDEN, LOGIN = "ok", "forbidden", "login"

# (endpoint, method) -> expectation per role. 'ok' is a 2xx/3xx answer that is not a
# redirect to the sign-in page; 'forbidden' is 403 or 404; 'login' is a redirect to sign in
# (or a 401 for the JSON autosave).
EXPECTED = {
    ("facilitators.home", "GET"): dict(anonymous=LOGIN, other_facilitator=OK, facilitator=OK, organiser=OK),
    ("notes.attendance", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.attendance", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.walk_in", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.edit", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.save", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.resume", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.autosave", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.revisions", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.actions", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.actions", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.edit_action", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.edit_action", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=OK, organiser=OK),
    ("notes.overview", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=FORBIDDEN, organiser=OK),
    ("notes.review", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=FORBIDDEN, organiser=OK),
    ("notes.review", "POST"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=FORBIDDEN, organiser=OK),
    ("notes.all_actions", "GET"): dict(anonymous=LOGIN, other_facilitator=FORBIDDEN, facilitator=FORBIDDEN,
                                       organiser=OK),
}


def _routes(app):
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(AREAS):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found.add((rule.endpoint, method))
    return found


def test_every_route_of_the_area_has_an_expectation(app):
    # A new route without an entry here fails this test until someone decides who may use it.
    assert _routes(app) == set(EXPECTED)


def _login(client, email):
    page = client.get("/login")
    resp = client.post("/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "email": email,
                                       "password": PASSWORD})
    assert resp.status_code == 302


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_what_it_should(app, client, facilitator, role):
    s = scene(facilitator)
    organiser = make_user("organiser", email="boss@example.org")
    stranger = make_user("facilitator", email="stranger@example.org")
    action = services.add_action(s.workshop, {"description": "Share the referral map", "owner_organisation_id":
                                              s.police.id, "due_date": s.assembly.date, "status": "open"}, None)
    services.save_notes(s.workshop, notes_form(summary="Before"), 0, None, submit=True)
    email = {"other_facilitator": stranger.email, "facilitator": facilitator.email, "organiser": organiser.email}
    # A token for POSTs, from a page anyone can open, then sign in (the token survives it).
    token = csrf_from(client.get("/login").get_data(as_text=True))
    if role != "anonymous":
        _login(client, email[role])
    wid, slug = s.workshop.id, s.assembly.slug
    urls = {
        "facilitators.home": "/facilitator/",
        "notes.attendance": f"/facilitator/workshops/{wid}/attendance",
        "notes.walk_in": f"/facilitator/workshops/{wid}/attendance/walk-in",
        "notes.edit": f"/facilitator/workshops/{wid}/notes",
        "notes.save": f"/facilitator/workshops/{wid}/notes",
        "notes.resume": f"/facilitator/workshops/{wid}/notes/resume",
        "notes.autosave": f"/facilitator/workshops/{wid}/notes/autosave",
        "notes.revisions": f"/facilitator/workshops/{wid}/notes/revisions",
        "notes.actions": f"/facilitator/workshops/{wid}/actions",
        "notes.edit_action": f"/facilitator/workshops/{wid}/actions/{action.id}/edit",
        "notes.overview": f"/organiser/assemblies/{slug}/notes",
        "notes.review": f"/organiser/assemblies/{slug}/notes/{wid}",
        "notes.all_actions": "/organiser/actions",
    }
    bodies = {
        "notes.attendance": {f"mark-r{s.allocated[0].id}": "present"},
        "notes.walk_in": {"registration_id": "0", "name": "Walk In", "organisation": "Somewhere"},
        # Based on the version stored at the time of the request (autosave may have run first).
        "notes.save": lambda: notes_form(version=services.notes_for(wid).version, summary="After, saved"),
        "notes.autosave": notes_form(version=1, summary="After"),
        "notes.actions": {"description": "x", "owner_organisation_id": str(s.police.id), "due_date": "2027-06-30",
                          "status": "open"},
        "notes.edit_action": {"description": "y", "owner_organisation_id": str(s.police.id),
                              "due_date": "2027-06-30", "status": "open", "version": "1"},
        "notes.review": {"sections": "summary"},
    }
    # Who the workshop's forms were shown to, as its pages give it to this person (none if they cannot open them).
    tickets = {**tickets_from(client.get(urls["notes.actions"]).get_data(as_text=True)),
               **tickets_from(client.get(urls["notes.edit"]).get_data(as_text=True))}
    failures = []
    for (endpoint, method), expectations in sorted(EXPECTED.items()):
        expected = expectations[role]
        if method == "GET":
            resp = client.get(urls[endpoint])
        else:
            body = bodies.get(endpoint, {})
            resp = client.post(urls[endpoint], data={"csrf_token": token, **tickets,
                                                     **(body() if callable(body) else body)})
        code = resp.status_code
        location = resp.headers.get("Location", "")
        if expected == OK:
            good = code < 400 and "/login" not in location
        elif expected == FORBIDDEN:
            good = code in (403, 404)
        else:
            good = (code == 302 and location.startswith("/login")) or (code == 401 and endpoint == "notes.autosave")
        if not good:
            failures.append(f"{role} {method} {urls[endpoint]}: {code} {location} (expected {expected})")
    assert not failures, "\n".join(failures)
    # Whatever the role, nothing reached another workshop.
    assert services.notes_for(s.other.id) is None
    if role in ("anonymous", "other_facilitator"):
        notes = services.notes_for(s.workshop.id)
        assert notes.section("summary").body == "Before"
        assert services.workshop_actions(s.workshop.id)[0].description == "Share the referral map"


def test_another_workshops_notes_attendance_and_actions_stay_hidden(as_facilitator, facilitator):
    s = scene(facilitator)
    secret = services.add_action(s.other, {"description": "Secret plan for exploitation hotspot",
                                           "owner_organisation_id": s.police.id, "due_date": s.assembly.date}, None)
    services.save_notes(s.other, notes_form(summary="Named victim discussed in confidence"), 0, None)
    for url in (f"/facilitator/workshops/{s.other.id}/notes", f"/facilitator/workshops/{s.other.id}/attendance",
                f"/facilitator/workshops/{s.other.id}/actions", f"/facilitator/workshops/{s.other.id}/notes/revisions",
                f"/facilitator/workshops/{s.other.id}/actions/{secret.id}/edit",
                f"/facilitator/workshops/{s.workshop.id}/actions/{secret.id}/edit"):
        resp = as_facilitator.get(url)
        assert resp.status_code in (403, 404), url
        body = resp.get_data(as_text=True)
        assert "Named victim" not in body and "Secret plan" not in body and "Dev Patel" not in body
    home = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert "Dev Patel" not in home and "Criminal exploitation" not in home
