"""The public form is rate limited per client address, with memory or Redis storage."""
from __future__ import annotations

import uuid

import pytest
import redis
from flask_migrate import upgrade

from eventapp.extensions import db as _db
from tests.conftest import make_test_app, post_form
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop


def _limited_app(tmp_path, **config):
    app = make_test_app(f"sqlite:///{tmp_path / 'limited.sqlite3'}", RATELIMIT_ENABLED=True,
                        REGISTRATION_RATE_LIMIT="3 per minute", **config)
    with app.app_context():
        upgrade()
        assembly = make_assembly(slug="limited")
        rnd = make_round(assembly)
        topics = [make_workshop(rnd, make_topic(f"Limited topic {i}")).topic_id for i in range(3)]
        org = make_org("Limited Org")
        fields = {"full_name": "Rate Tester", "job_title": "Officer", "organisation_name": org.name,
                  "choice_1": topics[0], "choice_2": topics[1], "choice_3": topics[2], "consent": "y",
                  "join_waiting_list": "y"}
        _db.session.remove()
    return app, fields


def _hammer(app, fields, n):
    client = app.test_client()
    codes = []
    for i in range(n):
        resp = post_form(client, "/a/limited/register", {**fields, "email": f"rate{i}@example.org"})
        codes.append(resp.status_code)
    return codes, resp


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_fourth_post_in_a_minute_gets_a_friendly_429(tmp_path, storage):
    prefix = f"eventapp-test-{uuid.uuid4().hex}"
    config = {"RATELIMIT_KEY_PREFIX": prefix}
    if storage == "redis":
        config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379"
    app, fields = _limited_app(tmp_path, **config)
    try:
        codes, last = _hammer(app, fields, 4)
        assert codes == [302, 302, 302, 429]
        assert "Too many attempts" in last.get_data(as_text=True)
        # Viewing the form is never limited.
        assert app.test_client().get("/a/limited/register").status_code == 200
        if storage == "redis":
            # The prefix of the first app initialised sticks to the shared limiter object.
            keys = redis.Redis(host="127.0.0.1", port=6379).keys("LIMITS:*registration.register*")
            assert keys, "the limiter kept its counters in Redis"
            # A second app process sharing Redis sees the same counters.
            other = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True,
                                  REGISTRATION_RATE_LIMIT="3 per minute", **config)
            codes, _ = _hammer(other, fields, 1)
            assert codes == [429]
    finally:
        if storage == "redis":
            r = redis.Redis(host="127.0.0.1", port=6379)
            for key in r.keys("LIMITS:*registration.register*"):
                r.delete(key)
        with app.app_context():
            _db.engine.dispose()
