"""Assemblies that ask delegates to confirm their email address before they get a place."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.registration import services
from eventapp.registration.models import PendingRegistration, Registration
from tests.conftest import csrf_from, post_form
from tests.registration.conftest import form_fields, outbox

CONFIRM_RE = re.compile(r"http://localhost(/a/[^/\s]+/register/confirm/[^\s\"<]+)")
MANAGE_RE = re.compile(r"/manage/[^\s\"<?]+")


def _confirm_first(setup):
    setup.assembly.confirm_email_first = True
    db.session.commit()


def register(client, setup, **fields):
    return post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, **fields))


def _confirm_path(to: str) -> str:
    return CONFIRM_RE.search(outbox(kind="confirm_registration", to=to)[-1].body_text).group(1)


def _registrations() -> int:
    return db.session.scalar(select(func.count(Registration.id)))


def test_a_form_holds_no_place_until_its_address_is_confirmed(client, setup):
    _confirm_first(setup)
    response = register(client, setup, n=1)
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/check-your-email")
    assert _registrations() == 0
    db.session.refresh(setup.assembly)
    assert setup.assembly.confirmed_count == 0
    page = client.get(f"/a/{setup.assembly.slug}/register/check-your-email").get_data(as_text=True)
    assert "Until you confirm, you have no place" in page and "delegate1@example.org" in page
    (mail,) = outbox(kind="confirm_registration")
    assert mail.to_email == "delegate1@example.org"
    assert "Confirm my registration" in mail.body_html and "7 days" in mail.body_text
    assert not outbox(kind="registration_confirmed")


def test_opening_the_link_only_shows_the_details_and_confirming_books_the_place(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1, access_needs="Step-free <b>access</b>")
    path = _confirm_path("delegate1@example.org")
    page = client.get(path)
    html = page.get_data(as_text=True)
    # A mail filter opening the link registers nobody.
    assert page.status_code == 200 and _registrations() == 0
    assert "Delegate 1" in html and "Shireford Constabulary" in html and "Anti-social behaviour" in html
    # Needs are health details and the link may have gone to a mistyped address: only whether they were given.
    assert "Step-free" not in html and "Given (shown once you confirm)" in html
    response = post_form(client, path, {})
    assert response.status_code == 302
    reg = db.session.scalar(select(Registration))
    assert reg.status == "confirmed" and reg.access_needs == "Step-free <b>access</b>"
    assert reg.choice_topic_ids == [t.id for t in setup.topics[:3]] and reg.consent_at is not None
    assert MANAGE_RE.search(response.headers["Location"])
    manage = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "your place is booked" in manage
    assert [m.to_email for m in outbox(kind="registration_confirmed")] == ["delegate1@example.org"]
    assert db.session.scalar(select(func.count(PendingRegistration.id))) == 0
    # The link is used up: opened or pressed again (another tab, a double click), it shows the registration it made.
    again = client.get(path)
    assert again.status_code == 302 and MANAGE_RE.search(again.headers["Location"])
    assert "Your address is confirmed already" in client.get(again.headers["Location"]).get_data(as_text=True)
    pressed = post_form(client, path, {}, form_url=f"/a/{setup.assembly.slug}/register")
    assert pressed.status_code == 302 and MANAGE_RE.search(pressed.headers["Location"])
    assert _registrations() == 1
    # Once that registration is cancelled, the link only says it was used.
    with client.application.test_request_context():
        services.cancel_registration(db.session.scalar(select(Registration)))
    again = client.get(path)
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)


def test_made_up_addresses_never_take_the_places_of_people_who_confirm(client, setup):
    _confirm_first(setup)
    setup.assembly.capacity, setup.assembly.org_limit = 2, None
    db.session.commit()
    for n in range(10, 20):
        register(client, setup, n=n)
    register(client, setup, n=1)
    register(client, setup, n=2)
    for n in (1, 2):
        post_form(client, _confirm_path(f"delegate{n}@example.org"), {})
    statuses = dict(db.session.execute(select(Registration.email, Registration.status)).all())
    assert statuses == {"delegate1@example.org": "confirmed", "delegate2@example.org": "confirmed"}


def test_a_full_assembly_at_confirmation_offers_the_waiting_list(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1, join_waiting_list=None)
    setup.assembly.capacity = 0
    db.session.commit()
    path = _confirm_path("delegate1@example.org")
    response = post_form(client, path, {})
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "The assembly is full." in html and "Join the waiting list" in html
    assert _registrations() == 0
    response = post_form(client, path, {"join_waiting_list": "y"})
    assert response.status_code == 302
    assert db.session.scalar(select(Registration.status)) == "waiting"
    assert outbox(kind="waiting_list")


def test_a_full_assembly_refuses_a_form_without_the_waiting_list_box_at_once(client, setup):
    _confirm_first(setup)
    setup.assembly.capacity = 0
    db.session.commit()
    html = register(client, setup, n=1, join_waiting_list=None).get_data(as_text=True)
    assert "The assembly is full. Tick this box to join the waiting list." in html
    assert not outbox(kind="confirm_registration")


def test_sending_the_form_again_keeps_one_pending_form_with_the_newest_details_and_one_email(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    register(client, setup, n=1, full_name="Delegate One", job_title="Inspector")
    (pending,) = db.session.scalars(select(PendingRegistration)).all()
    assert pending.full_name == "Delegate One" and pending.data["job_title"] == "Inspector"
    # Within a quarter of an hour the first email's link serves: nobody is buried in emails.
    assert len(outbox(kind="confirm_registration")) == 1
    post_form(client, _confirm_path("delegate1@example.org"), {})
    assert db.session.scalar(select(Registration.job_title)) == "Inspector"


def test_an_address_already_registered_gets_its_link_and_the_screen_says_the_same(client, setup):
    register(client, setup, n=1)  # registered before the organisers turned confirmation on
    _confirm_first(setup)
    response = register(client, setup, n=1, full_name="Someone Else")
    assert response.headers["Location"].endswith("/register/check-your-email")
    assert not outbox(kind="confirm_registration")
    assert [m.to_email for m in outbox(kind="manage_link")] == ["delegate1@example.org"]
    assert db.session.scalar(select(Registration.full_name)) == "Delegate 1"


def test_a_form_sent_before_the_closing_time_can_be_confirmed_after_it(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    setup.assembly.registration_closes_at = services.utc_to_local(services.utcnow(), "Europe/London") + timedelta(seconds=1)
    db.session.commit()
    pending = db.session.scalar(select(PendingRegistration))
    pending.created_at -= timedelta(minutes=1)
    setup.assembly.registration_closes_at -= timedelta(seconds=30)
    db.session.commit()
    assert post_form(client, _confirm_path("delegate1@example.org"), {}).status_code == 302
    assert db.session.scalar(select(Registration.status)) == "confirmed"


def test_an_assembly_closed_by_hand_takes_no_more_confirmations(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    path = _confirm_path("delegate1@example.org")
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    setup.assembly.status = "closed"
    db.session.commit()
    for response in (client.get(path), client.post(path, data={"csrf_token": csrf})):
        assert response.status_code == 409 and "closed" in response.get_data(as_text=True)
    assert _registrations() == 0


def test_old_tampered_and_foreign_links_get_a_page_not_an_error(client, setup, monkeypatch):
    _confirm_first(setup)
    register(client, setup, n=1)
    path = _confirm_path("delegate1@example.org")
    assert client.get(path[:-3] + "xyz").status_code == 404
    from tests.factories import make_assembly

    other = make_assembly(confirm_email_first=True)
    assert client.get(path.replace(setup.assembly.slug, other.slug)).status_code == 404
    real_loads = services.URLSafeTimedSerializer.loads
    monkeypatch.setattr(services.URLSafeTimedSerializer, "loads",
                        lambda self, token, max_age=None, **kw: real_loads(self, token, max_age=-1, **kw))
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)


def test_forms_never_confirmed_are_deleted_after_a_week(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    db.session.scalar(select(PendingRegistration)).created_at -= timedelta(days=services.CONFIRM_DAYS, minutes=1)
    db.session.commit()
    register(client, setup, n=2)
    assert db.session.scalars(select(PendingRegistration.email)).all() == ["delegate2@example.org"]


def test_the_organiser_sees_unconfirmed_forms_and_can_confirm_or_delete_them(client, setup, as_organiser):
    _confirm_first(setup)
    register(client, setup, n=1)
    register(client, setup, n=2, full_name="Mallory <script>")
    slug = setup.assembly.slug
    index = client.get(f"/organiser/assemblies/{slug}/registrations").get_data(as_text=True)
    assert "Waiting for their address to be confirmed (2)" in index
    page = client.get(f"/organiser/assemblies/{slug}/registrations/unconfirmed").get_data(as_text=True)
    assert "delegate1@example.org" in page and "Mallory &lt;script&gt;" in page
    ids = dict(db.session.execute(select(PendingRegistration.email, PendingRegistration.id)).all())
    url = f"/organiser/assemblies/{slug}/registrations/unconfirmed"
    response = post_form(client, f"{url}/{ids['delegate1@example.org']}/confirm",
                         {"email_key": "delegate1@example.org"}, form_url=url,
                         follow_redirects=True)
    assert "registration is confirmed: confirmed" in response.get_data(as_text=True)
    assert db.session.scalar(select(Registration.email)) == "delegate1@example.org"
    response = post_form(client, f"{url}/{ids['delegate2@example.org']}/withdraw",
                         {"email_key": "delegate2@example.org"}, form_url=url,
                         follow_redirects=True)
    assert "Nobody is waiting" in response.get_data(as_text=True)
    assert client.get(_confirm_path("delegate2@example.org")).status_code == 410


def test_new_assemblies_ask_for_confirmation_unless_the_organiser_unticks_it(client, as_organiser):
    html = client.get("/organiser/assemblies/new").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="confirm_email_first"[^>]*>', html).group(0)
    assert "checked" in box


def test_purging_personal_data_deletes_forms_never_confirmed(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    services.anonymise_registrations(setup.assembly)
    assert db.session.scalar(select(func.count(PendingRegistration.id))) == 0


def test_asking_for_a_fresh_link_sends_the_confirmation_link_of_a_form_not_yet_confirmed(client, setup, monkeypatch):
    _confirm_first(setup)
    register(client, setup, n=1)
    # A quarter of an hour later (the first email's window is over), the email is lost.
    later = services.utcnow() + timedelta(minutes=services.FRESH_LINK_MINUTES)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    response = post_form(client, "/manage/new-link", {"email": "Delegate1@example.org"})
    assert response.status_code == 200
    mails = outbox(kind="confirm_registration", to="delegate1@example.org")
    assert len(mails) == 2 and CONFIRM_RE.search(mails[-1].body_text)
    assert post_form(client, _confirm_path("delegate1@example.org"), {}).status_code == 302


def _reminders() -> list:
    return outbox(kind="confirm_registration_reminder")


def test_a_form_not_confirmed_within_a_day_gets_one_reminder_and_a_confirmed_one_none(client, setup, mail_sink):
    from eventapp.mail.services import send_pending

    _confirm_first(setup)
    register(client, setup, n=1)
    register(client, setup, n=2)
    pending = {p.email: p for p in db.session.scalars(select(PendingRegistration))}
    reminders = {m.to_email: m for m in _reminders()}
    assert set(reminders) == {"delegate1@example.org", "delegate2@example.org"}
    for email, m in reminders.items():
        assert m.next_attempt_at == pending[email].created_at + timedelta(hours=services.CONFIRM_REMINDER_HOURS)
    send_pending()
    # Now only the two confirmation emails go; the reminders wait for their day.
    assert sorted(m["Subject"] for m in mail_sink.messages) == [
        f"Confirm your registration for {setup.assembly.title}"] * 2
    post_form(client, _confirm_path("delegate1@example.org"), {})
    assert [m.to_email for m in _reminders()] == ["delegate2@example.org"]
    # Sending the form again moves the reminder to a day after it, still one.
    register(client, setup, n=2, job_title="Sergeant")
    assert len(_reminders()) == 1
    reminder = _reminders()[0]
    reminder.next_attempt_at = services.utcnow() - timedelta(seconds=1)
    db.session.commit()
    send_pending()
    (sent,) = [m for m in mail_sink.messages if m["Subject"].startswith("Reminder: confirm")]
    assert sent["To"].addresses[0].addr_spec == "delegate2@example.org"
    link = CONFIRM_RE.search(reminder.body_text).group(1)
    assert post_form(client, link, {}).status_code == 302
    assert db.session.scalar(select(Registration.job_title).where(Registration.email == "delegate2@example.org")) == "Sergeant"


def test_a_deleted_form_gets_no_reminder(client, setup, as_organiser):
    _confirm_first(setup)
    register(client, setup, n=1)
    pending = db.session.scalar(select(PendingRegistration))
    url = f"/organiser/assemblies/{setup.assembly.slug}/registrations/unconfirmed"
    post_form(client, f"{url}/{pending.id}/withdraw", {"email_key": pending.email_key}, form_url=url)
    assert not _reminders()


def test_the_assembly_page_says_whether_new_registrations_confirm_their_address_first(client, setup, as_organiser):
    url = f"/organiser/assemblies/{setup.assembly.slug}"
    assert "the form is sent (their address is not checked first)" in client.get(url).get_data(as_text=True)
    _confirm_first(setup)
    assert "once they confirm their email address" in client.get(url).get_data(as_text=True)


def test_an_organiser_action_on_a_form_confirmed_meanwhile_never_touches_a_newer_form_given_its_id(
        client, setup, as_organiser):
    """SQLite gives a deleted row's id again: the page's Delete/Confirm must not act on whoever has it now."""
    _confirm_first(setup)
    register(client, setup, n=1)
    slug = setup.assembly.slug
    url = f"/organiser/assemblies/{slug}/registrations/unconfirmed"
    page = client.get(url).get_data(as_text=True)  # the organiser's page lists delegate1's form
    old_id = db.session.scalar(select(PendingRegistration.id))
    # Meanwhile delegate1 confirms (the form is deleted) and delegate2 sends a form: the same id on SQLite.
    assert post_form(client, _confirm_path("delegate1@example.org"), {}).status_code == 302
    register(client, setup, n=2)
    newer = db.session.scalar(select(PendingRegistration))
    if newer.id != old_id:  # PostgreSQL never reuses an id: nothing to prove there
        return
    fields = dict(re.findall(r'name="(email_key|csrf_token)"[^>]*? value="([^"]*)"', page))
    for action in ("withdraw", "confirm"):
        response = client.post(f"{url}/{old_id}/{action}", data=fields, follow_redirects=True)
        assert response.status_code == 200 and "nothing was changed" in response.get_data(as_text=True)
        assert db.session.scalar(select(PendingRegistration.email)) == "delegate2@example.org"
    assert db.session.scalars(select(Registration.email)).all() == ["delegate1@example.org"]


def test_a_form_sent_again_after_the_last_one_was_deleted_gets_its_own_confirmation_email(
        client, setup, as_organiser):
    _confirm_first(setup)
    register(client, setup, n=1)
    first_link = _confirm_path("delegate1@example.org")
    pending = db.session.scalar(select(PendingRegistration))
    url = f"/organiser/assemblies/{setup.assembly.slug}/registrations/unconfirmed"
    post_form(client, f"{url}/{pending.id}/withdraw", {"email_key": pending.email_key}, form_url=url)
    register(client, setup, n=2)  # someone else's form takes the next id
    # The same quarter of an hour: delegate1 registers again (say the organiser asked them to).
    register(client, setup, n=1)
    mails = outbox(kind="confirm_registration", to="delegate1@example.org")
    assert len(mails) == 2
    assert client.get(first_link).status_code == 410
    assert post_form(client, _confirm_path("delegate1@example.org"), {}).status_code == 302
    assert db.session.scalar(select(Registration.email)) == "delegate1@example.org"


def test_a_link_signed_later_still_stops_working_when_its_form_expires(client, setup):
    """The reminder's link is signed a day after the form: it must not outlive the date the reminder gives."""
    _confirm_first(setup)
    register(client, setup, n=1)
    pending = db.session.scalar(select(PendingRegistration))
    token = services._confirm_serializer().dumps({"p": pending.id, "k": pending.email_key})
    pending.created_at -= timedelta(days=services.CONFIRM_DAYS, minutes=1)
    db.session.commit()
    path = f"/a/{setup.assembly.slug}/register/confirm/{token}"
    assert client.get(path).status_code == 410
    assert post_form(client, path, {}, form_url=f"/a/{setup.assembly.slug}/register").status_code == 410
    assert _registrations() == 0


def test_a_form_cannot_be_confirmed_once_the_assembly_has_taken_place(client, setup, monkeypatch):
    _confirm_first(setup)
    register(client, setup, n=1)
    path = _confirm_path("delegate1@example.org")
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    monkeypatch.setattr(services, "has_taken_place", lambda assembly, now=None: True)
    for response in (client.get(path), client.post(path, data={"csrf_token": csrf})):
        assert response.status_code == 409 and "has taken place" in response.get_data(as_text=True)
    assert _registrations() == 0


def test_confirming_a_form_already_used_says_so_and_registers_nobody_twice(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    path = _confirm_path("delegate1@example.org")
    pending = services.load_pending(path.rsplit("/", 1)[1])
    # The other press of Confirm got there first: the row is gone by the time this one locks it
    # (this request read the form before, and holds it loaded).
    db.session.execute(PendingRegistration.__table__.delete())
    try:
        services.confirm_pending(pending)
    except services.PendingGone:
        pass
    else:
        raise AssertionError("a form already used registered someone")
    assert _registrations() == 0


def test_the_confirm_page_of_a_full_assembly_points_at_its_button_not_at_a_box_it_does_not_have(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1, join_waiting_list=None)
    setup.assembly.capacity = 0
    db.session.commit()
    html = post_form(client, _confirm_path("delegate1@example.org"), {}).get_data(as_text=True)
    assert 'type="checkbox"' not in html and "Tick this box" not in html
    heading = re.search(r'<div class="error-summary"[^>]*><h2>(.*?)</h2>', html, re.S).group(1)
    assert heading == "The assembly is full."
    assert "Press &ldquo;Join the waiting list&rdquo;: if a place comes free" in html


def test_the_link_of_a_cancelled_assembly_says_so_before_offering_a_button_that_can_only_fail(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1)
    path = _confirm_path("delegate1@example.org")
    setup.assembly.cancelled_at = services.utcnow()
    db.session.commit()
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This assembly has been cancelled." in html and "Confirm my registration" not in html
    # Nor a way round: the form it would send the delegate back to is closed too.
    assert f'href="/a/{setup.assembly.slug}/register"' not in html
    assert _registrations() == 0


def test_deleting_an_unconfirmed_form_asks_first_and_returns_to_the_same_page(client, setup, app, as_organiser,
                                                                             monkeypatch):
    # Delete sat beside Confirm and acted at once: a slip of the finger lost someone's form for good.
    _confirm_first(setup)
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    register(client, setup, n=1, full_name="Aisha <b>Khan</b>")
    register(client, setup, n=2)
    url = f"/organiser/assemblies/{setup.assembly.slug}/registrations/unconfirmed"
    listed = client.get(f"{url}?page=2").get_data(as_text=True)
    link = re.search(r'href="([^"]*/withdraw[^"]*)"', listed).group(1).replace("&amp;", "&")
    key = parse_qs(urlsplit(link).query)["email_key"][0]
    pending = db.session.scalar(select(PendingRegistration).where(PendingRegistration.email_key == key))
    confirm = client.get(link)
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Yes, delete" in html and pending.email in html
    assert "register again" in html
    assert db.session.scalar(select(func.count()).select_from(PendingRegistration)) == 2  # opening it deletes nothing
    fields = dict(re.findall(r'name="(email_key|page|csrf_token)" value="([^"]*)"', html))
    response = client.post(link.split("?")[0], data=fields)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{url}?page=2")
    assert db.session.scalar(select(func.count()).select_from(PendingRegistration)) == 1
    assert client.get(_confirm_path(pending.email)).status_code == 410
    # "Yes, delete" pressed twice: the second says so and deletes nothing more.
    again = client.post(link.split("?")[0], data=fields, follow_redirects=True).get_data(as_text=True)
    assert "nothing was changed" in again
    assert db.session.scalar(select(func.count()).select_from(PendingRegistration)) == 1
    # The escaped name is on the page that asks.
    assert "<b>Khan</b>" not in html


def test_details_to_change_on_the_confirmation_page_come_back_filled_in(client, setup):
    # WCAG 3.3.7: "Something wrong?" on the link's page (often opened on a phone, not where the form was sent)
    # gave a blank form, so one wrong detail meant typing everything again.
    _confirm_first(setup)
    register(client, setup, n=1, job_title="Community <b>safety</b> officer", access_needs="Step-free access")
    path = _confirm_path("delegate1@example.org")
    phone = client.application.test_client()
    assert "Change these details" in phone.get(path).get_data(as_text=True)
    page = post_form(phone, path, {"change": "1"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and _registrations() == 0
    assert f'action="/a/{setup.assembly.slug}/register"' in html
    fields = form_fields(setup, n=1, job_title="Community <b>safety</b> officer")
    for name in ("full_name", "email", "organisation_name"):
        assert re.search(rf'<input[^>]*name="{name}"[^>]*value="{re.escape(fields[name])}"', html), name
    assert 'value="Community &lt;b&gt;safety&lt;/b&gt; officer"' in html
    for i in (1, 2, 3):
        options = re.search(rf"<select[^>]*name=\"choice_{i}\".*?</select>", html, re.S).group(0)
        assert re.search(rf"<option selected value=\"{setup.topics[i - 1].id}\"", options), f"choice {i}"
    # The needs are health details, never shown to whoever holds the link.
    assert "Step-free" not in html
    # Sent changed, the same link confirms the changed form.
    post_form(phone, f"/a/{setup.assembly.slug}/register", form_fields(setup, n=1, job_title="Inspector"))
    assert post_form(phone, path, {}).status_code == 302
    assert db.session.scalar(select(Registration)).job_title == "Inspector"
