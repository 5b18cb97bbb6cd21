"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, collecting what it receives.

    sink = MailSink().start()
    app = make_test_app(url, **sink.config())   # or sink.attach(app) for an existing app
    ...
    sink.messages  # list of email.message.EmailMessage
    sink.stop()
"""
from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd cannot bind port 0 itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, sink: "MailSink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)
            self.sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class MailSink:
    """Start, read messages, stop. Thread-safe list of received EmailMessage objects."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.port = 0
        self._controller: Controller | None = None

    def start(self) -> "MailSink":
        self.port = free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, decode_data=False)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def config(self) -> dict:
        """App settings that send mail to this server."""
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": self.port, "MAIL_USE_TLS": False, "MAIL_USE_SSL": False,
                "MAIL_SUPPRESS_SEND": False}

    def attach(self, app) -> dict:
        """Point an existing app's mail at this server; returns the previous settings to restore()."""
        state = app.extensions["mail"]
        saved = {"config": {k: app.config.get(k) for k in self.config()},
                 "state": {k: getattr(state, k) for k in ("server", "port", "use_tls", "use_ssl", "suppress")}}
        app.config.update(self.config())
        state.server, state.port, state.use_tls, state.use_ssl, state.suppress = "127.0.0.1", self.port, False, False, False
        return saved

    @staticmethod
    def restore(app, saved: dict) -> None:
        app.config.update(saved["config"])
        for k, v in saved["state"].items():
            setattr(app.extensions["mail"], k, v)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def __enter__(self) -> "MailSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def text_of(message: EmailMessage) -> str:
    """The plain-text body of a received message."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""


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


@pytest.fixture
def email_request_context(app):
    # Emails carry absolute links (manage page, calendar feed), built from the request's host.
    with app.test_request_context("/", base_url="https://events.example.org"):
        yield
