"""Organisers email an assembly's delegates: choose who, check the email, send it once, through the outbox."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.mail.services import clean_header, send_pending
from eventapp.messages.models import AssemblyMessage
from eventapp.templating import longdate
from eventapp.registration.models import Registration
from tests.conftest import csrf_from
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.mail_sink import html_of, sink, text_of  # noqa: F401 - fixture
from tests.notes.helpers import make_registration, place

HOSTILE = "<script>alert(1)</script> ‮RTL‮ 🎉 ' OR 1=1; --"


@pytest.fixture
def people(db):
    """Two confirmed (one placed in the morning workshop), one waiting, one cancelled, one anonymised."""
    assembly = make_assembly(title="Shire Community Safety Assembly")
    rnd = make_round(assembly, "Morning")
    workshop = make_workshop(rnd, make_topic(), "Spotting hidden harm", room="Room 2")
    other = make_workshop(rnd, make_topic(), "Criminal exploitation", room="Room 3")
    org = make_org("Shire Police")
    aisha = make_registration(assembly, org, "Aisha Khan")
    ben = make_registration(assembly, org, "Ben Jones")
    waiting = make_registration(assembly, org, "Wendy Wait", status="waiting")
    gone = make_registration(assembly, org, "Carl Cancelled", status="cancelled")
    hidden = make_registration(assembly, org, "Ann Onymised")
    hidden.anonymised_at = hidden.created_at
    db.session.commit()
    place(aisha, workshop)
    return dict(assembly=assembly, workshop=workshop, other=other, aisha=aisha, ben=ben, waiting=waiting, gone=gone)


def _compose(client, assembly, **data):
    url = f"/organiser/assemblies/{assembly.slug}/messages/new"
    page = client.get(url).get_data(as_text=True)
    key = re.search(r'name="send_key" type="hidden" value="([^"]+)"', page).group(1)
    payload = {"csrf_token": csrf_from(page), "send_key": key, "audience": "confirmed",
               "subject": "Parking at the Guildhall", "body": "Park at the rear.\n\nBring your badge."}
    payload.update(data)
    return url, payload


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _outbox(assembly):
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "message",
                                                          OutboxMessage.assembly_id == assembly.id)
                              .order_by(OutboxMessage.to_email)).all()


def test_an_organiser_checks_then_sends_an_email_to_every_confirmed_delegate(as_organiser, people, sink):
    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly)
    check = as_organiser.post(url, data={**payload, "action": "preview"})
    page = check.get_data(as_text=True)
    assert check.status_code == 200
    assert "Confirmed delegates: <strong>2 people</strong>" in page
    assert "Send to 2 people" in page
    assert "Dear Aisha Khan," in page and "Park at the rear." in page
    assert _outbox(assembly) == []  # checking sends nothing

    sent = as_organiser.post(url, data={**payload, "action": "send"}, follow_redirects=True)
    assert "Your message to 2 people is in the outbox." in sent.get_data(as_text=True)
    rows = _outbox(assembly)
    assert [r.to_name for r in rows] == ["Aisha Khan", "Ben Jones"]
    assert {r.subject for r in rows} == {"Parking at the Guildhall"}  # searchable before the worker renders them

    send_pending()
    received = sorted(sink.wait_for(2), key=lambda m: str(m["To"]))
    assert [str(m["Subject"]) for m in received] == ["Parking at the Guildhall"] * 2
    text = text_of(received[0]).replace("\r\n", "\n")
    assert text.startswith("Dear Aisha Khan,") and "Park at the rear.\n\nBring your badge." in text
    link = re.search(r"Change or cancel your registration: (\S+)", text).group(1)
    assert as_organiser.get(_path(link)).status_code == 200  # a working link
    assert "<p dir=\"auto\">Park at the rear.</p>" in html_of(received[0])
    # The date is the assembly's, not the day they registered: "registered for X on <date>" read as the latter.
    day = longdate(assembly.date)
    assert f"because you registered for Shire Community Safety Assembly ({day})." in " ".join(text.split())
    assert f"because you registered for <bdi>Shire Community Safety Assembly</bdi> ({day})." in html_of(received[0])


def test_the_waiting_list_and_a_workshop_are_audiences_and_cancelled_people_are_never_written_to(
        as_organiser, people):
    assembly, workshop = people["assembly"], people["workshop"]
    form = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/new").get_data(as_text=True)
    assert "Confirmed delegates (2)" in form and "The waiting list (1)" in form
    assert "Confirmed delegates and the waiting list (3)" in form
    assert '<optgroup label="Delegates placed in a workshop: Morning">' in form
    assert "Spotting hidden harm (Room 2) (1)" in form and "Criminal exploitation (Room 3) (0)" in form

    for audience, expected in (("waiting", ["Wendy Wait"]), ("registered", ["Aisha Khan", "Ben Jones", "Wendy Wait"]),
                               (f"workshop:{workshop.id}", ["Aisha Khan"])):
        url, payload = _compose(as_organiser, assembly, audience=audience, subject=f"To {audience}")
        assert as_organiser.post(url, data={**payload, "action": "send"}).status_code == 302
        message = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.subject == f"To {audience}"))
        names = sorted(r.to_name for r in _outbox(assembly) if r.dedupe_key.startswith(f"message:{message.id}:"))
        assert names == expected
        assert message.recipients == len(expected)
    waiting_copy = next(r for r in _outbox(assembly) if r.to_name == "Wendy Wait")
    assert f"({longdate(assembly.date)}) and are on its waiting list" in as_organiser.get(f"/organiser/outbox/{waiting_copy.id}").get_data(
        as_text=True)


def test_a_double_click_on_send_emails_everyone_once(as_organiser, people):
    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly)
    first = as_organiser.post(url, data={**payload, "action": "send"})
    again = as_organiser.post(url, data={**payload, "action": "send"}, follow_redirects=True)
    assert first.status_code == 302
    assert "This message was sent already; it was not sent again." in again.get_data(as_text=True)
    assert len(_outbox(assembly)) == 2
    assert db.session.scalar(select(func.count()).select_from(AssemblyMessage)) == 1


def test_a_refused_email_keeps_what_was_typed(as_organiser, people):
    assembly = people["assembly"]
    body = "Line one\n\n" + "x" * 10_001
    url, payload = _compose(as_organiser, assembly, subject="", body=body, audience="workshop:999999")
    page = as_organiser.post(url, data={**payload, "action": "preview"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Choose who to send the message to." in html
    url, payload = _compose(as_organiser, assembly, subject="", body=body)
    page = as_organiser.post(url, data={**payload, "action": "send"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Enter a subject." in html
    url, payload = _compose(as_organiser, assembly, body=body)
    html = as_organiser.post(url, data={**payload, "action": "send"}).get_data(as_text=True)
    assert "The message is 10,011 characters long; shorten it to 10,000 or fewer." in html
    assert body in html  # the text is still in the box
    assert _outbox(assembly) == []


def test_an_audience_with_no_one_in_it_is_refused(as_organiser, people):
    assembly, other = people["assembly"], people["other"]
    url, payload = _compose(as_organiser, assembly, audience=f"workshop:{other.id}")
    html = as_organiser.post(url, data={**payload, "action": "preview"}).get_data(as_text=True)
    assert ("No delegate is placed in “Criminal exploitation” (Morning, Room 3) yet: workshop places are made when "
            "you publish the allocation.") in html
    assert _outbox(assembly) == []


def test_change_the_email_returns_to_the_form_with_everything_as_typed(as_organiser, people):
    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly, subject="Lunch", body="Vegetarian\nand vegan options.")
    html = as_organiser.post(url, data={**payload, "action": "edit"}).get_data(as_text=True)
    assert 'value="Lunch"' in html and "Vegetarian\nand vegan options.</textarea>" in html
    assert f'value="{payload["send_key"]}"' in html  # the same key: it still sends once


def test_hostile_text_is_escaped_on_every_page_and_kept_as_typed(as_organiser, people, sink):
    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly, subject=HOSTILE + "\r\nBcc: x@evil.example", body=HOSTILE)
    check = as_organiser.post(url, data={**payload, "action": "preview"}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in check
    assert as_organiser.post(url, data={**payload, "action": "send"}).status_code == 302
    message = db.session.scalar(select(AssemblyMessage))
    assert message.body == HOSTILE and message.subject == HOSTILE + "\r\nBcc: x@evil.example"
    for page in (f"/organiser/assemblies/{assembly.slug}/messages/",
                 f"/organiser/assemblies/{assembly.slug}/messages/{message.id}"):
        html = as_organiser.get(page).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    outbox = re.search(r'href="(/organiser/outbox/\?[^"]+)">See each copy', html).group(1).replace("&amp;", "&")
    listed = as_organiser.get(outbox).get_data(as_text=True)
    assert "<bdi>Aisha Khan</bdi>" in listed and "<bdi>Ben Jones</bdi>" in listed  # the search finds both copies
    send_pending()
    received = sink.wait_for(2)
    assert len(received) == 2 and received[0]["Bcc"] is None
    assert str(received[0]["Subject"]) == clean_header(HOSTILE + "\r\nBcc: x@evil.example")
    assert "<script>" not in html_of(received[0]) and HOSTILE in text_of(received[0])


def test_web_addresses_in_an_email_are_links_in_its_html_part(as_organiser, people, sink):
    # Organisers paste the parking map's address: delegates reading the HTML part can tap it.
    assembly = people["assembly"]
    body = ("Parking map: https://example.org/map?site=guildhall&level=2.\n"
            "(Agenda: https://example.org/agenda_(final))\n"
            "Not a link: javascript:alert(1) or <a href=\"https://evil.example\">here</a>")
    url, payload = _compose(as_organiser, assembly, body=body)
    assert as_organiser.post(url, data={**payload, "action": "send"}).status_code == 302
    send_pending()
    html = html_of(sink.wait_for(2)[0])
    assert ('Parking map: <a href="https://example.org/map?site=guildhall&amp;level=2">'
            'https://example.org/map?site=guildhall&amp;level=2</a>.<br>') in html
    assert '(Agenda: <a href="https://example.org/agenda_(final)">https://example.org/agenda_(final)</a>)' in html
    assert "javascript:alert(1)" in html and 'href="javascript' not in html
    assert '&lt;a href=&#34;<a href="https://evil.example">https://evil.example</a>&#34;&gt;here&lt;/a&gt;' in html
    assert body in text_of(sink.wait_for(2)[0]).replace("\r\n", "\n")  # the text part is as typed


def test_lists_typed_in_an_email_are_lists_in_its_html_part(as_organiser, people, sink):
    # Joining instructions are lists: in the HTML part a screen reader announces "list, 2 items".
    assembly = people["assembly"]
    body = ("Please bring:\n- your badge\n* <b>lunch</b> money, see https://example.org/food\n\n"
            "On arrival:\n1. Park at the rear\n2. Sign in at reception\n\n"
            "3) Third, numbered on from the last list\n\n"
            "A dash - inside a sentence, and -1 degrees, are not lists.")
    url, payload = _compose(as_organiser, assembly, body=body)
    assert as_organiser.post(url, data={**payload, "action": "send"}).status_code == 302
    send_pending()
    received = sink.wait_for(2)[0]
    html = html_of(received)
    assert '<p dir="auto">Please bring:</p>' in html
    assert ('<ul dir="auto"><li>your badge</li><li>&lt;b&gt;lunch&lt;/b&gt; money, see '
            '<a href="https://example.org/food">https://example.org/food</a></li></ul>') in html
    assert '<p dir="auto">On arrival:</p>' in html
    assert '<ol dir="auto"><li>Park at the rear</li><li>Sign in at reception</li></ol>' in html
    assert '<ol dir="auto" start="3"><li>Third, numbered on from the last list</li></ol>' in html
    assert '<p dir="auto">A dash - inside a sentence, and -1 degrees, are not lists.</p>' in html
    assert body in text_of(received).replace("\r\n", "\n")  # the text part is as typed


def test_the_list_of_emails_sent(as_organiser, people):
    assembly = people["assembly"]
    empty = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/").get_data(as_text=True)
    assert "No emails sent yet." in empty
    url, payload = _compose(as_organiser, assembly, audience=f"workshop:{people['workshop'].id}")
    as_organiser.post(url, data={**payload, "action": "send"})
    html = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/").get_data(as_text=True)
    assert "Parking at the Guildhall" in html
    assert "Delegates placed in “Spotting hidden harm” (Morning, Room 2)" in html
    detail = as_organiser.get(f"/organiser/assemblies/{assembly.slug}").get_data(as_text=True)
    assert f'href="/organiser/assemblies/{assembly.slug}/messages/"' in detail


def test_the_list_of_emails_names_its_columns_on_a_phone_and_its_audiences_as_the_form_offers_them(
        as_organiser, people):
    from tests.test_stacked_tables import unlabelled_cells

    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly, subject="Room change")
    as_organiser.post(url, data={**payload, "action": "send"})
    html = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/messages/").get_data(as_text=True)
    assert "Room change" in html
    assert unlabelled_cells(html) == []
    # The line above the list names more than three audiences, and says the form has them all.
    intro = re.search(r"<p>Write to (.*?)</p>", html).group(1)
    assert "one organisation" in intro and "the facilitators" in intro and "every choice" in intro


def test_a_message_of_another_assembly_is_not_found(as_organiser, people):
    other = make_assembly()
    url, payload = _compose(as_organiser, people["assembly"])
    as_organiser.post(url, data={**payload, "action": "send"})
    message = db.session.scalar(select(AssemblyMessage))
    assert as_organiser.get(f"/organiser/assemblies/{other.slug}/messages/{message.id}").status_code == 404


def test_a_copy_queued_before_the_address_changed_goes_to_the_new_address_not_the_old(as_organiser, people, sink):
    """Another officer is sent instead and the organiser changes the address (and revokes the old links) while
    the copies wait in the outbox: the old address must get nothing (least of all a link that opens the new
    person's registration), and the new officer gets the copy with their own link."""
    assembly, aisha = people["assembly"], people["aisha"]
    url, payload = _compose(as_organiser, assembly)
    as_organiser.post(url, data={**payload, "action": "send"})
    reg = db.session.get(Registration, aisha.id)
    reg.full_name, reg.email, reg.email_key = "Ned New", "ned@example.org", "ned@example.org"
    reg.token_version += 1
    db.session.commit()
    report = send_pending()
    received = sink.wait_for(report.sent)
    assert report.sent == 2 and not [m for m in received if "aisha" in str(m["To"]).lower()]
    ned = next(m for m in received if "ned@example.org" in str(m["To"]))
    assert str(ned["To"]) == "Ned New <ned@example.org>"
    assert "Dear Ned New," in text_of(ned) and "Park at the rear." in text_of(ned)
    link = re.search(r"Change or cancel your registration: (\S+)", text_of(ned)).group(1)
    assert "ned@example.org" in as_organiser.get(_path(link)).get_data(as_text=True)
    ben = next(m for m in received if "ben" in str(m["To"]).lower())
    link = re.search(r"Change or cancel your registration: (\S+)", text_of(ben)).group(1)
    assert as_organiser.get(_path(link)).status_code == 200


def test_a_copy_whose_link_was_replaced_before_it_went_carries_the_current_link(as_organiser, people, sink):
    """Never a dead link of a replaced version: the address still holds the registration, and its new link
    was emailed to that same address when the old one was revoked."""
    from eventapp.registration import services as registration

    assembly, ben = people["assembly"], people["ben"]
    url, payload = _compose(as_organiser, assembly)
    as_organiser.post(url, data={**payload, "action": "send"})
    registration.revoke_manage_links(db.session.get(Registration, ben.id))
    send_pending()
    mine = next(m for m in sink.wait_for(3) if "ben" in str(m["To"]).lower()
                and str(m["Subject"]) == "Parking at the Guildhall")
    link = re.search(r"Change or cancel your registration: (\S+)", text_of(mine)).group(1)
    assert as_organiser.get(_path(link)).status_code == 200


def test_an_organiser_writes_to_the_facilitators_of_the_assemblys_workshops(as_organiser, people, sink):
    from tests.factories import make_user

    assembly = people["assembly"]
    url, payload = _compose(as_organiser, assembly, audience="facilitators",
                            subject="Briefing at 9:00", body="Meet in the Green Room.")
    page = as_organiser.get(url).get_data(as_text=True)
    staff = page.split('<optgroup label="Staff">')[1].split("</optgroup>")[0]
    assert "Facilitators of this assembly&#39;s workshops (0)" in staff
    refused = as_organiser.post(url, data={**payload, "action": "preview"})
    assert refused.status_code == 400 and "No facilitator is assigned to a workshop" in refused.get_data(as_text=True)
    fran = make_user("facilitator", email="fran@example.org", name="Fran Facilitator")
    tom = make_user("facilitator", email="tom@example.org", name="Tom O'Brien")
    make_user("facilitator", email="elsewhere@example.org", name="Not Here")  # no workshop at this assembly
    people["workshop"].facilitators.append(fran)
    people["other"].facilitators.extend([fran, tom])  # two workshops: one copy
    db.session.commit()
    url, payload = _compose(as_organiser, assembly, audience="facilitators",
                            subject="Briefing at 9:00", body="Meet in the Green Room.")
    check = as_organiser.post(url, data={**payload, "action": "preview"}).get_data(as_text=True)
    assert "Send to 2 people" in check and "Dear Fran Facilitator," in check
    sent = as_organiser.post(url, data={**payload, "action": "send"}, follow_redirects=True)
    assert "Your message to 2 people is in the outbox." in sent.get_data(as_text=True)
    assert [r.to_email for r in _outbox(assembly)] == ["fran@example.org", "tom@example.org"]
    send_pending()
    received = sorted(sink.wait_for(2), key=lambda m: str(m["To"]))
    text = text_of(received[0]).replace("\r\n", "\n")
    assert text.startswith("Dear Fran Facilitator,") and "Meet in the Green Room." in text
    assert "because you facilitate a workshop at Shire Community Safety Assembly" in text
    assert "/manage/" not in text and "registered for" not in text


def test_a_summary_sent_after_the_day_does_not_offer_to_cancel_the_registration(as_organiser, people, sink):
    # The week after, cancelling is no longer possible: the email must not offer it.
    from datetime import date

    assembly = people["assembly"]
    assembly.date = date(2026, 3, 18)
    db.session.commit()
    url, payload = _compose(as_organiser, assembly, subject="What we agreed", body="Thank you for coming.")
    preview = as_organiser.post(url, data={**payload, "action": "preview"}).get_data(as_text=True)
    assert "cancel" not in preview.lower()
    as_organiser.post(url, data={**payload, "action": "send"})
    send_pending()
    received = sink.wait_for(2)
    text, html = text_of(received[0]), html_of(received[0])
    assert "cancel" not in text.lower() and "cancel" not in html.lower()
    link = re.search(r"Your registration: (\S+)", text).group(1)
    assert as_organiser.get(_path(link)).status_code == 200


def test_the_compose_page_gives_each_public_documents_address_to_paste(app, as_organiser, people, monkeypatch):
    from tests.factories import make_document

    assembly = people["assembly"]
    url = f"/organiser/assemblies/{assembly.slug}/messages/new"
    assert "Linking to a document" not in as_organiser.get(url).get_data(as_text=True)
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://assembly.example.org")
    slides = make_document(assembly, "Slides <county council>")
    make_document(assembly, "Joining instructions", visibility="delegates")
    html = as_organiser.get(url).get_data(as_text=True)
    assert (f"<bdi>Slides &lt;county council&gt;</bdi>: "
            f"<code>https://assembly.example.org/a/{assembly.slug}/documents/{slides.id}</code>") in html
    assert "Joining instructions" not in html  # delegates-only: no public address to give
    assert "Documents for delegates only are on each delegate&rsquo;s personal page" in html


def test_an_email_in_the_month_after_the_day_links_each_confirmed_delegate_to_the_feedback_form(
        app, as_organiser, people, sink):
    from datetime import timedelta

    from eventapp.timeutil import local_today

    assembly = people["assembly"]
    assembly.date = local_today("Europe/London") - timedelta(days=3)
    db.session.commit()
    url, payload = _compose(as_organiser, assembly, subject="Thank you for coming", body="The slides are online.")
    as_organiser.post(url, data={**payload, "action": "send"})
    send_pending()
    received = sink.wait_for(2)
    text, html = text_of(received[0]), html_of(received[0])
    link = re.search(r"Tell us how it went \(a few clicks\): (\S+)", text).group(1)
    assert link.endswith("/feedback") and f'<a href="{link}">Tell us how it went (a few clicks)</a>' in html
    form = app.test_client().get(_path(link)).get_data(as_text=True)
    assert "How useful was the assembly for your work?" in form


def test_an_email_before_the_day_has_no_feedback_link(as_organiser, people, sink):
    url, payload = _compose(as_organiser, people["assembly"])
    as_organiser.post(url, data={**payload, "action": "send"})
    send_pending()
    assert "Tell us how it went" not in text_of(sink.wait_for(2)[0])


def test_the_privacy_purge_takes_purged_delegates_names_out_of_the_emails_sent(app, as_organiser, people):
    assembly, ben = people["assembly"], people["ben"]
    # An organiser typed delegates' names (in any case, a line break between the words) and an address.
    url, payload = _compose(as_organiser, assembly, subject="aisha KHAN and Priya Shah chair the plenary",
                            body=f"Thanks to Aisha\nKhan and BEN  JONES ({ben.email}).\n"
                                 "Priya Shah, our facilitator, and Aisha Khanum (not registered) will be there.")
    as_organiser.post(url, data={**payload, "action": "send"})
    # The same name at another assembly, not purged: its message is left as it was.
    other = make_assembly(title="Other Assembly")
    make_registration(other, make_org("Other Police"), "Aisha Khan")
    url, payload = _compose(as_organiser, other, subject="Aisha Khan chairs", body="Aisha Khan chairs.")
    as_organiser.post(url, data={**payload, "action": "send"})
    message = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.assembly_id == assembly.id))
    pages = (f"/organiser/assemblies/{assembly.slug}/messages/",
             f"/organiser/assemblies/{assembly.slug}/messages/{message.id}", f"/organiser/outbox/outbox.csv?assembly={assembly.id}")
    named = re.compile(r"aisha\s+khan\b|ben\s+jones|\.example\.org", re.IGNORECASE)
    assert all(named.search(as_organiser.get(p).get_data(as_text=True)) for p in pages)

    assembly.status, assembly.retention_days = "archived", 30
    assembly.date = assembly.date.today() - timedelta(days=31)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "purge", "--apply"])
    assert result.exit_code == 0, result.output

    index, detail, outbox_csv = (as_organiser.get(p).get_data(as_text=True) for p in pages)
    assert "Anonymised delegate and Priya Shah chair the plenary" in index
    assert "<bdi>Anonymised delegate and Priya Shah chair the plenary</bdi>" in detail
    assert ("Thanks to Anonymised delegate and Anonymised delegate (Anonymised delegate).\n"
            "Priya Shah, our facilitator, and Aisha Khanum (not registered) will be there.") in detail
    for page in (index, detail, outbox_csv):
        assert not named.search(page), page
    kept = db.session.scalar(select(AssemblyMessage).where(AssemblyMessage.assembly_id == other.id))
    assert (kept.subject, kept.body) == ("Aisha Khan chairs", "Aisha Khan chairs.")
