"""An assembly held in another time zone: "overdue" and the report's date go by its own day, not London's."""
from __future__ import annotations

from datetime import date, datetime

from eventapp import timeutil
from eventapp.notes import services as notes
from eventapp.outcomes import services
from tests.factories import make_assembly, make_org, make_round, make_topic, make_user, make_workshop

# 12:00 UTC on 29 November: already 30 November in Auckland (UTC+13), still the 29th in London.
NOON_UTC = datetime(2026, 11, 29, 12, 0)


def test_overdue_and_the_reports_date_go_by_the_assemblys_time_zone(as_organiser, db, monkeypatch):
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOON_UTC)
    assembly = make_assembly(timezone="Pacific/Auckland", date=date(2026, 6, 1), status="archived")
    fac = make_user("facilitator")
    workshop = make_workshop(make_round(assembly), make_topic(), facilitators=[fac])
    action = notes.add_action(workshop, {"description": "Due on the 29th", "owner_organisation_id": make_org().id,
                                         "lead_person": "", "due_date": date(2026, 11, 29), "status": "open",
                                         "internal": False, "topic_ids": []}, fac.id)
    assert services.is_overdue(action)  # the 29th is over in Auckland
    london = make_assembly(date=date(2026, 6, 1), status="archived")
    action.assembly = london
    assert not services.is_overdue(action)  # but not in London yet
    action.assembly = assembly
    db.session.commit()

    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/report").get_data(as_text=True)
    assert "report produced Monday 30 November 2026" in page
    row = page.split("Due on the 29th")[1].split("</tr>")[0]
    assert "Overdue" in row



def _date_field(page: str) -> str:
    """The new update form's date input, as sent."""
    before, after = page.split('name="published_on"')
    return before.rsplit("<input", 1)[1] + after.split(">")[0]


def test_a_new_updates_date_is_the_assemblys_own_day(as_organiser, db, monkeypatch):
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOON_UTC)
    auckland = make_assembly(timezone="Pacific/Auckland", date=date(2026, 6, 1), status="archived")
    london = make_assembly(date=date(2026, 6, 1), status="archived")
    page = as_organiser.get(f"/organiser/assemblies/{auckland.slug}/updates/new").get_data(as_text=True)
    assert 'value="2026-11-30"' in _date_field(page)  # already the 30th in Auckland
    page = as_organiser.get(f"/organiser/assemblies/{london.slug}/updates/new").get_data(as_text=True)
    assert 'value="2026-11-29"' in _date_field(page)


def _action(workshop, description: str, due: date, owner) -> None:
    notes.add_action(workshop, {"description": description, "owner_organisation_id": owner.id, "lead_person": "",
                                "due_date": due, "status": "open", "internal": False, "topic_ids": []}, None)


def test_the_overdue_filter_and_the_reminders_go_by_each_assemblys_own_day(as_organiser, db, monkeypatch):
    from sqlalchemy import select

    from eventapp.mail.models import OutboxMessage

    monkeypatch.setattr(timeutil, "utcnow", lambda: NOON_UTC)  # the 30th in Auckland, the 29th in London
    auckland_org, london_org = make_org(), make_org()
    topic = make_topic()
    auckland = make_workshop(make_round(make_assembly(timezone="Pacific/Auckland", date=date(2026, 6, 1),
                                                      status="archived")), topic)
    london = make_workshop(make_round(make_assembly(date=date(2026, 6, 1), status="archived")), topic)
    _action(auckland, "Auckland due on the 29th", date(2026, 11, 29), auckland_org)
    _action(auckland, "Auckland due on the 30th", date(2026, 11, 30), auckland_org)
    _action(london, "London due on the 29th", date(2026, 11, 29), london_org)
    _action(london, "London due on the 30th", date(2026, 11, 30), london_org)

    html = as_organiser.get("/organiser/tracker?overdue=y").get_data(as_text=True)
    assert "Auckland due on the 29th" in html
    assert "London due on the 29th" not in html and "on the 30th" not in html

    services.save_contact(auckland_org, "", "auckland@example.org")
    services.save_contact(london_org, "", "london@example.org")
    report = services.queue_action_reminders(0)  # due today or overdue
    assert (report.queued, report.actions) == (2, 3)
    bodies = {m.to_email: m.body_text for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "action_reminder"))}
    assert "Was due on Sunday 29 November 2026" in bodies["auckland@example.org"]
    assert "Due on Monday 30 November 2026 (today)" in bodies["auckland@example.org"]
    assert "Due on Sunday 29 November 2026 (today)" in bodies["london@example.org"]
    assert "London due on the 30th" not in bodies["london@example.org"]
