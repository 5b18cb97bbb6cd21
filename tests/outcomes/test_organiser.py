"""Organiser pages: updates CRUD, the report (charts, CSV, JSON, print), carry-forward, tracker, status."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta

from sqlalchemy import func, select

from eventapp.timeutil import local_today
from eventapp.notes.models import Action
from eventapp.outcomes import services
from eventapp.outcomes.models import AssemblyUpdate, CarriedAction
from tests.conftest import csrf_from, post_form
from tests.factories import make_assembly, make_topic
from tests.outcomes.helpers import LEAD_PERSON, build_scene, carried_copy, edit_form


def test_organiser_writes_edits_and_deletes_an_update(as_organiser, db):
    assembly = make_assembly(status="closed")
    base = f"/organiser/assemblies/{assembly.slug}/updates"
    r = post_form(as_organiser, base + "/new", {"title": "Six months on", "published_on": "2026-09-01",
                                                "body": "We did *things*."})
    assert r.status_code == 302
    update = db.session.scalar(select(AssemblyUpdate).where(AssemblyUpdate.assembly_id == assembly.id))
    assert update.title == "Six months on" and update.published_on == date(2026, 9, 1)
    assert "Six months on" in as_organiser.get(base).get_data(as_text=True)

    r = post_form(as_organiser, f"{base}/{update.id}/edit", {"title": "Nine months on",
                                                             "published_on": "2026-10-01", "body": "More."})
    assert r.status_code == 302
    assert "Nine months on" in as_organiser.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)

    confirm = as_organiser.get(f"{base}/{update.id}/delete")
    assert confirm.status_code == 200 and "Yes, delete" in confirm.get_data(as_text=True)
    assert db.session.get(AssemblyUpdate, update.id) is not None  # a GET never deletes
    r = post_form(as_organiser, f"{base}/{update.id}/delete", {})
    assert r.status_code == 302
    assert db.session.get(AssemblyUpdate, update.id) is None


def test_publish_clicked_twice_puts_the_update_once_on_the_public_page(as_organiser, db):
    assembly = make_assembly(status="closed")
    url = f"/organiser/assemblies/{assembly.slug}/updates/new"
    form = {"csrf_token": csrf_from(as_organiser.get(url).get_data(as_text=True)), "title": "Six  months on",
            "published_on": "2026-01-02", "body": "We met <b>again</b> \U0001f389"}
    assert as_organiser.post(url, data=form).status_code == 302
    assert as_organiser.post(url, data=form).status_code == 302  # the same form sent again
    public = as_organiser.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)
    assert public.count("Six months on") == 1
    assert db.session.scalar(select(func.count()).select_from(AssemblyUpdate)
                             .where(AssemblyUpdate.assembly_id == assembly.id)) == 1
    # A different post with the same title is still a post of its own.
    assert post_form(as_organiser, url, {**form, "body": "Another"}).status_code == 302
    assert as_organiser.get(f"/a/{assembly.slug}/updates").get_data(as_text=True).count("Six months on") == 2


def test_delete_clicked_twice_says_the_update_is_deleted_not_that_the_page_is_missing(as_organiser, db):
    assembly, other = make_assembly(), make_assembly()
    update = services.save_update(assembly, {"title": "Six months on", "published_on": date(2026, 1, 2), "body": "B"})
    url = f"/organiser/assemblies/{assembly.slug}/updates/{update.id}/delete"
    form = {"csrf_token": csrf_from(as_organiser.get(url).get_data(as_text=True))}
    assert as_organiser.post(url, data=form).status_code == 302
    r = as_organiser.post(url, data=form, follow_redirects=True)  # the same confirmation sent again
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "That update was already deleted." in html and "Six months on" not in html
    # Another assembly's update is not deleted through this one's address.
    kept = services.save_update(other, {"title": "Kept", "published_on": date(2026, 1, 2), "body": "B"})
    r = as_organiser.post(f"/organiser/assemblies/{assembly.slug}/updates/{kept.id}/delete", data=form)
    assert r.status_code == 404 and db.session.get(AssemblyUpdate, kept.id) is not None


def test_update_form_errors_keep_what_was_typed(as_organiser, db):
    assembly = make_assembly()
    r = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/updates/new",
                  {"title": "", "published_on": "not a date", "body": "Kept text 🎉"})
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "There is a problem" in html and "Enter a title." in html and "Kept text 🎉" in html
    r = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/updates/new",
                  {"title": "Long", "published_on": "2026-01-01", "body": "x" * 50_001})
    assert r.status_code == 400 and "at most 50,000 characters" in r.get_data(as_text=True)


def test_update_of_another_assembly_is_404(as_organiser, db):
    a, b = make_assembly(), make_assembly()
    update = services.save_update(a, {"title": "T", "published_on": date.today(), "body": "B"})
    assert as_organiser.get(f"/organiser/assemblies/{b.slug}/updates/{update.id}/edit").status_code == 404


def test_report_shows_attendance_notes_actions_and_charts(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    html = as_organiser.get(f"/organiser/assemblies/{scene.previous.slug}/report").get_data(as_text=True)
    # Charts: inline SVG with a role, a title and a description, and the numbers as a table too.
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"') == 3
    assert 'aria-labelledby="chart-sector-title chart-sector-desc"' in html
    assert "<title id=\"chart-sector-title\">Attendance by sector</title>" in html
    assert "<caption>Attendance by sector</caption>" in html and "<caption>Actions by status</caption>" in html
    # The charts need no script: the only ones are every page's own (the sign-out check for unsaved drafts
    # and the storage it uses, the message's focus), never one for the charts and never inline.
    assert set(re.findall(r"<script[^>]*>", html)) <= {'<script src="/static/storage.js" defer>',
                                                       '<script src="/static/sign-out.js" defer>',
                                                       '<script src="/static/flashes.js" defer>'}
    # Registered vs attended: two confirmed delegates, one present; one unregistered walk-in.
    assert "2 registered (confirmed), 1 attended at least one workshop, plus 1 walk-in" in html
    assert scene.police.name in html and scene.health.name in html
    # Approved notes (internal sections are not approved, so not in the report's notes either) and all actions.
    assert "Shared case list agreed" in html
    assert "Set up a single shared ASB case list" in html and LEAD_PERSON in html
    assert "Overdue" in html


def test_report_downloads(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/assemblies/{scene.previous.slug}/report"
    r = as_organiser.get(url + ".csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    today = local_today(scene.previous.timezone).isoformat()
    assert f'filename="report-{scene.previous.slug}-{today}.csv"' in r.headers["Content-Disposition"]
    assert r.headers["Cache-Control"] == "no-store" and r.get_data().startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "section"
    sectors = {row[1]: row for row in rows if row[0] == "attendance_by_sector"}
    assert sectors["Police"][3:5] == ["1", "1"] and sectors["Health"][3:5] == ["1", "0"]
    assert sum(1 for row in rows if row[0] == "action") == 4
    r = as_organiser.get(url + ".json")
    data = json.loads(r.get_data(as_text=True))
    assert data["assembly"]["slug"] == scene.previous.slug
    assert data["workshops"][0]["present"] == 1 and data["workshops"][0]["walk_ins"] == 1
    assert {a["status"] for a in data["actions"]} == {"open", "in_progress", "done"}
    assert data["unregistered_walk_ins"] == 1


def test_csv_neutralises_formulas(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    from eventapp.notes import services as notes

    for text in ("=HYPERLINK(\"http://evil\")", "\n=cmd|' /C calc'!A0"):
        notes.add_action(scene.old_workshop, {"description": text,
                                              "owner_organisation_id": scene.police.id, "due_date": date.today(),
                                              "status": "open", "topic_ids": []}, None)
    body = as_organiser.get(f"/organiser/assemblies/{scene.previous.slug}/report.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body
    # A line break first, then the formula: Excel starts the cell's text at the formula.
    assert "'\n=cmd" in body.replace("\r\n", "\n")


def test_print_stylesheet_hides_navigation(client, db):
    response = client.get("/static/app.css")
    css = response.get_data(as_text=True)
    response.close()
    tail = css[css.index("/* outcomes"):]
    assert "@media print" in tail and ".no-print" in tail


def test_carry_forward_links_to_origin_and_never_duplicates(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/assemblies/{scene.current.slug}/carry-forward"
    html = as_organiser.get(url).get_data(as_text=True)
    # Open and in-progress only: done is not offered.
    assert "Publish a who-to-call guide" in html and "Set up a single shared ASB case list" in html
    assert "Train officers in mental health first aid" not in html
    page = as_organiser.get(url).get_data(as_text=True)
    ids = [scene.open_action.id, scene.overdue_action.id, scene.internal_action.id]
    r = as_organiser.post(url, data={"csrf_token": csrf_from(page), "actions": [str(i) for i in ids]})
    assert r.status_code == 302
    copies = db.session.scalars(select(CarriedAction).where(CarriedAction.assembly_id == scene.current.id)).all()
    assert sorted(c.origin_action_id for c in copies) == sorted(ids)
    copy = next(c.action for c in copies if c.origin_action_id == scene.overdue_action.id)
    assert copy.assembly_id == scene.current.id and copy.status == "in_progress"
    assert copy.owner_organisation_id == scene.police.id and copy.due_date == scene.overdue_action.due_date
    html = as_organiser.get(url).get_data(as_text=True)
    assert "Carried from" in html and scene.previous.title in html
    assert "no open actions from earlier assemblies left" in html
    # Twice (a stale form, or the service called again): no second copy.
    r = as_organiser.post(url, data={"csrf_token": csrf_from(page), "actions": [str(i) for i in ids]})
    assert r.status_code in (302, 400)
    assert services.carry_forward(scene.current, None, organiser.id) == 0
    assert db.session.scalar(select(func.count(CarriedAction.id))
                             .where(CarriedAction.assembly_id == scene.current.id)) == 3
    # The copy in turn is what the next assembly carries, not the original again.
    later = make_assembly(series_id=scene.current.series_id, date=scene.current.date + timedelta(days=365))
    offered = {a.id for a in services.carry_candidates(later)}
    assert copy.id in offered and scene.overdue_action.id not in offered


def test_carry_forward_requires_a_choice(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    r = post_form(as_organiser, f"/organiser/assemblies/{scene.current.slug}/carry-forward", {})
    assert r.status_code == 400 and "Choose at least one action" in r.get_data(as_text=True)


def test_carry_forward_scope_series_or_all_earlier(db, organiser):
    scene = build_scene(organiser=organiser)
    other_series = make_assembly(date=scene.current.date)  # no series: every earlier assembly counts
    assert {a.id for a in services.carry_candidates(other_series)} >= {scene.open_action.id}
    from eventapp.assemblies.models import Series
    from eventapp.extensions import db as _db

    s = Series(name="Unrelated series")
    _db.session.add(s)
    _db.session.commit()
    unrelated = make_assembly(series_id=s.id, date=scene.current.date)
    assert services.carry_candidates(unrelated) == []
    # Later assemblies are never a source.
    assert scene.open_action.id not in {a.id for a in services.carry_candidates(scene.previous)}


def test_tracker_lists_filters_and_flags_overdue(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    html = as_organiser.get("/organiser/tracker").get_data(as_text=True)
    assert "Publish a who-to-call guide" in html and "Train officers" in html
    assert 'class="overdue"' in html and '<strong class="overdue-flag">Overdue</strong>' in html
    html = as_organiser.get("/organiser/tracker?overdue=y").get_data(as_text=True)
    assert "Set up a single shared ASB case list" in html and "Publish a who-to-call guide" not in html
    assert "Train officers" not in html  # done long ago: not overdue
    html = as_organiser.get(f"/organiser/tracker?organisation={scene.health.id}").get_data(as_text=True)
    assert "Train officers" in html and "Publish a who-to-call guide" not in html
    html = as_organiser.get("/organiser/tracker?status=done").get_data(as_text=True)
    assert "Train officers" in html and "Publish a who-to-call guide" not in html
    before = (date.today() - timedelta(days=40)).isoformat()
    html = as_organiser.get(f"/organiser/tracker?due_to={before}").get_data(as_text=True)
    assert "Train officers" in html and "Set up a single shared" not in html
    html = as_organiser.get(f"/organiser/tracker?due_from={date.today().isoformat()}").get_data(as_text=True)
    assert "Publish a who-to-call guide" in html and "Train officers" not in html
    other_topic = make_topic()
    html = as_organiser.get(f"/organiser/tracker?topic={other_topic.id}").get_data(as_text=True)
    assert "No actions match these filters." in html
    r = as_organiser.get("/organiser/tracker?due_from=31-31-2020")
    assert r.status_code == 400


def test_tracker_paginates(as_organiser, db, app, organiser):
    scene = build_scene(organiser=organiser)
    from eventapp.notes import services as notes

    for i in range(30):
        notes.add_action(scene.old_workshop, {"description": f"Bulk action {i:02d}", "due_date": date(2030, 1, 1),
                                              "owner_organisation_id": scene.police.id, "status": "open",
                                              "topic_ids": []}, None)
    html = as_organiser.get("/organiser/tracker").get_data(as_text=True)
    assert "Page 1 of 2" in html and 'rel="next"' in html
    assert "Bulk action" in as_organiser.get("/organiser/tracker?page=2").get_data(as_text=True)


def test_organiser_updates_status_with_a_note(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/tracker/{scene.open_action.id}/status"
    r = post_form(as_organiser, url, {"status": "done", "note": "Guide published <b>today</b>"})
    assert r.status_code == 302
    action = db.session.get(Action, scene.open_action.id)
    assert action.status == "done" and action.version == 2
    html = as_organiser.get(url).get_data(as_text=True)
    assert "Guide published &lt;b&gt;today&lt;/b&gt;" in html
    r = post_form(as_organiser, url, {"status": "done", "note": ""})
    assert r.status_code == 400 and "Choose a new status or write what has happened." in r.get_data(as_text=True)


def test_overdue_tracker_counts_a_carried_action_once_and_drops_it_when_its_copy_is_done(as_organiser, db,
                                                                                        organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    html = as_organiser.get("/organiser/tracker?overdue=y").get_data(as_text=True)
    # Two overdue actions: the carried one (once) and the internal one.
    assert "<caption>2 actions</caption>" in html and html.count("Set up a single shared ASB case list") == 1
    services.set_action_status(copy.id, "done", "Case list live", "partner", organisation_id=scene.police.id)
    html = as_organiser.get("/organiser/tracker?overdue=y").get_data(as_text=True)
    assert "<caption>1 action</caption>" in html and "Set up a single shared ASB case list" not in html
    # The full list still shows the original, as history, without an Overdue flag.
    html = as_organiser.get(f"/organiser/tracker?assembly={scene.previous.id}").get_data(as_text=True)
    row = html.split("Set up a single shared ASB case list")[1].split("</tr>")[0]
    assert "Carried forward to" in row and "Overdue" not in row


def test_last_years_report_counts_a_carried_action_at_the_status_its_copy_reached(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    services.set_action_status(copy.id, "done", "Case list live", "partner", organisation_id=scene.police.id)
    url = f"/organiser/assemblies/{scene.previous.slug}/report"
    html = as_organiser.get(url).get_data(as_text=True)
    by_status = html.split("<caption>Actions by status</caption>")[1].split("</table>")[0]
    assert '<th scope="row">Done</th><td class="num">2</td>' in by_status
    assert '<th scope="row">In progress</th><td class="num">0</td>' in by_status
    row = html.split("Set up a single shared ASB case list")[-1].split("</tr>")[0]
    assert '<td data-label="Status">Done</td>' in row and "Overdue" not in row and scene.current.title in row
    rows = list(csv.reader(io.StringIO(as_organiser.get(url + ".csv").get_data(as_text=True).lstrip("\ufeff"))))
    (action_row,) = [r for r in rows if r[0] == "action" and r[1] == scene.overdue_action.description]
    assert action_row[9] == "done"
    data = json.loads(as_organiser.get(url + ".json").get_data(as_text=True))
    (action,) = [a for a in data["actions"] if a["description"] == scene.overdue_action.description]
    assert action["status"] == "done"


def test_updating_a_carried_actions_old_row_updates_the_action_where_it_is_now_tracked(as_organiser, db,
                                                                                      organiser):
    # Last year's row stays in the tracker with its "Update status" link: what the organiser records there
    # must reach the copy the partner, the public page and the reports read, not the frozen original.
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    url = f"/organiser/tracker/{scene.overdue_action.id}/status"
    page = as_organiser.get(url, follow_redirects=True).get_data(as_text=True)
    assert scene.current.title in page and f"carried from {scene.previous.title}" in page
    r = post_form(as_organiser, url, {"status": "done", "note": "Case list live in every district"},
                  form_url=f"/organiser/tracker/{copy.id}/status")
    assert r.status_code == 302
    assert db.session.get(Action, copy.id).status == "done"
    partner = as_organiser.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert "Case list live in every district" in partner
    public = as_organiser.get(f"/a/{scene.previous.slug}/updates").get_data(as_text=True)
    row = public.split("Set up a single shared ASB case list")[1].split("</li>")[0]
    assert "Done" in row


def test_organiser_reassigns_and_re_dates_a_carried_action(as_organiser, db, organiser):
    # A year on, last year's overdue action is on the table: the organiser gives it a new owner and a new
    # date (before this year's assembly meets is fine: it was agreed last year), from the tracker.
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    tracker = as_organiser.get(f"/organiser/tracker?assembly={scene.current.id}").get_data(as_text=True)
    edit_url = f"/organiser/tracker/{copy.id}/edit"
    assert f'href="{edit_url}?assembly={scene.current.id}"' in tracker
    new_due = date.today() + timedelta(days=20)
    assert new_due < scene.current.date
    form = as_organiser.get(edit_url).get_data(as_text=True)
    assert scene.overdue_action.description in form and f"carried from {scene.previous.title}" in form
    r = post_form(as_organiser, edit_url, edit_form(copy, owner_organisation_id=scene.health.id, lead_person="New Lead",
                                                    due_date=new_due.isoformat(), status="in_progress"))
    assert r.status_code == 302
    db.session.expire_all()
    copy = db.session.get(Action, copy.id)
    assert (copy.owner_organisation_id, copy.due_date, copy.lead_person) == (scene.health.id, new_due, "New Lead")
    health = as_organiser.get(f"/partner/{services.make_partner_token(scene.health.id)}").get_data(as_text=True)
    assert "Set up a single shared ASB case list" in health and "(overdue)" not in health.split(
        "Set up a single shared ASB case list")[0].rsplit("<section", 1)[1]
    police = as_organiser.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert "Set up a single shared ASB case list" not in police
    # A mistyped year is still refused, and what was typed stays in the form.
    r = post_form(as_organiser, edit_url, {
        "version": str(copy.version), "description": copy.description + " and more", "owner_organisation_id":
        scene.health.id, "lead_person": "New Lead", "due_date": "2016-01-31", "status": "in_progress"})
    assert r.status_code == 400 and "check the year" in r.get_data(as_text=True)
    assert "and more" in r.get_data(as_text=True)


def test_a_new_owner_sees_the_status_history_but_not_the_previous_owners_notes(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    services.set_action_status(scene.overdue_action.id, "in_progress", "Budget bid refused; DCI Okafor off sick",
                               "partner", organisation_id=scene.police.id)
    copy = carried_copy(scene, organiser.id)
    police = as_organiser.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert "Budget bid refused" in police  # the author still reads their own note
    edit_url = f"/organiser/tracker/{copy.id}/edit"
    post_form(as_organiser, edit_url, edit_form(copy, owner_organisation_id=scene.health.id, lead_person="New Lead",
                                                due_date=(date.today() + timedelta(days=20)).isoformat(),
                                                status="in_progress"))
    health = as_organiser.get(f"/partner/{services.make_partner_token(scene.health.id)}").get_data(as_text=True)
    assert "Set up a single shared ASB case list" in health
    assert "Budget bid refused" not in health and "Previous owner organisation</strong>" in health
    assert re.search(r"Previous owner organisation</strong>, \d\d \w+ \d{4}: In progress", health)
    # The organisers still read it in full.
    status_page = as_organiser.get(f"/organiser/tracker/{copy.id}/status").get_data(as_text=True)
    assert "Budget bid refused" in status_page


def test_last_years_tracker_row_of_a_carried_action_shows_the_status_it_has_reached(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    services.set_action_status(copy.id, "done", "Case list live", "partner", organisation_id=scene.police.id)
    html = as_organiser.get(f"/organiser/tracker?assembly={scene.previous.id}").get_data(as_text=True)
    row = html.split("Set up a single shared ASB case list")[1].split("</tr>")[0]
    assert '<td data-label="Status">Done<br>' in row
    # The carry-forward page leads to where each carried action's owner and date are changed.
    page = as_organiser.get(f"/organiser/assemblies/{scene.current.slug}/carry-forward").get_data(as_text=True)
    assert f'href="/organiser/tracker/{copy.id}/edit"' in page


def test_this_years_report_exports_say_which_actions_were_carried_and_from_where(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    services.carry_forward(scene.current, [scene.overdue_action.id], organiser.id)
    url = f"/organiser/assemblies/{scene.current.slug}/report"
    rows = list(csv.reader(io.StringIO(as_organiser.get(url + ".csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-1] == "carried"
    (row,) = [r for r in rows if r[0] == "action"]
    assert row[-1] == f"carried from {scene.previous.title}, {scene.old_workshop.title}"
    data = json.loads(as_organiser.get(url + ".json").get_data(as_text=True))
    (action,) = data["actions"]
    assert action["carried_from"] == {"assembly": scene.previous.title, "workshop": scene.old_workshop.title}
    assert "Carried from " + scene.previous.title in as_organiser.get(url).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(as_organiser.get(
        f"/organiser/assemblies/{scene.previous.slug}/report.csv").get_data(as_text=True).lstrip("\ufeff"))))
    (row,) = [r for r in rows if r[0] == "action" and r[1] == scene.overdue_action.description]
    assert row[-1] == f"carried forward to {scene.current.title}"


def test_staff_are_told_the_owning_partner_reads_their_status_notes(as_organiser, db, organiser):
    # An organiser's "chased them again, no reply" lands on the partner's own page: say so before it is written.
    scene = build_scene(organiser=organiser)
    url = f"/organiser/tracker/{scene.open_action.id}/status"
    page = as_organiser.get(url).get_data(as_text=True)
    assert f"{scene.police.name} sees this note on its partner page" in page
    r = post_form(as_organiser, url, {"status": "in_progress", "note": "Chased again, no reply"})
    assert r.status_code == 302
    partner = as_organiser.get(f"/partner/{services.make_partner_token(scene.police.id)}").get_data(as_text=True)
    assert "Chased again, no reply" in partner and "sees this note on its partner page" not in partner


def test_tracker_status_filter_goes_by_the_status_a_carried_action_has_reached(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    services.set_action_status(copy.id, "done", "Case list live", "partner", organisation_id=scene.police.id)
    base = f"/organiser/tracker?assembly={scene.previous.id}"
    assert "Set up a single shared ASB case list" not in as_organiser.get(base + "&status=in_progress").get_data(
        as_text=True)
    done = as_organiser.get(base + "&status=done").get_data(as_text=True)
    assert "Set up a single shared ASB case list" in done and "Train officers in mental health first aid" in done
    open_ = as_organiser.get(base + "&status=open").get_data(as_text=True)
    assert "Publish a who-to-call guide" in open_ and "Set up a single shared ASB case list" not in open_


def test_closing_a_carried_action_from_its_edit_form_is_in_its_status_history(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    r = post_form(as_organiser, f"/organiser/tracker/{copy.id}/edit", edit_form(copy, status="dropped"))
    assert r.status_code == 302
    log = services.status_updates([copy.id])[copy.id]
    assert [(u.status, u.source) for u in log][:1] == [("dropped", "organiser")]


def test_the_all_actions_list_shows_carried_actions_as_they_stand(as_organiser, db, organiser):
    # /organiser/actions lists the same actions as the tracker: it must not show last year's frozen status,
    # and a carried copy (no workshop) must lead to where it is changed.
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    services.set_action_status(copy.id, "done", "", "organiser")
    html = as_organiser.get(f"/organiser/actions?assembly={scene.previous.id}").get_data(as_text=True)
    row = html.split("Set up a single shared ASB case list")[1].split("</tr>")[0]
    assert '<td data-label="Status">Done<br>' in row and f"now tracked in {scene.current.title}" in row
    html = as_organiser.get(f"/organiser/actions?assembly={scene.current.id}").get_data(as_text=True)
    row = html.split("Set up a single shared ASB case list")[1].split("</tr>")[0]
    assert f'href="/organiser/tracker/{copy.id}/edit"' in row and f"Carried from {scene.previous.title}" in row


def test_the_all_actions_status_filter_goes_by_the_status_reached(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    copy = carried_copy(scene, organiser.id)
    services.set_action_status(copy.id, "done", "", "organiser")
    base = f"/organiser/actions?assembly={scene.previous.id}"
    assert "Set up a single shared ASB case list" not in as_organiser.get(base + "&status=in_progress").get_data(
        as_text=True)
    assert "Set up a single shared ASB case list" in as_organiser.get(base + "&status=done").get_data(as_text=True)


def test_an_action_carried_forward_by_mistake_can_be_taken_back_until_it_is_worked_on(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/assemblies/{scene.current.slug}/carry-forward"
    services.carry_forward(scene.current, [scene.open_action.id, scene.overdue_action.id], organiser.id)
    copies = {c.origin_action_id: c.action_id for c in services.carried_into(scene.current)}
    page = as_organiser.get(url).get_data(as_text=True)
    assert page.count("Undo carrying") == 2
    resp = post_form(as_organiser, f"{url}/{copies[scene.open_action.id]}/undo", {}, form_url=url,
                     follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert f"Undone: the action is back among the open actions of {scene.previous.title}" in html
    # Offered again, and gone from this year's partner page and tracker.
    candidates = html.split("Open actions not yet carried forward")[1].split("Already carried")[0]
    assert scene.open_action.description in candidates
    assert db.session.get(Action, copies[scene.open_action.id]) is None
    # A copy someone has updated stays: its history belongs to it now.
    services.set_action_status(copies[scene.overdue_action.id], "in_progress", "Started", "partner",
                               organisation_id=scene.police.id)
    assert "Undo carrying" not in as_organiser.get(url).get_data(as_text=True)
    resp = post_form(as_organiser, f"{url}/{copies[scene.overdue_action.id]}/undo", {}, form_url=url,
                     follow_redirects=True)
    assert "has been changed or updated since it was carried forward" in resp.get_data(as_text=True)
    assert db.session.get(Action, copies[scene.overdue_action.id]) is not None


def test_carrying_forward_twice_says_nothing_more_was_carried(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/assemblies/{scene.current.slug}/carry-forward"
    token = csrf_from(as_organiser.get(url).get_data(as_text=True))
    data = {"csrf_token": token, "actions": [str(scene.open_action.id)]}
    first = as_organiser.post(url, data=data, follow_redirects=True).get_data(as_text=True)
    assert f"1 action carried forward into {scene.current.title}." in first
    again = as_organiser.post(url, data=data, follow_redirects=True).get_data(as_text=True)
    assert "0 actions carried forward" not in again
    assert f"the chosen actions are already carried forward into {scene.current.title}" in again
    assert db.session.scalar(select(func.count(CarriedAction.id)).where(
        CarriedAction.assembly_id == scene.current.id)) == 1


def test_undo_carrying_asks_first_and_says_what_happens(as_organiser, db, organiser):
    scene = build_scene(organiser=organiser)
    url = f"/organiser/assemblies/{scene.current.slug}/carry-forward"
    services.carry_forward(scene.current, [scene.open_action.id], organiser.id)
    (copy_id,) = [c.action_id for c in services.carried_into(scene.current)]
    page = as_organiser.get(url).get_data(as_text=True)
    # A link to a question, not a button that deletes at once.
    assert f'href="{url}/{copy_id}/undo"' in page and f'action="{url}/{copy_id}/undo"' not in page
    confirm = as_organiser.get(f"{url}/{copy_id}/undo").get_data(as_text=True)
    assert f"Undo carrying this action into {scene.current.title}?" in confirm
    assert scene.open_action.description in confirm and f"open actions of {scene.previous.title}" in confirm
    assert "Yes, undo carrying" in confirm and "No, keep it carried" in confirm
    assert db.session.get(Action, copy_id) is not None
    resp = post_form(as_organiser, f"{url}/{copy_id}/undo", {}, follow_redirects=True)
    assert "Undone: the action is back among the open actions" in resp.get_data(as_text=True)
    assert db.session.get(Action, copy_id) is None
