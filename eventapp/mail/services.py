"""Outbox use cases: queue an email inside the caller's transaction; deliver due messages."""
from __future__ import annotations

import smtplib
import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, make_msgid

from flask import current_app, render_template
from sqlalchemy import select

from ..extensions import db, mail
from ..timeutil import utcnow
from .models import OutboxMessage


def clean_header(value: str) -> str:
    """Collapse CR, LF and other control characters so a value is safe in a mail header."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def render_email(kind: str, **context) -> tuple[str, str, str]:
    """Render templates/email/<kind>/{subject.txt, body.txt, body.html}."""
    subject = render_template(f"email/{kind}/subject.txt", **context)
    text = render_template(f"email/{kind}/body.txt", **context)
    html = render_template(f"email/{kind}/body.html", **context)
    return clean_header(subject), text, html


def queue_email(kind: str, to_email: str, to_name: str = "", *, context: dict | None = None,
                ics: str | None = None, ics_method: str | None = None, assembly_id: int | None = None,
                dedupe_key: str | None = None) -> OutboxMessage:
    """Add a rendered email to the outbox in the current transaction (the caller commits)."""
    subject, text, html = render_email(kind, to_name=to_name, **(context or {}))
    domain = current_app.config["ORGANISER_EMAIL"].rpartition("@")[2] or "localhost"
    message = OutboxMessage(
        kind=kind, to_email=to_email, to_name=clean_header(to_name), subject=subject, body_text=text,
        body_html=html, ics=ics, ics_method=ics_method, assembly_id=assembly_id, dedupe_key=dedupe_key,
        message_id=f"<{uuid.uuid4().hex}@{domain}>", status="pending", next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


def build_mime(message: OutboxMessage) -> EmailMessage:
    """The MIME message for an outbox row: text and HTML alternatives (plus the calendar, if any)."""
    msg = EmailMessage(policy=SMTP)
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["From"] = sender if isinstance(sender, str) else formataddr(sender)
    msg["To"] = Address(display_name=clean_header(message.to_name), addr_spec=message.to_email)
    msg["Subject"] = clean_header(message.subject)
    msg["Message-ID"] = message.message_id
    msg.set_content(message.body_text)
    msg.add_alternative(message.body_html, subtype="html")
    if message.ics:
        method = (message.ics_method or "PUBLISH").upper()
        msg.add_alternative(message.ics.encode("utf-8"), maintype="text", subtype="calendar",
                            params={"method": method, "charset": "UTF-8"})
    return msg


def due_messages(limit: int = 100) -> list[OutboxMessage]:
    """Pending messages whose time has come, locked so parallel senders skip them."""
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow())
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(db.session.scalars(stmt))


def send_pending(limit: int = 100) -> tuple[int, int]:
    """Deliver due messages over SMTP; returns (sent, failed). One transaction per batch."""
    if not current_app.config.get("MAIL_SERVER"):
        return 0, 0
    messages = due_messages(limit)
    sent = failed = 0
    if not messages:
        db.session.commit()
        return 0, 0
    with mail.connect() as conn:
        for message in messages:
            mime = build_mime(message)
            try:
                conn.host.send_message(mime, from_addr=Address(addr_spec=current_app.config["ORGANISER_EMAIL"]).addr_spec,
                                       to_addrs=[message.to_email])
            except (smtplib.SMTPException, OSError) as err:
                message.attempts += 1
                message.last_error = str(err)[:2000]
                message.status = "failed"
                failed += 1
            else:
                message.status = "sent"
                message.sent_at = utcnow()
                message.attempts += 1
                sent += 1
    db.session.commit()
    return sent, failed


def new_message_id() -> str:
    """A fresh RFC 5322 Message-ID."""
    return make_msgid(domain=current_app.config["ORGANISER_EMAIL"].rpartition("@")[2] or "localhost")
