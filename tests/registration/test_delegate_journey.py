"""A delegate's journey end to end: errors on the form, links back to the personal page, emails and data export."""
from __future__ import annotations

import re

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.registration import services
from eventapp.registration.models import Registration
from tests.conftest import post_form
from tests.registration.conftest import form_fields, outbox
from tests.page_messages import WITHOUT_ISOLATES

LINK_RE = re.compile(r"http://localhost(/manage/[^\s\"<]+)")


def register(client, setup, **fields):
    return post_form(client, f"/a/{setup.assembly.slug}/register", form_fields(setup, **fields))


def _error_tied_to(html: str, field_id: str) -> str:
    """The error message shown next to a field, which the field's aria-describedby must name."""
    control = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', html).group(0)
    assert f"{field_id}-error" in control
    message = re.search(rf'<p class="error-message" id="{field_id}-error">(.*?)</p>', html, re.S)
    assert message, f"no error message beside {field_id}"
    return re.sub(r"<[^>]+>", "", message.group(1))


def test_a_checkbox_error_is_shown_beside_the_checkbox_it_belongs_to(client, setup):
    html = register(client, setup, consent=None).get_data(as_text=True)
    assert "Tick the box to confirm you have read the privacy notice." in _error_tied_to(html, "consent")
    setup.assembly.capacity = 0
    db.session.commit()
    html = register(client, setup, join_waiting_list=None).get_data(as_text=True)
    assert "The assembly is full. Tick this box to join the waiting list." in _error_tied_to(html, "join_waiting_list")


def test_the_assembly_page_and_the_form_say_where_to_get_a_lost_personal_link(client, setup):
    # The confirmation email says a fresh link can be had "on the assembly's website".
    register(client, setup, n=1)
    for url in (f"/a/{setup.assembly.slug}", f"/a/{setup.assembly.slug}/register"):
        html = client.get(url).get_data(as_text=True)
        assert 'href="/manage/new-link"' in html, url
    setup.assembly.status = "closed"
    db.session.commit()
    assert 'href="/manage/new-link"' in client.get(f"/a/{setup.assembly.slug}").get_data(as_text=True)


def test_leaving_the_waiting_list_is_not_called_giving_up_a_place(client, setup):
    setup.assembly.capacity = 0
    db.session.commit()
    register(client, setup, n=1)
    path = LINK_RE.search(outbox(kind="waiting_list")[-1].body_text).group(1)
    assert post_form(client, path + "/cancel", {}).status_code == 302
    mail = outbox(kind="cancelled")[-1]
    for body in (mail.body_text, mail.body_html):
        assert "your place offered to the next person" not in body
        assert "waiting list" in body


def test_my_data_includes_the_workshop_place_and_the_attendance_recorded(client, setup):
    from sqlalchemy import select

    from eventapp.assemblies.models import Workshop
    from eventapp.notes.models import Attendance
    from eventapp.placements.models import Placement
    from eventapp.registration.models import Registration

    register(client, setup, n=1)
    reg = db.session.scalar(select(Registration))
    workshop = db.session.scalar(select(Workshop).where(Workshop.topic_id == setup.topics[0].id))
    db.session.add(Placement(registration_id=reg.id, round_id=workshop.round_id, topic_id=workshop.topic_id,
                             workshop_id=workshop.id))
    db.session.add(Attendance(workshop_id=workshop.id, registration_id=reg.id, status="present"))
    db.session.commit()
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    data = client.get(path + "/my-data.json").get_json()
    assert [(p["workshop"], p["room"], p["round"]) for p in data["workshop_places"]] == [
        (workshop.title, "Room 1", workshop.round.name)]
    assert [(a["workshop"], a["status"]) for a in data["attendance"]] == [(workshop.title, "Present")]


def test_the_personal_page_says_when_the_assembly_itself_is_cancelled(client, setup):
    from eventapp.assemblies.services import set_cancelled

    register(client, setup, n=1)
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    set_cancelled(setup.assembly, True)
    html = client.get(path).get_data(as_text=True)
    assert "Your place is confirmed." not in html
    assert "This assembly has been cancelled." in html


def test_the_personal_page_of_a_cancelled_assembly_offers_no_change_and_its_feed_shows_the_day_cancelled(client, setup):
    from eventapp.assemblies.services import set_cancelled

    register(client, setup, n=1)
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    before = client.get(path).get_data(as_text=True)
    feed = re.search(r'href="https?://[^/"]+(/calendar/[^"]+\.ics)"', before).group(1)
    assert "Change your details or choices" in before
    assert "STATUS:CONFIRMED" in client.get(feed).get_data(as_text=True)
    set_cancelled(setup.assembly, True)
    html = client.get(path).get_data(as_text=True)
    assert "This assembly has been cancelled." in html
    assert "Change your details" not in html and "/calendar/" not in html
    # The edit link kept from earlier explains instead of offering a form whose Save can only fail.
    page = client.get(path + "/edit", follow_redirects=True).get_data(as_text=True)
    assert "This assembly has been cancelled, so registrations can no longer be changed." in page
    assert 'name="full_name"' not in page
    # A calendar already subscribed shows the day cancelled rather than dropping it without a word.
    ics = client.get(feed).get_data(as_text=True)
    assert ics.count("BEGIN:VEVENT") == 1 and "STATUS:CANCELLED" in ics and "STATUS:CONFIRMED" not in ics


def test_a_fresh_link_for_a_cancelled_registration_does_not_say_you_are_registered(client, setup):
    register(client, setup, n=1)
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    assert post_form(client, path + "/cancel", {}).status_code == 302
    post_form(client, "/manage/new-link", {"email": "delegate1@example.org"})
    mail = outbox(kind="manage_link")[-1]
    for body in (mail.body_text, mail.body_html):
        assert "You are already registered" not in body
        assert "Your registration is cancelled." in body


def test_the_needs_boxes_say_how_much_they_hold(client, setup):
    # No maxlength (it would cut a long paste short without a word): the hint says the limit before typing,
    # the error how much was used after.
    html = client.get(f"/a/{setup.assembly.slug}/register").get_data(as_text=True)
    for name in ("access_needs", "dietary_needs"):
        box = re.search(rf'<textarea[^>]*\bid="{name}"[^>]*>', html).group(0)
        assert "maxlength" not in box and f'aria-describedby="{name}-hint"' in box
        hint = re.search(rf'<p class="hint" id="{name}-hint">(.*?)</p>', html, re.S).group(1)
        assert "up to 2,000 characters" in hint


def test_the_error_summary_lists_problems_in_the_order_of_the_page(client, setup):
    html = register(client, setup, choice_1="", consent=None, access_needs="x" * 2001).get_data(as_text=True)
    summary = html[html.index('class="error-summary"'):html.index("</div>", html.index('class="error-summary"'))]
    links = re.findall(r'<a href="#([a-z_0-9]+)">', summary)
    assert links == ["choice_1", "access_needs", "consent"]


def test_changing_the_email_address_kills_the_links_sent_to_the_old_one_and_hands_over_a_new_link(client, setup):
    # A delegate registered with a typo (delegat1@...) that belongs to someone else; they fix it on their page.
    register(client, setup, n=1, email="delegat1@example.org")
    old_path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    resp = post_form(client, old_path + "/edit", form_fields(setup, n=1, email="delegate1@example.org"))
    assert resp.status_code == 302
    new_path = resp.headers["Location"]
    assert new_path.startswith("/manage/") and new_path != old_path
    page = client.get(new_path).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "We have emailed your new personal link to delegate1@example.org" in page
    assert "Your place is confirmed." in page
    # Whoever reads the old address can no longer open the registration with the link they were sent.
    assert client.get(old_path).status_code == 404
    assert post_form(client, old_path + "/cancel", {}).status_code == 404
    # The new address is sent a working link; the old one is told, without a link or the new address.
    new_mail = outbox(kind="address_changed", to="delegate1@example.org")
    assert len(new_mail) == 1
    assert client.get(LINK_RE.search(new_mail[0].body_text).group(1)).status_code == 200
    old_mail = outbox(kind="address_changed_old", to="delegat1@example.org")
    assert len(old_mail) == 1
    for body in (old_mail[0].body_text, old_mail[0].body_html):
        assert "/manage/" not in body and "delegate1@example.org" not in body
        assert "links in earlier emails no longer work" in body
    # Saving again without changing the address keeps the link as it is.
    resp = post_form(client, new_path + "/edit", form_fields(setup, n=1, dietary_needs="Vegan"))
    assert resp.headers["Location"] == new_path
    assert len(outbox(kind="address_changed")) == 1


def test_save_pressed_twice_on_a_change_of_address_says_the_change_is_saved_without_opening_the_old_link(client, app, setup):
    from tests.conftest import csrf_from

    register(client, setup, n=1, email="delegat1@example.org")
    old_path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    sent = {"csrf_token": csrf_from(client.get(old_path + "/edit").get_data(as_text=True)),
            **form_fields(setup, n=1, email="delegate1@example.org")}
    first = client.post(old_path + "/edit", data=sent)
    assert first.status_code == 302
    second = client.post(old_path + "/edit", data=sent)
    html = second.get_data(as_text=True)
    assert second.status_code == 200 and "Your changes are saved" in html
    assert "emailed your new personal link to the new address" in html
    assert "This link does not work" not in html
    assert first.headers["Location"] not in html and old_path not in html
    assert len(outbox(kind="address_changed")) == 1
    # The old link still opens nothing, and a form sent to it with another address is not told anything.
    assert client.get(old_path).status_code == 404 and client.get(old_path + "/edit").status_code == 404
    assert client.post(old_path + "/edit", data={**sent, "email": "guess@example.org"}).status_code == 404
    # Another browser (no CSRF token of this session) is not answered either.
    other = app.test_client()
    assert other.post(old_path + "/edit", data=sent).status_code in (400, 404)


def test_the_change_form_says_which_earlier_choice_the_organisers_took_off_the_programme(client, setup):
    register(client, setup, n=1)  # choices: the first three topics, in order
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    removed = setup.topics[1]
    workshop = next(w for w in setup.assembly.rounds[0].workshops if w.topic_id == removed.id)
    db.session.delete(workshop)
    db.session.commit()
    html = client.get(path + "/edit").get_data(as_text=True)
    assert "Your earlier choice &ldquo;<bdi>Criminal exploitation</bdi>&rdquo; is no longer offered" in html
    # The others move up a rank rather than leaving a gap the delegate must notice.
    selected = re.findall(r'<select[^>]*name="(choice_\d)"[^>]*>.*?<option selected value="(\d+)"', html, re.S)
    assert selected[:2] == [("choice_1", str(setup.topics[0].id)), ("choice_2", str(setup.topics[2].id))]


def test_emails_link_to_the_fresh_link_page_and_the_assembly_page_rather_than_naming_a_website(client, setup):
    register(client, setup, n=1)
    mail = outbox(kind="registration_confirmed")[-1]
    fresh = re.search(r"ask for a fresh one at (http://localhost/\S+)", mail.body_text).group(1)
    assert f'href="{fresh}"' in mail.body_html
    page = client.get(fresh.removeprefix("http://localhost"))
    assert page.status_code == 200 and "personal link" in page.get_data(as_text=True)
    post_form(client, LINK_RE.search(mail.body_text).group(1) + "/cancel", {})
    mail = outbox(kind="cancelled")[-1]
    again = re.search(r"register again while registration is open:\n(http://localhost/\S+)", mail.body_text).group(1)
    assert f'href="{again}"' in mail.body_html
    page = client.get(again.removeprefix("http://localhost"))
    assert page.status_code == 200 and setup.assembly.title in page.get_data(as_text=True)
    for body in (mail.body_text, mail.body_html):
        assert "website" not in body


def _registered_page(client, setup) -> str:
    return client.get(f"/a/{setup.assembly.slug}/register/check-your-email").get_data(as_text=True)


def test_a_mistyped_address_is_corrected_from_the_check_your_email_page(client, setup):
    setup.assembly.capacity = 1
    db.session.commit()
    register(client, setup, n=1, email="delegate1@exmaple.org")
    page = _registered_page(client, setup)
    assert "delegate1@exmaple.org" in page and 'href="/a/%s/register/correct-email"' % setup.assembly.slug in page
    typo_link = LINK_RE.search(outbox(kind="registration_confirmed", to="delegate1@exmaple.org")[0].body_text).group(1)
    url = f"/a/{setup.assembly.slug}/register/correct-email"
    form = client.get(url).get_data(as_text=True)
    assert "delegate1@exmaple.org" not in form  # not shown again: the next person at the computer must not learn it
    bad = post_form(client, url, {"typed": "delegate1@exmaple.org", "email": "not an address"})
    assert bad.status_code == 400 and 'value="not an address"' in bad.get_data(as_text=True)
    resp = post_form(client, url, {"typed": "Delegate1@Exmaple.org", "email": "delegate1@example.org"})
    assert resp.status_code == 302
    page = _registered_page(client, setup)
    assert "The address is corrected." in page and "delegate1@example.org" in page
    # One registration, holding the one place, at the right address; the confirmation went there.
    regs = db.session.scalars(select(Registration)).all()
    assert [(r.email, r.status) for r in regs] == [("delegate1@example.org", "confirmed")]
    mail = outbox(kind="registration_confirmed", to="delegate1@example.org")
    assert len(mail) == 1 and client.get(LINK_RE.search(mail[0].body_text).group(1)).status_code == 200
    assert client.get(typo_link).status_code == 404
    assert len(outbox(kind="address_changed_old", to="delegate1@exmaple.org")) == 1


def test_the_correction_is_only_for_the_registration_this_browser_just_made(client, app, setup):
    register(client, setup, n=1)
    url = f"/a/{setup.assembly.slug}/register/correct-email"
    # Another browser has nothing to correct.
    other = app.test_client()
    assert other.get(url).status_code == 410
    # After the registration changed (here the delegate's own link edits the address), it is gone.
    reg = db.session.scalar(select(Registration))
    with app.test_request_context():
        services.update_registration(reg, {**{f: getattr(reg, f) for f in ("full_name", "job_title", "access_needs",
                                                                           "dietary_needs", "organisation_id")},
                                           "email": "delegate1@work.example.org"})
    resp = post_form(client, url, {"typed": "delegate1@example.org", "email": "someone@example.org"})
    assert resp.status_code == 410 and "can no longer be corrected here" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Registration.email)) == "delegate1@work.example.org"
    # Half an hour after registering, too.
    register(client, setup, n=3)
    assert client.get(url).status_code == 200
    with client.session_transaction() as sess:
        assembly_id, reg_id, version, at, email = sess["correctable"]
        sess["correctable"] = [assembly_id, reg_id, version, at - 31 * 60, email]
    assert client.get(url).status_code == 410


def test_correcting_to_an_address_already_registered_frees_the_mistyped_duplicate(client, setup):
    register(client, setup, n=1)  # the right address, registered first
    register(client, setup, n=2, email="delegate1@exmaple.org")
    url = f"/a/{setup.assembly.slug}/register/correct-email"
    resp = post_form(client, url, {"typed": "delegate1@exmaple.org", "email": "delegate1@example.org"})
    assert resp.status_code == 302  # the same answer as any correction: nothing says the address was known
    regs = {r.email: r.status for r in db.session.scalars(select(Registration))}
    assert regs == {"delegate1@example.org": "confirmed", "delegate1@exmaple.org": "cancelled"}
    assert len(outbox(kind="manage_link", to="delegate1@example.org")) == 1
    assert outbox(kind="cancelled") == []
    # And the page after looks as after any correction: still offering to correct, so no one learns which it was.
    assert 'register/correct-email"' in _registered_page(client, setup)
    assert client.get(url).status_code == 200


def test_correcting_an_attempt_at_an_address_registered_already_looks_the_same_and_says_so_by_email(client, app, setup):
    register(client, setup, n=1)
    other = app.test_client()
    register(other, setup, n=1, full_name="Someone else")  # delegate1@example.org again: only its owner is emailed
    # The page offers the same correction as after a new registration: it never shows who is registered.
    assert _registered_page(other, setup) == _registered_page(client, setup)
    url = f"/a/{setup.assembly.slug}/register/correct-email"
    resp = post_form(other, url, {"typed": "delegate1@example.org", "email": "someone.else@example.org"})
    assert resp.status_code == 302 and "The address is corrected." in _registered_page(other, setup)
    # Nobody was registered or moved; the corrected address learns why by email, with the form's address.
    assert [r.email for r in db.session.scalars(select(Registration))] == ["delegate1@example.org"]
    (mail,) = outbox(kind="correction_not_registered", to="someone.else@example.org")
    assert f"http://localhost/a/{setup.assembly.slug}/register" in mail.body_text
    assert "delegate1@example.org" not in mail.body_text
    # Asked again and again, the address is emailed once (a quarter of an hour at least).
    for _ in range(3):
        post_form(other, url, {"typed": "x@example.org", "email": "someone.else@example.org"})
    assert len(outbox(kind="correction_not_registered", to="someone.else@example.org")) == 1


def test_my_data_lists_the_emails_about_me_whatever_address_they_went_to_and_only_those(client, setup):
    import json

    register(client, setup, n=1, email="first@example.org")
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    resp = post_form(client, path + "/edit", form_fields(setup, n=1, email="second@example.org"))
    path = resp.headers["Location"]
    # Someone else then registers with the address given up.
    register(client, setup, n=2, email="first@example.org")
    data = json.loads(client.get(path + "/my-data.json").get_data(as_text=True))
    sent = [(m["to"], m["subject"]) for m in data["emails_sent_to_you"]]
    assert ("first@example.org", f"Your place at {setup.assembly.title} is confirmed") in sent
    assert ("second@example.org", f"Your email address for {setup.assembly.title} is changed") in sent
    # Not the newcomer's confirmation, though it went to an address this delegate once used.
    assert [s for s in sent if s[0] == "first@example.org" and s[1].startswith("Your place at")] == \
        [("first@example.org", f"Your place at {setup.assembly.title} is confirmed")]


def test_the_address_typed_is_shown_once_so_the_next_person_at_a_shared_computer_does_not_see_it(client, setup):
    register(client, setup, n=1, email="first.person@example.org")
    assert "first.person@example.org" in _registered_page(client, setup)
    assert "first.person@example.org" not in _registered_page(client, setup)


def test_the_next_person_at_a_shared_computer_cannot_move_the_registration_to_their_address(client, setup):
    # A library PC: the delegate registers, reads the check page, walks away; someone else opens the correction.
    register(client, setup, n=1, access_needs="Wheelchair user")
    _registered_page(client, setup)  # the delegate saw their address, once
    url = f"/a/{setup.assembly.slug}/register/correct-email"
    assert "delegate1@example.org" not in client.get(url).get_data(as_text=True)
    resp = post_form(client, url, {"typed": "guess@example.org", "email": "attacker@evil.example"})
    assert resp.status_code == 400 and "That is not the address this registration was made with" in \
        resp.get_data(as_text=True)
    assert db.session.scalar(select(Registration.email)) == "delegate1@example.org"
    assert outbox(to="attacker@evil.example") == []


def test_correcting_to_an_address_whose_earlier_registration_was_cancelled_keeps_the_place(client, setup):
    register(client, setup, n=1)
    path = LINK_RE.search(outbox(kind="registration_confirmed")[-1].body_text).group(1)
    post_form(client, path + "/cancel", {})
    register(client, setup, n=1, email="delegate1@exmaple.org")
    resp = post_form(client, f"/a/{setup.assembly.slug}/register/correct-email",
                     {"typed": "delegate1@exmaple.org", "email": "delegate1@example.org"})
    assert resp.status_code == 302
    live = db.session.scalars(select(Registration).where(Registration.status != "cancelled")).all()
    assert [(r.email, r.status) for r in live] == [("delegate1@example.org", "confirmed")]
    mail = outbox(kind="registration_confirmed", to="delegate1@example.org")[-1]
    assert client.get(LINK_RE.search(mail.body_text).group(1)).status_code == 200


def test_a_delegate_waiting_behind_their_organisations_limit_who_corrects_the_organisation_gets_a_place(client, setup):
    # Capacity 5, at most 2 per organisation: the third from the Constabulary waits though places are free.
    register(client, setup, n=1)
    register(client, setup, n=2)
    register(client, setup, n=3)
    path = LINK_RE.search(outbox(kind="waiting_list", to="delegate3@example.org")[-1].body_text).group(1)
    assert "You are on the waiting list" in client.get(path).get_data(as_text=True)
    # They work for the district council, in fact: with it they would have had a place at once.
    resp = post_form(client, path + "/edit", form_fields(setup, n=3, org=1), follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Your changes are saved, and a place is now yours: we have emailed you the details." in page
    assert "Your place is confirmed." in page
    assert len(outbox(kind="promoted", to="delegate3@example.org")) == 1


def test_the_personal_page_says_why_someone_waits_while_the_assembly_has_places(client, setup):
    # Places are free: the third from the Constabulary waits only because of the limit per organisation.
    for n in (1, 2, 3):
        register(client, setup, n=n)
    path = LINK_RE.search(outbox(kind="waiting_list", to="delegate3@example.org")[-1].body_text).group(1)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).get_data(as_text=True)))
    assert ("You are on the waiting list at position 1: Shireford Constabulary already has 2 confirmed delegates, "
            "the most each organisation can send.") in text
    # When the assembly itself is full, that is the reason given.
    register(client, setup, n=4, org=1)
    register(client, setup, n=5, org=1)
    register(client, setup, n=6, org=2)
    register(client, setup, n=7, org=2)
    path = LINK_RE.search(outbox(kind="waiting_list", to="delegate7@example.org")[-1].body_text).group(1)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", client.get(path).get_data(as_text=True)))
    assert "You are on the waiting list at position 2: every place is taken." in text


def _longest_address(local: str) -> str:
    """A valid address of 254 characters, the most the form and the column take."""
    labels = []
    while len(local) + 1 + len(".".join(labels + ["org"])) < 254:
        room = 254 - len(local) - 1 - len(".".join(labels + ["org"])) - 1
        labels.append("d" * min(60, max(1, room)))
    address = f"{local}@{'.'.join(labels + ['org'])}"
    assert len(address) == 254 and services.is_email_address(address)
    return address


def test_correcting_an_attempt_that_registered_nobody_to_the_longest_address_looks_like_any_correction(client, app,
                                                                                                       setup):
    # The address the form accepts (254 characters) went into the outbox's key for that email, which is 255 at
    # most: PostgreSQL refused it, and the page answered "a value was far outside what this form accepts", which
    # also told the person the first attempt had registered nobody.
    register(client, setup, n=1)
    other = app.test_client()
    register(other, setup, n=1, full_name="Someone else")
    longest = _longest_address("someone.else")
    url = f"/a/{setup.assembly.slug}/register/correct-email"
    resp = post_form(other, url, {"typed": "delegate1@example.org", "email": longest})
    assert "far outside" not in resp.get_data(as_text=True)
    assert resp.status_code == 302 and "The address is corrected." in _registered_page(other, setup)
    (mail,) = outbox(kind="correction_not_registered", to=longest)
    assert f"http://localhost/a/{setup.assembly.slug}/register" in mail.body_text
    for _ in range(2):
        post_form(other, url, {"typed": "x@example.org", "email": longest})
    assert len(outbox(kind="correction_not_registered", to=longest)) == 1
