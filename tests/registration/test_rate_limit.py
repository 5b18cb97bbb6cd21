"""The public forms are rate limited per client address (memory or Redis storage), without locking out
colleagues who share their office's address: only forms acted on count towards the registration limit,
and a far larger bound on every form sent stops a script sending junk."""
from __future__ import annotations

import uuid
from html.parser import HTMLParser

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import func, select

from eventapp.extensions import db as _db
from eventapp.extensions import limiter
from eventapp.registration.models import PendingRegistration, Registration
from tests.conftest import csrf_from, make_test_app, post_form
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop


def _limited_app(tmp_path, confirm_email_first: bool = False, **config):
    app = make_test_app(f"sqlite:///{tmp_path / 'limited.sqlite3'}", RATELIMIT_ENABLED=True, **config)
    with app.app_context():
        upgrade()
        assembly = make_assembly(slug="limited", capacity=150, org_limit=None, confirm_email_first=confirm_email_first)
        rnd = make_round(assembly)
        topics = [make_workshop(rnd, make_topic(f"Limited topic {i}")).topic_id for i in range(3)]
        org = make_org("Northvale County Council", "local_authority")
        fields = {"full_name": "Rate Tester", "job_title": "Officer", "organisation_name": org.name,
                  "choice_1": topics[0], "choice_2": topics[1], "choice_3": topics[2], "consent": "y",
                  "join_waiting_list": "y"}
        _db.session.remove()
    return app, fields


@pytest.fixture
def limits_reset():
    # Each app made here starts with counters of its own, but the limiter object is shared by every app of
    # this process: the next test's app must not find it switched on, nor these counters.
    yield
    limiter.reset()
    limiter.enabled = False


def _hammer(app, fields, n):
    client = app.test_client()
    codes = []
    for i in range(n):
        resp = post_form(client, "/a/limited/register", {**fields, "email": f"rate{i}@example.org"})
        codes.append(resp.status_code)
    return codes, resp


def _registered(app) -> int:
    with app.app_context():
        count = _db.session.scalar(select(func.count()).select_from(Registration)) \
            + _db.session.scalar(select(func.count()).select_from(PendingRegistration))
        _db.session.remove()
        return count


class _FormAsSent(HTMLParser):
    """What a browser would send from the page's (first) form: each field's value as the page shows it."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select = self._textarea = None
        self._forms = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._forms += 1
        if self._forms > 1:
            return  # another form of the page (the confirmation page's "Change these details")
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            elif a.get("type") != "submit":
                self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _as_sent(html: str) -> dict[str, str]:
    parser = _FormAsSent()
    parser.feed(html)
    # A newline just after <textarea> is not part of its value.
    return {k: v.removeprefix("\r\n") if v.startswith("\r\n") else v.removeprefix("\n")
            for k, v in parser.fields.items()}


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_fourth_registration_in_a_minute_gets_its_form_back_when_the_limit_is_three(tmp_path, storage, limits_reset):
    prefix = f"eventapp-test-{uuid.uuid4().hex}"
    config = {"RATELIMIT_KEY_PREFIX": prefix, "REGISTRATION_RATE_LIMIT": "3 per minute"}
    if storage == "redis":
        config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379"
    app, fields = _limited_app(tmp_path, **config)
    try:
        codes, last = _hammer(app, fields, 4)
        assert codes == [302, 302, 302, 429]
        page = last.get_data(as_text=True)
        assert "This form has not been sent yet" in page and "Please wait a minute, then send it again." in page
        assert 'value="rate3@example.org"' in page
        assert int(last.headers["Retry-After"]) <= 60
        assert _registered(app) == 3
        # Viewing the form is never limited.
        assert app.test_client().get("/a/limited/register").status_code == 200
        if storage == "redis":
            # The prefix of the first app initialised sticks to the shared limiter object.
            keys = redis.Redis(host="127.0.0.1", port=6379).keys("LIMITS:*registration.register*")
            assert keys, "the limiter kept its counters in Redis"
            # A second app process sharing Redis sees the same counters.
            other = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True, **config)
            codes, _ = _hammer(other, fields, 1)
            assert codes == [429]
    finally:
        if storage == "redis":
            r = redis.Redis(host="127.0.0.1", port=6379)
            for key in r.keys("LIMITS:*registration.register*"):
                r.delete(key)
        with app.app_context():
            _db.engine.dispose()


@pytest.mark.parametrize("confirm_email_first", [True, False])
def test_25_colleagues_behind_one_office_address_all_register_within_a_minute(tmp_path, limits_reset,
                                                                             confirm_email_first):
    # The default limits: the invitation email has just gone out to a county council's delegates.
    app, fields = _limited_app(tmp_path, confirm_email_first=confirm_email_first)
    codes = []
    for i in range(25):
        colleague = app.test_client()  # each on their own computer, all behind the council's one address
        typed = {**fields, "full_name": f"Colleague {i}", "email": f"colleague{i}@northvale.gov.uk"}
        if i % 3 == 0:  # a mistyped address, sent back to be put right
            assert post_form(colleague, "/a/limited/register",
                             {**typed, "email": f"colleague{i}@northvale"}).status_code == 400
        if i % 5 == 0:  # the privacy box left unticked, then a workshop chosen twice
            assert post_form(colleague, "/a/limited/register", {**typed, "consent": ""}).status_code == 400
            assert post_form(colleague, "/a/limited/register",
                             {**typed, "choice_2": typed["choice_1"]}).status_code == 400
        codes.append(post_form(colleague, "/a/limited/register", typed).status_code)
    assert codes == [302] * 25
    assert _registered(app) == 25
    with app.app_context():
        _db.engine.dispose()


def test_a_script_sending_junk_from_one_address_is_stopped_and_other_addresses_are_not(tmp_path, limits_reset):
    app, fields = _limited_app(tmp_path)  # the default limits
    script = app.test_client()
    token = csrf_from(script.get("/a/limited/register").get_data(as_text=True))
    codes = [script.post("/a/limited/register", data={"csrf_token": token, "full_name": f"junk {i}"}).status_code
             for i in range(121)]
    assert codes == [400] * 120 + [429]
    # Now even a good form from that address waits; from anywhere else it goes through.
    assert post_form(script, "/a/limited/register", {**fields, "email": "late@example.org"}).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_form(elsewhere, "/a/limited/register", {**fields, "email": "other@example.org"}).status_code == 302
    assert _registered(app) == 1
    with app.app_context():
        _db.engine.dispose()


def test_both_limits_are_read_from_the_environment(tmp_path, limits_reset, monkeypatch):
    monkeypatch.setenv("FLASK_REGISTRATION_RATE_LIMIT", "2 per minute")
    monkeypatch.setenv("FLASK_REGISTRATION_ATTEMPT_LIMIT", "4 per minute")
    app, fields = _limited_app(tmp_path)
    # From one address, two registrations a minute; the third form comes back.
    one = app.test_client()
    sent = [post_form(one, "/a/limited/register", {**fields, "email": f"env{i}@example.org"}).status_code
            for i in range(3)]
    assert sent == [302, 302, 429]
    # From another, four forms a minute, however they turn out; the fifth comes back.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    sent = [post_form(other, "/a/limited/register", {**fields, "email": "typo@"}).status_code for _ in range(4)]
    sent.append(post_form(other, "/a/limited/register", {**fields, "email": "right@example.org"}).status_code)
    assert sent == [400, 400, 400, 400, 429]
    assert _registered(app) == 2
    with app.app_context():
        _db.engine.dispose()


def test_a_refused_registration_keeps_everything_typed_and_goes_through_when_sent_again(tmp_path, limits_reset):
    app, fields = _limited_app(tmp_path, REGISTRATION_RATE_LIMIT="1 per minute")
    assert post_form(app.test_client(), "/a/limited/register", {**fields, "email": "first@example.org"}).status_code == 302
    typed = {**fields, "full_name": "Siobhán O'Brien", "email": "siobhan.obrien@northvale.gov.uk",
             "job_title": "Community Safety Partnership Manager", "choice_1": fields["choice_3"],
             "choice_3": fields["choice_1"], "access_needs": "Step-free access, please.\nA hearing loop.",
             "dietary_needs": "Vegetarian"}
    client = app.test_client()
    refused = post_form(client, "/a/limited/register", typed)
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "There is a problem" in page and "Everything you entered is kept here" in page
    again = _as_sent(page)
    for name, value in typed.items():
        assert again.get(name) == str(value), name
    assert "csrf_token" in again
    # A minute later the same page's form, sent as it stands, registers them.
    limiter.reset()
    sent = client.post("/a/limited/register", data=again)
    assert sent.status_code == 302
    with app.app_context():
        reg = _db.session.scalar(select(Registration).where(Registration.email == typed["email"]))
        assert reg.full_name == "Siobhán O'Brien" and reg.access_needs == typed["access_needs"]
        _db.session.remove()
        _db.engine.dispose()


def test_a_refused_request_for_a_fresh_link_keeps_the_address(tmp_path, limits_reset):
    app, _ = _limited_app(tmp_path, REGISTRATION_RATE_LIMIT="1 per minute")
    client = app.test_client()
    # A mistake marked costs nothing; the second address acted on this minute is refused, kept in its box.
    assert post_form(client, "/manage/new-link", {"email": "someone@"}).status_code == 400
    assert post_form(client, "/manage/new-link", {"email": "someone@example.org"}).status_code == 200
    refused = post_form(client, "/manage/new-link", {"email": "someone.else@example.org"})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "This form has not been sent yet" in page and _as_sent(page)["email"] == "someone.else@example.org"
    with app.app_context():
        _db.engine.dispose()


def test_the_hourly_limit_says_how_many_minutes_to_wait(tmp_path, limits_reset):
    app, fields = _limited_app(tmp_path, REGISTRATION_RATE_LIMIT="1 per hour")
    client = app.test_client()
    assert post_form(client, "/a/limited/register", {**fields, "email": "a@example.org"}).status_code == 302
    refused = post_form(client, "/a/limited/register", {**fields, "email": "b@example.org"})
    assert refused.status_code == 429
    assert "Please wait about 60 minutes, then send it again." in refused.get_data(as_text=True)
    with app.app_context():
        _db.engine.dispose()


def test_a_refused_confirmation_says_so_and_confirms_when_pressed_again(tmp_path, limits_reset):
    from tests.registration.test_confirm_first import CONFIRM_RE
    from tests.registration.conftest import outbox

    app, fields = _limited_app(tmp_path, confirm_email_first=True, REGISTRATION_RATE_LIMIT="1 per minute")
    paths = []
    for i in range(2):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{i + 1}"  # each form from home, confirmed at the office
        assert post_form(client, "/a/limited/register", {**fields, "email": f"c{i}@example.org"}).status_code == 302
        with app.test_request_context():
            paths.append(CONFIRM_RE.search(outbox(kind="confirm_registration", to=f"c{i}@example.org")[-1]
                                           .body_text).group(1))
            _db.session.remove()
    office = app.test_client()
    assert post_form(office, paths[0], {}).status_code == 302
    refused = post_form(office, paths[1], {})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "This form has not been sent yet" in page and "Confirm my registration" in page
    limiter.reset()
    assert office.post(paths[1], data=_as_sent(page)).status_code == 302
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(Registration)) == 2
        _db.session.remove()
        _db.engine.dispose()
