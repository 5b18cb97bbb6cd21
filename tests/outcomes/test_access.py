"""Who may open what in the outcomes area: every route × anonymous, facilitators, organiser, partner link."""
from __future__ import annotations

import re

import pytest

from eventapp.notes.services import typed_by_ticket
from eventapp.outcomes import services
from tests.conftest import CSRF_RE, PASSWORD
from tests.factories import make_user
from tests.outcomes.helpers import build_scene

ANON, PARTNER, OTHER_FAC, FAC, ORG = "anonymous", "partner", "other_facilitator", "facilitator", "organiser"
ROLES = (ANON, PARTNER, OTHER_FAC, FAC, ORG)
LOGIN = "login"


def staff(organiser, facilitator=403):
    return {ANON: LOGIN, PARTNER: LOGIN, OTHER_FAC: facilitator, FAC: facilitator, ORG: organiser}


def workshop(status):
    return {ANON: LOGIN, PARTNER: LOGIN, OTHER_FAC: 403, FAC: status, ORG: status}


# (method, url template, role → expected). POSTs carry a CSRF token and nothing else.
CASES = [
    ("GET", "/a/{cur}/updates", {r: 200 for r in ROLES}),
    ("GET", "/a/{cur}/updates.atom", {r: 200 for r in ROLES}),
    ("GET", "/a/{draft}/updates", {ANON: 404, PARTNER: 404, OTHER_FAC: 404, FAC: 404, ORG: 200}),
    ("GET", "/a/{draft}/updates.atom", {ANON: 404, PARTNER: 404, OTHER_FAC: 404, FAC: 404, ORG: 200}),
    ("GET", "/organiser/assemblies/{prev}/report", staff(200)),
    ("GET", "/organiser/assemblies/{prev}/report.csv", staff(200)),
    ("GET", "/organiser/assemblies/{prev}/report.json", staff(200)),
    ("GET", "/organiser/assemblies/{prev}/updates", staff(200)),
    ("GET", "/organiser/assemblies/{prev}/updates/new", staff(200)),
    ("POST", "/organiser/assemblies/{prev}/updates/new", staff(400)),
    ("GET", "/organiser/assemblies/{prev}/updates/{update}/edit", staff(200)),
    ("POST", "/organiser/assemblies/{prev}/updates/{update}/edit", staff(302)),
    ("GET", "/organiser/assemblies/{prev}/updates/{update}/delete", staff(200)),
    ("GET", "/organiser/assemblies/{cur}/carry-forward", staff(200)),
    ("POST", "/organiser/assemblies/{cur}/carry-forward", staff(400)),
    # {action} is last year's, not carried into this one: nothing to take back.
    ("GET", "/organiser/assemblies/{cur}/carry-forward/{action}/undo", staff(404)),
    ("POST", "/organiser/assemblies/{cur}/carry-forward/{action}/undo", staff(404)),
    ("GET", "/organiser/tracker", staff(200)),
    ("GET", "/organiser/tracker/{action}/status", staff(200)),
    ("POST", "/organiser/tracker/{action}/status", staff(400)),
    # A workshop's own action is changed on its workshop's page: a redirect there.
    ("GET", "/organiser/tracker/{action}/edit", staff(302)),
    ("POST", "/organiser/tracker/{action}/edit", staff(302)),
    ("GET", "/organiser/partners", staff(200)),
    ("GET", "/organiser/partners/{org}", staff(200)),
    ("POST", "/organiser/partners/{org}", staff(302)),
    ("POST", "/organiser/partners/{org}/send", staff(302)),
    ("GET", "/organiser/partners/send-links", staff(200)),
    ("POST", "/organiser/partners/send-links", staff(400)),  # without the confirmation page's send key
    ("GET", "/organiser/partners/{org}/revoke", staff(200)),
    ("GET", "/partner/{token}", {ANON: 404, PARTNER: 200, OTHER_FAC: 404, FAC: 404, ORG: 404}),
    ("POST", "/partner/{token}/actions/{action}", {ANON: 404, PARTNER: 400, OTHER_FAC: 404, FAC: 404, ORG: 404}),
    # A partner's link never opens another organisation's action.
    ("POST", "/partner/{token}/actions/{foreign}", {r: 404 for r in ROLES}),
    # Nothing to reopen on an open action: the partner is sent back to the page with a message.
    ("POST", "/partner/{token}/actions/{action}/reopen", {ANON: 404, PARTNER: 302, OTHER_FAC: 404, FAC: 404, ORG: 404}),
    ("POST", "/partner/{token}/actions/{foreign}/reopen", {r: 404 for r in ROLES}),
    ("GET", "/facilitator/workshops/{ws}/history", workshop(200)),
    ("POST", "/facilitator/workshops/{ws}/history/{action}", workshop(400)),
    # Destructive ones last.
    ("POST", "/organiser/assemblies/{prev}/updates/{update}/delete", staff(302)),
    ("POST", "/organiser/partners/{org}/revoke", staff(302)),
]


def _outcome(response):
    if response.status_code == 302 and response.headers["Location"].split("?")[0].endswith("/login"):
        return LOGIN
    return response.status_code


def test_every_outcomes_route_is_covered(app):
    rules = {(m, r.rule) for r in app.url_map.iter_rules() if r.endpoint.startswith("outcomes.")
             for m in r.methods - {"HEAD", "OPTIONS"}}
    covered = {(m, u) for m, u, _ in CASES}
    def to_template(rule):
        return re.sub(r"<(?:int:)?(\w+)>", "{}", rule)

    normalised = {(m, re.sub(r"\{\w+\}", "{}", u)) for m, u in covered}
    missing = {(m, r) for m, r in rules if (m, to_template(r)) not in normalised}
    assert not missing, f"routes without an access case: {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
def test_access_by_role(app, db, role, organiser, facilitator):
    scene = build_scene(facilitator=facilitator, organiser=organiser)
    other = make_user("facilitator", email="other.fac@example.org")
    from tests.factories import make_assembly

    draft = make_assembly(status="draft")
    update = services.save_update(scene.previous, {"title": "T", "published_on": scene.previous.date, "body": "B"})
    services.save_contact(scene.police, "Police", "police@example.org")
    token = services.make_partner_token(scene.police.id)
    values = {"cur": scene.current.slug, "prev": scene.previous.slug, "draft": draft.slug, "update": update.id,
              "action": scene.open_action.id, "foreign": scene.done_action.id, "org": scene.police.id,
              "ws": scene.new_workshop.id, "token": token if role == PARTNER else token[:-4] + "AAAA"}
    client = app.test_client()
    user = {ORG: organiser, FAC: facilitator, OTHER_FAC: other}.get(role)
    page = client.get("/login").get_data(as_text=True)
    csrf = CSRF_RE.search(page).group(1)
    if user is not None:
        assert client.post("/login", data={"csrf_token": csrf, "email": user.email, "password": PASSWORD}
                           ).status_code == 302
        csrf = CSRF_RE.search(client.get("/account/password").get_data(as_text=True)).group(1)
    ticket = {"typed_by": typed_by_ticket(user.id)} if user is not None else {}
    wrong = []
    for method, template, expected in CASES:
        url = template.format(**values)
        if method == "GET":
            response = client.get(url)
        else:
            # Prefixed status forms take their token under "a<id>-csrf_token"; CSRFProtect accepts either.
            # Staff forms also name who they were shown to (a shared tablet): the signed-in person here.
            response = client.post(url, data={"csrf_token": csrf, f"a{values['action']}-csrf_token": csrf, **ticket})
        got = _outcome(response)
        response.close()
        if got != expected[role]:
            wrong.append(f"{method} {url} as {role}: {got}, expected {expected[role]}")
    assert not wrong, "\n".join(wrong)
