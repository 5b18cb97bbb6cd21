"""Hostile and generated input to every form and JSON endpoint: never a 500, always rendered escaped.

Every URL rule that allows POST is found from the url_map and posted to as the role that may
use it (delegate with their personal link, facilitator of the workshop, organiser, or anyone
for public forms), with a valid CSRF token. Field names and options come from the forms on
the pages that role can open (a form's action, or the page itself). Hypothesis draws each
field from hostile strings (HTML/script, CR/LF, NUL and control characters, emoji, RTL
marks, SQL, 10 kB), generated text, wrong types (numbers, repeated keys, missing fields),
or a valid value so that some submissions are stored. After the examples, the pages that
show stored values are opened: none may contain the hostile markup unescaped.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import tickets_from
from tests.production.world import build_world
from tests.test_security_matrix import build_url, csrf_token, rules, sign_in

MARKERS = ('<script>alert("fuzz")</script>', "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>')
HOSTILE = [
    *MARKERS,
    "Robert'); DROP TABLE registration;--", "' OR '1'='1", "1; SELECT pg_sleep(5)",
    "line one\r\nBcc: victim@example.org", "tab\there\x0bvertical\x0cfeed", "nul\x00byte", "\x07\x1b[31mansi",
    "😀🎉👩🏽‍⚕️ emoji", "\u202eRTL override\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd", "𝕌𝕟𝕚𝕔𝕠𝕕𝕖",
    "x" * 10_000, "é" * 5000, "", " ", "0", "-1", "99999999999999999999", "1e309", "NaN", "null", "[]", "{}",
    "../../etc/passwd", "%00", "{{ 7*7 }}", "${7*7}",
]

# Pages that show what was stored, opened after the examples (besides the endpoint's own page).
SHOWN = ("registration.organiser_index", "registration.manage", "assemblies.detail", "assemblies.public",
         "assemblies.index", "organisations.index", "assemblies.topics", "accounts.users", "notes.actions",
         "notes.all_actions", "notes.edit", "notes.attendance", "mail.index", "placements.delegates",
         "facilitators.home", "notes.overview", "notes.review", "outcomes.partner", "outcomes.history",
         "outcomes.carry_forward", "outcomes.tracker", "outcomes.updates", "outcomes.public_updates",
         "outcomes.report", "outcomes.partners", "messages.index", "documents.index", "checkin.index")

# POST-only endpoints fed by another page's form (by script): post that form's fields.
SAME_FIELDS_AS = {"notes.autosave": "notes.save"}


def role_for(rule) -> str:
    if "token" in rule.arguments:
        return "delegate"
    if rule.rule.startswith("/facilitator/"):
        return "facilitator"
    if rule.rule.startswith("/organiser/") or rule.endpoint in ("accounts.change_password", "accounts.logout"):
        return "organiser"
    return "anonymous"


class Forms(HTMLParser):
    """Collect each form's action and fields: name → (kind, [option values])."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: dict[str, dict[str, tuple[str, list[str]]]] = {}
        self.current = None
        self.select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.current = self.forms.setdefault(a.get("action") or self.page_url, {})
        elif self.current is not None and tag in ("input", "textarea", "select", "button") and a.get("name"):
            name = a["name"]
            if name == "csrf_token":
                return
            kind = a.get("type", tag) if tag == "input" else tag
            # A named submit button (Check / Send) is a field too: its value says what to do.
            options = ([a["value"]] if a.get("value") is not None and kind in ("checkbox", "radio", "hidden", "button",
                                                                              "submit") else [])
            entry = self.current.setdefault(name, (kind, []))
            entry[1].extend(options)
            if tag == "select":
                self.select = name
        elif tag == "option" and self.current is not None and self.select:
            self.current[self.select][1].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


def discover_forms(client, urls) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for url in urls:
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            parser = Forms(url.split("?")[0])
            parser.feed(response.get_data(as_text=True))
            for action, fields in parser.forms.items():
                found.setdefault(action.split("?")[0], {}).update(fields)
        response.close()
    return found


def value_strategy(kind: str, options: list[str]):
    hostile = st.sampled_from(HOSTILE)
    generated = st.text(max_size=40)
    wrong = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(str))
    choices = [hostile, generated, wrong]
    if options:
        choices = [st.sampled_from(options)] * 3 + choices
    elif kind in ("date",):
        choices.append(st.dates().map(lambda d: d.isoformat()))
    else:
        choices.append(st.sampled_from(["Valid text", "2027-05-01", "name@example.org", "1"]))
    single = st.one_of(*choices)
    # A missing field, one value, or the same key twice (a list where one value is expected).
    return st.one_of(single.map(lambda v: [v]), single.map(lambda v: [v]), st.lists(single, min_size=0, max_size=2))


def post_rules():
    from eventapp import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x",
                      "REQUEST_LOG": False})
    return sorted({r.rule: r.endpoint for r in app.url_map.iter_rules() if "POST" in (r.methods or ())}.items())


@pytest.mark.parametrize("rule_text, endpoint", post_rules(), ids=lambda v: v if v.startswith("/") else "")
def test_hostile_input_never_errors_and_is_escaped(app, db, rule_text, endpoint):
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_text and r.endpoint == endpoint)
    world = build_world()
    role = role_for(rule)
    client = app.test_client()
    sign_in(client, role, world)
    url = build_url(app, rule, world, role)
    shown = [build_url(app, r, world, role) for r in rules(app) if r.endpoint in SHOWN and "GET" in r.methods]
    shown += [build_url(app, r, world, "organiser") for r in rules(app)
              if r.endpoint in SHOWN and "GET" in r.methods and role != "organiser"]
    pages = ([url] if "GET" in rule.methods else []) + shown
    forms = discover_forms(client, pages)
    fields = forms.get(url.split("?")[0], {})
    if endpoint in SAME_FIELDS_AS:
        twin = next(r for r in rules(app) if r.endpoint == SAME_FIELDS_AS[endpoint])
        fields = forms.get(build_url(app, twin, world, role), {})
    if not fields and "GET" in rule.methods:
        # A page whose form posts elsewhere with a query string, or several small forms.
        page_forms = discover_forms(client, [url])
        fields = {k: v for form in page_forms.values() for k, v in form.items()}
    token = csrf_token(client)
    strategy = st.fixed_dictionaries({name: value_strategy(kind, options) for name, (kind, options) in fields.items()})

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=strategy)
    def post(data):
        payload = [("csrf_token", token)] + [(k, v) for k, values in data.items() for v in values]
        from werkzeug.datastructures import MultiDict

        response = client.post(url, data=MultiDict(payload))
        body = response.get_data(as_text=True)
        response.close()
        assert response.status_code < 500, f"{endpoint}: {response.status_code} for {data!r}"[:2000]
        if response.mimetype == "text/html":
            for marker in MARKERS:
                assert marker not in body, f"{endpoint} echoed {marker!r} unescaped"

    post()
    # Whatever was stored is shown escaped everywhere it appears.
    organiser = app.test_client()
    sign_in(organiser, "organiser", world)
    for page_client, page_urls in ((client, pages), (organiser, shown)):
        for page in page_urls:
            response = page_client.get(page)
            body = response.get_data(as_text=True)
            response.close()
            assert response.status_code < 500, page
            if response.mimetype == "text/html":
                for marker in MARKERS:
                    assert marker not in body, f"{page} shows {marker!r} unescaped after fuzzing {endpoint}"
                assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", body), f"{page}: inline script"


def test_a_number_no_column_can_hold_is_a_400_not_a_500(app, db):
    """Found by the fuzzer: a 20-digit id in a select reached the database driver and overflowed."""
    world = build_world()
    client = app.test_client()
    sign_in(client, "facilitator", world)
    token = csrf_token(client)
    page = client.get(f"/facilitator/workshops/{world.workshop.id}/attendance").get_data(as_text=True)
    response = client.post(f"/facilitator/workshops/{world.workshop.id}/attendance/walk-in",
                           data={"csrf_token": token, **tickets_from(page), "registration_id": "99999999999999999999"})
    assert response.status_code == 400
    assert "far outside what this form accepts" in response.get_data(as_text=True)
    # The session is usable again afterwards.
    assert client.get(f"/facilitator/workshops/{world.workshop.id}/attendance").status_code == 200
