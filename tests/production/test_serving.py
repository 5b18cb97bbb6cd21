"""Serving behind a reverse proxy: settings from the environment, forwarded HTTPS and client address."""
from __future__ import annotations

from tests.conftest import make_test_app


def test_behind_a_proxy_forwarded_https_gets_hsts_and_secure_cookies(app, db, monkeypatch):
    monkeypatch.setenv("FLASK_PROXY_FIX", "true")
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", "true")
    proxied = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"])
    assert proxied.config["REMEMBER_COOKIE_SECURE"] is True
    client = proxied.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]
    plain = client.get("/healthz")
    assert "Strict-Transport-Security" not in plain.headers


def test_without_the_flag_forwarded_headers_are_not_trusted(app, db):
    client = app.test_client()
    response = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_rate_limits_count_the_forwarded_client_not_the_proxy(app, db, monkeypatch):
    from eventapp.extensions import limiter

    monkeypatch.setenv("FLASK_PROXY_FIX", "true")
    limited = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True)
    try:
        def attempt(client_ip: str) -> int:
            client = limited.test_client()
            headers = {"X-Forwarded-For": client_ip}
            page = client.get("/login", headers=headers)
            token = csrf_token_from(page)
            return client.post("/login", headers=headers, data={"csrf_token": token, "email": "x@example.org",
                                                                 "password": "wrong"}).status_code

        def csrf_token_from(page):
            from tests.conftest import csrf_from

            return csrf_from(page.get_data(as_text=True))

        with limited.app_context():
            first = [attempt("203.0.113.1") for _ in range(11)]
            other = attempt("203.0.113.2")
            from eventapp.extensions import db as _db

            _db.session.remove()
    finally:
        limiter.reset()
        limiter.enabled = False
    assert first[-1] == 429 and other == 400
