"""The app factory: settings, the generated secret key, security headers and error pages."""
from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from eventapp import create_app
from eventapp.app import SettingsError
from eventapp.extensions import db
from eventapp.organisations.models import Organisation
from tests.conftest import make_test_app, post_form
from tests.factories import PASSWORD

EVENTAPP_DIR = Path(__file__).resolve().parents[1] / "eventapp"


def _bare_app(tmp_path, **config):
    """An app configured only as an operator would, with its instance folder in tmp_path."""
    settings = {"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True}
    settings.update(config)
    return create_app(settings)


def test_secret_key_is_generated_once_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    first = _bare_app(tmp_path)
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.config["SECRET_KEY"]) >= 32
    assert key_file.read_text().strip() == first.config["SECRET_KEY"]
    # The default database lives in the same instance folder.
    assert first.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'eventapp.sqlite3'}"

    second = _bare_app(tmp_path)
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]

    elsewhere = create_app({"INSTANCE_PATH": str(tmp_path / "other"), "TESTING": True})
    assert elsewhere.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_an_empty_secret_key_file_is_replaced_not_used(tmp_path, monkeypatch):
    # An older version could leave it empty when two workers started at once.
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "secret_key").write_text("\n")
    app = _bare_app(tmp_path)
    assert len(app.config["SECRET_KEY"]) >= 32
    assert (tmp_path / "instance" / "secret_key").read_text().strip() == app.config["SECRET_KEY"]


def test_a_failed_statement_keeps_its_values_out_of_the_error(app, db):
    from sqlalchemy.exc import IntegrityError

    from tests.factories import make_org

    make_org("Shire Police", "police")
    with pytest.raises(IntegrityError) as raised:
        make_org("Shire Police", "police")  # the same name twice: a unique key
    db.session.rollback()
    assert "Shire Police" not in str(raised.value) and "hidden due to hide_parameters" in str(raised.value)


def test_no_secret_constant_in_the_code():
    suspicious = re.compile(r"""SECRET_KEY["']?\s*[:=]\s*["'][^"']+["']""")
    offenders = [
        str(path.relative_to(EVENTAPP_DIR)) for path in EVENTAPP_DIR.rglob("*.py") if suspicious.search(path.read_text())
    ]
    assert offenders == []


def test_settings_come_from_prefixed_environment(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'from-env.sqlite3'}"
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", uri)
    monkeypatch.setenv("FLASK_SECRET_KEY", "a-secret-from-the-environment")
    monkeypatch.setenv("FLASK_MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("FLASK_PAGE_SIZE", "40")  # parsed as JSON: an int
    app = _bare_app(tmp_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == uri
    assert app.config["SECRET_KEY"] == "a-secret-from-the-environment"
    assert app.config["MAIL_SERVER"] == "smtp.example.org"
    assert app.config["PAGE_SIZE"] == 40
    monkeypatch.setenv("FLASK_TRUSTED_HOSTS", '["assembly.example.org", "localhost"]')
    guarded = _bare_app(tmp_path)
    assert guarded.test_client().get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    assert guarded.test_client().get("/healthz", headers={"Host": "assembly.example.org"}).status_code == 200
    # With a key given, nothing is written to the instance folder.
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_libpq_style_postgres_url_gets_the_psycopg_driver(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", "postgresql://user@db.example/eventapp")
    app = _bare_app(tmp_path, SECRET_KEY="x" * 32)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://user@db.example/eventapp"


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert resp.headers["X-Frame-Options"] == "DENY"
    # Error pages carry them too.
    assert "frame-ancestors 'none'" in client.get("/no-such-page").headers["Content-Security-Policy"]


def test_pages_a_signed_in_person_sees_are_never_stored_except_where_facilitators_type(client, auth, organiser,
                                                                                      facilitator):
    from tests.factories import make_assembly, make_round, make_topic, make_workshop

    assembly = make_assembly()
    workshop = make_workshop(make_round(assembly), make_topic(), facilitators=[facilitator])
    # Nobody signed in: the public pages may be kept.
    assert "no-store" not in client.get(f"/a/{assembly.slug}").headers.get("Cache-Control", "")
    auth.login(organiser.email)
    for url in (f"/organiser/assemblies/{assembly.slug}/registrations", "/organiser/",
                f"/facilitator/workshops/{workshop.id}/attendance"):
        assert client.get(url).headers.get("Cache-Control") == "private, no-store", url
    # After Back on a notes page whose Save never arrived, the typed text must still be there.
    notes = client.get(f"/facilitator/workshops/{workshop.id}/notes")
    assert notes.status_code == 200 and "no-store" not in notes.headers.get("Cache-Control", "")


def test_pages_opened_by_a_personal_link_are_never_stored(client, email_request_context):
    # No one is signed in, yet the page shows one delegate's details (or a partner's actions): Back on a
    # shared computer, or a cache between, must not keep them for the next person.
    from eventapp.outcomes.services import make_partner_token
    from eventapp.registration import services as registration
    from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop

    assembly = make_assembly()
    topic = make_topic()
    make_workshop(make_round(assembly), topic)
    org = make_org("Shireford Constabulary", "police")
    reg = registration.register(assembly, {
        "full_name": "Delegate One", "email": "one@example.org", "job_title": "Officer", "organisation_id": org.id,
        "topic_ids": [topic.id], "consent": True, "join_waiting_list": True}).registration
    token = registration.make_manage_token(reg)
    for url in (f"/manage/{token}", f"/manage/{token}/edit", f"/manage/{token}/cancel",
                f"/manage/{token}/my-data.json", f"/partner/{make_partner_token(org.id)}"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "no-store" in resp.headers.get("Cache-Control", ""), url


def test_session_cookie_is_httponly_and_samesite(client, auth, organiser):
    resp = auth.login(organiser.email)
    assert resp.status_code == 302
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "signing in sets a session cookie"
    assert "HttpOnly" in cookies[0]
    assert "SameSite=Lax" in cookies[0]


def test_unknown_page_is_a_friendly_404(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    body = resp.get_data(as_text=True)
    assert "Page not found" in body and "<h1>" in body


def test_unexpected_error_is_a_friendly_500_without_a_stack_trace(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", TESTING=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals: /srv/app/eventapp/models.py line 42")

    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "Sorry, something went wrong on our side" in body
    assert "Traceback" not in body and "secret internals" not in body and "RuntimeError" not in body
    assert resp.headers["Content-Security-Policy"]


def _dummy_url(rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if hasattr(converter, "items"):  # any(...)
            values[arg] = sorted(converter.items)[0]
        elif type(converter).__name__ in ("IntegerConverter", "NumberConverter"):
            values[arg] = 1
        else:
            values[arg] = "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_post_endpoint_refuses_a_missing_csrf_token(app, db, client, auth, organiser):
    auth.login(organiser.email)
    from eventapp.extensions import csrf

    def exempt(rule) -> bool:
        # A view may opt out with @csrf.exempt to check the token itself (e.g. to keep
        # what was typed when a token has expired); that is a reviewed, explicit choice.
        view = app.view_functions[rule.endpoint]
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        return f"{view.__module__}.{view.__name__}" in csrf._exempt_views or blueprint in csrf._exempt_blueprints

    posts = [r for r in app.url_map.iter_rules()
             if "POST" in (r.methods or ()) and r.endpoint != "static" and not exempt(r)]
    assert len(posts) >= 10
    before = db.session.query(Organisation).count()
    accepted = {}
    for rule in posts:
        url = _dummy_url(rule)
        resp = client.post(url, data={"name": "Sneaky Org", "sector": "police", "status": "approved"})
        if resp.status_code != 400 or "The form had expired or came from another site" not in resp.get_data(as_text=True):
            accepted[rule.rule] = resp.status_code
    assert accepted == {}, "POST endpoints that did not refuse a request without a CSRF token"
    assert db.session.query(Organisation).count() == before


def test_csrf_refusal_changes_nothing(as_organiser, db):
    resp = as_organiser.post("/organiser/organisations/new", data={"name": "Sneaky Org", "sector": "police",
                                                                  "status": "approved"})
    assert resp.status_code == 400
    assert "Your changes were not saved" in resp.get_data(as_text=True)
    assert db.session.query(Organisation).filter_by(name="Sneaky Org").count() == 0
    # A token from another session is refused too.
    resp = as_organiser.post("/organiser/organisations/new", data={"csrf_token": "forged", "name": "Sneaky Org",
                                                                  "sector": "police", "status": "approved"})
    assert resp.status_code == 400


@pytest.mark.parametrize("path", ["/", "/login"])
def test_public_pages_render(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert PASSWORD not in resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/organiser/", "/organiser/organisations/", "/organiser/topics", "/organiser/users"])
@pytest.mark.parametrize("query, status", [
    ("page=-1", 200), ("page=abc", 200), ("page=0", 200), ("page=²", 200), ("page=99999999999999999999", 404),
    ("q=%00", 400), ("status=%ff", 200), ("q=" + "x" * 5000, 200), ("sector=%3Cscript%3E", 200),
])
def test_odd_list_queries_never_cause_a_server_error(as_organiser, path, query, status):
    assert as_organiser.get(f"{path}?{query}").status_code == status


def test_nul_characters_in_a_form_are_refused_politely(as_organiser, db):
    resp = post_form(as_organiser, "/organiser/organisations/new", {"name": "Null\x00Org", "sector": "police",
                                                                   "status": "approved"})
    assert resp.status_code == 400
    assert "Something in that request was not right" in resp.get_data(as_text=True)
    assert db.session.query(Organisation).count() == 0


@pytest.mark.parametrize("path", ["/a/%00", "/organiser/assemblies/x%00y", "/a/" + "z" * 5000, "/a/%F0%9F%9B%A1"])
def test_odd_paths_never_cause_a_server_error(as_organiser, path):
    assert as_organiser.get(path).status_code in (400, 404)


def test_page_links_follow_the_application_root_and_the_blueprint(as_organiser):
    # Template links are kept once built: the same page mounted under another root (a reverse
    # proxy's prefix) and a relative endpoint in another blueprint must still get their own.
    plain = as_organiser.get("/organiser/").get_data(as_text=True)
    prefixed = as_organiser.get("/organiser/", base_url="http://localhost/eventapp").get_data(as_text=True)
    again = as_organiser.get("/organiser/").get_data(as_text=True)
    assert 'href="/static/app.css"' in plain and 'href="/organiser/topics"' in plain
    assert 'href="/eventapp/static/app.css"' in prefixed and 'href="/eventapp/organiser/topics"' in prefixed
    assert 'href="/static/app.css"' not in prefixed
    assert 'href="/organiser/topics"' in again and "/eventapp/" not in again


def test_a_method_not_allowed_page_is_friendly_and_says_which_methods_are(client):
    resp = client.delete("/healthz")
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].split(", ")) >= {"GET", "HEAD"}
    assert "That action is not available here" in resp.get_data(as_text=True)


def test_a_form_over_the_size_limit_says_what_happened_and_links_back_to_a_fresh_form(as_organiser, db):
    from tests.factories import make_assembly

    assembly = make_assembly(slug="big-posts")
    # A 3 MB paste into the agenda item's description: over the 2 MB any form may send.
    resp = as_organiser.post("/organiser/assemblies/big-posts/agenda/new?from=agenda",
                             data={"title": "Opening", "description": "x" * (3 * 1024 * 1024)})
    assert resp.status_code == 413
    html = resp.get_data(as_text=True)
    assert "That was too large to send" in html
    assert ("What was sent is over the 2 MB this site accepts from a form, so nothing was saved. If you pasted a long "
            "text or pictures into a box, shorten it or leave the pictures out.") in html
    assert '<a href="/organiser/assemblies/big-posts/agenda/new?from=agenda">Back to the form</a>' in html
    assert as_organiser.get("/organiser/assemblies/big-posts/agenda/new?from=agenda").status_code == 200
    assert assembly.agenda_items == []
    # An address that only takes forms (a button on another page) has no page to go back to.
    resp = as_organiser.post("/organiser/organisations/1/approve", data={"x": "x" * (3 * 1024 * 1024)})
    assert resp.status_code == 413 and "Back to the form" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("name, value, complaint", [
    ("FLASK_SECRET_KEY", "...", "FLASK_SECRET_KEY must be at least 16 characters"),
    ("FLASK_SECRET_KEY", "123", "FLASK_SECRET_KEY must be at least 16 characters"),
    ("FLASK_SESSION_COOKIE_SECURE", "maybe", "FLASK_SESSION_COOKIE_SECURE must be true or false, not 'maybe'"),
    ("FLASK_MAIL_USE_TLS", "sometimes", "FLASK_MAIL_USE_TLS must be true or false, not 'sometimes'"),
    ("FLASK_MAIL_PORT", "smtp", "FLASK_MAIL_PORT must be a whole number above 0, not 'smtp'"),
    ("FLASK_MANAGE_TOKEN_MAX_AGE_DAYS", "sixty", "FLASK_MANAGE_TOKEN_MAX_AGE_DAYS must be a whole number above 0"),
    ("FLASK_MAIL_PORT", "\u00b2", "FLASK_MAIL_PORT must be a whole number above 0, not '\u00b2'"),
    ("FLASK_MAIL_CONNECTIONS", "0", "FLASK_MAIL_CONNECTIONS must be a whole number above 0, not '0'"),
    ("FLASK_REGISTRATION_RATE_LIMIT", "ten a minute", "FLASK_REGISTRATION_RATE_LIMIT is not a rate limit"),
    ("FLASK_REGISTRATION_ATTEMPT_LIMIT", "lots", "FLASK_REGISTRATION_ATTEMPT_LIMIT is not a rate limit"),
    ("FLASK_SQLITE_SYNCHRONOUS", "off", "FLASK_SQLITE_SYNCHRONOUS must be normal or full, not 'off'"),
])
def test_a_wrong_setting_stops_the_app_with_a_message(tmp_path, monkeypatch, name, value, complaint):
    monkeypatch.setenv("FLASK_SECRET_KEY", "a-secret-from-the-environment")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        _bare_app(tmp_path)
    assert complaint in str(raised.value)


@pytest.mark.parametrize("value, secure", [("true", True), ("True", True), ("yes", True), ("1", True),
                                           ("false", False), ("False", False), ("no", False), ("0", False)])
def test_secure_cookie_setting_reads_as_an_operator_means_it(tmp_path, monkeypatch, value, secure):
    monkeypatch.setenv("FLASK_SECRET_KEY", "a-secret-from-the-environment")
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", value)
    app = _bare_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'cookie.sqlite3'}")
    cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert ("; Secure" in cookie) is secure, cookie
    assert "Secure=" not in cookie


def test_workers_starting_together_share_one_generated_key(tmp_path):
    """gunicorn --workers 4 on a fresh install: every worker must sign with the same key."""
    import threading

    from eventapp.app import _instance_secret

    for attempt in range(30):
        folder = tmp_path / f"instance{attempt}"
        folder.mkdir()
        barrier = threading.Barrier(6)
        keys, errors = [], []

        def start():
            barrier.wait()
            try:
                keys.append(_instance_secret(folder))
            except Exception as err:  # noqa: BLE001 - a worker that fails to boot
                errors.append(err)

        threads = [threading.Thread(target=start) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(set(keys)) == 1 and len(keys[0]) >= 32, (errors, keys)


def test_without_a_public_address_only_this_computer_is_answered(tmp_path, caplog):
    """A password reset asked for with "Host: evil.example" must not mail a link to that site: until the
    operator sets the address people use, another host name is refused (and the operator told why, once)."""
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'x.sqlite3'}", TESTING=False)
    client = app.test_client()
    with caplog.at_level("WARNING", logger=app.logger.name):
        assert client.get("/login").status_code == 200  # this computer
        assert client.get("/login", headers={"Host": "127.0.0.1:5000"}).status_code == 200
        assert "FLASK_PUBLIC_BASE_URL is not set" not in caplog.text
        refused = client.get("/forgot-password", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and "FLASK_PUBLIC_BASE_URL" in refused.get_data(as_text=True)
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
        assert client.get("/login", headers={"Host": "other.example"}).status_code == 400
        # A load balancer's probe by address still learns the process is up.
        assert client.get("/healthz", headers={"Host": "10.0.0.5:8000"}).status_code == 200
    assert caplog.text.count("FLASK_PUBLIC_BASE_URL is not set") == 1 and "'evil.example'" in caplog.text
    # Set as the README's production recipe does: any host is served, and links never take it.
    public = make_test_app(f"sqlite:///{tmp_path / 'y.sqlite3'}", TESTING=False, PUBLIC_BASE_URL="https://a.example.org")
    caplog.clear()
    assert public.test_client().get("/login", headers={"Host": "assembly.example.org"}).status_code == 200
    assert "FLASK_PUBLIC_BASE_URL is not set" not in caplog.text


@pytest.mark.parametrize("value, level", [(None, 1), ("full", 2), ("FULL", 2), ("normal", 1)])
def test_sqlite_syncs_the_disk_at_every_commit_only_when_asked(tmp_path, monkeypatch, value, level):
    # NORMAL (1) by default, as SQLite recommends in WAL mode; FULL (2) for an operator who would rather
    # lose no commit to a power cut than serve registrations faster.
    monkeypatch.setenv("FLASK_SECRET_KEY", "a-secret-from-the-environment")
    if value is not None:
        monkeypatch.setenv("FLASK_SQLITE_SYNCHRONOUS", value)
    app = _bare_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'eventapp.sqlite3'}")
    with app.app_context():
        assert db.session.execute(text("PRAGMA synchronous")).scalar() == level
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
