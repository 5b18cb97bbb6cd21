"""Partner links (signed, expiring, revocable), status updates without an account, facilitator history, reminders."""
from __future__ import annotations

from datetime import date, timedelta

import re

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from eventapp.mail.models import OutboxMessage
from eventapp.notes.models import Action
from eventapp.outcomes import services
from eventapp.outcomes.models import ActionStatusUpdate
from eventapp.timeutil import local_today
from tests.conftest import post_form, rate_limited_client, tickets_from
from tests.factories import make_org
from tests.outcomes.helpers import LEAD_PERSON, build_scene, carried_copy
from tests.page_messages import message_boxes, where_shown


def token_for(html: str, action_id: int) -> dict:
    """The CSRF token of one action's status form (each form has its own field prefix), and on a staff
    page the ticket naming who the page was shown to."""
    match = re.search(rf'name="a{action_id}-csrf_token"[^>]*? value="([^"]+)"', html)
    assert match, f"no status form for action {action_id}"
    return {f"a{action_id}-csrf_token": match.group(1), **tickets_from(html)}


def test_partner_sees_its_own_published_actions_without_an_account(client, db, organiser):
    scene = build_scene(organiser=organiser)
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert "Publish a who-to-call guide" in html and "Set up a single shared ASB case list" in html
    assert "(overdue)" in html
    assert "Train officers" not in html  # health's action
    assert LEAD_PERSON not in html
    health = client.get(f"/partner/{services.make_partner_token(scene.health.id)}").get_data(as_text=True)
    assert "Train officers" in health and "Review the data-sharing agreement" not in health  # internal


def test_partner_posts_a_status_update(client, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    a = scene.open_action.id
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "in_progress",
                                                f"a{a}-note": "Draft with the comms team"})
    assert r.status_code == 302
    action = db.session.get(Action, a)
    assert action.status == "in_progress"
    update = db.session.scalar(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == a))
    assert update.source == "partner" and update.organisation_id == scene.police.id
    assert "Draft with the comms team" in client.get(url).get_data(as_text=True)
    # Without the CSRF token: refused.
    r = client.post(f"{url}/actions/{a}", data={f"a{a}-status": "done"})
    assert r.status_code == 400 and db.session.get(Action, a).status == "in_progress"
    # An invalid status: 400 with the message next to the field.
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "hacked"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Choose a status from the list." in html
    # The summary belongs to this action's form: its heading id is the form's own, and no id is used twice.
    assert f'aria-labelledby="error-summary-title-a{a}"' in html and f'<h2 id="error-summary-title-a{a}">' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_partner_cannot_touch_another_organisations_action(client, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    a = scene.done_action.id
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, scene.open_action.id), f"a{a}-status": "open"})
    assert r.status_code == 404 and db.session.get(Action, a).status == "done"


def test_forged_expired_and_revoked_links(client, db, app, organiser, monkeypatch):
    scene = build_scene(organiser=organiser)
    token = services.make_partner_token(scene.police.id)
    assert client.get(f"/partner/{token[:-4]}AAAA").status_code == 404
    forged = URLSafeTimedSerializer("not-our-secret", salt=services.PARTNER_SALT).dumps({"o": scene.police.id, "v": 1})
    assert client.get(f"/partner/{forged}").status_code == 404
    app.config["PARTNER_LINK_DAYS"] = 0
    try:
        import time

        time.sleep(1.1)
        r = client.get(f"/partner/{token}")
        assert r.status_code == 410 and "This link has expired" in r.get_data(as_text=True)
    finally:
        app.config.pop("PARTNER_LINK_DAYS")
    assert client.get(f"/partner/{token}").status_code == 200
    services.revoke_partner_links(scene.police)
    # A genuine link that was revoked says so and who to ask, not "Page not found".
    r = client.get(f"/partner/{token}")
    html = r.get_data(as_text=True)
    assert r.status_code == 410 and "This link no longer works" in html and "ask them" in html
    assert "Page not found" not in html and scene.police.name not in html
    assert client.get(f"/partner/{services.make_partner_token(scene.police.id)}").status_code == 200


def test_organiser_sets_contact_sends_and_revokes_the_link(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/partners/{scene.police.id}"
    assert scene.police.name in as_organiser.get("/organiser/partners").get_data(as_text=True)
    r = post_form(as_organiser, url, {"contact_name": "Comms", "contact_email": "not an email"})
    assert r.status_code == 400 and "not an email" in r.get_data(as_text=True)
    r = post_form(as_organiser, f"{url}/send", {}, form_url=url, follow_redirects=True)
    assert "Add a contact email" in r.get_data(as_text=True)
    assert post_form(as_organiser, url, {"contact_name": "Comms\r\nBcc: x", "contact_email": "comms@police.example.org"}
                     ).status_code == 302
    r = post_form(as_organiser, f"{url}/send", {}, form_url=url)
    assert r.status_code == 302
    msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "partner_link"))
    assert msg.to_email == "comms@police.example.org" and "\n" not in msg.to_name
    link = next(line for line in msg.body_text.splitlines() if "/partner/" in line).strip()
    path = link[link.index("/partner/"):]
    assert as_organiser.get(path).status_code == 200
    confirm = as_organiser.get(f"{url}/revoke")
    assert "Yes, stop the links" in confirm.get_data(as_text=True)
    assert as_organiser.get(path).status_code == 200  # a GET changes nothing
    assert post_form(as_organiser, f"{url}/revoke", {}).status_code == 302
    assert as_organiser.get(path).status_code == 410


def test_a_contact_too_long_for_its_columns_is_refused_in_our_words_as_typed(as_organiser, db, organiser):
    # The form's limits spoke WTForms' words ("Field cannot be longer than 200 characters.").
    scene = build_scene(organiser=organiser)
    url = f"/organiser/partners/{scene.police.id}"
    name, email = "C" * 201, "c" * 250 + "@example.org"
    r = post_form(as_organiser, url, {"contact_name": name, "contact_email": email})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "Use at most 200 characters." in html and "Use at most 254 characters." in html
    assert "Field cannot be longer" not in html
    assert f'value="{name}"' in html and f'value="{email}"' in html
    assert services.contact_for(scene.police.id) is None


def test_partner_status_posts_arerate_limited_client(app, db, organiser):
    scene = build_scene(organiser=organiser)
    token = services.make_partner_token(scene.police.id)
    with rate_limited_client(app) as client:
        a = scene.open_action.id
        csrf = token_for(client.get(f"/partner/{token}").get_data(as_text=True), a)
        # Each post is a no-op (same status, no note: 400), but each one counts.
        codes = [client.post(f"/partner/{token}/actions/{a}", data={**csrf, f"a{a}-status": "open"}).status_code
                 for _ in range(11)]
    assert codes == [400] * 10 + [429]


def test_the_limit_is_per_organisation_link_not_per_shared_office_address(app, db, organiser):
    # Two councils reach the internet through one public-sector gateway: one's busy minute
    # does not lock the other out.
    from eventapp.notes import services as notes

    scene = build_scene(organiser=organiser)
    health_action = notes.add_action(scene.old_workshop, {
        "description": "Open a mental health drop-in", "owner_organisation_id": scene.health.id,
        "due_date": date.today() + timedelta(days=30), "status": "open", "topic_ids": []}, None)
    health_action.approved = True
    db.session.commit()
    codes = {}
    with rate_limited_client(app) as client:
        for org, action in ((scene.police, scene.open_action), (scene.health, health_action)):
            token = services.make_partner_token(org.id)
            a = action.id
            csrf = token_for(client.get(f"/partner/{token}").get_data(as_text=True), a)
            codes[org.name] = [client.post(f"/partner/{token}/actions/{a}",
                                           data={**csrf, f"a{a}-status": action.status}).status_code
                               for _ in range(10)]
    assert all(c == [400] * 10 for c in codes.values()), codes


def test_an_update_refused_for_too_many_attempts_is_given_back(app, db, organiser):
    # Ten quick updates from one office (or one impatient thumb): the eleventh is refused, not thrown away.
    scene = build_scene(organiser=organiser)
    token = services.make_partner_token(scene.police.id)
    with rate_limited_client(app) as client:
        a = scene.open_action.id
        csrf = token_for(client.get(f"/partner/{token}").get_data(as_text=True), a)
        for _ in range(10):
            client.post(f"/partner/{token}/actions/{a}", data={**csrf, f"a{a}-status": "open"})
        r = client.post(f"/partner/{token}/actions/{a}", data={
            **csrf, f"a{a}-status": "done", f"a{a}-note": "Guide printed <b>and</b> sent to 12 schools"})
        html = r.get_data(as_text=True)
    assert r.status_code == 429
    assert "What you wrote has not been saved" in html
    assert "Guide printed &lt;b&gt;and&lt;/b&gt; sent to 12 schools</pre>" in html


def test_facilitator_sees_earlier_outcomes_and_updates_status(as_facilitator, db, facilitator, organiser):
    scene = build_scene(facilitator=facilitator, organiser=organiser)
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)
    url = f"/facilitator/workshops/{scene.new_workshop.id}/history"
    html = as_facilitator.get(url).get_data(as_text=True)
    assert "Shared case list agreed" in html  # earlier approved outcome on the topic
    assert "Publish a who-to-call guide" in html  # still open in last year's assembly
    assert "carried from" in html  # the carried copy, not the original twice
    open_part = html[:html.index("What earlier workshops agreed")]
    assert open_part.count("Set up a single shared ASB case list") == 1
    assert "Train officers" not in open_part  # done
    copy = db.session.scalar(select(Action).where(Action.assembly_id == scene.current.id))
    page = as_facilitator.get(url).get_data(as_text=True)
    r = as_facilitator.post(f"{url}/{copy.id}", data={**token_for(page, copy.id), f"a{copy.id}-status": "done",
                                                      f"a{copy.id}-note": "Case list live"})
    assert r.status_code == 302
    assert db.session.get(Action, copy.id).status == "done"
    # An action that is not on this workshop's topic history cannot be updated from here.
    r = as_facilitator.post(f"{url}/{scene.done_action.id}", data={**token_for(page, copy.id),
                                                                    f"a{scene.done_action.id}-status": "open"})
    assert r.status_code == 404


def test_remind_sends_each_organisation_one_list_a_day(app, db, organiser):
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "Police", "police@example.org")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["actions", "remind", "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "Queued 1 reminder email listing 2 actions" in result.output
    assert scene.health.name in result.output  # no contact: said so, nothing queued
    (msg,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "action_reminder")).all()
    assert msg.to_email == "police@example.org"
    assert msg.subject == f"2 actions for {scene.police.name}, 1 overdue"
    text = msg.body_text
    assert text.index(scene.overdue_action.description) < text.index(scene.open_action.description)  # soonest first
    assert "Was due on" in text and "is still in progress" in text and "20 days from now" in text
    again = runner.invoke(args=["actions", "remind", "--days", "30"])
    assert "Queued 0 reminder emails listing 0 actions (1 organisation already reminded today)" in again.output
    # Within N days only: 5 days ahead leaves out the action due in 20; the one left has its own subject.
    report = services.queue_action_reminders(5, today=date.today() + timedelta(days=1))
    assert (report.queued, report.actions) == (1, 1)
    latest = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "action_reminder")
                                .order_by(OutboxMessage.id.desc())).first()
    assert latest.subject.startswith("Overdue action: Set up a single shared ASB case list")


def test_reminders_from_the_scheduled_command_carry_the_partner_link(app, client, db, organiser, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://assembly.example.gov.uk")
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "Police", "police@example.org")
    result = app.test_cli_runner().invoke(args=["actions", "remind", "--days", "30"])  # as cron runs it
    assert "Queued 1 reminder email listing 2 actions" in result.output
    msg = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"action-reminders:{scene.police.id}:{local_today()}"))
    link = next(line.strip() for line in msg.body_text.splitlines() if "/partner/" in line)
    assert link.startswith("https://assembly.example.gov.uk/partner/")
    assert "Set up a single shared ASB case list" in client.get(link.removeprefix("https://assembly.example.gov.uk"))\
        .get_data(as_text=True)


def test_reminders_skip_done_and_carried_away_actions(db, organiser):
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "", "police@example.org")
    services.save_contact(scene.health, "", "health@example.org")
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)
    report = services.queue_action_reminders(30)
    bodies = {m.to_email: m.body_text for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "action_reminder"))}
    # The carried action once (tracked through its copy), the done one not at all.
    assert bodies["police@example.org"].count(scene.overdue_action.description) == 1
    assert scene.done_action.description not in bodies["health@example.org"]
    assert (report.queued, report.actions) == (2, 3)  # open, the carried copy, and the internal one (owners see their own)


@pytest.mark.parametrize("status", ["done", "dropped"])
def test_closed_actions_get_no_form_on_the_partner_page(client, db, organiser, status):
    scene = build_scene(organiser=organiser)
    services.set_action_status(scene.open_action.id, status, "", "organiser")
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert f"/actions/{scene.open_action.id}\"" not in html
    assert f"/actions/{scene.overdue_action.id}\"" in html


def test_merging_two_partner_organisations_that_both_have_a_contact(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "Police lead", "lead@police.example.org")
    duplicate = make_org("Shireford Constabulary (duplicate)", sector="police")
    services.save_contact(duplicate, "Old contact", "old@police.example.org")
    url = f"/organiser/organisations/{duplicate.id}/merge"
    # The organiser is told, before and after, that the links sent for the duplicate stop working.
    page = as_organiser.get(url).get_data(as_text=True)
    assert "(to <bdi>Old contact</bdi>, <bdi>old@police.example.org</bdi>) stop working when it is merged" in page
    resp = post_form(as_organiser, url, {"target_id": scene.police.id})
    assert resp.status_code == 302
    assert "Partner links sent for “Shireford Constabulary (duplicate)” no longer work" in \
        as_organiser.get(resp.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert services.contact_for(scene.police.id).contact_email == "lead@police.example.org"
    page = as_organiser.get(f"/organiser/partners/{scene.police.id}").get_data(as_text=True)
    assert "lead@police.example.org" in page and "Publish a who-to-call guide" in page


def test_a_reminder_about_an_internal_action_does_not_send_the_owner_to_a_page_without_it(app, client, db, organiser,
                                                                                           monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "http://localhost")  # as in production: links in emails
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.health, "Health lead", "health@example.org")
    services.queue_action_reminders(30)
    msg = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"action-reminders:{scene.health.id}:{local_today()}"))
    assert "Review the data-sharing agreement" in msg.body_text
    # The partner page lists published actions only, so a link there would be a dead end.
    links = [line.strip() for line in msg.body_text.splitlines() if "/partner/" in line]
    for link in links:
        assert "Review the data-sharing agreement" in client.get(link[link.index("/partner/"):]).get_data(as_text=True)
    assert "Reply to this email to tell us how it is going." in msg.body_text


def test_partners_page_counts_a_carried_action_once(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    services.carry_forward(scene.current, None, organiser.id)
    html = as_organiser.get("/organiser/partners").get_data(as_text=True)
    # Police own two open actions (a who-to-call guide, a shared case list), each now carried: still two.
    row = html.split(f'<th scope="row" class="break-anywhere"><bdi>{scene.police.name}</bdi></th>')[1].split("</tr>")[0]
    assert row.startswith('<td class="num">2</td>')


def test_partners_page_isolates_each_organisations_name_and_contact_email(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "Police lead", "\u0645\u0631\u064a\u0645@police.example.org")
    html = as_organiser.get("/organiser/partners").get_data(as_text=True)
    row = html.split(f'<th scope="row" class="break-anywhere"><bdi>{scene.police.name}</bdi></th>')[1].split("</tr>")[0]
    assert '<td class="break-anywhere"><bdi>\u0645\u0631\u064a\u0645@police.example.org</bdi></td>' in row


def test_a_partners_earlier_updates_stay_with_the_action_after_it_is_carried_forward(client, db, organiser):
    scene = build_scene(organiser=organiser)
    services.set_action_status(scene.overdue_action.id, "in_progress", "Districts have signed the protocol",
                               "partner", organisation_id=scene.police.id)
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    section = html.split("Set up a single shared ASB case list")[1].split("</section>")[0]
    assert "Districts have signed the protocol" in section


def test_a_note_posted_through_a_link_that_stopped_working_is_shown_back_to_copy(client, db, organiser):
    """Nothing typed is lost: the link revoked, or the action carried on, while the partner was writing."""
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    a = scene.open_action.id
    note = "Guide printed <b>and</b> sent to 12 schools\nNext: libraries"
    services.revoke_partner_links(scene.police)
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "done", f"a{a}-note": note})
    html = r.get_data(as_text=True)
    assert r.status_code == 410 and "This link no longer works" in html
    assert "What you wrote has not been saved" in html
    assert "Guide printed &lt;b&gt;and&lt;/b&gt; sent to 12 schools\nNext: libraries</pre>" in html
    assert db.session.get(Action, a).status != "done"

    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    # Made internal meanwhile, so no longer on the partner's page.
    scene.open_action.approved = False
    db.session.flush()
    scene.open_action.internal = True
    db.session.commit()
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "done", f"a{a}-note": note})
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "This action is no longer on your page" in html
    assert "sent to 12 schools" in html


def test_a_merged_organisations_link_does_not_open_a_newer_organisation_given_the_same_number(client, db, organiser):
    # SQLite hands the highest number back out once its row is deleted: the organisation
    # merged away (a duplicate, the newest row) and the next one created share an id.
    scene = build_scene(organiser=organiser)
    duplicate = make_org("Shireford Constabulary (duplicate)", sector="police")
    token = services.make_partner_token(duplicate.id)
    assert client.get(f"/partner/{token}").status_code == 200
    from eventapp.organisations.services import merge_organisations

    merge_organisations(duplicate, scene.police)
    newcomer = make_org("Newcomer Women's Refuge", sector="voluntary_community")
    services.save_contact(newcomer, "Refuge lead", "lead@refuge.example.org")
    r = client.get(f"/partner/{token}")
    assert r.status_code in (404, 410)
    assert "Newcomer Women" not in r.get_data(as_text=True)
    assert client.get(f"/partner/{services.make_partner_token(newcomer.id)}").status_code == 200


def test_links_sent_to_a_previous_contact_stop_working_when_the_address_changes(as_organiser, db, organiser):
    # The partner lead has left their organisation: the organiser types their successor's address.
    scene = build_scene(organiser=organiser)
    url = f"/organiser/partners/{scene.police.id}"
    post_form(as_organiser, url, {"contact_name": "Old Lead", "contact_email": "old.lead@police.example.org"})
    old = f"/partner/{services.make_partner_token(scene.police.id)}"
    assert as_organiser.get(old).status_code == 200
    # A new name for the same address (any case) changes nothing.
    post_form(as_organiser, url, {"contact_name": "Old Lead (comms)", "contact_email": "Old.Lead@police.example.org"})
    assert as_organiser.get(old).status_code == 200
    r = post_form(as_organiser, url, {"contact_name": "New Lead", "contact_email": "new.lead@police.example.org"},
                  follow_redirects=True)
    assert "Partner links sent to the previous address no longer work" in r.get_data(as_text=True)
    r = as_organiser.get(old)
    assert r.status_code == 410 and "This link no longer works" in r.get_data(as_text=True)
    assert as_organiser.get(f"/partner/{services.make_partner_token(scene.police.id)}").status_code == 200


def test_a_long_status_note_with_line_breaks_is_not_cut_or_refused(client, db, organiser):
    # A phone keeps the note to the limit it counts (a line break is one character) and sends each break
    # as CR LF: a note the browser let through must be saved, and nothing pasted may be cut short silently.
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    a = scene.open_action.id
    assert 'maxlength="2000"' not in page
    note = "\r\n".join(["Progress report line %03d. " % i + "x" * 60 for i in range(23)])  # 2,000 as typed
    assert len(note.replace("\r\n", "\n")) <= 2000 < len(note)
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "in_progress",
                                                f"a{a}-note": note})
    assert r.status_code == 302
    saved = db.session.scalar(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == a))
    assert saved.note == note.replace("\r\n", "\n")
    # Too long: refused with the count, and every character typed is given back.
    long_note = "Progress. " * 250 + "THE END"
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "done",
                                                f"a{a}-note": long_note})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "you used 2,507" in html and "THE END" in html
    assert db.session.get(Action, a).status == "in_progress"


def test_the_link_of_an_organisation_merged_into_another_says_it_stopped_working(as_organiser, client, db,
                                                                                  organiser):
    # The merged organisation's contact still has the link emailed to them, perhaps open in a tab:
    # "page not found" tells them nothing, and the update they were typing must be given back.
    scene = build_scene(organiser=organiser)
    kept = make_org("Shireford Constabulary (new name)", sector="police")
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    resp = post_form(as_organiser, f"/organiser/organisations/{scene.police.id}/merge", {"target_id": kept.id})
    assert resp.status_code == 302
    r = client.get(url)
    assert r.status_code == 410 and "This link no longer works" in r.get_data(as_text=True)
    a = scene.open_action.id
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "done",
                                                f"a{a}-note": "Guide printed"})
    assert r.status_code == 410 and "Guide printed</pre>" in r.get_data(as_text=True)
    assert db.session.get(Action, a).status == "open"


def test_a_carried_action_says_where_it_was_agreed_on_the_partner_page(client, db, organiser):
    # The copy belongs to this year's assembly, which may not have met yet: the partner must still see that
    # their organisation agreed to it last year, in which workshop, and that it was carried forward.
    scene = build_scene(organiser=organiser)
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    section = html.split("Set up a single shared ASB case list")[1].split("</section>")[0]
    assert f"Agreed at {scene.previous.title} &middot; {scene.old_workshop.title}" in section
    assert f"carried forward into {scene.current.title}" in section
    section = html.split("Publish a who-to-call guide")[1].split("</section>")[0]
    assert f"Agreed at {scene.previous.title} &middot; {scene.old_workshop.title}" in section
    assert "carried forward" not in section


def test_an_update_sent_from_a_page_left_open_too_long_is_given_back_to_send_again(app, db, organiser):
    # The partner opened the link yesterday, or in an email app that has since dropped its cookies:
    # the form's token no longer matches. What they wrote must come back in the form, ready to send.
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    a = scene.open_action.id
    client = app.test_client()
    note = "Guide agreed with the comms team & printed: 4,000 copies\nDistribution starts Monday"
    r = client.post(f"{url}/actions/{a}", data={f"a{a}-csrf_token": "stale", f"a{a}-status": "in_progress",
                                                f"a{a}-note": note})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "has not been saved yet" in html and "CSRF" not in html
    assert "Guide agreed with the comms team &amp; printed: 4,000 copies\nDistribution starts Monday" in html
    assert db.session.get(Action, a).status == "open"
    r = client.post(f"{url}/actions/{a}", data={**token_for(html, a), f"a{a}-status": "in_progress",
                                                f"a{a}-note": note})
    assert r.status_code == 302 and db.session.get(Action, a).status == "in_progress"


def test_a_reminder_about_a_carried_action_says_where_it_was_agreed(db, organiser):
    # "Agreed at: <this year's assembly>" names an assembly that has not met yet.
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "", "police@example.org")
    copy = carried_copy(scene, organiser.id)
    services.queue_action_reminders(30)
    msg = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"action-reminders:{scene.police.id}:{local_today()}"))
    carried, still_here = msg.body_text.split(copy.description)[1], msg.body_text.split(scene.open_action.description)[1]
    assert f"Agreed at: {scene.previous.title} ({scene.old_workshop.title}), carried forward into " \
           f"{scene.current.title}" in carried.split("\n\n")[0]
    assert f"<bdi>{scene.previous.title}</bdi> (<bdi>{scene.old_workshop.title}</bdi>), carried forward" in msg.body_html
    assert f"Agreed at: {scene.previous.title} ({scene.old_workshop.title})\n" in still_here


@pytest.mark.parametrize("note", ["", "Guide with the printers"])
def test_a_status_update_sent_twice_by_a_double_tap_is_recorded_once(client, db, organiser, note):
    # On a slow phone connection the button is pressed again: the second copy must neither be listed
    # twice nor answer "Choose a new status" about an update that was in fact saved.
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    a = scene.open_action.id
    data = {**token_for(page, a), f"a{a}-status": "in_progress", f"a{a}-note": note}
    first = client.post(f"{url}/actions/{a}", data=data)
    second = client.post(f"{url}/actions/{a}", data=data)
    assert (first.status_code, second.status_code) == (302, 302)
    assert len(db.session.scalars(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == a)).all()) == 1
    assert db.session.get(Action, a).version == 2
    # A deliberate second note, or a change back, is recorded as usual.
    r = client.post(f"{url}/actions/{a}", data={**data, f"a{a}-note": "Printed"})
    assert r.status_code == 302
    assert len(db.session.scalars(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == a)).all()) == 2


def test_an_action_given_to_another_organisation_while_the_page_was_open_says_so(client, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    a = scene.open_action.id
    action = db.session.get(Action, a)
    from eventapp.notes import services as notes

    notes.update_action(a, {"description": action.description, "owner_organisation_id": scene.health.id,
                            "lead_person": "", "due_date": action.due_date, "status": action.status,
                            "topic_ids": []}, action.version, organiser.id)
    r = client.post(f"{url}/actions/{a}", data={**token_for(page, a), f"a{a}-status": "done",
                                                f"a{a}-note": "Printed"})
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "given to another organisation" in html and "Printed</pre>" in html


def test_the_partner_is_told_before_sending_that_done_or_dropped_closes_the_action(client, db, organiser):
    # Once closed, the action has no form on this page any more: a mistaken "Dropped" cannot be put right here.
    scene = build_scene(organiser=organiser)
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    a = scene.open_action.id
    assert f'aria-describedby="a{a}-status-hint"' in html
    hint = html.split(f'id="a{a}-status-hint"')[1].split("</p>")[0]
    assert "Done or Dropped closes the action" in hint and "ask the organisers" in hint


def test_a_status_update_is_dated_where_the_assembly_is_held_not_in_utc(client, db, organiser):
    # Posted at 00:30 on 1 October in London (23:30 UTC on 30 September): the partner page and the
    # public page ("as of 1 October") must agree on the day.
    from datetime import datetime

    from eventapp.outcomes.models import ActionStatusUpdate

    scene = build_scene(organiser=organiser)
    services.set_action_status(scene.open_action.id, "in_progress", "Draft guide written", "organiser")
    update = db.session.scalar(select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == scene.open_action.id))
    update.created_at = datetime(2026, 9, 30, 23, 30)
    db.session.commit()
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert "01 Oct 2026: In progress" in html and "30 Sep 2026" not in html


def reopen_token(html: str, action_id: int) -> dict:
    form = re.search(rf'<form method="post" action="[^"]*/actions/{action_id}/reopen".*?</form>', html, re.S)
    assert form, f"no reopen form for action {action_id}"
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form.group(0)).group(1)}


def test_a_partner_can_take_back_their_own_done_for_two_weeks(client, db, organiser, monkeypatch):
    # Marked Done by mistake (the wrong action of two similar ones): the partner puts it right themselves.
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    a = scene.open_action.id
    client.post(f"{url}/actions/{a}", data={**token_for(client.get(url).get_data(as_text=True), a),
                                            f"a{a}-status": "in_progress", f"a{a}-note": "Started"})
    client.post(f"{url}/actions/{a}", data={**token_for(client.get(url).get_data(as_text=True), a),
                                            f"a{a}-status": "done", f"a{a}-note": ""})
    page = client.get(url).get_data(as_text=True)
    assert db.session.get(Action, a).status == "done"
    assert "You marked this action Done on" in page and "you can reopen it until" in page
    resp = client.post(f"{url}/actions/{a}/reopen", data=reopen_token(page, a))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"#action-{a}")
    db.session.expire_all()
    assert db.session.get(Action, a).status == "in_progress"  # the status it had before
    page = client.get(url).get_data(as_text=True)
    assert "Reopened: the action is back on your list" in page and "marked Done by mistake" in page
    assert token_for(page, a)  # its status form is offered again
    # Once past the two weeks, or closed by the organisers, only the organisers can reopen it.
    services.set_action_status(a, "dropped", "", "partner", organisation_id=scene.police.id)
    page = client.get(url).get_data(as_text=True)
    later = services.utcnow() + timedelta(days=services.REOPEN_DAYS, minutes=1)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    assert "You marked this action" not in client.get(url).get_data(as_text=True)
    resp = client.post(f"{url}/actions/{a}/reopen", data=reopen_token(page, a), follow_redirects=True)
    assert services.REOPEN_GONE in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Action, a).status == "dropped"
    monkeypatch.undo()
    services.set_action_status(a, "done", "Closed at the review", "organiser", user_id=organiser.id)
    assert "You marked this action" not in client.get(url).get_data(as_text=True)
    resp = client.post(f"{url}/actions/{a}/reopen", data=reopen_token(page, a), follow_redirects=True)
    assert services.REOPEN_GONE in resp.get_data(as_text=True) and db.session.get(Action, a).status == "done"


def test_a_partner_cannot_reopen_another_organisations_action(client, db, organiser):
    scene = build_scene(organiser=organiser)
    services.set_action_status(scene.open_action.id, "done", "", "partner", organisation_id=scene.police.id)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    page = client.get(url).get_data(as_text=True)
    health = f"/partner/{services.make_partner_token(scene.health.id)}"
    resp = client.post(f"{health}/actions/{scene.open_action.id}/reopen", data=reopen_token(page, scene.open_action.id))
    assert resp.status_code == 404
    assert db.session.get(Action, scene.open_action.id).status == "done"


def test_partner_page_links_the_public_documents_of_the_assemblies_its_actions_come_from(client, db, organiser):
    from tests.factories import make_assembly, make_document

    scene = build_scene(organiser=organiser)
    agreement = make_document(scene.previous, "Community Safety <Agreement>")
    make_document(scene.previous, "Delegates' joining instructions", visibility="delegates")
    make_document(make_assembly(), "Another assembly's slides")
    html = client.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    section = html.split('id="documents"')[1]
    assert f"<h3><bdi>{scene.previous.title}</bdi>," in section
    assert (f'<a href="/a/{scene.previous.slug}/documents/{agreement.id}" download>'
            "<bdi>Community Safety &lt;Agreement&gt;</bdi></a>") in section
    assert "joining instructions" not in html and "Another assembly" not in html
    # An organisation whose actions come from an assembly with no public documents sees no such section.
    other = make_org("Shireford Fire")
    assert 'id="documents"' not in client.get(f"/partner/{services.make_partner_token(other.id)}").get_data(as_text=True)


def test_a_partners_update_and_reopening_are_confirmed_beside_the_action(client, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    a = scene.open_action.id
    resp = client.post(f"{url}/actions/{a}", data={**token_for(client.get(url).get_data(as_text=True), a),
                                                   f"a{a}-status": "done", f"a{a}-note": ""})
    assert resp.headers["Location"] == f"{url}#action-{a}"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(page, "Thank you: your update has been recorded.")
    assert box.beside(f"action-{a}") and not box.at_top and box.role == "status"
    resp = client.post(f"{url}/actions/{a}/reopen", data=reopen_token(page, a))
    [box] = where_shown(client.get(resp.headers["Location"]).get_data(as_text=True), "Reopened: the action is back")
    assert box.beside(f"action-{a}") and not box.at_top
    # Refused (closed by the organisers meanwhile): said beside the action too, as an alert.
    services.set_action_status(a, "done", "", "partner", organisation_id=scene.police.id)
    page = client.get(url).get_data(as_text=True)
    services.set_action_status(a, "done", "Closed at the review", "organiser", user_id=organiser.id)
    resp = client.post(f"{url}/actions/{a}/reopen", data=reopen_token(page, a))
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, services.REOPEN_GONE)
    assert box.beside(f"action-{a}") and box.role == "alert" and len(message_boxes(html)) == 1


def test_a_status_set_from_the_history_page_is_confirmed_beside_the_action_or_at_the_top_once_closed(
        as_facilitator, db, facilitator, organiser):
    scene = build_scene(facilitator=facilitator, organiser=organiser)
    url = f"/facilitator/workshops/{scene.new_workshop.id}/history"
    a = scene.overdue_action.id
    resp = as_facilitator.post(f"{url}/{a}", data={**token_for(as_facilitator.get(url).get_data(as_text=True), a),
                                                  f"a{a}-status": "in_progress", f"a{a}-note": "Drafting"})
    assert resp.headers["Location"] == f"{url}#action-{a}"
    html = as_facilitator.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, "Status updated.")
    assert box.beside(f"action-{a}") and not box.at_top and box.role == "status"
    # Done, the action leaves the open list and its #action-... is not on the page: the message is
    # shown at the top instead, once.
    resp = as_facilitator.post(f"{url}/{a}", data={**token_for(as_facilitator.get(url).get_data(as_text=True), a),
                                                  f"a{a}-status": "done", f"a{a}-note": ""})
    html = as_facilitator.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'id="action-{a}"' not in html
    [box] = where_shown(html, "Status updated.")
    assert box.at_top and len(message_boxes(html)) == 1 and html.count("Status updated.") == 1


def test_a_closed_action_the_partner_cannot_reopen_says_who_can(client, db, app, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.health.id)}"
    services.set_action_status(scene.done_action.id, "done", "Closed at the review", "organiser", user_id=organiser.id)
    page = client.get(url).get_data(as_text=True)
    section = page.split(f'id="action-{scene.done_action.id}"')[1].split("</section>")[0]
    email = app.config["ORGANISER_EMAIL"]
    assert "This action is closed. If there is more to do on it, ask the organisers to reopen it:" in section
    assert f'<a href="mailto:{email}">{email}</a>' in section
    # An open one has its status form instead; one the partner closed themselves, its Reopen button.
    a = scene.overdue_action.id
    police_url = f"/partner/{services.make_partner_token(scene.police.id)}"
    assert "This action is closed" not in client.get(police_url).get_data(as_text=True)
    services.set_action_status(a, "done", "", "partner", organisation_id=scene.police.id)
    police = client.get(police_url).get_data(as_text=True)
    mine = police.split(f'id="action-{a}"')[1].split("</section>")[0]
    assert "You marked this action Done on" in mine and "This action is closed" not in mine


def _numbers_by_description(html: str) -> dict[str, str]:
    """Each action's heading ("Action 12") on a partner page, by the action's description."""
    found = {}
    for section in html.split('<section class="partner-action')[1:]:
        heading = re.search(r'class="h-action">(Action \d+)', section).group(1)
        description = re.search(r'<div class="rendered"><p>([^<]+)</p>', section).group(1)
        found[description] = heading
    return found


def test_an_actions_number_on_the_partner_page_stays_when_another_closes_or_it_is_carried(
        client, as_organiser, db, organiser):
    # A partner who said "action 2" on the phone must still mean the same action after another closed,
    # and the organisers' page about that partner must call it the same.
    scene = build_scene(organiser=organiser)
    url = f"/partner/{services.make_partner_token(scene.police.id)}"
    before = _numbers_by_description(client.get(url).get_data(as_text=True))
    assert set(before) == {"Publish a who-to-call guide", "Set up a single shared ASB case list"}
    assert len(set(before.values())) == 2
    services.set_action_status(scene.overdue_action.id, "done", "", "partner", organisation_id=scene.police.id)
    assert _numbers_by_description(client.get(url).get_data(as_text=True)) == before
    services.carry_forward(scene.current, [scene.open_action.id], organiser.id)
    html = client.get(url).get_data(as_text=True)
    assert _numbers_by_description(html) == before
    # The button's name for a screen reader carries the same number.
    guide = before["Publish a who-to-call guide"]
    assert f'<span class="visually-hidden"> for {guide.lower()}</span>' in html
    organisers = as_organiser.get(f"/organiser/partners/{scene.police.id}").get_data(as_text=True)
    for description, number in before.items():
        assert f"<strong>{number}</strong></p><div class=\"rendered\"><p>{description}</p>" in organisers


def test_a_reminder_numbers_each_action_as_the_partner_page_does(client, db, organiser):
    # The partner reads "Action 2" in the email and opens the page: it must be the same action there,
    # not the second line of the email's own list.
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "", "police@example.org")
    services.carry_forward(scene.current, [scene.open_action.id], organiser.id)
    page = _numbers_by_description(client.get(f"/partner/{services.make_partner_token(scene.police.id)}")
                                   .get_data(as_text=True))
    services.queue_action_reminders(30)
    msg = db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"action-reminders:{scene.police.id}:{local_today()}"))
    for description, number in page.items():
        assert f"{number}: {description}\n" in msg.body_text
        assert f"<strong>{number}</strong></p><blockquote>{description}</blockquote>" in msg.body_html
    assert "\n1. " not in msg.body_text and "<ol>" not in msg.body_html


@pytest.mark.parametrize("days_before, says", [(0, "(today)"), (1, "(tomorrow)"), (2, "(2 days from now)")])
def test_a_reminder_says_when_an_action_falls_due_as_people_say_it(db, organiser, days_before, says):
    # "Due on Monday 7 June (0 days from now)" for an action due today.
    scene = build_scene(organiser=organiser)
    services.save_contact(scene.police, "", "police@example.org")
    due = scene.open_action.due_date
    services.queue_action_reminders(30, today=due - timedelta(days=days_before))
    (msg,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "action_reminder")).all()
    line = next(line for line in msg.body_text.splitlines() if line.strip().startswith("Due on"))
    assert line.strip().endswith(f"{says}.") and "0 days" not in msg.body_text and "1 day " not in msg.body_text
    assert f"{says}.<br>" in msg.body_html


def test_the_partner_link_email_isolates_a_right_to_left_contact_and_organisation_name(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    scene.police.name = "\u0634\u0631\u0637\u0629 \u0634\u0627\u064a\u0631\u0641\u0648\u0631\u062f"
    contact = "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a"
    url = f"/organiser/partners/{scene.police.id}"
    assert post_form(as_organiser, url, {"contact_name": contact, "contact_email": "comms@police.example.org"}
                     ).status_code == 302
    assert post_form(as_organiser, f"{url}/send", {}, form_url=url).status_code == 302
    msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "partner_link"))
    assert f"<p>Dear <bdi>{contact}</bdi>,</p>" in msg.body_html
    assert f"<p><bdi>{scene.police.name}</bdi> owns " in msg.body_html


def test_the_partner_link_email_names_the_organisation_in_its_subject_as_typed_on_one_line(as_organiser, db,
                                                                                           organiser):
    from eventapp.mail.services import build_mime

    scene = build_scene(organiser=organiser)
    # Stored as some older import left it: markup, an ampersand and a line break a header must not carry.
    scene.police.name = "A&E <Liaison>\r\nBcc: evil@example.org"
    services.save_contact(scene.police, "Comms", "comms@police.example.org")
    services.send_partner_link(scene.police)
    msg = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "partner_link"))
    # A subject is plain text: the name as typed (no &amp;), its line break folded to a space.
    assert msg.subject == "A&E <Liaison> Bcc: evil@example.org: your actions from the community safety assembly"
    sent = build_mime(msg)
    assert sent["Subject"] == msg.subject and sent["Bcc"] is None
    assert "<title>A&amp;E &lt;Liaison&gt;" in msg.body_html
