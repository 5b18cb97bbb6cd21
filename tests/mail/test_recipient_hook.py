"""A renderer may say whom its rows go to now (renderer's ``recipient``): the worker renders for, sends to and
records that address, in no statement per row; a row it says nothing new about goes as queued."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail import services
from eventapp.mail.models import OutboxMessage


@pytest.fixture
def moved(monkeypatch):
    """A renderer "moved" whose recipient moves the row named "move" to new@example.org (as "New Name")."""
    def render(row, recipe):
        return f"For {row.to_name}", f"Dear {row.to_name} at {row.to_email}", "<p>Hello</p>", None

    def recipient(row, recipe):
        return ("new@example.org", "New Name\r\nBcc: x@example.org") if recipe.get("move") else None

    monkeypatch.setitem(services._RENDERERS, "moved", render)
    monkeypatch.setitem(services._RECIPIENTS, "moved", recipient)


def test_the_worker_sends_to_the_recipient_the_renderer_names_and_records_it(db, sink, moved):
    services.queue_rows([
        services.deferred_row("note", "old@example.org", "Old Name", recipe={"r": "moved", "move": True}),
        services.deferred_row("note", "same@example.org", "Same Name", recipe={"r": "moved"}),
    ])
    db.session.commit()
    report = services.send_pending()
    received = sink.wait_for(report.sent)
    assert report.sent == 2
    with sink.lock:
        rcpts = sorted(address for _, to in sink.envelopes for address in to)
    assert rcpts == ["new@example.org", "same@example.org"]
    new = next(m for m in received if "new@example.org" in str(m["To"]))
    (to,) = new["To"].addresses
    assert (to.display_name, to.addr_spec) == ("New Name Bcc: x@example.org", "new@example.org")
    assert new["Bcc"] is None
    assert str(new["Subject"]) == "For New Name Bcc: x@example.org"
    db.session.expire_all()
    rows = {r.to_email: r for r in db.session.scalars(select(OutboxMessage))}
    assert sorted(rows) == ["new@example.org", "same@example.org"]
    assert rows["new@example.org"].to_name == "New Name Bcc: x@example.org"
    assert rows["new@example.org"].body_text == "Dear New Name Bcc: x@example.org at new@example.org"
    assert (rows["same@example.org"].to_name, rows["same@example.org"].status) == ("Same Name", "sent")
