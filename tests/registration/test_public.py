"""The public registration form, the check-your-email page and the personal manage link."""
from __future__ import annotations

import json
import re
import time
from datetime import date, datetime

from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.registration.models import Registration
from tests.conftest import post_form
from tests.registration.conftest import form_fields, outbox

LINK_RE = re.compile(r"http://localhost(/manage/[^\s\"<]+)")


def register(client, setup, **fields):
    return post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, **fields))


def manage_path(email: str) -> str:
    mail = outbox(to=email)[-1]
    return LINK_RE.search(mail.body_text).group(1)


def test_public_page_links_to_the_form_which_lists_organisations_and_topics(client, setup):
    page = client.get(f"/a/{setup.assembly.slug}").get_data(as_text=True)
    assert f'href="/a/{setup.assembly.slug}/register"' in page
    resp = client.get(f"/a/{setup.assembly.slug}/register")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'list="organisation-options"' in html and '<option value="Mind in Shireford">' in html
    assert "1st choice (required)" in html and "4th choice (optional)" in html
    assert "We keep your details for 365 days." in html
    assert 'novalidate' in html


def test_registering_redirects_to_check_your_email(client, setup):
    resp = register(client, setup, n=1)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/register/check-your-email")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Check your email" in page and "delegate1@example.org" in page
    reg = db.session.scalar(select(Registration))
    assert reg.status == "confirmed" and reg.organisation.name == "Shireford Constabulary"
    assert [m.kind for m in outbox()] == ["registration_confirmed"]


def test_the_confirmation_is_queued_before_the_calendar_invitation_in_one_statement(client, setup):
    from sqlalchemy import event

    from eventapp.mail.models import OutboxMessage

    inserts = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO outbox_message"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert register(client, setup, n=1).status_code == 302
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    kinds = db.session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
    # The delegate's inbox gets the confirmation (with the manage link) first, then the day's invitation.
    assert kinds == ["registration_confirmed", "invite"]
    assert len(inserts) == 1


def test_registering_again_shows_the_same_page_and_emails_the_link(client, setup):
    first = client.get(register(client, setup, n=1).headers["Location"]).get_data(as_text=True)
    resp = register(client, setup, n=1, full_name="Impostor", email="Delegate1@EXAMPLE.org")
    second = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert resp.status_code == 302
    assert first.replace("delegate1@example.org", "X") == second.replace("Delegate1@EXAMPLE.org", "X")
    assert db.session.query(Registration).count() == 1
    assert [m.kind for m in outbox()] == ["registration_confirmed", "manage_link"]


def test_errors_are_shown_next_to_fields_with_a_summary_and_input_kept(client, setup):
    resp = register(client, setup, full_name="Siobhán O'Brien", email="not-an-email", job_title="",
                    choice_2=str(setup.topics[0].id), consent=None)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "There is a problem" in html
    assert 'href="#email"' in html and "Enter an email address in the form name@example.org." in html
    assert "Enter your job title." in html
    assert "You have already chosen this topic" in html
    assert "Tick the box to confirm you have read the privacy notice." in html
    assert 'value="Siobhán O&#39;Brien"' in html and 'value="not-an-email"' in html
    assert db.session.query(Registration).count() == 0


def test_unknown_organisation_must_be_chosen_or_declared(client, setup):
    resp = register(client, setup, organisation_name="Shireford Cnstabulary")
    assert resp.status_code == 400
    assert "tick “My organisation is not listed”" in resp.get_data(as_text=True)
    resp = register(client, setup, organisation_name="", organisation_not_listed="y",
                    new_organisation_name="Shireford Street Pastors", new_organisation_sector="")
    assert "Choose your organisation&#39;s sector." in resp.get_data(as_text=True)
    resp = register(client, setup, organisation_name="", organisation_not_listed="y",
                    new_organisation_name="Shireford Street Pastors", new_organisation_sector="voluntary_community")
    assert resp.status_code == 302
    assert db.session.scalar(select(Registration)).organisation.is_pending


def test_full_assembly_warns_and_refuses_without_the_waiting_list_box(client, setup):
    setup.assembly.capacity = 0
    db.session.commit()
    page = client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True)
    assert "All places are taken" in page
    resp = register(client, setup, join_waiting_list=None)
    assert resp.status_code == 400
    assert "The assembly is full. Tick this box to join the waiting list." in resp.get_data(as_text=True)
    resp = register(client, setup)
    assert resp.status_code == 302
    assert db.session.scalar(select(Registration)).status == "waiting"


def test_outside_the_window_the_form_says_so(client, setup):
    setup.assembly.registration_closes_at = datetime(2022, 2, 3, 17, 0)
    db.session.commit()
    resp = client.get(f"/a/{setup.assembly.slug}/register")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Registration closed on 3 February 2022 at 17:00." in html and 'name="full_name"' not in html
    resp = post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup), form_url="/manage/new-link")
    assert resp.status_code == 200 and "Registration closed on" in resp.get_data(as_text=True)
    assert db.session.query(Registration).count() == 0


def test_an_assembly_whose_day_is_over_takes_no_registration_though_nobody_closed_the_form(client, setup):
    # Left open, with no closing time: the form must not book places for a day that is over.
    setup.assembly.date, setup.assembly.registration_closes_at = date(2024, 3, 14), None
    db.session.commit()
    html = client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True)
    assert f"{setup.assembly.title} took place on 14 March 2024: registration is closed." in html
    assert 'name="full_name"' not in html
    post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup), form_url="/manage/new-link")
    assert db.session.query(Registration).count() == 0
    public = client.get(f"/a/{setup.assembly.slug}").get_data(as_text=True)
    assert "Register to attend" not in public and "took place on 14 March 2024" in public


def test_the_public_page_does_not_call_an_assembly_open_while_its_form_is_shut(client, setup):
    setup.assembly.registration_closes_at = datetime(2022, 2, 3, 17, 0)
    db.session.commit()
    page = client.get(f"/a/{setup.assembly.slug}").get_data(as_text=True)
    assert "Open for registration" not in page
    assert "Status: Registration closed" in page and "Registration closed on 3 February 2022 at 17:00." in page
    home = client.get("/").get_data(as_text=True)
    assert "Open for registration" not in home and "<p>Registration closed</p>" in home
    setup.assembly.registration_opens_at, setup.assembly.registration_closes_at = datetime(2099, 1, 4, 9, 0), None
    db.session.commit()
    page = client.get(f"/a/{setup.assembly.slug}").get_data(as_text=True)
    assert "Open for registration" not in page
    assert "Status: Registration not yet open" in page and "Registration opens on 4 January 2099 at 09:00." in page


def test_draft_assembly_has_no_public_form(client, setup):
    setup.assembly.status = "draft"
    db.session.commit()
    assert client.get(f"/a/{setup.assembly.slug}/register").status_code == 404


def test_manage_link_shows_the_registration_and_get_changes_nothing(client, setup):
    register(client, setup, n=1)
    path = manage_path("delegate1@example.org")
    before = db.session.scalar(select(Registration)).updated_at
    for url in (path, path + "/cancel", path + "/edit", path + "/my-data.json"):
        assert client.get(url).status_code == 200
    db.session.expire_all()
    reg = db.session.scalar(select(Registration))
    assert reg.status == "confirmed" and reg.updated_at == before
    html = client.get(path).get_data(as_text=True)
    assert "Your place is confirmed." in html and "Anti-social behaviour" in html


def test_manage_link_edit_changes_a_preference(client, setup):
    register(client, setup, n=1)
    path = manage_path("delegate1@example.org")
    fields = form_fields(setup, n=1, choice_1=str(setup.topics[3].id), dietary_needs="Vegetarian")
    resp = post_form(client, path + "/edit", fields)
    assert resp.status_code == 302
    db.session.expire_all()
    reg = db.session.scalar(select(Registration))
    assert reg.choice_topic_ids[0] == setup.topics[3].id and reg.dietary_needs == "Vegetarian"
    assert "Poor mental health" in client.get(path).get_data(as_text=True)


def test_manage_link_cancel_is_a_post_and_promotes_the_next_person(client, setup):
    setup.assembly.capacity = 1
    db.session.commit()
    register(client, setup, n=1)
    register(client, setup, n=2, org=1)
    path = manage_path("delegate1@example.org")
    resp = post_form(client, path + "/cancel", {})
    assert resp.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "This registration is cancelled." in html
    second = db.session.scalar(select(Registration).where(Registration.email == "delegate2@example.org"))
    assert second.status == "confirmed"
    assert [m.kind for m in outbox(to="delegate2@example.org")] == ["waiting_list", "promoted"]


def test_download_my_data_is_json_with_everything_held(client, setup):
    register(client, setup, n=1, access_needs="Step-free access\nHearing loop")
    resp = client.get(manage_path("delegate1@example.org") + "/my-data.json")
    assert resp.mimetype == "application/json" and "attachment" in resp.headers["Content-Disposition"]
    data = json.loads(resp.get_data(as_text=True))
    assert data["registration"]["email"] == "delegate1@example.org"
    assert data["registration"]["access_needs"] == "Step-free access\nHearing loop"
    assert [c["topic"] for c in data["workshop_choices"]] == ["Anti-social behaviour", "Criminal exploitation",
                                                              "Building public confidence"]
    assert data["emails_sent_to_you"][0]["subject"].startswith("Your place at")


def test_tampered_and_expired_links_offer_a_fresh_one(client, setup, monkeypatch):
    register(client, setup, n=1)
    path = manage_path("delegate1@example.org")
    resp = client.get(path[:-3] + "xyz")
    assert resp.status_code == 404 and "This link does not work" in resp.get_data(as_text=True)
    assert "Email me a fresh link" in resp.get_data(as_text=True)
    assert client.post(path[:-3] + "xyz/cancel").status_code in (400, 404)
    from eventapp.registration import services

    reg = db.session.scalar(select(Registration))
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 61 * 86400)
    with client.application.test_request_context():
        old = services.make_manage_token(reg)
    monkeypatch.undo()
    resp = client.get(f"/manage/{old}")
    assert resp.status_code == 410 and "This link has expired" in resp.get_data(as_text=True)
    resp = post_form(client, "/manage/new-link", {"email": "DELEGATE1@example.org"}, form_url=f"/manage/{old}")
    assert resp.status_code == 200 and "If we hold a registration for" in resp.get_data(as_text=True)
    fresh = manage_path("delegate1@example.org")
    assert client.get(fresh).status_code == 200
    # Unknown addresses get the same answer and no email.
    count = len(outbox())
    resp = post_form(client, "/manage/new-link", {"email": "nobody@example.org"})
    assert "If we hold a registration for" in resp.get_data(as_text=True) and len(outbox()) == count


def test_csrf_is_required_on_the_public_form(client, setup):
    resp = client.post(f"/a/{setup.assembly.slug}/register", data=form_fields(setup))
    assert resp.status_code == 400 and db.session.query(Registration).count() == 0


def test_asking_again_and_again_for_a_fresh_link_does_not_flood_the_delegate(client, setup, monkeypatch):
    # The form is open to anyone and limited per client address only: from many addresses
    # someone could bury a delegate in emails (and spend the organisers' daily sending quota).
    from datetime import timedelta

    from eventapp.registration import services

    register(client, setup)
    for _ in range(5):
        resp = post_form(client, "/manage/new-link", {"email": "delegate1@example.org"})
        assert resp.status_code == 200 and "If we hold a registration for" in resp.get_data(as_text=True)
    assert len(outbox(kind="manage_link")) == 1
    later = services.utcnow() + timedelta(minutes=16)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    post_form(client, "/manage/new-link", {"email": "delegate1@example.org"})
    assert len(outbox(kind="manage_link")) == 2
    # An organiser who revokes the links still sends the new one at once.
    with client.application.test_request_context():
        services.revoke_manage_links(db.session.scalar(select(Registration)))
    assert len(outbox(kind="manage_link")) == 3
    assert client.get(manage_path("delegate1@example.org")).status_code == 200


def test_registering_an_address_again_and_again_sends_its_link_once_a_quarter_of_an_hour(client, setup):
    register(client, setup)
    for _ in range(4):
        assert register(client, setup).status_code == 302
    assert len(outbox(kind="manage_link")) == 1


def test_the_registration_post_reads_nothing_again_after_it_commits(client, setup):
    # Each statement after the commit is paid by every registration (the form's hot path):
    # a value read from an object the commit expired costs a whole row's reload.
    from sqlalchemy import event

    from tests.conftest import csrf_from
    from tests.registration.conftest import form_fields

    token = csrf_from(client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True))
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split()[0].upper())

    def committed(conn):
        statements.append("COMMIT")

    event.listen(db.engine, "before_cursor_execute", seen)
    event.listen(db.engine, "commit", committed)
    try:
        resp = client.post(f"/a/{setup.assembly.slug}/register", data={"csrf_token": token, **form_fields(setup, n=1)})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
        event.remove(db.engine, "commit", committed)
    assert resp.status_code == 302
    last_write = max(i for i, kind in enumerate(statements) if kind == "INSERT")
    # After the writes, only their commit (a savepoint's release under the tests' rollback).
    assert statements[last_write + 1:] in (["COMMIT"], ["RELEASE"]), statements


def test_the_cancel_page_says_what_is_given_up_and_that_the_delegate_cannot_undo_it(client, setup):
    register(client, setup, n=1)
    path = manage_path("delegate1@example.org") + "/cancel"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).get_data(as_text=True)))
    # Nobody waits: no promise that someone gets the place.
    assert "next person on the waiting list" not in text and "Your place becomes free for someone else." in text
    assert ("You cannot undo this yourself: to come back, register again, and you get a place only if one is "
            "free then.") in text
    for n in range(2, 7):
        register(client, setup, n=n, org=n % 3)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).get_data(as_text=True)))
    assert "Your place goes to the next person on the waiting list straight away." in text
    # Once workshops are published, those go too.
    from eventapp.assemblies.models import Workshop
    from tests.notes.helpers import place

    place(db.session.scalar(select(Registration).where(Registration.email == "delegate1@example.org")),
          db.session.scalars(select(Workshop)).first())
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).get_data(as_text=True)))
    assert "Your workshop places are given up too." in text


def test_a_cancelled_registration_is_not_told_its_choices_are_merely_frozen(client, setup):
    register(client, setup, n=1)
    path = manage_path("delegate1@example.org")
    assert post_form(client, path + "/cancel", {}).status_code == 302
    setup.assembly.allocation_published_at = datetime(2026, 1, 1, 9, 0)
    db.session.commit()
    html = client.get(path).get_data(as_text=True)
    assert "This registration is cancelled." in html
    assert "your choices can no longer change" not in html
    assert "As this registration is cancelled, these choices no longer count." in html


def test_a_cancelled_registration_offers_the_form_again_only_while_it_takes_registrations(client, setup):
    register(client, setup, n=1)
    path = manage_path("delegate1@example.org")
    assert post_form(client, path + "/cancel", {}).status_code == 302
    again = f'href="/a/{setup.assembly.slug}/register">Register again</a>'
    assert again in client.get(path).get_data(as_text=True)
    # The form closed by its date (the assembly still "open"): a link to it would only say so.
    setup.assembly.registration_closes_at = datetime(2026, 1, 1, 9, 0)
    db.session.commit()
    html = client.get(path).get_data(as_text=True)
    assert again not in html and "Registration closed on 1 January 2026 at 09:00." in html
    setup.assembly.registration_closes_at = None
    setup.assembly.cancelled_at = datetime(2026, 1, 1, 9, 0)
    db.session.commit()
    html = client.get(path).get_data(as_text=True)
    assert again not in html and "This assembly has been cancelled." in html


def test_the_cancel_page_of_a_cancelled_assembly_promises_the_place_to_nobody(client, setup):
    for n in range(1, 7):
        register(client, setup, n=n, org=n % 3)
    path = manage_path("delegate1@example.org") + "/cancel"
    setup.assembly.cancelled_at = datetime(2026, 1, 1, 9, 0)
    db.session.commit()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).get_data(as_text=True)))
    assert "next person on the waiting list" not in text and "to come back, register again" not in text
    assert "Your place is not given to anyone else while the assembly is cancelled." in text
    assert "You cannot undo this, and you cannot register again: registration is closed." in text
    assert post_form(client, path, {}).status_code == 302
    waiting = db.session.scalar(select(Registration).where(Registration.email == "delegate6@example.org"))
    assert waiting.status == "waiting"


def test_access_needs_count_a_line_break_as_one_character_as_the_text_box_does(client, setup):
    # A browser counts a line break as one character but sends it as CR LF: 2,000 characters typed in 50 lines
    # arrive as 2,049, and were refused though the box had let them all be typed.
    typed = "\r\n".join(["x" * 39] * 50)
    assert len(typed.replace("\r\n", "\n")) == 1999
    resp = register(client, setup, access_needs=typed + "y")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    reg = db.session.scalar(select(Registration))
    assert reg.access_needs.replace("\r\n", "\n") == typed.replace("\r\n", "\n") + "y"


def test_too_much_in_a_text_box_says_how_much_was_used_and_keeps_it(client, setup):
    resp = register(client, setup, dietary_needs="z" * 2001)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Use at most 2,000 characters (you used 2,001)." in html
    assert "z" * 2001 in html
    assert db.session.query(Registration).count() == 0


def test_text_boxes_do_not_cut_a_paste_short(client, setup):
    # maxlength would cut a long paste at the limit without a word: the server says it instead.
    page = client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True)
    boxes = re.findall(r"<textarea[^>]*>", page)
    assert len(boxes) == 2
    assert not [box for box in boxes if "maxlength" in box]
    assert re.search(r'<input[^>]*name="full_name"[^>]*maxlength="200"', page) or \
        re.search(r'<input[^>]*maxlength="200"[^>]*name="full_name"', page)
