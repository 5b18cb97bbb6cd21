"""The organiser's Outbox: every message listed, filtered, rendered safely, downloadable and resendable."""
from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from html import unescape

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.invites import ical
from eventapp.mail import services
from eventapp.mail.models import OutboxMessage
from eventapp.timeutil import local_today, utcnow
from tests.conftest import csrf_from
from tests.factories import make_assembly

HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> \u202eevil'


def add(n: int = 1, **kw) -> list[OutboxMessage]:
    rows = []
    for i in range(n):
        values = dict(kind="registration_confirmed", to_email=f"p{i}@example.org", to_name=f"Person {i}",
                      subject=f"Subject {i}", body_text="Dear Person\nLine two", body_html="<p>Hello</p>",
                      message_id=f"<m{i}-{id(rows)}@example.org>", status="pending", attempts=0,
                      next_attempt_at=utcnow(), last_error="")
        values.update(kw)
        rows.append(OutboxMessage(**values))
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_only_organisers_see_the_outbox(client, as_facilitator):
    assert as_facilitator.get("/organiser/outbox/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    assert client.get("/organiser/outbox/").status_code == 302


def test_empty_outbox_and_no_smtp_banner(as_organiser):
    page = as_organiser.get("/organiser/outbox/").get_data(as_text=True)
    assert "No messages yet" in page
    assert "No SMTP server is configured" in page


def test_list_paginates_and_filters(as_organiser):
    a1, a2 = make_assembly(title="Spring assembly"), make_assembly(title="Autumn assembly")
    add(30, assembly_id=a1.id)
    add(2, kind="invite", status="failed", last_error="550 no", assembly_id=a2.id, to_email="x@example.org")
    first = as_organiser.get("/organiser/outbox/").get_data(as_text=True)
    assert "Page 1 of 2 (32 in all)" in first
    failed = as_organiser.get("/organiser/outbox/?status=failed").get_data(as_text=True)
    assert failed.count("<tr>") == 1 + 2 and "x@example.org" in failed
    by_kind = as_organiser.get("/organiser/outbox/?kind=invite").get_data(as_text=True)
    assert by_kind.count("<tr>") == 3
    by_assembly = as_organiser.get(f"/organiser/outbox/?assembly={a1.id}").get_data(as_text=True)
    assert "Page 1 of 2 (30 in all)" in by_assembly
    none = as_organiser.get("/organiser/outbox/?q=nobody-here").get_data(as_text=True)
    assert "No messages match" in none
    assert "2 failed" in first


def test_the_filtered_outbox_downloads_as_csv(as_organiser):
    # "Did everyone get their invitation?": the failed ones of one assembly, with why, for a spreadsheet.
    a1, a2 = make_assembly(title="Spring assembly"), make_assembly(title="Autumn assembly")
    add(3, assembly_id=a1.id, status="sent", sent_at=datetime(2027, 1, 2, 9, 30))
    add(2, kind="invite", status="failed", last_error="550 mailbox unavailable", assembly_id=a1.id,
        to_name="=HYPERLINK(\"http://evil.example\")")
    add(1, status="failed", assembly_id=a2.id)
    listing = as_organiser.get(f"/organiser/outbox/?assembly={a1.id}&status=failed").get_data(as_text=True)
    link = f'href="/organiser/outbox/outbox.csv?assembly={a1.id}&amp;status=failed">Download the 2 messages shown'
    assert link in listing
    resp = as_organiser.get(f"/organiser/outbox/outbox.csv?assembly={a1.id}&status=failed")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    name = f"outbox-{a1.slug}-failed-{local_today().isoformat()}.csv"
    assert resp.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    lines = resp.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Queued (UTC),Name,Email,Subject,Kind,Status,Attempts,Sent (UTC),Last error"
    assert len(lines) == 3
    assert all(",Invitation,Failed,0,,550 mailbox unavailable" in line for line in lines[1:])
    assert all("'=HYPERLINK" in line for line in lines[1:])  # no formula reaches Excel
    everything = as_organiser.get("/organiser/outbox/outbox.csv").get_data(as_text=True).splitlines()
    assert len(everything) == 1 + 6


def test_detail_renders_text_escaped_and_html_in_a_sandboxed_frame(as_organiser):
    stamp = datetime(2027, 1, 1)
    text = ical.invitation("REQUEST", "uid-1@example.org", ical.EventData("Workshop", stamp, stamp.replace(hour=1)),
                           sequence=0, attendee_email="p0@example.org", attendee_name="P", stamp=stamp)
    (msg,) = add(1, subject=HOSTILE, to_name=HOSTILE, body_text=HOSTILE, body_html=f"<p>{HOSTILE}</p><script>x()</script>",
                 ics=text, ics_method="REQUEST", kind="invite")
    response = as_organiser.get(f"/organiser/outbox/{msg.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert f'<iframe class="mail-html" sandbox src="/organiser/outbox/{msg.id}/body.html"' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "BEGIN:VCALENDAR" in page

    body = as_organiser.get(f"/organiser/outbox/{msg.id}/body.html")
    csp = body.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert body.headers["X-Frame-Options"] == "SAMEORIGIN"

    ics = as_organiser.get(f"/organiser/outbox/{msg.id}/invite.ics")
    assert ics.mimetype == "text/calendar" and ics.data == text.encode()
    eml = as_organiser.get(f"/organiser/outbox/{msg.id}/message.eml")
    parsed = email.message_from_bytes(eml.data, policy=email.policy.default)
    assert parsed["Message-ID"] == msg.message_id
    assert any(p.get_content_type() == "text/calendar" and p.get_param("method") == "REQUEST" for p in parsed.walk())


def test_plain_message_has_no_calendar_download(as_organiser):
    (msg,) = add(1)
    assert as_organiser.get(f"/organiser/outbox/{msg.id}/invite.ics").status_code == 404
    assert "calendar file" not in as_organiser.get(f"/organiser/outbox/{msg.id}").get_data(as_text=True)
    assert as_organiser.get("/organiser/outbox/999999").status_code == 404


def test_failed_message_shows_its_error_and_can_be_resent(as_organiser):
    (msg,) = add(1, status="failed", attempts=3, last_error="550 5.1.1 Mailbox does not exist")
    page = as_organiser.get(f"/organiser/outbox/{msg.id}").get_data(as_text=True)
    assert "550 5.1.1 Mailbox does not exist" in page and "Resend this message" in page
    response = as_organiser.post(f"/organiser/outbox/{msg.id}/resend", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    db.session.expire_all()
    msg = db.session.get(OutboxMessage, msg.id)
    assert (msg.status, msg.attempts, msg.last_error) == ("pending", 0, "")
    after = as_organiser.get(f"/organiser/outbox/{msg.id}").get_data(as_text=True)
    assert "queued again" in after and "Resend this message" not in after


def test_resend_without_csrf_token_changes_nothing(as_organiser):
    (msg,) = add(1, status="failed", last_error="550")
    as_organiser.post(f"/organiser/outbox/{msg.id}/resend", data={})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, msg.id).status == "failed"


def test_an_out_of_date_calendar_message_cannot_be_resent(as_organiser):
    # The first invitation failed (mailbox full); then the workshop moved room and the update was sent.
    uid = "assembly1-registration7-round2@example.org"
    (old,) = add(1, kind="invite", to_email="aisha@example.org", subject="Workshop: ASB, Council Chamber",
                 ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", ics_method="REQUEST", dedupe_key=f"invite:{uid}:0",
                 status="failed", last_error="452 mailbox full")
    (new,) = add(1, kind="invite_updated", to_email="aisha@example.org", subject="Updated: Workshop: ASB, Room 2",
                 ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", ics_method="REQUEST", dedupe_key=f"invite:{uid}:1",
                 status="sent", sent_at=utcnow())
    (other,) = add(1, kind="invite", to_email="ben@example.org", ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                   ics_method="REQUEST", dedupe_key="invite:assembly1-registration8-round2@example.org:0",
                   status="failed", last_error="452")
    page = as_organiser.get(f"/organiser/outbox/{old.id}").get_data(as_text=True)
    assert "This calendar message is out of date" in page and f'href="/organiser/outbox/{new.id}"' in page
    assert "Resend this message" not in page
    as_organiser.post(f"/organiser/outbox/{old.id}/resend", data={"csrf_token": csrf_from(page)})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, old.id).status == "failed"
    after = as_organiser.get(f"/organiser/outbox/{old.id}").get_data(as_text=True)
    assert "Resend the newer one instead." in after
    # The latest message of an entry, and another delegate's, can still be sent again.
    assert "Send this message again" in as_organiser.get(f"/organiser/outbox/{new.id}").get_data(as_text=True)
    assert "Resend this message" in as_organiser.get(f"/organiser/outbox/{other.id}").get_data(as_text=True)


def test_every_failed_message_is_sent_again_in_one_go_but_out_of_date_calendar_ones(as_organiser):
    # The SMTP password was wrong for an afternoon: everything failed. The organiser puts it right.
    plain = add(3, status="failed", attempts=5, last_error="535 authentication failed")
    uid = "assembly1-registration7-round2@example.org"
    (old,) = add(1, kind="invite", to_email="aisha@example.org", ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                 ics_method="REQUEST", dedupe_key=f"invite:{uid}:0", status="failed", last_error="535")
    (new,) = add(1, kind="invite_updated", to_email="aisha@example.org", ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                 ics_method="REQUEST", dedupe_key=f"invite:{uid}:1", status="failed", last_error="535")
    (sent,) = add(1, status="sent", sent_at=utcnow())
    page = as_organiser.get("/organiser/outbox/").get_data(as_text=True)
    assert "Send the 5 failed messages again" in page
    resp = as_organiser.post("/organiser/outbox/retry-failed", data={"csrf_token": csrf_from(page)},
                             follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "4 failed messages will be sent again, once an SMTP server is configured." in html
    assert "1 calendar message stayed failed: a newer one for the same entry replaced it." in html
    db.session.expire_all()
    status = {m.id: (m.status, m.attempts, m.last_error) for m in db.session.query(OutboxMessage)}
    for m in (*plain, new):
        assert status[m.id] == ("pending", 0, "")
    assert status[old.id][0] == "failed" and status[sent.id][0] == "sent"
    # Nothing failed now but the out-of-date one: the button offers just that, and a post without a token does nothing.
    assert as_organiser.post("/organiser/outbox/retry-failed", data={}).status_code == 400


def test_the_operator_queues_failed_messages_again_from_the_command_line(app, db):
    add(2, status="failed", last_error="535 authentication failed")
    result = app.test_cli_runner().invoke(args=["mail", "retry-failed"])
    assert result.exit_code == 0 and "Queued 2 failed messages again." in result.output
    assert {m.status for m in db.session.query(OutboxMessage)} == {"pending"}


def _action(html: str, path: str) -> str:
    """The (unescaped) action of the page's form that posts to ``path``."""
    match = re.search(rf'<form method="post" action="({re.escape(path)}[^"]*)"', html)
    assert match, f"no form posting to {path}"
    return unescape(match.group(1))


def test_sending_failed_ones_again_follows_the_filters_the_list_shows(as_organiser):
    # One assembly's invitations bounced (its venue's domain was mistyped); another's failures are real bounces
    # the organiser does not want sent again.
    spring, autumn = make_assembly(title="Spring assembly"), make_assembly(title="Autumn assembly")
    mine = add(2, status="failed", last_error="550 no such domain", assembly_id=spring.id)
    add(1, status="pending", assembly_id=spring.id)
    others = add(3, status="failed", last_error="550 mailbox unknown", assembly_id=autumn.id)
    url = f"/organiser/outbox/?assembly={spring.id}&page=1"
    page = as_organiser.get(url).get_data(as_text=True)
    # The counts are the assembly's, and so is the button's.
    assert "1 waiting &middot; 0 sent &middot;" in page
    assert f'href="/organiser/outbox/?assembly={spring.id}&amp;status=failed">2 failed</a>' in page
    assert "Send the 2 failed messages matching the filters again" in page
    action = _action(page, "/organiser/outbox/retry-failed")
    assert action == f"/organiser/outbox/retry-failed?assembly={spring.id}&page=1"
    resp = as_organiser.post(action, data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302 and resp.headers["Location"] == url
    html = as_organiser.get(url).get_data(as_text=True)
    assert "2 failed messages matching the filters will be sent again, once an SMTP server is configured." in html
    db.session.expire_all()
    assert {m.status for m in mine} == {"pending"} and {m.status for m in others} == {"failed"}
    # Nothing of that assembly failed now: no button, though other assemblies' failures remain.
    assert "Send the" not in html and "3 waiting &middot; 0 sent &middot; 0 failed" in html
    everything = as_organiser.get("/organiser/outbox/").get_data(as_text=True)
    assert "Send the 3 failed messages again" in everything


def test_the_search_and_status_filters_pick_the_failed_ones_too(as_organiser):
    add(2, status="failed", last_error="550", to_email="team@example.org")
    (other,) = add(1, status="failed", last_error="550", to_email="else@example.net")
    add(1, status="sent", sent_at=utcnow(), to_email="team@example.org")
    page = as_organiser.get("/organiser/outbox/?q=team%40example&status=failed").get_data(as_text=True)
    assert "0 waiting &middot; 1 sent &middot;" in page
    assert "Send the 2 failed messages matching the filters again" in page
    # Showing only sent messages, none of which can be sent again: no button.
    sent = as_organiser.get("/organiser/outbox/?status=sent").get_data(as_text=True)
    assert "Send the" not in sent and "3 failed" in sent
    # A post with filters that pick nothing failed says so and changes nothing.
    resp = as_organiser.post("/organiser/outbox/retry-failed?status=sent", data={"csrf_token": csrf_from(page)},
                             follow_redirects=True)
    assert "No message matching the filters has failed: there is nothing to send again." in resp.get_data(as_text=True)
    resp = as_organiser.post(_action(page, "/organiser/outbox/retry-failed"), data={"csrf_token": csrf_from(page)},
                             follow_redirects=True)
    assert "2 failed messages matching the filters will be sent again" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, other.id).status == "failed"


def test_the_command_line_still_sends_every_failed_message_again(app, db):
    a1, a2 = make_assembly(), make_assembly()
    add(1, status="failed", assembly_id=a1.id)
    add(2, status="failed", assembly_id=a2.id, kind="invite")
    result = app.test_cli_runner().invoke(args=["mail", "retry-failed"])
    assert result.exit_code == 0 and "Queued 3 failed messages again." in result.output
    assert {m.status for m in db.session.query(OutboxMessage)} == {"pending"}


def test_back_to_the_outbox_keeps_the_filters_and_page_the_message_was_opened_from(as_organiser):
    spring = make_assembly(title="Spring assembly")
    rows = add(30, status="failed", last_error="550", assembly_id=spring.id)
    query = f"q=Subject&status=failed&assembly={spring.id}&page=2"
    listing = as_organiser.get(f"/organiser/outbox/?{query}").get_data(as_text=True)
    oldest = rows[0]
    link = f'/organiser/outbox/{oldest.id}?{query.replace("&", "&amp;")}'
    assert f'href="{link}"' in listing
    detail = as_organiser.get(unescape(link)).get_data(as_text=True)
    assert f'<a href="/organiser/outbox/?{query.replace("&", "&amp;")}">Back to the Outbox</a>' in detail
    # Resending from there comes back to the message with the way back intact.
    action = _action(detail, f"/organiser/outbox/{oldest.id}/resend")
    resp = as_organiser.post(action, data={"csrf_token": csrf_from(detail)})
    assert resp.headers["Location"] == unescape(link)
    # Straight from elsewhere (no query): back to the whole Outbox.
    plain = as_organiser.get(f"/organiser/outbox/{oldest.id}").get_data(as_text=True)
    assert '<a href="/organiser/outbox/">Back to the Outbox</a>' in plain


def test_the_way_back_carries_only_the_lists_own_values(as_organiser):
    (m,) = add(1)
    hostile = ("next=https://evil.example/&page=2x&status=bogus&assembly=-1&kind=a%3Cb&registration=%C2%B2"
               "&q=%2F%2Fevil.example%2F&page=3")
    detail = as_organiser.get(f"/organiser/outbox/{m.id}?{hostile}").get_data(as_text=True)
    back = re.search(r'<a href="([^"]*)">Back to the Outbox</a>', detail).group(1)
    # Only the search text survives, as a query value on the Outbox's own path.
    assert unescape(back) == "/organiser/outbox/?q=//evil.example/"
    assert "evil.example/&" not in detail and "next=" not in detail and "bogus" not in detail


def test_a_page_past_the_end_goes_to_the_last_page_with_the_filters(as_organiser):
    spring = make_assembly(title="Spring assembly")
    add(30, assembly_id=spring.id)
    resp = as_organiser.get(f"/organiser/outbox/?assembly={spring.id}&page=999")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/organiser/outbox/?assembly={spring.id}&page=2"
    last = as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Page 2 of 2 (30 in all)" in last and "No messages yet" not in last
    # One page in all: the list itself, without a page number.
    resp = as_organiser.get("/organiser/outbox/?kind=invite&page=4")
    assert resp.status_code == 200 and "No messages match" in resp.get_data(as_text=True)
    add(1, kind="invite")
    resp = as_organiser.get("/organiser/outbox/?kind=invite&page=4")
    assert resp.headers["Location"] == "/organiser/outbox/?kind=invite"
    # Nothing at all: still the empty state.
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    assert "No messages yet" in as_organiser.get("/organiser/outbox/?page=999").get_data(as_text=True)


def test_a_long_search_is_carried_whole_so_the_button_sends_no_more_than_the_list_shows(as_organiser):
    long = "Rescheduled " + "very " * 60 + "late"
    (shown,) = add(1, status="failed", last_error="550", subject=long)
    (hidden,) = add(1, status="failed", last_error="550")
    page = as_organiser.get("/organiser/outbox/", query_string={"q": long}).get_data(as_text=True)
    assert "Send the 1 failed message matching the filters again" in page
    as_organiser.post(_action(page, "/organiser/outbox/retry-failed"), data={"csrf_token": csrf_from(page)})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, shown.id).status == "pending"
    assert db.session.get(OutboxMessage, hidden.id).status == "failed"


def test_emails_not_sent_as_out_of_date_are_a_status_of_their_own_never_sent_again(as_organiser):
    # The worker did not send two (the delegate cancelled before their turn): nothing went wrong, nothing to retry.
    why = "Not sent: the delegate cancelled their registration before its turn came."
    stale = add(2, status="skipped", last_error=why, to_email="gone@example.org")
    (bounced,) = add(1, status="failed", last_error="550 mailbox unknown")
    add(1, status="sent", sent_at=utcnow())
    page = as_organiser.get("/organiser/outbox/").get_data(as_text=True)
    assert "0 waiting &middot; 1 sent &middot;" in page and '&amp;status=failed">1 failed</a>' not in page
    assert 'href="/organiser/outbox/?status=failed">1 failed</a>' in page
    assert 'href="/organiser/outbox/?status=skipped">2 not sent, out of date by their turn</a>' in page
    assert '<option value="skipped">Not sent (out of date)</option>' in page
    assert "Send the 1 failed message again" in page
    listed = as_organiser.get("/organiser/outbox/?status=skipped").get_data(as_text=True)
    assert listed.count("<tr>") == 1 + 2 and listed.count(">Not sent (out of date)</span>") == 2
    assert '<option value="skipped" selected>Not sent (out of date)</option>' in listed
    assert "gone@example.org" in listed and "Send the" not in listed
    assert as_organiser.get("/organiser/outbox/?status=failed").get_data(as_text=True).count("<tr>") == 1 + 1
    detail = as_organiser.get(f"/organiser/outbox/{stale[0].id}").get_data(as_text=True)
    assert "<dt>Why</dt>" in detail and "cancelled their registration before its turn came" in detail
    assert "Resend this message" not in detail and "Send this message again" not in detail
    resp = as_organiser.post("/organiser/outbox/retry-failed?status=skipped", data={"csrf_token": csrf_from(page)},
                             follow_redirects=True)
    assert "nothing to send again" in resp.get_data(as_text=True)
    resp = as_organiser.post("/organiser/outbox/retry-failed", data={"csrf_token": csrf_from(page)},
                             follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "1 failed message will be sent again" in html and "stayed failed" not in html
    db.session.expire_all()
    assert db.session.get(OutboxMessage, bounced.id).status == "pending"
    assert {(db.session.get(OutboxMessage, m.id).status, db.session.get(OutboxMessage, m.id).last_error)
            for m in stale} == {("skipped", why)}


def _failed_invitations(n: int, tag: str) -> None:
    """n delegates' workshop invitations refused (a wrong SMTP password), each followed by its update, also refused."""
    rows = []
    for i in range(n):
        uid = f"assembly1-registration{i}-round1-{tag}@example.org"
        for seq in (0, 1):
            rows.append(OutboxMessage(
                kind="invite", to_email=f"{tag}{i}@example.org", to_name="", subject="Workshop", body_text="t",
                body_html="<p>t</p>", ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", ics_method="REQUEST",
                dedupe_key=f"invite:{uid}:{seq}", message_id=f"<{tag}{i}-{seq}@example.org>", status="failed",
                attempts=5, next_attempt_at=utcnow(), last_error="535"))
    db.session.add_all(rows)
    db.session.commit()


def test_sending_failed_calendar_emails_again_reads_a_fixed_number_of_statements(app, db):
    # A national event's allocation published while the SMTP password was wrong: thousands of calendar emails
    # failed, and putting it right once read each of them, and each's newer copy, one statement at a time.
    from tests.test_query_counts import counting

    counts = []
    for n, tag in ((3, "few"), (40, "many")):
        _failed_invitations(n, tag)
        with counting() as statements:
            queued, stale = services.retry_failed(services.OutboxFilters(q=tag))
        assert (queued, stale) == (n, n)  # each update goes again; each invitation it replaced stays failed
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    db.session.expire_all()
    again = db.session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.status == "pending")).all()
    assert again and all(key.endswith(":1") for key in again)
