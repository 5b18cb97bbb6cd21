"""The MIME the sender writes, read back by the standard email package: hostile names and subjects stay in their header."""
from __future__ import annotations

import base64
import email
import re
import email.policy
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.utils import format_datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eventapp.mail import services
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import clean_header, mime_bytes

HOSTILE = [
    "Mallory\r\nBcc: victim@example.org",
    'Eve "The Boss" O\'Brien; <evil@example.org>, Jr.',
    "Zoë 😀 \u202bעברית\u202c العربية",
    "=?utf-8?b?SGVsbG8=?= looks encoded",
    "tab\there nul\x00byte \x1b[31m",
    "é" * 200,
    "😀" * 200,
    "x" * 200,
    "\\ back\\slash \"quoted\"",
    "",
    "   ",
]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=200))
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Auto-Response-Suppress", "MIME-Version",
           "Content-Type"]


def display_name(raw: bytes, header: str) -> str:
    """The display name as RFC 2047 reads it.

    A long non-ASCII name is several encoded words (each at most 75 characters, RFC 2047 2).
    The space between adjacent encoded words is not part of the text (RFC 2047 6.2), but the
    email package's default policy keeps one between them in an address, so those are read
    with decode_header, which follows the RFC.
    """
    value = email.message_from_bytes(raw, policy=email.policy.compat32)[header]
    phrase = value.rpartition(" <")[0]
    if phrase.startswith("=?"):
        return str(make_header(decode_header(phrase)))
    return email.message_from_bytes(raw, policy=email.policy.default)[header].addresses[0].display_name


def message(name: str, subject: str, ics: str | None) -> OutboxMessage:
    return OutboxMessage(kind="invite", to_email="delegate@example.org", to_name=name, subject=subject,
                         body_text="Text\nwith lines\r\nand é", body_html="<p>HTML é</p>", ics=ics,
                         ics_method="REQUEST" if ics else None, message_id="<abc@example.org>",
                         created_at=datetime(2027, 3, 18, 9, 30, 5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=text, subject=text, with_ics=st.booleans())
@example(name="😀" * 200, subject="é" * 900, with_ics=True)
def test_hostile_names_and_subjects_read_back_exactly(app, name, subject, with_ics):
    ics = "BEGIN:VCALENDAR\r\nDTSTAMP:20200101T000000Z\r\nEND:VCALENDAR\r\n" if with_ics else None
    raw = mime_bytes(message(name, subject, ics))
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    raw.decode("ascii")  # 7-bit: every non-ASCII character is encoded
    for word in re.findall(rb"=\?utf-8\?b\?([^?]*)\?=", raw):
        assert len(word) + 12 <= 75
        base64.b64decode(word).decode("utf-8")  # each word whole characters (RFC 2047 5)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert sorted(msg.keys()) == sorted(HEADERS)
    (to,) = msg["To"].addresses
    assert to.addr_spec == "delegate@example.org"
    assert display_name(raw, "To") == clean_header(name)
    assert str(msg["Subject"]) == clean_header(subject)
    assert msg["Date"].datetime == datetime(2027, 3, 18, 9, 30, 5, tzinfo=timezone.utc)
    assert msg["Message-ID"] == "<abc@example.org>"
    plain = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    assert plain.get_payload(decode=True) == "Text\r\nwith lines\r\nand é".encode()
    calendars = [p for p in msg.walk() if p.get_content_type() in ("text/calendar", "application/ics")]
    assert len(calendars) == (2 if with_ics else 0)
    if with_ics:
        first, second = (p.get_payload(decode=True) for p in calendars)
        assert first == second and first.startswith(b"BEGIN:VCALENDAR\r\nDTSTAMP:") and b"20200101" not in first


def test_a_hostile_address_cannot_add_a_header(app):
    row = message("Name", "Subject", None)
    row.to_email = "delegate@example.org\r\nBcc: victim@example.org"
    msg = email.message_from_bytes(mime_bytes(row), policy=email.policy.default)
    assert sorted(msg.keys()) == sorted(HEADERS)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=text)
def test_configured_sender_names_are_encoded_like_recipients(app, name):
    saved = app.config["MAIL_DEFAULT_SENDER"]
    app.config["MAIL_DEFAULT_SENDER"] = (name, "assembly@example.org")
    try:
        raw = mime_bytes(message("A", "S", None))
    finally:
        app.config["MAIL_DEFAULT_SENDER"] = saved
    (sender,) = email.message_from_bytes(raw, policy=email.policy.default)["From"].addresses
    assert (display_name(raw, "From"), sender.addr_spec) == (clean_header(name), "assembly@example.org")


def test_default_sender_string_is_split_into_name_and_address(app):
    msg = email.message_from_bytes(mime_bytes(message("A", "S", None)), policy=email.policy.default)
    (sender,) = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Community Safety Assembly", "assembly@localhost")


@given(moment=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 1, 1)))
def test_date_header_is_format_datetime(moment):
    assert services._date(moment) == format_datetime(moment.replace(tzinfo=timezone.utc))


@given(data=st.binary(max_size=2000))
def test_base64_bodies_are_encodebytes_with_crlf(data):
    assert services._b64(data) == base64.encodebytes(data).replace(b"\n", b"\r\n")


def test_replies_reach_the_organiser_mailbox_when_the_sender_is_another_address(app, monkeypatch):
    # Emails say "reply to this email" (action reminders, "did you not ask for this?"): sent from a no-reply
    # address, the reply must still go to the organisers.
    monkeypatch.setitem(app.config, "MAIL_DEFAULT_SENDER", "Community Safety Assembly <no-reply@example.org>")
    monkeypatch.setitem(app.config, "ORGANISER_EMAIL", "partnerships@example.org")
    monkeypatch.setitem(app.config, "ORGANISER_NAME", "PCC Partnerships, Team")
    msg = email.message_from_bytes(mime_bytes(message("A", "S", None)), policy=email.policy.default)
    (reply_to,) = msg["Reply-To"].addresses
    assert (reply_to.display_name, reply_to.addr_spec) == ("PCC Partnerships, Team", "partnerships@example.org")
    assert msg["From"].addresses[0].addr_spec == "no-reply@example.org"
    # Sent from the organiser mailbox itself, a reply goes there already.
    monkeypatch.setitem(app.config, "ORGANISER_EMAIL", "No-Reply@example.org")
    msg = email.message_from_bytes(mime_bytes(message("A", "S", None)), policy=email.policy.default)
    assert "Reply-To" not in msg
