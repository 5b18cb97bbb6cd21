from __future__ import annotations

import pytest

from tests.mail_sink import MailSink


@pytest.fixture
def sink(app):
    """A real SMTP server (aiosmtpd on 127.0.0.1) the app delivers to during the test."""
    server = MailSink().start()
    saved = server.attach(app)
    try:
        yield server
    finally:
        MailSink.restore(app, saved)
        server.stop()


@pytest.fixture(autouse=True)
def _request(app):
    # Emails carry absolute links (manage page, calendar feed), built from the request's host.
    with app.test_request_context("/", base_url="https://events.example.org"):
        yield
