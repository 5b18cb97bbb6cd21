"""Outbox use cases: queue an email inside the caller's transaction; deliver due messages with retries."""
from __future__ import annotations

import binascii
import email
import hashlib
import json
import logging
import os
import queue
import re
import smtplib
import threading
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import OperationalError

from ..domain import DomainError
from ..extensions import db, mail
from ..timeutil import utcnow
from ..workers import pause
from .models import OutboxMessage
from ..text import is_number

logger = logging.getLogger(__name__)

# Defaults, each overridable in the app config (FLASK_MAIL_RETRY_BASE_SECONDS=… and so on).
DEFAULTS = {
    "MAIL_BATCH_SIZE": 100,
    # First retry after a minute, then 2, 4, 8 … minutes, at most 6 hours apart.
    "MAIL_RETRY_BASE_SECONDS": 60,
    "MAIL_RETRY_MAX_SECONDS": 6 * 3600,
    # 12 attempts span about a day and a half: then a person should look.
    "MAIL_MAX_ATTEMPTS": 12,
    # A claimed message is someone's for this long; if that worker dies it becomes due again.
    "MAIL_LEASE_SECONDS": 600,
    # Outcomes are committed together, this many at a time (or each second): a commit
    # per message costs more than the SMTP exchange on SQLite. A worker killed before
    # the commit sends those few again (same Message-ID) when their lease ends: never lost.
    "MAIL_COMMIT_EVERY": 50,
    "MAIL_TIMEOUT_SECONDS": 30,
    # A large batch is sent over this many SMTP connections at once (relays such as
    # Microsoft 365 allow three per sender), each with at least MAIL_PER_CONNECTION messages.
    "MAIL_CONNECTIONS": 3,
    "MAIL_PER_CONNECTION": 25,
}


def setting(name: str):
    return current_app.config.get(name, DEFAULTS[name])


@lru_cache(maxsize=1024)
def is_email_address(text: str) -> bool:
    """True if the text has the form of an email address (no DNS look-up)."""
    # Kept: the registration form checks an address, then the service checks it again.
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def clean_header(value: str) -> str:
    """Collapse CR, LF and other control characters so a value is safe in a mail header."""
    if not value.isprintable():
        value = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(value.split())


_PARTS = ("subject.txt", "body.txt", "body.html")


def render_email(kind: str, **context) -> tuple[str, str, str]:
    """Render templates/email/<kind>/{subject.txt, body.txt, body.html}."""
    app = current_app._get_current_object()
    # One context for the three parts: the context processors run once, and the
    # globals are merged once (Template.render merges them on every call, through
    # a ChainMap, which cost a sixth of rendering an invitation).
    app.update_template_context(context)
    env = app.jinja_env
    merged = {**env.globals, **context}
    subject, text, html = (_render_part(env, f"email/{kind}/{part}", merged) for part in _PARTS)
    return clean_header(subject), text, html


def render_subject(kind: str, **context) -> str:
    """Only templates/email/<kind>/subject.txt, as render_email() renders it, header-clean."""
    # A row queued as a recipe stores its subject at once, so the outbox search finds it before
    # the worker renders the rest; a subject needs no context processor, only the globals.
    env = current_app.jinja_env
    return clean_header(_render_part(env, f"email/{kind}/subject.txt", {**env.globals, **context}))[:900]


def _render_part(env, name: str, merged: dict) -> str:
    template = env.get_template(name)
    try:
        return env.concat(template.root_render_func(template.new_context(merged, shared=True)))
    except Exception:
        env.handle_exception()


# Message-IDs and calendar UIDs end in the organiser address's domain, and their columns (and the invitations'
# dedupe keys, which hold a UID) take 255 characters. DNS allows a domain of 253 and the setting is not checked,
# so one longer than this (room is left for what comes before it) is replaced by a digest of itself: as unique,
# and the same every time, so the next sync still finds the calendar entries it made.
ID_DOMAIN_MAX = 100


def id_domain() -> str:
    """The domain that ends Message-IDs and calendar UIDs: the organiser address's, or a digest of one too long."""
    domain = current_app.config["ORGANISER_EMAIL"].rpartition("@")[2] or "localhost"
    return domain if len(domain) <= ID_DOMAIN_MAX else hashlib.sha256(domain.encode()).hexdigest()[:32]


def outbox_row(kind: str, to_email: str, to_name: str = "", *, context: dict | None = None, ics: str | None = None,
               ics_method: str | None = None, assembly_id: int | None = None, dedupe_key: str | None = None,
               now: datetime | None = None, domain: str | None = None, registration_id: int | None = None) -> dict:
    """Render an email into the column values of a pending outbox row (nothing is written)."""
    subject, text, html = render_email(kind, to_name=to_name, **(context or {}))
    now = now or utcnow()
    return {
        "kind": kind, "to_email": to_email, "to_name": clean_header(to_name)[:200], "subject": subject[:900],
        "body_text": text, "body_html": html, "ics": ics, "ics_method": ics_method.upper() if ics_method else None,
        # Named although empty: queue_rows inserts these with deferred_row()'s in one statement, whose columns
        # are the first row's keys.
        "render": None, "assembly_id": assembly_id, "registration_id": registration_id, "dedupe_key": dedupe_key,
        # Fixed at queueing: every retry or resend carries the same Message-ID, so a
        # mail client that got it twice (worker killed after sending) shows it once.
        "message_id": f"<{os.urandom(16).hex()}@{domain or id_domain()}>", "status": "pending", "next_attempt_at": now,
        "attempts": 0, "last_error": "", "created_at": now,
    }


TOKEN_PLACEHOLDER = "TOKENxPLACEHOLDER"


def link_template(url: str | None) -> str | None:
    """A link built with TOKEN_PLACEHOLDER as its token, as a str.format template with "{token}" in its place.

    Tokens are URL-safe characters, so the link filled in later is exactly the one built with the token.
    """
    if url is None:
        return None
    head, _, tail = url.rpartition(TOKEN_PLACEHOLDER)
    return head.replace("{", "{{").replace("}", "}}") + "{token}" + tail.replace("{", "{{").replace("}", "}}")


# Renderers of deferred rows, by the name in their recipe: each takes the row (kind, to_email,
# to_name, assembly_id, created_at) and its recipe, and returns (subject, text, html, ics).
_RENDERERS: dict[str, Callable] = {}
# Their checks, by the same name: (row, recipe) -> why what the email says is no longer true, or None.
_CHECKS: dict[str, Callable] = {}
# Their batch loaders, by the same name: [(row, recipe), ...] -> what the check is given as a third argument.
_PREPARES: dict[str, Callable] = {}
# The kind their rows go out as, when the renderer may word them as another (an update as an invitation).
_KINDS: dict[str, Callable] = {}
# Who their rows go to now, by the same name: (row, recipe) -> (address, name), or None to keep the row's.
_RECIPIENTS: dict[str, Callable] = {}

# A message the worker decided not to send is "skipped": out of date by its turn, so never sent again,
# nor counted as one that could not be sent. Its last_error says why, beginning with this.
NOT_SENT = "Not sent: "


def renderer(name: str, *, check: Callable | None = None, prepare: Callable | None = None,
             recipient: Callable | None = None, kind: Callable | None = None):
    """Register a function that renders deferred rows whose recipe names it.

    ``check(row, recipe)``: run by the worker just before rendering to send; when what the email
    would say is no longer true (the registration it confirms was cancelled meanwhile, say) it
    returns why, and the email is not sent.

    ``prepare([(row, recipe), ...])``: run by the worker once for a batch's rows of this renderer,
    before their checks (and again after the worker's commit of the rows not sent, which expires
    what it loaded): it loads in a few statements what the checks and the renderer read, so a
    message to hundreds costs no statement per copy. The worker keeps what it returns until the
    batch is rendered (objects it loaded stay in the session, for ``db.session.get``), and with
    ``prepare`` the check is called as ``check(row, recipe, prepared)``.

    With ``prepare`` the renderer too is called with it, as ``fn(row, recipe, prepared)``: prepared is None
    where a row is rendered on its own (the Outbox showing one still waiting), and the renderer then loads
    what it needs itself.

    ``recipient(row, recipe)`` (with ``prepare``: ``recipient(row, recipe, prepared)``): run by the worker
    after the check, just before rendering to send; returns the (address, name) the row goes to now, or None
    for the row's own. The email is rendered for and sent to that address, and the row records it: a delegate
    who corrected their address meanwhile gets it there, and the address they left gets nothing.

    ``kind(row, recipe, prepared)`` (with ``prepare``): the kind of email the renderer words the row as, stored
    with its content so the Outbox lists and filters it as what was sent; without it the row keeps its kind.
    """
    def add(fn):
        _RENDERERS[name] = fn
        if check is not None:
            _CHECKS[name] = check
        if prepare is not None:
            _PREPARES[name] = prepare
        if recipient is not None:
            _RECIPIENTS[name] = recipient
        if kind is not None:
            _KINDS[name] = kind
        return fn
    return add


_BEFORE_SENDING: list[Callable] = []


def before_sending(fn):
    """Register a function each sending pass runs first, to put what has become due into the outbox
    (scheduled messages): the area that owns it decides what, the sender only when."""
    _BEFORE_SENDING.append(fn)
    return fn


def deferred_row(kind: str, to_email: str, to_name: str, *, recipe: dict, subject: str = "",
                 ics_method: str | None = None, assembly_id: int | None = None, dedupe_key: str | None = None,
                 now: datetime | None = None, domain: str | None = None, registration_id: int | None = None) -> dict:
    """Like outbox_row(), but the row keeps ``recipe`` (with "r", its renderer) and is rendered when sent.

    ``subject`` (render_subject()) is stored now for the outbox's search; sending renders it again.
    """
    now = now or utcnow()
    return {
        "kind": kind, "to_email": to_email, "to_name": clean_header(to_name)[:200], "subject": subject,
        "body_text": "", "body_html": "", "ics": None, "ics_method": ics_method.upper() if ics_method else None,
        "render": json.dumps(recipe, separators=(",", ":")), "assembly_id": assembly_id,
        "registration_id": registration_id, "dedupe_key": dedupe_key,
        "message_id": f"<{os.urandom(16).hex()}@{domain or id_domain()}>", "status": "pending", "next_attempt_at": now,
        "attempts": 0, "last_error": "", "created_at": now,
    }


def render_deferred(message, prepared: dict[str, object] | None = None) -> tuple[str, str, str, str | None]:
    """(subject, text, html, ics) of a row that holds a recipe (an OutboxMessage or a row of its columns).

    ``prepared``: what the renderers' prepare loaded for the batch the row is in, by renderer name (_prepare).
    """
    recipe = json.loads(message.render)
    name = recipe["r"]
    if name in _PREPARES:
        subject, text, html, ics = _RENDERERS[name](message, recipe, (prepared or {}).get(name))
    else:
        subject, text, html, ics = _RENDERERS[name](message, recipe)
    return clean_header(subject)[:900], text, html, ics


def rendered(message):
    """The message with its content, rendered now (not stored) if it is still a recipe: for display."""
    if not message.render:
        return message
    subject, text, html, ics = render_deferred(message)
    columns = {c.key: getattr(message, c.key) for c in OutboxMessage.__table__.columns}
    return SimpleNamespace(**{**columns, "subject": subject, "body_text": text, "body_html": html, "ics": ics,
                              "render": None})


# Links that only their addressee may open: a password reset link signs in as that person, so
# the Outbox (which every organiser reads) shows such messages with the link left out.
_PRIVATE_LINKS = {"password_reset": re.compile(r"/reset-password/[^\s\"'<>]+")}
HIDDEN_LINK = "/reset-password/…"


def has_private_link(message) -> bool:
    """Whether the Outbox hides a link of this message (see for_outbox)."""
    return message.kind in _PRIVATE_LINKS


def for_outbox(message):
    """The message as organisers may read it: rendered, and without links only its addressee may open."""
    message = rendered(message)
    pattern = _PRIVATE_LINKS.get(message.kind)
    if pattern is None:
        return message
    columns = {c.key: getattr(message, c.key) for c in OutboxMessage.__table__.columns}
    hide = (lambda value: pattern.sub(HIDDEN_LINK, value) if value else value)
    return SimpleNamespace(**{**columns, "body_text": hide(message.body_text), "body_html": hide(message.body_html),
                              "ics": hide(message.ics)})


def _kind_sent(row, prepared: dict[str, object]) -> str:
    """The kind a recipe row goes out as (its renderer's kind hook), else the row's own."""
    recipe = json.loads(row.render)
    name = recipe.get("r")
    return _KINDS[name](row, recipe, prepared.get(name)) if name in _KINDS else row.kind


def _content(row, subject: str, text: str, html: str, ics: str | None, kind: str) -> dict:
    return {"row_id": row.id, "new_subject": subject, "new_text": text, "new_html": html, "new_ics": ics,
            "new_to_email": row.to_email, "new_to_name": row.to_name, "new_kind": kind}


def _store_rendered(done: list[dict]) -> None:
    if done:
        table = OutboxMessage.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("row_id"), table.c.render.is_not(None))
            .values(subject=bindparam("new_subject"), body_text=bindparam("new_text"),
                    body_html=bindparam("new_html"), ics=bindparam("new_ics"), render=None,
                    to_email=bindparam("new_to_email"), to_name=bindparam("new_to_name"), kind=bindparam("new_kind")),
            done)


def materialise(ids: list[int] | None = None) -> int:
    """Render the deferred rows (these, or all) and store their content; the caller commits. Returns how many."""
    stmt = select(OutboxMessage).where(OutboxMessage.render.is_not(None)).order_by(OutboxMessage.id)
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    done = []
    messages = db.session.scalars(stmt).all()
    prepared, _ = _prepare(messages)
    for message in messages:
        subject, text, html, ics = render_deferred(message, prepared)
        done.append(_content(message, subject, text, html, ics, _kind_sent(message, prepared)))
    _store_rendered(done)
    db.session.expire_all()
    return len(done)


def queue_email(kind: str, to_email: str, to_name: str = "", *, context: dict | None = None,
                ics: str | None = None, ics_method: str | None = None, assembly_id: int | None = None,
                dedupe_key: str | None = None, registration_id: int | None = None) -> OutboxMessage:
    """Add a rendered email to the outbox in the current transaction (the caller commits)."""
    message = OutboxMessage(**outbox_row(kind, to_email, to_name, context=context, ics=ics, ics_method=ics_method,
                                         assembly_id=assembly_id, dedupe_key=dedupe_key,
                                         registration_id=registration_id))
    db.session.add(message)
    return message


# Built once: a registration queues its emails through here.
_INSERT_OUTBOX = insert(OutboxMessage.__table__)


def queue_rows(rows: list[dict]) -> int:
    """Add outbox_row() values to the outbox in one statement, in the current transaction (the caller commits)."""
    if rows:
        # Anything the session holds goes first, so the outbox keeps the order things happened in.
        db.session.flush()
        # Core rather than ORM bulk insert: nothing needs the new rows as objects.
        db.session.connection().execute(_INSERT_OUTBOX, rows)
    return len(rows)


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 encoded words, each a whole number of characters, one per folded line."""
    raw = value.encode("utf-8")
    words = []
    start, end = 0, len(raw)
    while start < end:
        # 39 octets make 52 base64 characters: a 64-character word, within 78 with its header name.
        cut = min(start + 39, end)
        while cut < end and raw[cut] & 0xC0 == 0x80:
            cut -= 1
        words.append(f"=?utf-8?b?{binascii.b2a_base64(raw[start:cut], newline=False).decode()}?=")
        start = cut
    return "\r\n ".join(words)


def _header(value: str) -> str:
    """A header value: as is when ASCII, else RFC 2047 encoded words folded with CRLF."""
    # Text that merely looks like an encoded word is encoded too, or readers would decode it.
    if value.isascii() and "=?" not in value:
        return value
    return _encoded_words(value)


_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def _address(name: str, addr: str, utf8: bool = False) -> str:
    """An address header value: the display name quoted or encoded as formataddr() would, on CRLF folds.

    An address must be ASCII (as formataddr insists), unless the message goes with SMTPUTF8 (RFC 6532).
    """
    addr = clean_header(addr)
    if not utf8:
        addr.encode("ascii")
    name = clean_header(name)
    if not name:
        return addr
    if not name.isascii() or "=?" in name:
        return f"{_encoded_words(name)} <{addr}>"
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date(value: datetime) -> str:
    # email.utils.format_datetime for a UTC time, without its strftime("%z").
    return (f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} {value.year:04d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} +0000")


def _b64(data: bytes) -> bytes:
    # base64.encodebytes, in one call rather than a Python loop over 57-byte lines, with CRLF ends.
    encoded = binascii.b2a_base64(data, newline=False)
    return b"".join([encoded[i:i + 76] + b"\r\n" for i in range(0, len(encoded), 76)])


def _part(content_type: str, body: bytes, extra: str = "") -> bytes:
    """A MIME part; ``body`` is already base64 (see _b64)."""
    return (f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n{extra}\r\n").encode() + body


def _multipart(subtype: str, parts: list[bytes], headers: str = "") -> bytes:
    boundary = f"=_{os.urandom(16).hex()}"
    out = [f'{headers}Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode() + part + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


_DTSTAMP_RE = re.compile(rb"^DTSTAMP:\d{8}T\d{6}Z\r$", re.M)


def _sender() -> str:
    """The From: header line for the configured sender (a "Name <address>" string or a pair), and a Reply-To:
    line naming the organiser mailbox when the sender is another address (a no-reply one, say): the emails
    ask people to reply, and a reply must reach the organisers."""
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    name, addr = parseaddr(sender) if isinstance(sender, str) else tuple(sender)
    organiser = clean_header(current_app.config.get("ORGANISER_EMAIL") or "")
    if not addr:
        line = f"From: {_header(clean_header(str(sender)))}\r\n"
    else:
        line = f"From: {_address(name, addr)}\r\n"
    if organiser and organiser.lower() != clean_header(addr).lower():
        line += f"Reply-To: {_address(current_app.config.get('ORGANISER_NAME') or '', organiser, True)}\r\n"
    return line


def mime_bytes(message: OutboxMessage) -> bytes:
    """The exact bytes sent for an outbox row (CRLF line ends, 7-bit, base64 bodies).

    Plain: multipart/alternative (text, HTML). Invitations (iMIP, RFC 6047):
    multipart/mixed ⊃ multipart/alternative (text, HTML, text/calendar; method=…)
    plus the same calendar as an invite.ics attachment.

    Written out directly rather than through EmailMessage, which costs about 9 ms
    a message here, more than the SMTP exchange itself; tests parse the result
    back with the standard email package.
    """
    return _mime(message, _sender(), utcnow(), utf8=not message.to_email.isascii())


def _mime(message, sender: str, now: datetime, utf8: bool = False) -> bytes:
    # ``sender``: the From: (and Reply-To:) header lines, from _sender().
    # ``message`` is an OutboxMessage or a row of the same columns (the sender's claim).
    # ``utf8``: the To: address may be non-ASCII, for a server that takes SMTPUTF8.
    headers = (
        f"{sender}"
        f"To: {_address(message.to_name or '', message.to_email, utf8)}\r\n"
        f"Subject: {_header(clean_header(message.subject))}\r\n"
        f"Date: {_date(message.created_at or now)}\r\n"
        f"Message-ID: {clean_header(message.message_id)}\r\n"
        # Every email here is sent by the app, not typed by a person: auto-responders (out-of-office
        # replies) stay quiet, RFC 3834 and Outlook/Exchange's own header.
        "Auto-Submitted: auto-generated\r\n"
        "X-Auto-Response-Suppress: OOF, AutoReply\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text = message.body_text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    html = message.body_html.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    alternatives = [_part('text/plain; charset="utf-8"', _b64(text)), _part('text/html; charset="utf-8"', _b64(html))]
    if not message.ics:
        return _multipart("alternative", alternatives, headers)
    method = (message.ics_method or "PUBLISH").upper()
    # The calendar goes as bytes, base64: its CRLF line ends and 75-octet folds arrive intact.
    ics = message.ics.encode("utf-8")
    # DTSTAMP says when this copy was sent (RFC 5546): a retry or resend gets a fresh one.
    stamp = (f"DTSTAMP:{now.year:04d}{now.month:02d}{now.day:02d}T"
             f"{now.hour:02d}{now.minute:02d}{now.second:02d}Z\r").encode()
    # Encoded once: the alternative and the attachment carry the same bytes.
    body = _b64(_DTSTAMP_RE.sub(stamp, ics))
    alternatives.append(_part(f'text/calendar; method={method}; charset="UTF-8"', body))
    attachment = _part('application/ics; name="invite.ics"', body,
                       'Content-Disposition: attachment; filename="invite.ics"\r\n')
    return _multipart("mixed", [_multipart("alternative", alternatives), attachment], headers)


def build_mime(message: OutboxMessage) -> EmailMessage:
    """The message as the standard email package reads it (for inspection and tests)."""
    return email.message_from_bytes(mime_bytes(message), policy=SMTP)


# --- delivery ------------------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # Out of date by their turn (see renderer's check): marked so, never sent.
    not_sent: int = 0
    # Why the connection could not be opened (never a message's address or content): for the worker's output.
    problem: str = ""

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed + self.not_sent


def is_permanent(err: BaseException) -> bool:
    """5xx replies are permanent; 4xx replies, refused or dropped connections are temporary."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in err.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(err, smtplib.SMTPResponseException):
        return err.smtp_code >= 500
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return True
    return False


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try after ``attempts`` tries: base × 2^(attempts−1), capped."""
    base = float(setting("MAIL_RETRY_BASE_SECONDS"))
    return min(base * (2 ** max(attempts - 1, 0)), float(setting("MAIL_RETRY_MAX_SECONDS")))


# What sending needs from a row: the claim reads these columns only, not whole ORM objects.
_SEND_COLUMNS = (OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.to_email, OutboxMessage.to_name,
                 OutboxMessage.subject, OutboxMessage.body_text, OutboxMessage.body_html, OutboxMessage.ics,
                 OutboxMessage.ics_method, OutboxMessage.message_id, OutboxMessage.created_at,
                 OutboxMessage.kind, OutboxMessage.assembly_id, OutboxMessage.render,
                 OutboxMessage.dedupe_key, OutboxMessage.registration_id)


def _due_stmt(limit: int):
    stmt = (
        select(*_SEND_COLUMNS)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow())
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        # Parallel workers skip rows another worker is claiming instead of waiting.
        stmt = stmt.with_for_update(skip_locked=True)
    return stmt


def claim_due(limit: int) -> list:
    """Claim due messages for this worker and commit; returns their rows (what sending needs, attempts before this try).

    Claiming pushes next_attempt_at one lease ahead, so no other worker takes the
    message while this one sends it, and a worker killed mid-batch loses nothing:
    its messages fall due again when the lease ends. On SQLite the claim runs under
    the database write lock (BEGIN IMMEDIATE), on PostgreSQL under FOR UPDATE SKIP LOCKED.
    """
    rows = db.session.execute(_due_stmt(limit)).all()
    if not rows:
        db.session.commit()
        return []
    lease_until = utcnow() + timedelta(seconds=setting("MAIL_LEASE_SECONDS"))
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_([row.id for row in rows]))
        .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return rows


def _outcome(attempts: int, err: BaseException | None) -> tuple[str, dict]:
    now = utcnow()
    if err is None:
        return "sent", {"status": "sent", "sent_at": now, "last_error": ""}
    reason = str(err) or type(err).__name__
    if is_permanent(err):
        return "failed", {"status": "failed", "last_error": reason[:2000]}
    if attempts >= setting("MAIL_MAX_ATTEMPTS"):
        return "failed", {"status": "failed", "last_error": f"Gave up after {attempts} attempts. Last error: {reason}"[:2000]}
    return "retrying", {"next_attempt_at": now + timedelta(seconds=backoff_seconds(attempts)),
                        "last_error": reason[:2000]}


def _save_outcomes(outcomes: list[tuple[int, int, dict]]) -> None:
    # Only rows still ours (pending, same attempt) are written: a resend by an organiser meanwhile wins.
    ours = (OutboxMessage.status == "pending",)
    sent: dict[int, list[int]] = {}
    for message_id, attempts, values in outcomes:
        if values.get("status") == "sent":
            sent.setdefault(attempts, []).append(message_id)
            continue
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.attempts == attempts,
                                                       *ours).values(**values)
                           .execution_options(synchronize_session=False))
    now = utcnow()
    for attempts, ids in sent.items():
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.attempts == attempts,
                                                       *ours).values(status="sent", sent_at=now, last_error="")
                           .execution_options(synchronize_session=False))
    db.session.commit()
    outcomes.clear()


def _close(conn) -> None:
    if conn is not None and conn.host is not None:
        try:
            conn.host.quit()
        except (smtplib.SMTPException, OSError):
            conn.host.close()


class ConnectionProblem(OSError):
    """The SMTP connection could not be opened (refused, TLS, or sign-in refused): every message
    waits for the next try, whatever the server's code. A wrong FLASK_MAIL_PASSWORD (535) says
    nothing about the messages, and must not fail the whole outbox for good."""


def _configure_host(state) -> smtplib.SMTP:
    """Flask-Mail's Connection.configure_host, closing the socket when TLS or the sign-in fails."""
    host = (smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP)(state.server, state.port)
    try:
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
    except BaseException:
        host.close()
        raise
    return host


def _open_connection():
    """A Flask-Mail connection, entered, or the error that kept it from opening."""
    try:
        conn = mail.connect()
        # As Connection.__enter__, without leaving a socket open when the sign-in is refused.
        conn.host = None if conn.mail.suppress else _configure_host(conn.mail)
        conn.num_emails = 0
        if conn.host is not None and conn.host.sock is not None:
            conn.host.sock.settimeout(setting("MAIL_TIMEOUT_SECONDS"))
        return conn, None
    except (smtplib.SMTPException, OSError) as err:
        server = f"{current_app.config.get('MAIL_SERVER')}:{current_app.config.get('MAIL_PORT', 25)}"
        return None, ConnectionProblem(f"Could not open the connection to {server}: {err}")


def _smtputf8_options(host, address: str) -> list[str]:
    """MAIL FROM options for ``address``: SMTPUTF8 for a non-ASCII one when the server offers it."""
    if address.isascii():
        return []
    host.ehlo_or_helo_if_needed()
    # Without the extension the address cannot be written: UnicodeEncodeError, failed below.
    return ["SMTPUTF8"] if host.has_extn("smtputf8") else []


def _send_share(conn, error, rows, envelope_from: str, sender: str, results: queue.SimpleQueue) -> None:
    """Send ``rows`` over one connection, putting (row, error or None) on ``results``, then None when done.

    Runs in a thread of its own: it touches neither the database nor the app, only the socket.
    """
    try:
        for row in rows:
            err = error
            if err is None and conn is not None and conn.host is not None:
                try:
                    options = _smtputf8_options(conn.host, row.to_email)
                    # Built just before sending (a fresh DTSTAMP), and never while the server is unreachable.
                    conn.host.sendmail(envelope_from, [row.to_email], _mime(row, sender, utcnow(), bool(options)),
                                       mail_options=options)
                except UnicodeEncodeError as exc:
                    # A non-ASCII address needs SMTPUTF8, which this server does not offer: as permanent
                    # as a server's refusal. Nothing was sent.
                    err = smtplib.SMTPNotSupportedError(
                        f"This address cannot be written: the mail server does not offer SMTPUTF8 ({exc})")
                except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
                    # The server answered about this message; the connection is still good.
                    err = exc
                except OSError as exc:
                    # Disconnected or timed out (SMTPException is an OSError too): this
                    # and the rest of this connection's share wait for the next pass.
                    err = error = exc
            results.put((row, err))
    finally:
        if error is None:
            _close(conn)
        elif conn is not None and conn.host is not None:
            conn.host.close()
        results.put(None)


def _prepare(rows: list) -> tuple[dict[str, object], set[int]]:
    """What each renderer's prepare loaded for its rows among ``rows`` (by renderer name), and the ids of
    the rows whose prepare failed (those are not sent this time, as a broken recipe)."""
    by_name: dict[str, list] = {}
    for row in rows:
        if row.render:
            recipe = json.loads(row.render)
            if recipe.get("r") in _PREPARES:
                by_name.setdefault(recipe["r"], []).append((row, recipe))
    prepared, broken = {}, set()
    for name, pairs in by_name.items():
        try:
            prepared[name] = _PREPARES[name](pairs)
        except Exception:  # noqa: BLE001 - as a broken recipe: its rows fail, the others go
            db.session.rollback()
            logger.exception("The data of %d %r emails could not be loaded", len(pairs), name)
            broken.update(row.id for row, _ in pairs)
    return prepared, broken


def _why_not_sent(row, prepared: dict[str, object]) -> str | None:
    """Why what a recipe row would say is no longer true (its renderer's check), or None."""
    recipe = json.loads(row.render)
    name = recipe.get("r")
    check = _CHECKS.get(name)
    if check is None:
        return None
    return check(row, recipe, prepared.get(name)) if name in _PREPARES else check(row, recipe)


def _to_current_recipient(row, prepared: dict[str, object]):
    """The row, addressed to whom its renderer's recipient says it goes to now (the row itself when unchanged)."""
    recipe = json.loads(row.render)
    name = recipe.get("r")
    recipient = _RECIPIENTS.get(name)
    if recipient is None:
        return row
    now = recipient(row, recipe, prepared.get(name)) if name in _PREPARES else recipient(row, recipe)
    if now is None:
        return row
    to_email, to_name = now[0], clean_header(now[1] or "")[:200]
    if (to_email, to_name) == (row.to_email, row.to_name):
        return row
    return SimpleNamespace(**{**_fields(row), "to_email": to_email, "to_name": to_name})


def _fields(row) -> dict:
    # A claimed row (a Row of _SEND_COLUMNS), or one _to_current_recipient readdressed.
    return row._asdict() if hasattr(row, "_asdict") else dict(vars(row))


def _pointless_cancels(rows: list, not_sent: dict[int, str]) -> dict[int, str]:
    """The calendar CANCELs among ``rows`` for an entry never put in that calendar: every earlier
    message for the entry at that address was not sent and never will be (say the first invitation,
    out of date by its turn because the delegate cancelled at once, or refused by their server: a
    failed one is not sent again once a newer one is queued, see superseded_by). Sent, it would only
    puzzle them. One still waiting for its retry may yet arrive: the CANCEL goes, and overtakes it."""
    # Queued rendered or as a recipe alike (a sync of many delegates defers its cancellations).
    cancels = [row for row in rows if row.id not in not_sent and row.registration_id
               and (row.ics_method or "").upper() == "CANCEL" and (row.dedupe_key or "").startswith("invite:")]
    if not cancels:
        return {}
    earlier: dict[tuple[str, str], list[tuple[int, bool]]] = {}
    for key, to_email, msg_id, status in db.session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.to_email, OutboxMessage.id, OutboxMessage.status)
            .where(OutboxMessage.registration_id.in_({row.registration_id for row in cancels}),
                   OutboxMessage.dedupe_key.startswith("invite:"))):
        skipped = msg_id in not_sent or status in ("skipped", "failed")
        earlier.setdefault((key.rpartition(":")[0], to_email.lower()), []).append((msg_id, skipped))
    out = {}
    for row in cancels:
        before = [skipped for msg_id, skipped in earlier.get((row.dedupe_key.rpartition(":")[0],
                                                              row.to_email.lower()), []) if msg_id < row.id]
        if before and all(before):
            out[row.id] = ("the invitation it withdraws was never sent, so the delegate's calendar has nothing "
                           "to cancel.")
    return out


def _overtaken(rows: list, not_sent: dict[int, str]) -> dict[int, str]:
    """The calendar messages rendered as queued among ``rows`` for which a newer message for the same entry was
    already sent to that address: a retry after a refused delivery (451) whose entry changed while it waited.
    Sent now, it would bring back the old time or room after the new one. (A recipe's check reads the entry.)"""
    calendar = [row for row in rows if row.id not in not_sent and not row.render and row.registration_id
                and (row.dedupe_key or "").startswith("invite:")]
    if not calendar:
        return {}
    sent: dict[tuple[str, str], int] = {}  # (invite:<uid>, address) -> highest sequence sent there
    for key, to_email in db.session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.to_email)
            .where(OutboxMessage.registration_id.in_({row.registration_id for row in calendar}),
                   OutboxMessage.dedupe_key.startswith("invite:"), OutboxMessage.status == "sent")):
        entry, _, seq = key.rpartition(":")
        if is_number(seq):
            where = (entry, to_email.lower())
            sent[where] = max(sent.get(where, -1), int(seq))
    out = {}
    for row in calendar:
        entry, _, seq = row.dedupe_key.rpartition(":")
        if is_number(seq) and sent.get((entry, row.to_email.lower()), -1) > int(seq):
            out[row.id] = "a newer calendar message for this entry was sent to this address while it waited."
    return out


def _mark_not_sent(rows: list, reasons: dict[int, str]) -> None:
    # As _save_outcomes: only rows still ours (pending, this attempt).
    for row in rows:
        if row.id in reasons:
            db.session.execute(update(OutboxMessage).where(
                OutboxMessage.id == row.id, OutboxMessage.attempts == row.attempts + 1,
                OutboxMessage.status == "pending").values(status="skipped", last_error=(NOT_SENT + reasons[row.id])[:2000])
                .execution_options(synchronize_session=False))


def _render_claimed(rows: list) -> tuple[list, list, int]:
    """Render the claimed rows that hold a recipe and store their content (committed before sending).

    Returns the rows ready to send (rendered ones with their content), (row, error) for rows that
    could not be rendered (those are not sent, and never stop the others), and how many rows were
    not sent because what they say is no longer true (marked so, with why, and committed).
    """
    checked = any(row.render or (row.dedupe_key or "").startswith("invite:") for row in rows)
    if not checked:
        return rows, [], 0
    not_sent: dict[int, str] = {}
    failed: list = []
    # Held until the batch is rendered: what the renderers' prepare loaded stays in the session.
    prepared, broken = _prepare(rows)
    failed += [(row, RuntimeError("Could not render this email: its batch's data could not be loaded."))
               for row in rows if row.id in broken]
    for row in rows:
        if not row.render or row.id in broken:
            continue
        try:
            reason = _why_not_sent(row, prepared)
        except Exception as err:  # noqa: BLE001 - as a broken recipe below
            db.session.rollback()
            failed.append((row, RuntimeError(f"Could not render this email: {type(err).__name__}: {err}")))
            broken.add(row.id)
            continue
        if reason:
            not_sent[row.id] = reason
    not_sent.update(_pointless_cancels([row for row in rows if row.id not in broken], not_sent))
    not_sent.update(_overtaken([row for row in rows if row.id not in broken], not_sent))
    if not_sent:
        _mark_not_sent(rows, not_sent)
        db.session.commit()  # before rendering: a broken recipe's rollback must not undo it
        # The commit expired what prepare loaded: loaded again, in as few statements, for the renderers.
        prepared, _ = _prepare([row for row in rows if row.id not in not_sent and row.id not in broken])
    ready, done = [], []
    for row in rows:
        if row.id in not_sent or row.id in broken:
            continue
        if not row.render:
            ready.append(row)
            continue
        try:
            row = _to_current_recipient(row, prepared)
            subject, text, html, ics = render_deferred(row, prepared)
            kind = _kind_sent(row, prepared)
        except Exception as err:  # noqa: BLE001 - a broken recipe or template fails its own message only
            db.session.rollback()
            failed.append((row, RuntimeError(f"Could not render this email: {type(err).__name__}: {err}")))
            continue
        done.append(_content(row, subject, text, html, ics, kind))
        ready.append(SimpleNamespace(**{**_fields(row), "subject": subject, "body_text": text, "body_html": html,
                                        "ics": ics, "render": None, "kind": kind}))
    # Stored before sending, with the address it goes to: a retry, a resend and the outbox page show what was sent.
    _store_rendered(done)
    db.session.commit()
    return ready, failed, len(not_sent)


def send_pending(limit: int | None = None) -> SendReport:
    """Deliver due messages over SMTP (Flask-Mail's connections); returns how each went."""
    report = SendReport()
    if not current_app.config.get("MAIL_SERVER"):
        return report
    for fn in _BEFORE_SENDING:
        fn()
    claimed = claim_due(limit or setting("MAIL_BATCH_SIZE"))
    if not claimed:
        return report
    envelope_from = Address(addr_spec=current_app.config["ORGANISER_EMAIL"]).addr_spec
    sender = _sender()
    claimed, unrenderable, report.not_sent = _render_claimed(claimed)
    pending: list[tuple[int, int, dict]] = []
    for row, err in unrenderable:
        # Not sent: retried later like a refused connection, and failed after the last attempt.
        outcome, values = _outcome(row.attempts + 1, err)
        setattr(report, outcome, getattr(report, outcome) + 1)
        pending.append((row.id, row.attempts + 1, values))
    if not claimed:
        _save_outcomes(pending)
        return report
    # SMTP is a conversation of round trips: over one connection the sender and the server
    # take turns waiting. A large batch is shared among a few connections (each a thread
    # that only talks SMTP), so one waits while another sends, and the outcomes are saved
    # meanwhile. A small batch keeps one connection, and so its order.
    shares = max(1, min(int(setting("MAIL_CONNECTIONS")), len(claimed) // int(setting("MAIL_PER_CONNECTION"))))
    results: queue.SimpleQueue = queue.SimpleQueue()
    threads = []
    for i in range(shares):
        conn, error = _open_connection()
        thread = threading.Thread(target=_send_share, name=f"smtp-{i}", daemon=True,
                                  args=(conn, error, claimed[i::shares], envelope_from, sender, results))
        thread.start()
        threads.append(thread)
    every = max(int(setting("MAIL_COMMIT_EVERY")), 1)
    last_commit = time.monotonic()
    running = shares
    try:
        while running:
            item = results.get()
            if item is None:
                running -= 1
                continue
            row, err = item
            if isinstance(err, ConnectionProblem):
                report.problem = str(err)
            attempts = row.attempts + 1
            outcome, values = _outcome(attempts, err)
            setattr(report, outcome, getattr(report, outcome) + 1)
            pending.append((row.id, attempts, values))
            if len(pending) >= every or time.monotonic() - last_commit >= 1.0:
                _save_outcomes(pending)
                last_commit = time.monotonic()
    finally:
        for thread in threads:
            thread.join()
        if pending:
            _save_outcomes(pending)
    return report


def run_worker(*, interval: float = 5.0, limit: int | None = None, stop=None, echo=None) -> None:
    """Deliver the outbox until ``stop()`` is true: a pass, then a pause when nothing was due."""
    stop = stop or (lambda: False)
    while not stop():
        try:
            report = send_pending(limit)
        except OperationalError as err:
            # Database restarting or locked for long: try again shortly rather than die.
            db.session.rollback()
            if echo:
                echo(f"Database error, retrying: {err.orig}")
            report = SendReport()
        if echo and report.handled:
            echo(f"Sent {report.sent}, will retry {report.retrying}, failed {report.failed}."
                 + (f" Not sent, out of date: {report.not_sent}." if report.not_sent else "")
                 + (f" {report.problem}" if report.problem else ""))
        if report.handled == 0:
            pause(interval, stop)
        db.session.remove()


def superseded_by(message: OutboxMessage) -> OutboxMessage | None:
    """The latest calendar message for the same entry and address, if one was queued after this one."""
    if not message.ics or not (message.dedupe_key or "").startswith("invite:"):
        return None
    # An invitation's key is invite:<uid>:<sequence>, and each change of the entry raises the sequence.
    prefix = message.dedupe_key.rpartition(":")[0] + ":"
    return db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(prefix, autoescape=True),
                                    OutboxMessage.to_email == message.to_email, OutboxMessage.id > message.id)
        .order_by(OutboxMessage.id.desc()).limit(1))


def resend(message: OutboxMessage) -> OutboxMessage:
    """Queue a failed (or sent) message again, with the same Message-ID."""
    if message.status == "pending":
        raise DomainError("This message is already waiting to be sent.")
    if message.status == "skipped":
        raise DomainError("This message was not sent because what it says was no longer true when its turn "
                          "came: sending it now would tell the delegate something wrong.")
    if superseded_by(message) is not None:
        # Its text and its calendar entry are out of date: sent again, they would tell the
        # delegate the old time or room (and some calendars would apply it).
        raise DomainError("A newer calendar message for this entry was queued after this one, so this one is out "
                          "of date. Resend the newer one instead.")
    message.status = "pending"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.last_error = ""
    message.sent_at = None
    db.session.commit()
    return message


@dataclass(frozen=True)
class OutboxFilters:
    """The Outbox list's filters, already checked (empty means any): they pick the rows listed, counted and
    sent again."""

    status: str = ""
    kind: str = ""
    assembly_id: int | None = None
    q: str = ""
    registration_id: int | None = None

    def where(self, stmt):
        """stmt narrowed to the messages these filters pick."""
        if self.registration_id:
            # Every email about one delegate, whichever address it went to (their organiser page links here).
            stmt = stmt.where(OutboxMessage.registration_id == self.registration_id)
        if self.status:
            stmt = stmt.where(OutboxMessage.status == self.status)
        if self.kind:
            stmt = stmt.where(OutboxMessage.kind == self.kind)
        if self.assembly_id:
            stmt = stmt.where(OutboxMessage.assembly_id == self.assembly_id)
        if self.q:
            stmt = stmt.where(OutboxMessage.to_email.icontains(self.q, autoescape=True)
                              | OutboxMessage.to_name.icontains(self.q, autoescape=True)
                              | OutboxMessage.subject.icontains(self.q, autoescape=True))
        return stmt


def _replaced_calendar_rows(rows: list[tuple[int, str, str]]) -> set[int]:
    """superseded_by for many calendar messages (id, dedupe key, address) at once: the ids a newer message for the
    same entry and address replaced, in a statement per 500 addresses (thousands fail when the SMTP password is
    wrong)."""
    addresses = sorted({to_email for _, _, to_email in rows})
    newest: dict[tuple[str, str], int] = {}
    for start in range(0, len(addresses), 500):
        for msg_id, key, to_email in db.session.execute(
                select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.to_email)
                .where(OutboxMessage.to_email.in_(addresses[start:start + 500]),
                       OutboxMessage.dedupe_key.startswith("invite:"))):
            entry = (key.rpartition(":")[0], to_email)
            newest[entry] = max(newest.get(entry, 0), msg_id)
    return {msg_id for msg_id, key, to_email in rows if newest.get((key.rpartition(":")[0], to_email), 0) > msg_id}


def retry_failed(filters: OutboxFilters | None = None) -> tuple[int, int]:
    """Queue the failed messages again (say once the SMTP settings are put right): those the Outbox's
    ``filters`` pick, or every one (the command line). Returns (queued, left failed): a calendar message a
    newer one for the same entry replaced stays failed."""
    stmt = (select(OutboxMessage.id, OutboxMessage.dedupe_key, OutboxMessage.to_email, OutboxMessage.ics.is_not(None))
            .where(OutboxMessage.status == "failed").order_by(OutboxMessage.id))
    failed = db.session.execute((filters or OutboxFilters()).where(stmt)).all()
    replaced = _replaced_calendar_rows([(msg_id, key, to_email) for msg_id, key, to_email, has_ics in failed
                                        if has_ics and (key or "").startswith("invite:")])
    again = [msg_id for msg_id, *_ in failed if msg_id not in replaced]
    now = utcnow()
    for start in range(0, len(again), 500):
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(again[start:start + 500]),
                                                       OutboxMessage.status == "failed")
                           .values(status="pending", attempts=0, next_attempt_at=now, last_error="", sent_at=None))
    db.session.commit()
    return len(again), len(failed) - len(again)


def outbox_counts(filters: OutboxFilters | None = None) -> dict[str, int]:
    """Messages by status, for the Outbox page: of those its other filters (all but the status) pick."""
    stmt = select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status)
    if filters is not None:
        stmt = replace(filters, status="").where(stmt)
    return {status: n for status, n in db.session.execute(stmt).all()}


def latest_about(registration_id: int, limit: int = 10) -> tuple[list[OutboxMessage], int]:
    """The newest emails about one registration (rendered as sent), and how many there are in all."""
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.registration_id == registration_id)
                              .order_by(OutboxMessage.id.desc()).limit(limit)).all()
    total = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.registration_id == registration_id))
    return [m if m.subject else rendered(m) for m in rows], total
