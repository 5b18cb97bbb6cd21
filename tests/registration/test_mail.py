"""Emails leave through the outbox and a real SMTP server (aiosmtpd), with a working absolute manage link."""
from __future__ import annotations

import re

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from tests.conftest import post_form
from tests.mail_sink import html_of, text_of
from tests.registration.conftest import form_fields, outbox

LINK_RE = re.compile(r"(http://localhost/manage/[A-Za-z0-9_.\-]+)")


def test_confirmation_is_delivered_over_smtp_and_its_link_opens_the_manage_page(client, setup, mail_sink):
    post_form(client, f"/a/{setup.assembly.slug}/register",
              form_fields(setup, full_name="Siobhán O'Brien <b>", email="Siobhan.OBrien@Example.org"))
    assert db.session.scalar(select(OutboxMessage)).status == "pending"
    result = client.application.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "failed 0" in result.output, result.output
    mail_sink.wait_for(1)
    [message] = [m for m in mail_sink.messages if m["Subject"].startswith("Your place")]
    assert message["Subject"] == f"Your place at {setup.assembly.title} is confirmed"
    assert message["To"].addresses[0].addr_spec == "Siobhan.OBrien@Example.org"
    assert message["To"].addresses[0].display_name == "Siobhán O'Brien <b>"
    body = text_of(message)
    assert "Dear Siobhán O'Brien <b>," in body
    assert "Dear <bdi>Siobhán O&#39;Brien &lt;b&gt;</bdi>," in html_of(message)
    link = LINK_RE.search(body).group(1)
    page = client.get(link.replace("http://localhost", ""))
    assert page.status_code == 200 and "Your place is confirmed." in page.get_data(as_text=True)
    assert db.session.scalar(select(OutboxMessage)).status == "sent"


def test_waiting_list_and_promotion_emails_are_delivered(client, setup, mail_sink):
    setup.assembly.capacity = 1
    db.session.commit()
    post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, n=1))
    post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, n=2, org=1))
    runner = client.application.test_cli_runner()
    runner.invoke(args=["mail", "send"])
    mail_sink.wait_for(2)
    messages = [m for m in mail_sink.messages if "text/calendar" not in {p.get_content_type() for p in m.walk()}]
    waiting = [m for m in messages if "waiting list" in m["Subject"]][0]
    assert "position 1" in text_of(waiting)
    link = LINK_RE.search(text_of(messages[0])).group(1).replace("http://localhost", "")
    post_form(client, link + "/cancel", {})
    runner.invoke(args=["mail", "send"])
    mail_sink.wait_for(4)
    subjects = {(str(m["To"]), m["Subject"]) for m in mail_sink.messages}
    assert ("Delegate 2 <delegate2@example.org>", f"Good news: you now have a place at {setup.assembly.title}") in subjects
    assert ("Delegate 1 <delegate1@example.org>", f"Your registration for {setup.assembly.title} is cancelled") in subjects


def test_the_waiting_list_email_says_when_the_organisations_limit_is_the_reason(client, setup):
    from tests.registration.test_delegate_journey import register

    # Two per organisation, five places: the Constabulary's third waits while places are free.
    for n in (1, 2, 3):
        register(client, setup, n=n)
    mail = outbox(kind="waiting_list", to="delegate3@example.org")[-1]
    for body in (mail.body_text, mail.body_html):
        assert "Shireford Constabulary already has 2 confirmed delegates, the most each organisation can send." \
            in " ".join(re.sub(r"<[^>]+>", "", body).split())
    # A full assembly needs no such explanation.
    for n, org in ((4, 1), (5, 1), (6, 2), (7, 2)):
        register(client, setup, n=n, org=org)
    mail = outbox(kind="waiting_list", to="delegate7@example.org")[-1]
    assert "already has" not in mail.body_text
