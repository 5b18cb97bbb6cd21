"""Emails queued as a recipe (the public registration form's): the worker renders them just before sending.

What the delegate gets is what the same email rendered at queueing time says (same templates,
same values); a recipe that cannot be rendered fails its own message only, and is retried.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.invites import services as invites
from eventapp.mail import services
from eventapp.mail.models import OutboxMessage
from eventapp.registration import services as registration
from eventapp.registration.models import Registration
from tests.conftest import post_form
from tests.registration.conftest import form_fields, person, setup  # noqa: F401 - fixture
from tests.mail.test_delivery import ScriptedHandler, smtp  # noqa: F401 - fixture

TOKEN_RE = re.compile(r"/(manage|calendar)/[A-Za-z0-9_.\-]+")


@pytest.fixture
def req(app):
    with app.test_request_context("/", base_url="https://events.example.org"):
        yield


def _same_apart_from_tokens(a: str, b: str) -> bool:
    # Signed links carry the time of signing: equal once the tokens are taken out.
    return TOKEN_RE.sub(r"/\1/TOKEN", a) == TOKEN_RE.sub(r"/\1/TOKEN", b)


def _deferred(kind: str) -> OutboxMessage:
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == kind))


def test_the_registration_post_queues_recipes_not_rendered_emails(setup, req):  # noqa: F811
    registration.register(setup.assembly, person(setup, 1, full_name="Zoë  O'Brien <b>"))
    queued = {}
    for kind in ("registration_confirmed", "invite"):
        row = _deferred(kind)
        assert row.render and row.body_text == "" and row.ics is None
        assert row.to_name == "Zoë O'Brien <b>"  # header-clean, as before
        queued[kind] = row.subject
    # The subject is stored at once (the outbox searches it), and sending says the same.
    assert queued["registration_confirmed"] == f"Your place at {setup.assembly.title} is confirmed"
    assert queued["invite"].startswith(f"Invitation: {setup.assembly.title}, ")
    services.materialise()
    for kind in ("registration_confirmed", "invite"):
        row = _deferred(kind)
        db.session.refresh(row)
        assert row.render is None and row.subject == queued[kind]


@pytest.mark.parametrize("waiting", [False, True])
def test_a_rendered_recipe_says_exactly_what_the_email_rendered_at_once_said(setup, req, waiting):  # noqa: F811
    if waiting:
        setup.assembly.capacity = 0
        db.session.commit()
    result = registration.register(setup.assembly, person(setup, 1, full_name="Zoë  O'Brien <b>"))
    kind = "waiting_list" if waiting else "registration_confirmed"
    deferred = _deferred(kind)
    assert deferred.render
    assert services.materialise() >= 1
    db.session.refresh(deferred)
    assert deferred.render is None
    # The same email rendered at once, the way every other email still is.
    reg = result.registration
    registration._queue(reg, kind, position=result.waiting_position)
    eager = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                               .order_by(OutboxMessage.id.desc())).first()
    assert eager.id != deferred.id and eager.render is None
    assert deferred.subject == eager.subject
    assert _same_apart_from_tokens(deferred.body_text, eager.body_text)
    assert _same_apart_from_tokens(deferred.body_html, eager.body_html)
    assert "Dear Zoë  O'Brien <b>," in deferred.body_text  # the name as given, not as the header has it
    # The manage link in the deferred email opens this registration.
    token = re.search(r"/manage/([A-Za-z0-9_.\-]+)", deferred.body_text).group(1)
    assert registration.load_manage_token(token).id == reg.id


def test_a_rendered_invitation_recipe_matches_the_invitation_rendered_at_once(setup, req):  # noqa: F811
    reg = registration.register(setup.assembly, person(setup, 1)).registration
    deferred = _deferred("invite")
    services.materialise()
    db.session.refresh(deferred)
    # The same invitation rendered at once: forget the calendar entry, and sync again.
    from eventapp.invites.models import CalendarEntry

    db.session.execute(CalendarEntry.__table__.delete())
    deferred.dedupe_key = None
    db.session.flush()
    invites.sync_calendar([reg.id])
    eager = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "invite")
                               .order_by(OutboxMessage.id.desc())).first()
    assert eager.id != deferred.id and eager.render is None
    assert deferred.subject == eager.subject and deferred.ics_method == eager.ics_method == "REQUEST"
    assert _same_apart_from_tokens(deferred.body_text, eager.body_text)
    assert _same_apart_from_tokens(deferred.body_html, eager.body_html)
    stamp = re.compile(r"DTSTAMP:\d{8}T\d{6}Z")
    assert stamp.sub("DTSTAMP", deferred.ics) == stamp.sub("DTSTAMP", eager.ics)


def test_the_outbox_page_shows_a_recipe_as_it_will_be_sent(setup, req, app, db):  # noqa: F811
    registration.register(setup.assembly, person(setup, 1))
    row = _deferred("registration_confirmed")
    subject, text, _, _ = services.render_deferred(row)
    shown = services.rendered(row)
    assert (shown.subject, shown.body_text) == (subject, text)
    assert row.render is not None  # shown, not stored: the worker stores what it sends


def test_the_worker_renders_stores_and_sends_and_a_broken_recipe_fails_alone(app, db, setup, req, smtp,  # noqa: F811
                                                                              monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 60)
    handler = smtp(ScriptedHandler())
    registration.register(setup.assembly, person(setup, 1))
    registration.register(setup.assembly, person(setup, 2))
    broken = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_email == "delegate2@example.org",
                                                           OutboxMessage.kind == "registration_confirmed"))
    broken.render = broken.render.replace('"r":"registration"', '"r":"no-such-renderer"')
    db.session.commit()

    report = services.send_pending()
    assert (report.sent, report.retrying, report.failed) == (3, 1, 0)
    sent = {(m["To"].addresses[0].addr_spec, m["Subject"]) for m in handler.messages}
    assert ("delegate1@example.org", f"Your place at {setup.assembly.title} is confirmed") in sent
    assert len(handler.messages) == 3
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for row in rows:
        if row.id == broken.id:
            assert row.status == "pending" and row.attempts == 1 and row.render is not None
            assert "Could not render this email" in row.last_error
        else:
            # What was sent is stored: a retry, a resend and the outbox page show the same.
            assert row.status == "sent" and row.render is None and row.subject and row.body_text

    # Still broken at the last attempt: failed, and the worker goes on.
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    db.session.execute(OutboxMessage.__table__.update().values(next_attempt_at=broken.created_at))
    db.session.commit()
    report = services.send_pending()
    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    assert db.session.get(OutboxMessage, broken.id).status == "failed"


def test_nothing_is_queued_when_the_registration_rolls_back(setup, req):  # noqa: F811
    # The outbox guarantee: the recipe rows belong to the registration's transaction.
    setup.assembly.capacity = 0
    db.session.commit()
    with pytest.raises(Exception):
        registration.register(setup.assembly, person(setup, 1, join_waiting_list=False))
    assert db.session.scalar(select(OutboxMessage)) is None
    assert db.session.scalar(select(Registration)) is None


def test_the_outbox_search_finds_emails_the_worker_has_not_rendered_yet(setup, client, auth, organiser):  # noqa: F811
    assert post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, 1)).status_code == 302
    assert all(row.render for row in db.session.scalars(select(OutboxMessage)))
    auth.login(organiser.email)
    found = client.get("/organiser/outbox/?q=is+confirmed").get_data(as_text=True)
    assert f"Your place at {setup.assembly.title} is confirmed" in found and "delegate1@example.org" in found
    assert "Invitation:" not in found
    invitations = client.get("/organiser/outbox/?q=invitation").get_data(as_text=True)
    assert f"Invitation: {setup.assembly.title}, " in invitations and "is confirmed" not in invitations
    assert "No messages match" in client.get("/organiser/outbox/?q=nothing+like+this").get_data(as_text=True)
    # Searching renders nothing: the worker still sends (and signs the links) when it sends.
    assert all(row.render for row in db.session.scalars(select(OutboxMessage)))


def test_the_outbox_list_shows_unsent_emails_without_rendering_them(setup, client, auth, organiser, monkeypatch):  # noqa: F811
    # The list needs subjects only: a recipe that could not be rendered just now (its renderer
    # failing, say) still lists; opening the message is where it is rendered.
    assert post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, 1)).status_code == 302

    def fails(message):
        raise RuntimeError("rendered while listing")

    monkeypatch.setattr(services, "render_deferred", fails)
    auth.login(organiser.email)
    page = client.get("/organiser/outbox/")
    assert page.status_code == 200
    assert f"Your place at {setup.assembly.title} is confirmed" in page.get_data(as_text=True)


def test_emails_rendered_at_once_and_recipes_queued_in_one_statement_keep_their_recipes(app, db, req):
    # One INSERT takes its columns from the first row: a recipe after a rendered email lost its recipe
    # (stored empty, and sent so) unless the rendered one names the column too.
    rendered = services.outbox_row("manage_link", "first@example.org", "First",
                                   context={"registration": None, "assembly": None, "manage_url": "https://x/m",
                                            "valid_days": 60})
    recipe = services.deferred_row("manage_link", "second@example.org", "Second", recipe={"r": "nothing", "x": 1},
                                   subject="Your link")
    assert services.queue_rows([rendered, recipe]) == 2
    db.session.commit()
    rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.to_email, r.render) for r in rows] == [("first@example.org", None),
                                                       ("second@example.org", '{"r":"nothing","x":1}')]
    assert rows[0].body_text and rows[1].body_text == ""
