"""The attendance register: present, absent, walk-ins, and the counts organisers see."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Attendance
from tests.conftest import post_form
from tests.factories import make_org

from tests.page_messages import message_boxes, where_shown

from .helpers import make_registration, place, scene


def _url(s, suffix=""):
    return f"/facilitator/workshops/{s.workshop.id}/attendance{suffix}"


def test_register_lists_the_allocated_delegates_with_big_toggles(as_facilitator, facilitator):
    s = scene(facilitator)
    make_registration(s.assembly, s.police, "Cancelled Person", status="cancelled")
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    register = html.split('id="register"')[1].split('id="walk-in"')[0]
    for reg in s.allocated:
        assert reg.full_name in register
    assert "Dev Patel" not in register and "Cancelled Person" not in html
    assert "Step-free access, please" in html
    a = s.allocated[0]
    assert f'<input type="radio" id="mark-r{a.id}-present" name="mark-r{a.id}" value="present">' in html
    assert f'<label for="mark-r{a.id}-absent">Absent</label>' in html
    assert "0 of 3 allocated present" in html and "3 not yet marked" in html


def test_marking_present_and_absent_is_stored_and_counted(as_facilitator, facilitator):
    s = scene(facilitator)
    a, b, c = s.allocated
    resp = post_form(as_facilitator, _url(s), {f"mark-r{a.id}": "present", f"mark-r{b.id}": "absent",
                                               f"mark-r{s.elsewhere.id}": "present"})
    assert resp.status_code == 302
    marks = {m.registration_id: m.status for m in db.session.scalars(select(Attendance))}
    assert marks == {a.id: "present", b.id: "absent"}  # someone placed elsewhere cannot be marked here
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "Attendance saved (2 changes)." in html
    assert f'id="mark-r{a.id}-present" name="mark-r{a.id}" value="present" checked' in html
    assert "1 of 3 allocated present" in html and "1 absent, 1 not yet marked" in html
    # Changing a mark updates the same row.
    post_form(as_facilitator, _url(s), {f"mark-r{a.id}": "absent"})
    counts = services.attendance_counts([s.workshop.id])[s.workshop.id]
    assert (counts.allocated, counts.present, counts.absent, counts.walk_ins) == (3, 0, 2, 0)


def test_an_invalid_mark_is_refused_without_a_500(as_facilitator, facilitator):
    s = scene(facilitator)
    resp = post_form(as_facilitator, _url(s), {f"mark-r{s.allocated[0].id}": "maybe"})
    assert resp.status_code == 400 and "Choose present or absent." in resp.get_data(as_text=True)


def test_an_invalid_mark_for_a_walk_in_is_refused_without_a_500(as_facilitator, facilitator):
    # A walk-in's mark went to the database unchecked: a word not a mark broke the status rule (a 500), and one
    # longer than its column was answered "a value was far outside what this form accepts" on PostgreSQL.
    s = scene(facilitator)
    walk_in = services.add_walk_in(s.workshop, facilitator.id, name="Sam Walker")
    for mark in ("maybe", "present" * 5):
        resp = post_form(as_facilitator, _url(s), {f"mark-a{walk_in.id}": mark})
        assert resp.status_code == 400 and "Choose present or not here." in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Attendance, walk_in.id).status == "walk_in"


def test_walk_in_from_the_registrations_of_the_assembly(as_facilitator, facilitator):
    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert f'<option value="{s.elsewhere.id}">Dev Patel (Shire Police)</option>' in page
    assert f'value="{s.allocated[0].id}"' not in page.split('id="registration_id"')[1].split("</select>")[0]
    resp = post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": str(s.elsewhere.id)}, form_url=_url(s))
    assert resp.status_code == 302
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "Dev Patel added to the register as present." in html
    assert "walk-in" in html.split("Dev Patel")[2][:200]
    counts = services.attendance_counts([s.workshop.id])[s.workshop.id]
    assert (counts.present, counts.walk_ins) == (0, 1)


def test_walk_in_as_a_new_person_keeps_hostile_text_faithfully(as_facilitator, facilitator):
    s = scene(facilitator)
    name = "Zoë <b>O'Neil</b> 👩🏽‍⚕️ \u202eسارة"
    resp = post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": "0", "name": name,
                                                           "organisation": "Refuge & <i>Co</i>"}, form_url=_url(s))
    assert resp.status_code == 302
    row = db.session.scalar(select(Attendance).where(Attendance.registration_id.is_(None)))
    assert row.walk_in_name == name and row.walk_in_organisation == "Refuge & <i>Co</i>" and row.status == "walk_in"
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "<b>O" not in html and "Zoë &lt;b&gt;O&#39;Neil&lt;/b&gt; 👩🏽‍⚕️" in html
    # A walk-in added by mistake is marked "not here" and no longer counted.
    post_form(as_facilitator, _url(s), {f"mark-a{row.id}": "absent"})
    assert services.attendance_counts([s.workshop.id])[s.workshop.id].walk_ins == 0


def test_walk_in_needs_a_person(as_facilitator, facilitator):
    s = scene(facilitator)
    resp = post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": "0", "name": "  "}, form_url=_url(s))
    assert resp.status_code == 400
    assert "Choose a registered delegate or enter the person&#39;s name." in resp.get_data(as_text=True)
    other_assembly_person = make_registration(scene(facilitator).assembly, make_org(), "Someone Else")
    resp = post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": str(other_assembly_person.id)},
                     form_url=_url(s))
    assert resp.status_code == 400 and db.session.scalar(select(Attendance)) is None


def test_a_walk_in_too_long_for_the_register_is_refused_in_our_words_as_typed(as_facilitator, facilitator):
    # The form's limit spoke WTForms' words ("Field cannot be longer than 200 characters.").
    s = scene(facilitator)
    name, organisation = "N" * 201, "O" * 201
    resp = post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": "0", "name": name,
                                                           "organisation": organisation}, form_url=_url(s))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert html.count("Use at most 200 characters.") >= 2 and "Field cannot be longer" not in html
    assert f'value="{name}"' in html and f'value="{organisation}"' in html
    assert db.session.scalar(select(Attendance)) is None


def test_counts_feed_the_organisers_overview(client, auth, facilitator, organiser):
    s = scene(facilitator)
    a, b, _ = s.allocated
    services.record_attendance(s.workshop, {f"r{a.id}": "present", f"r{b.id}": "absent"}, facilitator.id)
    services.add_walk_in(s.workshop, facilitator.id, name="Walk In")
    auth.login(organiser.email)
    html = client.get(f"/organiser/assemblies/{s.assembly.slug}/notes").get_data(as_text=True)
    totals = html.split('id="attendance-totals"')[1].split("</dl>")[0]
    assert "<dt>Allocated</dt><dd>4</dd>" in totals  # 3 here + Dev Patel in the other workshop
    assert "<dt>Present</dt><dd>1</dd>" in totals and "<dt>Absent</dt><dd>1</dd>" in totals
    assert "<dt>Walk-ins</dt><dd>1</dd>" in totals
    row = html.split("Spotting hidden harm<br>")[1].split("</tr>")[0]
    assert ('<td data-label="Allocated">3</td><td data-label="Present">1</td><td data-label="Absent">1</td>'
            '<td data-label="Walk-ins">1</td>') in row


def test_walk_in_list_can_be_searched(as_facilitator, facilitator):
    s = scene(facilitator)
    make_registration(s.assembly, s.health, "Erin Walsh")
    html = as_facilitator.get(_url(s, "?q=walsh")).get_data(as_text=True)
    options = html.split('id="registration_id"')[1].split("</select>")[0]
    assert "Erin Walsh" in options and "Dev Patel" not in options
    html = as_facilitator.get(_url(s, "?q=shire+police")).get_data(as_text=True)
    options = html.split('id="registration_id"')[1].split("</select>")[0]
    assert "Dev Patel" in options and "Erin Walsh" not in options
    html = as_facilitator.get(_url(s, "?q=nobody+like+this")).get_data(as_text=True)
    assert "No registered delegate matches &ldquo;nobody like this&rdquo;" in html


def test_several_unregistered_walk_ins_are_all_on_the_register_and_can_each_be_undone(as_facilitator, facilitator):
    s = scene(facilitator)
    for name in ("First Walkin", "Second Walkin", "Third Walkin"):
        post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": "0", "name": name}, form_url=_url(s))
    first = db.session.scalar(select(Attendance).where(Attendance.walk_in_name == "First Walkin"))
    register = as_facilitator.get(_url(s)).get_data(as_text=True).split('id="register"')[1].split('id="walk-in"')[0]
    for name in ("First Walkin", "Second Walkin", "Third Walkin"):
        assert name in register
    # The first one was added by mistake: "Not here" must take them off the count.
    resp = post_form(as_facilitator, _url(s), {f"mark-a{first.id}": "absent"})
    assert resp.status_code == 302
    assert "Attendance saved (1 change)." in as_facilitator.get(_url(s)).get_data(as_text=True)
    assert services.attendance_counts([s.workshop.id])[s.workshop.id].walk_ins == 2


def test_a_mark_made_by_mistake_can_be_cleared_back_to_not_yet_marked(as_facilitator, facilitator):
    s = scene(facilitator)
    a, b, _ = s.allocated
    post_form(as_facilitator, _url(s), {f"mark-r{a.id}": "present", f"mark-r{b.id}": "absent"})
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert f'<label for="mark-r{a.id}-unmarked">Not yet marked</label>' in html
    post_form(as_facilitator, _url(s), {f"mark-r{a.id}": "unmarked", f"was-r{a.id}": "present"})
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "Attendance saved (1 change)." in html
    assert f'id="mark-r{a.id}-unmarked" name="mark-r{a.id}" value="unmarked" checked' in html
    assert "0 of 3 allocated present" in html and "1 absent, 2 not yet marked" in html
    assert {m.registration_id for m in db.session.scalars(select(Attendance))} == {b.id}


def test_a_tablet_showing_an_old_register_does_not_undo_marks_made_on_another(as_facilitator, facilitator):
    s = scene(facilitator)
    a, b, _ = s.allocated
    # Tablet 1 loads the register: nobody marked. Tablet 2 then marks A present.
    stale = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert f'name="was-r{a.id}" value="unmarked"' in stale
    post_form(as_facilitator, _url(s), {f"mark-r{a.id}": "present", f"was-r{a.id}": "unmarked"})
    # Tablet 1 marks B absent and saves everything its page holds, A still shown as not yet marked.
    post_form(as_facilitator, _url(s), {f"mark-r{a.id}": "unmarked", f"was-r{a.id}": "unmarked",
                                        f"mark-r{b.id}": "absent", f"was-r{b.id}": "unmarked"})
    marks = {m.registration_id: m.status for m in db.session.scalars(select(Attendance))}
    assert marks == {a.id: "present", b.id: "absent"}


def test_a_walk_in_sent_twice_on_a_flaky_connection_is_on_the_register_once(as_facilitator, facilitator):
    # The first press arrived but its answer did not; the facilitator presses again.
    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    from tests.conftest import csrf_from, tickets_from

    token = csrf_from(page)
    for name in ("Sam Walker", " sam  walker "):
        resp = as_facilitator.post(_url(s, "/walk-in"), data={"csrf_token": token, **tickets_from(page),
                                                               "registration_id": "0",
                                                               "name": name, "organisation": "Street Pastors"})
        assert resp.status_code == 302
    rows = list(db.session.scalars(select(Attendance).where(Attendance.workshop_id == s.workshop.id)))
    assert [r.walk_in_name for r in rows] == ["Sam Walker"]
    assert services.attendance_counts([s.workshop.id])[s.workshop.id].walk_ins == 1


def test_a_walk_in_marked_not_here_and_added_again_is_present_again_not_a_second_row(as_facilitator, facilitator):
    s = scene(facilitator)
    first = services.add_walk_in(s.workshop, facilitator.id, name="Sam Walker")
    services.record_attendance(s.workshop, {f"a{first.id}": "absent"}, facilitator.id)
    again = services.add_walk_in(s.workshop, facilitator.id, name="Sam Walker")
    assert again.id == first.id and again.status == "walk_in"
    assert services.attendance_counts([s.workshop.id])[s.workshop.id].walk_ins == 1


def test_a_namesake_from_the_same_organisation_added_later_is_a_second_walk_in(as_facilitator, facilitator):
    from datetime import timedelta

    s = scene(facilitator)
    first = services.add_walk_in(s.workshop, facilitator.id, name="Sam Walker", organisation="Street Pastors")
    first.updated_at -= services.DOUBLE_SUBMIT_WINDOW + timedelta(minutes=1)
    db.session.commit()
    second = services.add_walk_in(s.workshop, facilitator.id, name="Sam Walker", organisation="Street Pastors")
    assert second.id != first.id
    assert services.attendance_counts([s.workshop.id])[s.workshop.id].walk_ins == 2


def test_the_message_about_a_walk_in_is_beside_the_register_the_page_opens_at(as_facilitator, facilitator):
    s = scene(facilitator)
    resp = post_form(as_facilitator, _url(s, "/walk-in"), {"registration_id": "0", "name": "Wanda <b>Walkin</b>"},
                     form_url=_url(s))
    assert resp.headers["Location"] == _url(s) + "#register"
    html = as_facilitator.get(resp.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, "Wanda <b>Walkin</b> added to the register as present.")
    assert box.beside("register") and not box.at_top and box.role == "status" and box.anchor == "register"
    assert len(message_boxes(html)) == 1 and "Wanda &lt;b&gt;Walkin" in html
    # Saving the marks opens the page at the register too, its message beside it.
    resp = post_form(as_facilitator, _url(s), {f"mark-r{s.allocated[0].id}": "present"})
    assert resp.headers["Location"] == _url(s) + "#register"
    [box] = where_shown(as_facilitator.get(resp.headers["Location"]).get_data(as_text=True),
                        "Attendance saved (1 change).")
    assert box.beside("register") and not box.at_top and box.role == "status" and box.anchor == "register"


def test_register_rows_isolate_the_names_and_organisations_typed_by_delegates_and_walk_ins(as_facilitator,
                                                                                          facilitator):
    s = scene(facilitator)
    org = make_org("\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7", sector="voluntary_community")
    reg = make_registration(s.assembly, org, "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2")
    place(reg, s.workshop)
    services.add_walk_in(s.workshop, facilitator.id, None, "\u064a\u0648\u0633\u0641 3", "\u0645\u0644\u062c\u0623")
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    register = html.split('id="register"')[1].split('id="walk-in"')[0]
    assert '<span class="register-name"><bdi>\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2</bdi></span>' in register
    assert '<span class="meta"><bdi>\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7</bdi></span>' in register
    assert '<span class="register-name"><bdi>\u064a\u0648\u0633\u0641 3</bdi></span>' in register
    assert '<span class="meta"><bdi>\u0645\u0644\u062c\u0623</bdi> &middot; walk-in</span>' in register


def test_the_register_lists_names_alphabetically_whatever_their_capitals(as_facilitator, facilitator):
    # "de Souza" between Chloé and Zed, as on the registrations list: not after every capital letter.
    s = scene(facilitator)
    for name in ("Zed Zephaniah", "de Souza Maria"):
        place(make_registration(s.assembly, s.police, name), s.workshop)
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    register = html.split('id="register"')[1].split('id="walk-in"')[0]
    names = ["Aisha Khan", "Ben Jones", "Chloé Martin", "de Souza Maria", "Zed Zephaniah"]
    positions = [register.index(n) for n in names]
    assert positions == sorted(positions), names
