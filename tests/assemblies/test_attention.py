"""The assembly page's "Needs your attention" list: what waits for the organiser, each linked to where it is done."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from eventapp.assemblies.services import needs_attention
from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.notes.models import Action, SessionNotes
from eventapp.placements.models import AllocationRun
from tests.factories import make_assembly, make_org, make_round, make_topic, make_user, make_workshop
from tests.notes.helpers import make_registration, place


def _texts(assembly) -> list[str]:
    db.session.refresh(assembly)  # the counts kept by triggers
    return [item.text for item in needs_attention(assembly)]


def test_a_ready_assembly_needs_nothing_and_the_page_says_so(as_organiser, db):
    assembly = make_assembly()
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}").get_data(as_text=True)
    assert "Needs your attention" in page and "Nothing needs your attention now." in page


def test_before_the_day_each_open_task_is_listed_with_its_page(as_organiser, db):
    assembly = make_assembly(capacity=2, confirm_email_first=True)
    fac = make_user("facilitator")
    rnd = make_round(assembly)
    staffed = make_workshop(rnd, make_topic(), facilitators=[fac])
    make_workshop(rnd, make_topic(), room="")
    police, typed = make_org("Shire Police"), make_org("Shire Polcie", status="pending")
    aisha = make_registration(assembly, police, "Aisha Khan")
    make_registration(assembly, typed, "Ben Jones")
    make_registration(assembly, police, "Wendy Wait", status="waiting")
    assert _texts(assembly) == [
        "1 organisation typed in by delegates waits to be approved or merged.",
        "1 workshop has no facilitator.",
        "1 workshop has no room yet (delegates' calendars say the room is to be confirmed).",
        "Delegates are not yet allocated to workshops.",
    ]
    # A place frees up while someone waits; an email fails; the proposal is made but not published.
    db.session.delete(db.session.get(type(aisha), aisha.id))
    db.session.add(OutboxMessage(kind="invite", to_email="x@example.org", subject="s", body_text="", body_html="",
                                 message_id="<attention-1@example.org>", status="failed", assembly_id=assembly.id))
    db.session.add(AllocationRun(assembly_id=assembly.id, status="proposal", result={}))
    db.session.commit()
    texts = _texts(assembly)
    assert texts[0] == "1 email could not be sent."
    assert "1 place is free while 1 person waits: fill them from the waiting list." in texts
    assert "An allocation proposal waits to be published." in texts
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}").get_data(as_text=True)
    assert f'href="/organiser/outbox/?assembly={assembly.id}&amp;status=failed">1 email could not be sent.</a>' in page
    assert f'href="/organiser/assemblies/{assembly.slug}/allocation/">An allocation proposal' in page
    # Published, with a delegate who registered since: they have no workshop.
    run = db.session.query(AllocationRun).one()
    run.status = "published"
    db.session.commit()
    ben = db.session.query(type(aisha)).filter_by(full_name="Ben Jones").one()
    place(ben, staffed)
    make_registration(assembly, police, "Late Comer")
    assert "1 confirmed delegate has no workshop place (registered since publishing, or left out)." in _texts(assembly)


def test_after_the_day_notes_and_actions_to_review_are_listed(as_organiser, db):
    assembly = make_assembly(date=date.today() - timedelta(days=3))
    workshop = make_workshop(make_round(assembly), make_topic(), facilitators=[make_user("facilitator")])
    db.session.add(SessionNotes(workshop_id=workshop.id, status="submitted", version=1))
    db.session.add(Action(assembly_id=assembly.id, workshop_id=workshop.id, description="Publish a guide",
                          owner_organisation_id=make_org().id, due_date=date.today() + timedelta(days=30),
                          status="open", version=1))
    db.session.commit()
    assert _texts(assembly) == ["Notes from 1 workshop wait for your review.",
                                "1 action waits for your approval before the public page shows them."]


def test_a_cancelled_assembly_lists_only_emails_that_failed(as_organiser, db):
    assembly = make_assembly(cancelled_at=datetime(2026, 1, 1))
    make_workshop(make_round(assembly), make_topic(), room="")
    assert _texts(assembly) == []


def test_free_places_are_flagged_only_for_those_waiting_whose_organisation_may_send_more(as_organiser, db):
    # One delegate per organisation: the police's second and third wait whatever places are free.
    assembly = make_assembly(capacity=10, org_limit=1)
    make_workshop(make_round(assembly), make_topic(), facilitators=[make_user("facilitator")])
    police, council = make_org("Shire Police"), make_org("Shire Council")
    make_registration(assembly, police, "Aisha Khan")
    for n, name in enumerate(("Ben Jones", "Carl Dee"), start=1):
        make_registration(assembly, police, name, status="waiting").waiting_position = 10 + n
        db.session.commit()
    texts = _texts(assembly)
    assert not [t for t in texts if "waiting list" in t]
    # Someone from an organisation with room joins the queue behind them: only they can be let in.
    make_registration(assembly, council, "Dana Eve", status="waiting").waiting_position = 13
    db.session.commit()
    assert ("9 places are free while 3 people wait; 1 of them can have one (the others' organisations are at "
            "their limit): fill it from the waiting list.") in _texts(assembly)


def test_next_years_assembly_lists_last_years_open_actions_until_they_are_carried(as_organiser, db, organiser):
    from eventapp.outcomes import services as outcomes
    from tests.outcomes.helpers import build_scene

    scene = build_scene(organiser=organiser)  # last year: one open, one in progress, one done, one internal open
    text = "3 open actions of earlier assemblies are not carried into this one yet."
    assert text in _texts(scene.current)
    page = as_organiser.get(f"/organiser/assemblies/{scene.current.slug}").get_data(as_text=True)
    assert f'href="/organiser/assemblies/{scene.current.slug}/carry-forward">{text}' in page
    outcomes.carry_forward(scene.current, [scene.open_action.id, scene.overdue_action.id], organiser.id)
    assert "1 open action of earlier assemblies is not carried into this one yet." in _texts(scene.current)
    outcomes.carry_forward(scene.current, None, organiser.id)
    assert not any("earlier assemblies" in t for t in _texts(scene.current))
