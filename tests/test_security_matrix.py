"""Who may open what: every URL rule × every role → the status in EXPECTED below.

Roles: anonymous; delegate (holds the emailed personal links: a registration's manage and
calendar links, and in this column also a partner lead's link and a password reset link;
not signed in); facilitator of another workshop; facilitator of the workshop; organiser;
reception (checks delegates in on the day: the check-in pages and nothing else).
URLs are built from real ids, slugs and tokens of a seeded assembly (tests/production/world.py).
Token routes get the real token for the delegate and a forged one for everyone else: the
link is the only key, whoever is signed in.

Each role's GETs run first, then its POSTs (a valid CSRF token and nothing else: enough to
reach the authorisation check, rarely enough to change anything), with state-changing
ones last. A route with no entry fails with a message saying what to add.

Statuses: an int, or "login" (302 to the sign-in page).
"""
from __future__ import annotations

import time

import pytest

from tests.conftest import CSRF_RE, PASSWORD
from tests.production.world import ROLES, build_world

A, D, OF, F, O, R = ROLES  # anonymous, delegate, other_facilitator, facilitator, organiser, reception

LOGIN = "login"


def every(status):
    return {role: status for role in ROLES}


def staff_only(organiser, facilitator=403, anonymous=LOGIN, reception=None):
    """Signed-in pages: anonymous and delegates are sent to sign in; reception as facilitators unless said."""
    return {A: anonymous, D: anonymous, OF: facilitator, F: facilitator, O: organiser,
            R: facilitator if reception is None else reception}


def organiser_only(status=200):
    return staff_only(status)


def workshop_page(status=200, organiser=None):
    """A facilitator's workshop page: theirs only (organisers see every workshop)."""
    return {A: LOGIN, D: LOGIN, OF: 403, F: status, O: status if organiser is None else organiser, R: 403}


def token_page(status=200, forged=404):
    return {A: forged, D: status, OF: forged, F: forged, O: forged, R: forged}


def reception_page(status=200):
    """The check-in pages: organisers and reception."""
    return staff_only(status, reception=status)


# endpoint → {method → {role → status}}. Keep in step with the routes: a new route
# without an entry fails test_every_route_has_an_entry.
EXPECTED: dict[str, dict[str, dict[str, object]]] = {
    # public
    "assemblies.index": {"GET": every(200)},
    "assemblies.public": {"GET": every(200)},
    "assemblies.accessibility": {"GET": every(200)},
    "assemblies.cookies": {"GET": every(200)},
    "invites.agenda": {"GET": every(200)},
    "registration.register": {"GET": every(200), "POST": every(400)},
    "registration.registered": {"GET": every(200)},
    # Only a browser that has just registered may correct its address; the matrix has none.
    "registration.correct_email": {"GET": every(410), "POST": every(410)},
    "ops.healthz": {"GET": every(200)},
    "ops.readyz": {"GET": every(200)},
    "static": {"GET": every(200)},
    "accounts.login": {"GET": {A: 200, D: 200, OF: 302, F: 302, O: 302, R: 302},
                       "POST": {A: 400, D: 400, OF: 302, F: 302, O: 302, R: 302}},
    "accounts.logout": {"POST": staff_only(302, 302)},
    "accounts.change_password": {"GET": staff_only(200, 200), "POST": staff_only(400, 400)},
    "accounts.forgot_password": {"GET": every(200), "POST": every(400)},
    # Nobody in the world uses two-step sign-in: without a fresh right password there is no code to ask for.
    "accounts.two_step_login": {"GET": {A: LOGIN, D: LOGIN, OF: 302, F: 302, O: 302, R: 302},
                                "POST": {A: LOGIN, D: LOGIN, OF: 302, F: 302, O: 302, R: 302}},
    # Set-up page (a wrong code: 400); switching off and new codes go back to it while two-step is off.
    "accounts.two_step": {"GET": staff_only(200, 200, reception=200), "POST": staff_only(400, 400, reception=400)},
    "accounts.two_step_off": {"POST": staff_only(302, 302, reception=302)},
    "accounts.two_step_codes": {"POST": staff_only(302, 302, reception=302)},
    # The "delegate" column holds every emailed personal link: here a password reset link.
    "accounts.reset_password": {"GET": token_page(), "POST": token_page(400)},
    # delegate's personal links
    "registration.manage": {"GET": token_page()},
    "registration.manage_edit": {"GET": token_page(), "POST": token_page(400)},
    "registration.manage_cancel": {"GET": token_page(), "POST": token_page(302)},
    "registration.manage_data": {"GET": token_page()},
    "registration.resend": {"GET": every(200), "POST": every(400)},
    "registration.confirm": {"GET": token_page(), "POST": token_page(302)},
    "invites.feed": {"GET": token_page()},
    # facilitator
    "facilitators.home": {"GET": staff_only(200, 200, reception=403)},
    # A workshop's forms name who they were shown to (typed_by, or the notes' keep ticket): posted without
    # it, from someone allowed, nothing is saved and the form comes back to confirm (409).
    "notes.actions": {"GET": workshop_page(), "POST": workshop_page(409)},
    "notes.edit_action": {"GET": workshop_page(), "POST": workshop_page(409)},
    "notes.attendance": {"GET": workshop_page(), "POST": workshop_page(409)},
    "notes.walk_in": {"POST": workshop_page(409)},
    "notes.edit": {"GET": workshop_page()},
    "notes.save": {"POST": workshop_page(409)},
    "notes.autosave": {"POST": {A: 401, D: 401, OF: 403, F: 409, O: 409, R: 403}},
    "notes.resume": {"GET": workshop_page(302)},
    "notes.revisions": {"GET": workshop_page()},
    # organiser
    "assemblies.organiser_index": {"GET": organiser_only()},
    "notes.all_actions": {"GET": organiser_only()},
    "assemblies.detail": {"GET": organiser_only()},
    "assemblies.delete_agenda_item": {"GET": organiser_only(), "POST": organiser_only(302)},
    "assemblies.agenda_form": {"GET": organiser_only(), "POST": organiser_only(400)},
    "placements.index": {"GET": organiser_only()},
    "placements.delegates": {"GET": organiser_only()},
    "placements.delegates_csv": {"GET": organiser_only()},
    "placements.move": {"GET": organiser_only(), "POST": organiser_only(302)},
    # a confirm page; Yes removes the world's pin (a second Yes says it was removed already)
    "placements.unpin": {"GET": organiser_only(), "POST": organiser_only(302)},
    "placements.publish": {"GET": organiser_only(), "POST": organiser_only(302)},
    "placements.run": {"POST": organiser_only(302)},
    # the world's allocation is a proposal: both send back to the allocation page
    "placements.place_missing": {"GET": organiser_only(302), "POST": organiser_only(302)},
    "assemblies.edit_assembly": {"GET": organiser_only(), "POST": organiser_only(400)},
    "assemblies.copy_assembly": {"GET": organiser_only(), "POST": organiser_only(400)},
    "notes.overview": {"GET": organiser_only()},
    # The world's workshop has an action and no notes: its actions are approved on their own (none ticked).
    "notes.review": {"GET": organiser_only(), "POST": organiser_only(302)},
    "registration.organiser_index": {"GET": organiser_only()},
    "registration.organiser_export": {"GET": organiser_only()},
    "registration.organiser_move": {"POST": organiser_only(302)},
    "registration.organiser_reinstate": {"POST": organiser_only(302)},
    "registration.organiser_send_link": {"POST": organiser_only(302)},
    "registration.organiser_cancel": {"GET": organiser_only(), "POST": organiser_only(302)},
    "registration.organiser_edit": {"GET": organiser_only(), "POST": organiser_only(400)},
    "registration.organiser_counts": {"GET": organiser_only()},
    "registration.organiser_day_sheets": {"GET": organiser_only()},
    "registration.organiser_duplicates": {"GET": organiser_only()},
    "registration.organiser_import": {"GET": organiser_only(), "POST": organiser_only(400)},
    "registration.organiser_new": {"GET": organiser_only(), "POST": organiser_only(400)},
    "registration.organiser_promote": {"POST": organiser_only(302)},
    # With nothing ticked (the matrix sends no ids), both send the organiser back to the list.
    "registration.organiser_bulk_cancel": {"GET": organiser_only(302), "POST": organiser_only(302)},
    "registration.organiser_unconfirmed": {"GET": organiser_only()},
    # Without the address of the form the page showed, nothing is changed: back to the list.
    # without the form's key in the link: back to the list, nothing deleted
    "registration.organiser_withdraw_pending": {"GET": organiser_only(302), "POST": organiser_only(302)},
    "registration.organiser_confirm_pending": {"POST": organiser_only(302)},
    "assemblies.delete_round": {"GET": organiser_only(), "POST": organiser_only(302)},
    "assemblies.cancel_assembly": {"GET": organiser_only(), "POST": organiser_only(302)},
    "assemblies.reinstate_assembly": {"GET": organiser_only(), "POST": organiser_only(302)},
    "assemblies.round_form": {"GET": organiser_only(), "POST": organiser_only(400)},
    "assemblies.delete_workshop": {"GET": organiser_only(), "POST": organiser_only(302)},
    "assemblies.workshop_form": {"GET": organiser_only(), "POST": organiser_only(400)},
    "assemblies.new_assembly": {"GET": organiser_only(), "POST": organiser_only(400)},
    "organisations.index": {"GET": organiser_only()},
    "organisations.approve": {"POST": organiser_only(302)},
    "organisations.form": {"GET": organiser_only(), "POST": organiser_only(400)},
    "organisations.merge": {"GET": organiser_only(), "POST": organiser_only(400)},
    "mail.index": {"GET": organiser_only()},
    "mail.outbox_csv": {"GET": organiser_only()},
    "mail.detail": {"GET": organiser_only()},
    "mail.html_body": {"GET": organiser_only()},
    "mail.ics": {"GET": organiser_only(404)},  # this message carries no invitation
    "mail.eml": {"GET": organiser_only()},
    "mail.resend": {"POST": organiser_only(302)},
    "mail.retry_failed": {"POST": organiser_only(302)},
    "assemblies.topics": {"GET": organiser_only()},
    "assemblies.topic_form": {"GET": organiser_only(), "POST": organiser_only(400)},
    "accounts.users": {"GET": organiser_only()},
    "audit.index": {"GET": organiser_only()},
    "audit.export": {"GET": organiser_only()},
    # outcomes: public updates, the organiser's report and tracker, partner leads' personal links
    "outcomes.public_updates": {"GET": every(200)},
    "outcomes.feed": {"GET": every(200)},
    "outcomes.history": {"GET": workshop_page()},
    # The world's action is this assembly's own, not an earlier one's: not in the history.
    "outcomes.history_status": {"POST": workshop_page(404)},
    "outcomes.carry_forward": {"GET": organiser_only(), "POST": organiser_only(400)},
    "outcomes.undo_carry": {"GET": organiser_only(404), "POST": organiser_only(404)},
    "outcomes.report": {"GET": organiser_only()},
    "outcomes.report_csv": {"GET": organiser_only()},
    "outcomes.report_json": {"GET": organiser_only()},
    "outcomes.updates": {"GET": organiser_only()},
    "outcomes.delete_update": {"GET": organiser_only(), "POST": organiser_only(302)},
    "outcomes.update_form": {"GET": organiser_only(), "POST": organiser_only(400)},
    "outcomes.partners": {"GET": organiser_only()},
    "outcomes.partner_contact": {"GET": organiser_only(), "POST": organiser_only(302)},
    "outcomes.revoke_links": {"GET": organiser_only(), "POST": organiser_only(302)},
    "outcomes.send_link": {"POST": organiser_only(302)},
    "outcomes.send_links": {"GET": organiser_only(), "POST": organiser_only(400)},  # no send key: refused
    "outcomes.tracker": {"GET": organiser_only()},
    # Names who it was shown to (typed_by), as the workshop's forms: posted without it, 409 to confirm.
    "outcomes.organiser_status": {"GET": organiser_only(), "POST": organiser_only(409)},
    # The world's action is a workshop's own: it is changed on its workshop's page (a redirect).
    "outcomes.edit_carried_action": {"GET": organiser_only(302), "POST": organiser_only(302)},
    "outcomes.partner": {"GET": token_page()},
    "outcomes.partner_status": {"POST": token_page(400)},
    # The seeded action is open: nothing to reopen, so the partner is sent back to their page with a message.
    "outcomes.partner_reopen": {"POST": token_page(302)},
    "accounts.new_user": {"GET": organiser_only(), "POST": organiser_only(400)},
    # the world's spare account, deactivated then reactivated (each POST goes back to the list of users)
    "accounts.deactivate_user": {"GET": organiser_only(), "POST": organiser_only(302)},
    "accounts.reactivate_user": {"POST": organiser_only(302)},
    # the spare account has no two-step sign-in: the page says so, and a reset changes nothing
    "accounts.reset_two_step": {"GET": organiser_only(), "POST": organiser_only(302)},
    # organisers' emails to delegates (a POST with only its CSRF token shows the form again)
    "messages.index": {"GET": organiser_only()},
    "messages.compose": {"GET": organiser_only(), "POST": organiser_only()},
    "messages.detail": {"GET": organiser_only()},
    # the world's message was sent at once: nothing to cancel, back to it with a message
    "messages.cancel": {"GET": organiser_only(302), "POST": organiser_only(302)},
    # an assembly's documents (a POST with only its CSRF token has no file: 400)
    "documents.index": {"GET": organiser_only(), "POST": organiser_only(400)},
    "documents.edit": {"GET": organiser_only(), "POST": organiser_only(302)},
    "documents.delete": {"GET": organiser_only(), "POST": organiser_only(302)},
    # no direction given: refused with a message, back to the list
    "documents.move": {"POST": organiser_only(302)},
    "documents.organiser_file": {"GET": organiser_only()},
    "documents.public_file": {"GET": every(200)},
    "documents.delegate_file": {"GET": token_page()},
    # reception (the world's assembly is next year: marking an arrival is refused, back to the page with why)
    "checkin.home": {"GET": reception_page()},
    "checkin.index": {"GET": reception_page()},
    "checkin.arrived": {"POST": reception_page(302)},
    "checkin.undo": {"POST": reception_page(302)},
    # the world's token is not a check-in code: nobody is found (404; the others are sent to sign in first)
    "checkin.scan": {"GET": reception_page(404)},
    # before the day it says when the certificate will be there
    "checkin.certificate": {"GET": token_page()},
    # feedback: before the day the delegate's page says when they can give it (and a POST changes nothing)
    "feedback.give": {"GET": token_page(), "POST": token_page()},
    "feedback.results": {"GET": organiser_only()},
    "feedback.results_csv": {"GET": organiser_only()},
}

# Rules whose expectation differs from their endpoint's (same endpoint, another URL).
# An edit form posted with nothing but its CSRF token keeps the stored values (WTForms
# leaves absent fields alone), so it saves unchanged and redirects; the "new" form is 400.
# A workshop's action form also lacks who it was shown to: refused with 409 before anything is saved.
BY_RULE: dict[str, dict[str, dict[str, object]]] = {
    "/facilitator/workshops/<int:workshop_id>/actions/<int:action_id>/edit":
        {"GET": workshop_page(), "POST": workshop_page(409)},
    "/organiser/assemblies/<slug>/agenda/<int:item_id>/edit": {"GET": organiser_only(), "POST": organiser_only(302)},
    "/organiser/assemblies/<slug>/rounds/<int:round_id>/edit": {"GET": organiser_only(), "POST": organiser_only(302)},
    "/organiser/organisations/<int:org_id>/edit": {"GET": organiser_only(), "POST": organiser_only(302)},
    "/organiser/topics/<int:topic_id>/edit": {"GET": organiser_only(), "POST": organiser_only(302)},
    "/organiser/assemblies/<slug>/updates/<int:update_id>/edit": {"GET": organiser_only(), "POST": organiser_only(302)},
}

# Run these POSTs last, in this order: they change or end what the others rely on.
LAST = ("documents.delete", "registration.organiser_withdraw_pending", "registration.organiser_confirm_pending", "placements.publish", "outcomes.revoke_links", "outcomes.delete_update", "registration.manage_cancel", "registration.organiser_cancel",
        "assemblies.cancel_assembly", "assemblies.reinstate_assembly", "assemblies.delete_agenda_item", "assemblies.delete_workshop", "assemblies.delete_round", "accounts.logout")


def rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def test_every_route_has_an_entry(app):
    missing = []
    for rule in rules(app):
        table = BY_RULE.get(rule.rule) or EXPECTED.get(rule.endpoint)
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if table is None or set(methods) - set(table):
            missing.append(f"{rule.endpoint} {rule.rule} {methods}")
    assert not missing, (
        "These routes have no expected statuses in tests/test_security_matrix.py EXPECTED "
        "(add an entry: endpoint → method → role → status):\n  " + "\n  ".join(missing))


def _forged(token: str) -> str:
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


def build_url(app, rule, world, role: str) -> str:
    values = {}
    for arg in rule.arguments:
        if arg == "token":
            token = {"invites.feed": world.feed_token, "outcomes.partner": world.partner_token,
                     "outcomes.partner_status": world.partner_token, "outcomes.partner_reopen": world.partner_token,
                     "accounts.reset_password": world.reset_token,
                     "registration.confirm": world.confirm_token}.get(rule.endpoint, world.manage_token)
            values[arg] = token if role == D else _forged(token)
        elif arg == "filename":
            values[arg] = "app.css"
        elif arg == "action":
            values[arg] = "waiting"
        else:
            values[arg] = world.ids[arg]
    with app.test_request_context():
        return rule.build(values, append_unknown=False)[1]


def sign_in(client, role: str, world) -> None:
    user = {OF: world.other_facilitator, F: world.facilitator, O: world.organiser, R: world.reception}.get(role)
    if user is None:
        return
    page = client.get("/login")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD})
    assert response.status_code == 302, "sign-in failed"


def csrf_token(client) -> str:
    # Any page with a form gives the session's token; /login answers everyone but
    # redirects the signed-in, so they use the change-password form.
    for url in ("/login", "/account/password"):
        match = CSRF_RE.search(client.get(url).get_data(as_text=True))
        if match:
            return match.group(1)
    raise AssertionError("no page with a CSRF token")


def outcome(response) -> object:
    if response.status_code == 302 and response.headers["Location"].split("?")[0].endswith("/login"):
        return LOGIN
    return response.status_code


def check_headers(response, url: str, endpoint: str = "") -> None:
    h = response.headers
    directives = {}
    for part in h.get("Content-Security-Policy", "").split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    script = directives.get("script-src", directives.get("default-src", ""))
    assert script in ("'self'", "'none'"), f"{url}: script-src {script!r} (no inline script, ever)"
    if endpoint == "mail.html_body" and "sandbox" in directives:
        # An email's own HTML, shown in an iframe of the outbox page: sandboxed (no
        # script runs at all), nothing loads, and only our own page may frame it.
        assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'self'", url
    else:
        assert directives.get("frame-ancestors") == "'none'", url
        assert h.get("X-Frame-Options") == "DENY", url
    assert h.get("X-Content-Type-Options") == "nosniff", url
    assert h.get("Referrer-Policy"), url
    assert h.get("X-Request-ID"), url
    assert "Strict-Transport-Security" not in h, f"{url}: HSTS over plain HTTP would lock out a county's LAN setup"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_every_role(app, db, role):
    world = build_world()
    client = app.test_client()
    sign_in(client, role, world)
    wrong = []
    posts = []
    for rule in rules(app):
        table = BY_RULE.get(rule.rule) or EXPECTED.get(rule.endpoint) or {}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method not in table:
                continue  # reported by test_every_route_has_an_entry
            if method == "POST":
                posts.append((rule, table))
                continue
            url = build_url(app, rule, world, role)
            response = client.get(url)
            response.close()
            check_headers(response, url, rule.endpoint)
            got, want = outcome(response), table["GET"][role]
            if got != want:
                wrong.append(f"GET {url} ({rule.endpoint}) as {role}: {got}, expected {want}")
    posts.sort(key=lambda p: (LAST.index(p[0].endpoint) if p[0].endpoint in LAST else -1, p[0].rule))
    token = csrf_token(client)
    for rule, table in posts:
        url = build_url(app, rule, world, role)
        response = client.post(url, data={"csrf_token": token})
        response.close()
        check_headers(response, url, rule.endpoint)
        got, want = outcome(response), table["POST"][role]
        if got != want:
            wrong.append(f"POST {url} ({rule.endpoint}) as {role}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    secure = client.get("/healthz", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(app, db, monkeypatch):
    from tests.conftest import make_test_app

    client = app.test_client()
    client.get("/login")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure

    # The README's production setting, read from the environment like every other one.
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", "true")
    secure_app = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"])
    secure_client = secure_app.test_client()
    response = secure_client.get("/login", base_url="https://localhost")
    header = response.headers["Set-Cookie"]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header


def test_login_is_throttled(app, db, organiser):
    from eventapp.extensions import db as _db
    from eventapp.extensions import limiter
    from tests.conftest import make_test_app

    limited = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True)
    try:
        client = limited.test_client()
        with limited.app_context():
            token = csrf_token(client)
            codes = [client.post("/login", data={"csrf_token": token, "email": organiser.email,
                                                 "password": "wrong password"}).status_code for _ in range(11)]
            # Even the right password waits: a guesser cannot tell when they hit it.
            right = client.post("/login", data={"csrf_token": token, "email": organiser.email, "password": PASSWORD})
            _db.session.remove()
    finally:
        limiter.reset()
        limiter.enabled = False
    assert codes == [400] * 10 + [429]
    assert right.status_code == 429


def _timed_login(client, token, email, password):
    start = time.perf_counter()
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    return response, time.perf_counter() - start


def test_login_does_not_reveal_whether_an_account_exists(app, db, organiser):
    client = app.test_client()
    token = csrf_token(client)
    unknown = []
    wrong = []
    for _ in range(5):
        unknown.append(_timed_login(client, token, "nobody-here@example.org", "wrong password 123"))
        wrong.append(_timed_login(client, token, organiser.email, "wrong password 123"))
    (r1, _), (r2, _) = unknown[0], wrong[0]
    assert r1.status_code == r2.status_code == 400
    # The page keeps what was typed; apart from that, the two answers are the same bytes (but for the
    # form's fresh CSRF token, signed with the second it was made in: two answers a second apart differ).
    def page(response, email):
        html = response.get_data(as_text=True).replace(email, "EMAIL")
        return CSRF_RE.sub(lambda m: m.group(0).replace(m.group(1), "TOKEN"), html)

    assert page(r1, "nobody-here@example.org") == page(r2, organiser.email)
    # Both paths check a password hash: same order of magnitude, not a fast "no such user".
    fast = min(t for _, t in unknown)
    slow = min(t for _, t in wrong)
    assert 0.33 < fast / slow < 3, (fast, slow)
