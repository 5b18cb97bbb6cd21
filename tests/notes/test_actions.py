"""Agreed actions: add, change without silent overwrite, and the organiser's filtered list."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Action, ActionRevision
from tests.conftest import post_form
from tests.page_messages import message_boxes, where_shown
from tests.factories import make_org, make_topic

from .helpers import scene


def _form(s, **kw):
    data = {"description": "Publish a joint referral map", "owner_organisation_id": str(s.police.id),
            "lead_person": "Insp. Rana Begum", "due_date": "2027-06-30", "status": "open",
            "topic_ids": [str(s.workshop.topic_id)]}
    data.update(kw)
    return data


def _url(s, suffix=""):
    return f"/facilitator/workshops/{s.workshop.id}/actions{suffix}"


def test_facilitator_adds_two_actions_with_owner_due_date_status_and_topics(as_facilitator, facilitator):
    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "No actions recorded yet." in page
    assert f'checked id="topic_ids-0" name="topic_ids" type="checkbox" value="{s.workshop.topic_id}"' in page
    assert post_form(as_facilitator, _url(s), _form(s)).status_code == 302
    assert post_form(as_facilitator, _url(s), _form(s, description="Single point of contact in A&E",
                                                     owner_organisation_id=str(s.health.id), lead_person="",
                                                     status="in_progress", due_date="2027-09-01",
                                                     topic_ids=[])).status_code == 302
    first, second = services.workshop_actions(s.workshop.id)
    assert first.assembly_id == s.assembly.id and first.workshop_id == s.workshop.id
    assert first.owner_organisation_id == s.police.id and first.lead_person == "Insp. Rana Begum"
    assert first.due_date == date(2027, 6, 30) and first.status == "open"
    assert [t.id for t in first.topics] == [s.workshop.topic_id]
    assert second.status == "in_progress" and second.topics == [] and second.lead_person == ""
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "Single point of contact in A&amp;E" in html and "In progress" in html and "Lead: <bdi>Insp. Rana Begum</bdi>" in html
    assert db.session.scalar(select(func.count(ActionRevision.id))) == 2


def test_missing_fields_are_explained_and_the_text_kept(as_facilitator, facilitator):
    s = scene(facilitator)
    resp = post_form(as_facilitator, _url(s), _form(s, owner_organisation_id="0", due_date="",
                                                    description="Text worth keeping 🚀"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "There is a problem" in html and "Enter the due date." in html
    assert "Text worth keeping 🚀" in html
    assert db.session.scalar(select(func.count(Action.id))) == 0


def test_an_edit_sent_again_after_its_answer_was_lost_is_not_a_conflict(as_facilitator, facilitator):
    # Save reached the server, the wifi dropped before the answer came back, Save pressed again:
    # the same edit from the same old version is already what is stored.
    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Original", "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    edit_url = _url(s, f"/{action.id}/edit")
    assert post_form(as_facilitator, edit_url, _form(s, description="Agreed wording", version="1")).status_code == 302
    resp = post_form(as_facilitator, edit_url, _form(s, description="Agreed wording", version="1"))
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Action, action.id)
    assert saved.description == "Agreed wording" and saved.version == 2
    # A different edit from that old version still meets the conflict page.
    resp = post_form(as_facilitator, edit_url, _form(s, description="Other wording", version="1"))
    assert resp.status_code == 409 and "Someone changed this action while you were editing it" in resp.get_data(as_text=True)


def test_topics_must_come_from_the_assembly(as_facilitator, facilitator):
    s = scene(facilitator)
    stray = make_topic("Not in this assembly")
    resp = post_form(as_facilitator, _url(s), _form(s, topic_ids=[str(stray.id)]))
    assert resp.status_code == 400 and "Choose topics from the list." in resp.get_data(as_text=True)


def test_editing_from_an_old_version_shows_their_version_and_overwrites_nothing(as_facilitator, facilitator):
    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Original", "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    edit_url = _url(s, f"/{action.id}/edit")
    page = as_facilitator.get(edit_url).get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    services.update_action(action.id, {"description": "Organiser's wording", "owner_organisation_id": s.police.id,
                                       "due_date": date(2027, 6, 30), "status": "done"}, 1, None)
    resp = post_form(as_facilitator, edit_url, _form(s, description="My wording", version="1"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "Someone changed this action while you were editing it" in html
    assert "Organiser&#39;s wording" in html and "My wording" in html
    db.session.expire_all()
    assert db.session.get(Action, action.id).description == "Organiser's wording"
    resp = post_form(as_facilitator, edit_url, _form(s, description="My wording", version="2"))
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Action, action.id)
    assert saved.description == "My wording" and saved.version == 3
    assert db.session.scalar(select(func.count(ActionRevision.id)).where(ActionRevision.action_id == action.id)) == 3


def test_hostile_action_text_is_stored_faithfully_and_rendered_safely(as_facilitator, facilitator):
    s = scene(facilitator)
    text = "<script>alert(1)</script>\r\n[x](javascript:alert(1)) 🧯 \u202bעברית\u202c " + "y" * 10_000
    assert post_form(as_facilitator, _url(s), _form(s, description=text, lead_person="<b>Lead</b> ✨")).status_code == 302
    (action,) = services.workshop_actions(s.workshop.id)
    assert action.description == text and action.lead_person == "<b>Lead</b> ✨"
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "<script>alert" not in html and 'href="javascript' not in html and "<b>Lead" not in html
    assert "🧯" in html and "עברית" in html


def _seed_actions(s, n_extra=0):
    other_org = make_org("Fire and Rescue Service", sector="fire_rescue")
    t1 = s.workshop.topic
    mk = lambda **kw: services.add_action(s.workshop, {"description": "x", "owner_organisation_id": s.police.id,  # noqa: E731
                                                       "due_date": date(2027, 6, 30), **kw}, None)
    mk(description="Police open action", topic_ids=[t1.id])
    mk(description="Fire done action", owner_organisation_id=other_org.id, status="done",
       due_date=date(2027, 12, 1))
    mk(description="Police late action", due_date=date(2028, 2, 1))
    for i in range(n_extra):
        mk(description=f"Bulk action {i:02d}", due_date=date(2029, 1, 1))
    return other_org


def test_organiser_filters_all_actions(as_organiser, facilitator):
    s = scene(facilitator)
    fire = _seed_actions(s)

    def listed(query=""):
        resp = as_organiser.get(f"/organiser/actions{query}")
        assert resp.status_code == 200
        body = resp.get_data(as_text=True)
        return [d for d in ("Police open action", "Fire done action", "Police late action") if d in body]

    assert listed() == ["Police open action", "Fire done action", "Police late action"]  # soonest due first
    assert listed(f"?topic={s.workshop.topic_id}") == ["Police open action"]
    assert listed(f"?organisation={fire.id}") == ["Fire done action"]
    assert listed("?status=open") == ["Police open action", "Police late action"]
    assert listed("?due_from=2027-07-01&due_to=2027-12-31") == ["Fire done action"]
    assert listed(f"?assembly={s.assembly.id}&status=done") == ["Fire done action"]
    assert "No actions match these filters." in as_organiser.get("/organiser/actions?status=dropped").get_data(as_text=True)
    assert as_organiser.get("/organiser/actions?due_from=not-a-date").status_code == 400


def test_organiser_action_list_paginates(as_organiser, facilitator):
    s = scene(facilitator)
    _seed_actions(s, n_extra=25)
    first = as_organiser.get("/organiser/actions").get_data(as_text=True)
    second = as_organiser.get("/organiser/actions?page=2").get_data(as_text=True)
    assert "Page 1 of 2 (28 in all)" in first and "Bulk action 24" not in first
    assert "Bulk action 24" in second and "Police open action" not in second


def test_internal_or_changed_actions_lose_their_approval(facilitator):
    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Public", "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    action.approved = True
    db.session.commit()
    services.update_action(action.id, {"description": "Public", "owner_organisation_id": s.police.id,
                                       "due_date": date(2027, 6, 30), "internal": True}, 1, None)
    db.session.expire_all()
    action = db.session.get(Action, action.id)
    assert action.internal and not action.approved


def test_a_facilitator_giving_an_approved_action_to_another_organisation_needs_it_read_again(facilitator):
    # "Shire Police will..." was approved and published; a facilitator changes it to the NHS trust.
    s = scene(facilitator)
    fields = {"description": "Run joint patrols", "owner_organisation_id": s.police.id, "due_date": date(2027, 6, 30)}
    action = services.add_action(s.workshop, fields, None)
    action.approved = True
    db.session.commit()
    services.update_action(action.id, {**fields, "due_date": date(2027, 7, 31)}, 1, facilitator.id)
    assert db.session.get(Action, action.id).approved  # a new date is routine
    services.update_action(action.id, {**fields, "due_date": date(2027, 7, 31), "owner_organisation_id": s.health.id},
                           2, facilitator.id)
    assert not db.session.get(Action, action.id).approved  # who committed to it is not
    # An organiser's own edit is the review.
    action.approved = True
    db.session.commit()
    services.update_action(action.id, {**fields, "due_date": date(2027, 7, 31)}, 3, None, by_reviewer=True)
    assert db.session.get(Action, action.id).approved


def test_a_mistyped_year_in_the_due_date_is_refused_and_the_text_kept(as_facilitator, facilitator):
    s = scene(facilitator)  # the assembly is on 18 March 2027
    for typed, message in [("2026-06-30", "The due date is before the assembly (18 March 2027): check the year."),
                           ("0207-06-30", "The due date is before the assembly (18 March 2027): check the year."),
                           ("2207-06-30", "The due date is more than 10 years after the assembly: check the year.")]:
        resp = post_form(as_facilitator, _url(s), _form(s, due_date=typed, description="Keep this wording 🚀"))
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400, typed
        assert message in html and "Keep this wording 🚀" in html and f'value="{typed}"' in html
    assert db.session.scalar(select(func.count(Action.id))) == 0
    assert post_form(as_facilitator, _url(s), _form(s, due_date="2027-03-18")).status_code == 302


def test_an_action_whose_due_date_is_unchanged_can_still_be_edited(as_facilitator, facilitator):
    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Original", "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    db.session.execute(Action.__table__.update().values(due_date=date(2027, 1, 1)))  # an old, pre-check date
    db.session.commit()
    edit_url = _url(s, f"/{action.id}/edit")
    assert post_form(as_facilitator, edit_url, _form(s, due_date="2027-01-01", status="done")).status_code == 302
    resp = post_form(as_facilitator, edit_url, _form(s, due_date="2026-01-01", version="2"))
    assert resp.status_code == 400 and "The due date is before the assembly" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Action, action.id).status == "done"


def test_a_status_changed_on_the_edit_form_is_in_the_actions_status_history(as_facilitator, facilitator):
    # The owner's partner page lists who changed the status and when: a change made here was missing from it.
    from eventapp.outcomes import services as outcomes

    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Original", "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    edit_url = _url(s, f"/{action.id}/edit")
    assert post_form(as_facilitator, edit_url, _form(s, description="Original", status="done")).status_code == 302
    assert post_form(as_facilitator, edit_url, _form(s, description="Original, reworded", status="done",
                                                     version="2")).status_code == 302
    log = outcomes.status_updates([action.id])[action.id]
    assert [(u.status, u.source, u.user_id) for u in log] == [("done", "facilitator", facilitator.id)]


def test_an_action_sent_twice_on_a_flaky_connection_is_recorded_once(as_facilitator, facilitator):
    # The first press of "Add action" arrived but its answer did not; the facilitator presses again.
    from tests.conftest import csrf_from, tickets_from

    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    token = csrf_from(page)
    for _ in range(2):
        resp = as_facilitator.post(_url(s), data={"csrf_token": token, **tickets_from(page), **_form(s)})
        assert resp.status_code == 302
    assert len(services.workshop_actions(s.workshop.id)) == 1
    # A different action with the same owner and date is still added.
    assert post_form(as_facilitator, _url(s), _form(s, description="Another action")).status_code == 302
    assert len(services.workshop_actions(s.workshop.id)) == 2


def test_action_added_is_said_beside_the_form_for_the_next_one(as_facilitator, facilitator):
    s = scene(facilitator)
    resp = post_form(as_facilitator, _url(s), _form(s))
    assert resp.headers["Location"] == _url(s) + "#add-action"
    html = as_facilitator.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, "Action added.")
    assert box.after == "add-action" and not box.at_top and box.role == "status"
    assert len(message_boxes(html)) == 1
    # Shown once: the next page has no message.
    assert message_boxes(as_facilitator.get(_url(s)).get_data(as_text=True)) == []
    # A change made on the edit page goes back to the list at that action's row, its message there.
    action = services.workshop_actions(s.workshop.id)[0]
    edit = _url(s, f"/{action.id}/edit")
    resp = post_form(as_facilitator, edit, _form(s, version=str(action.version)))
    assert resp.headers["Location"] == _url(s) + f"#action-{action.id}"
    [box] = where_shown(as_facilitator.get(resp.headers["Location"]).get_data(as_text=True), "Action saved.")
    assert box.beside(f"action-{action.id}") and not box.at_top and box.role == "status"
    assert box.anchor == f"action-{action.id}"


def test_an_action_whose_owner_was_set_back_to_pending_keeps_its_owner_on_the_edit_form(as_facilitator, facilitator):
    # An organiser set the owner back to "Pending approval" after the action was agreed: the facilitator's
    # form must still show (and keep) that owner, not fall back to "Choose an organisation" and refuse
    # every later change, such as marking it done.
    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Joint patrols", "owner_organisation_id": s.police.id,
                                              "due_date": date(2027, 6, 30)}, None)
    s.police.status = "pending"
    db.session.commit()
    edit_url = _url(s, f"/{action.id}/edit")
    html = as_facilitator.get(edit_url).get_data(as_text=True)
    assert f'<option selected value="{s.police.id}">' in html
    resp = post_form(as_facilitator, edit_url, _form(s, description="Joint patrols", status="done", version="1"))
    assert resp.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Action, action.id)
    assert saved.status == "done" and saved.owner_organisation_id == s.police.id
    # A pending organisation is still not offered to new actions.
    assert f'<option value="{s.police.id}">' not in as_facilitator.get(_url(s)).get_data(as_text=True)


def test_a_superscript_digit_in_the_review_forms_actions_is_refused_not_a_500(as_organiser, facilitator):
    """'²'.isdigit() is True but int('²') fails: the fuzzer found the notes review answering 500 to it."""
    from tests.conftest import csrf_from

    s = scene(facilitator)
    url = f"/organiser/assemblies/{s.assembly.slug}/notes/{s.workshop.id}"
    token = csrf_from(as_organiser.get(url).get_data(as_text=True))
    assert as_organiser.post(url, data={"csrf_token": token, "seen": "0;728:1", "actions": "²"}).status_code < 500
