"""The organiser's allocation pages: run, inspect, change, pin, publish."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from eventapp.extensions import db
from eventapp.placements.models import AllocationPin, AllocationRun, Placement
from tests.conftest import csrf_from, post_form
from tests.factories import make_org

from .helpers import delegates, make_registration, two_round_assembly


def _placements():
    return {(p.registration_id, p.round_id): p.workshop_id for p in db.session.scalars(select(Placement))}


def _run(client, assembly, **data):
    return post_form(client, f"/organiser/assemblies/{assembly.slug}/allocation/run",
                     {"workshop_org_limit": "", **data}, form_url=f"/organiser/assemblies/{assembly.slug}/allocation/",
                     follow_redirects=True)


def test_empty_state_then_run_shows_a_proposal_without_publishing(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert "No allocation has been run yet" in page
    delegates(assembly, topics, 6)
    resp = _run(as_organiser, assembly)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Proposal (not published)" in html
    assert "Compared with first come, first served" in html
    assert "Places filled" in html
    run = db.session.scalar(select(AllocationRun))
    assert run.status == "proposal" and run.placed == 12  # 6 delegates x 2 rounds, seats 8+8
    assert _placements() == {}  # nothing reaches delegates before publishing


def test_optimal_beats_first_come_first_served_and_preview_says_so(as_organiser):
    # Early registrants want B first in both rounds; FCFS gives the first ones B in round 1,
    # which leaves later ones only A... the optimum gives everyone two ranked topics.
    assembly, topics, rounds, ws = two_round_assembly(capacity=2)
    delegates(assembly, topics, 4, choices="BCA")
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun))
    ours, fcfs = run.result["summary"], run.result["fcfs"]
    assert ours["objective"]["placed"] == 8
    assert (-ours["objective"]["placed"], ours["objective"]["cost"]) <= (-fcfs["objective"]["placed"],
                                                                       fcfs["objective"]["cost"])
    html = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert f"<td>{ours['objective']['cost']}</td><td>{fcfs['objective']['cost']}</td>" in html


def test_large_figures_on_the_allocation_page_have_thousands_separators(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun))
    # As a national assembly's run would have them: thousands of moves, a cost in the tens of thousands.
    result = dict(run.result)
    result["summary"] = {**result["summary"], "objective": {**result["summary"]["objective"], "cost": 12345}}
    result["fcfs"] = {**result["fcfs"], "objective": {**result["fcfs"]["objective"], "cost": 23456}}
    run.result, run.moves = result, 1234
    db.session.commit()
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert "<dt>Changes to the published allocation</dt><dd>1,234</dd>" in page
    assert "<td>12,345</td><td>23,456</td>" in page


def test_unplaced_delegates_are_listed_with_a_reason(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=1)
    regs = delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun))
    assert run.placed == 4
    assert len(run.result["unplaced"]) == 2
    html = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    unplaced_names = {r.full_name for r in regs if str(r.id) in {u[0] for u in run.result["unplaced"]}}
    for name in unplaced_names:
        assert name in html
    assert "Everyone has a workshop in every round" not in html


def test_org_limit_per_workshop_mixes_organisations(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    police, health = make_org(sector="police"), make_org(sector="health")
    for i in range(4):
        make_registration(assembly, police, f"Officer {i}", [topics["A"], topics["C"], topics["B"]])
        make_registration(assembly, health, f"Nurse {i}", [topics["A"], topics["C"], topics["B"]])
    _run(as_organiser, assembly, workshop_org_limit="2")
    run = db.session.scalar(select(AllocationRun))
    members = {}
    for reg_id, wids in run.result["assignments"].items():
        for w in wids:
            members.setdefault(w, []).append(int(reg_id))
    from eventapp.registration.models import Registration
    for w, regs in members.items():
        orgs = [db.session.get(Registration, r).organisation_id for r in regs]
        assert max(orgs.count(o) for o in set(orgs)) <= 2
    assert db.session.get(type(assembly), assembly.id).workshop_org_limit == 2


@pytest.mark.parametrize("limit", ["0", "1001"])
def test_org_limit_form_refuses_a_limit_out_of_range(as_organiser, limit):
    assembly, topics, rounds, ws = two_round_assembly()
    delegates(assembly, topics, 2)
    html = _run(as_organiser, assembly, workshop_org_limit=limit).get_data(as_text=True)
    assert "Enter a number from 1 to 1,000, or leave it empty." in html
    assert db.session.scalar(select(AllocationRun)) is None


def test_a_refused_org_limit_stays_in_the_field_beside_its_error(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly()
    delegates(assembly, topics, 2)
    resp = _run(as_organiser, assembly, workshop_org_limit="0")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'id="workshop_org_limit-error"' in page and 'aria-invalid="true"' in page
    assert 'name="workshop_org_limit"' in page and 'value="0"' in page
    assert db.session.get(type(assembly), assembly.id).workshop_org_limit is None


def test_move_into_full_workshop_warns_and_blocks_publish_then_fix_publishes(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=2)
    regs = delegates(assembly, topics, 4)
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun))
    # Find someone not in 1A and move them into it: 1A already has 2 of 2 seats.
    in_1a = [int(r) for r, w in run.result["assignments"].items() if str(ws["1A"].id) in w]
    assert len(in_1a) == 2
    mover = next(r for r in regs if r.id not in in_1a)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{mover.id}"
    r2 = next(w for w in run.result["assignments"][str(mover.id)] if w in (str(ws["2B"].id), str(ws["2C"].id)))
    resp = post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(ws["1A"].id),
                                         f"round_{rounds['2'].id}": r2, "pin": ""}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "breaks a rule" in html and "3 delegates for 2 seats" in html
    resp = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {},
                     follow_redirects=True)
    assert "breaks a rule" in resp.get_data(as_text=True)
    assert _placements() == {}
    # Undo the move: back to round 1's other workshop.
    post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(ws["1B"].id),
                                  f"round_{rounds['2'].id}": r2, "pin": ""}, follow_redirects=True)
    resp = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {},
                     follow_redirects=True)
    assert "Allocation published" in resp.get_data(as_text=True)
    assert len(_placements()) == 8


def test_pin_survives_a_rerun_and_can_be_removed(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    regs = delegates(assembly, topics, 3)  # everyone ranks A, B, C
    target = regs[0]
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{target.id}"
    _run(as_organiser, assembly)
    # Pin them to B in the morning (their 2nd choice) and C in the afternoon.
    post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(ws["1B"].id),
                                  f"round_{rounds['2'].id}": str(ws["2C"].id), "pin": "y"})
    assert db.session.scalars(select(AllocationPin)).all()
    _run(as_organiser, assembly)
    run = db.session.scalars(select(AllocationRun).order_by(AllocationRun.id.desc())).first()
    assert set(run.result["assignments"][str(target.id)]) == {str(ws["1B"].id), str(ws["2C"].id)}
    pin = db.session.scalars(select(AllocationPin)).first()
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/pins/{pin.id}/delete", {})
    assert db.session.get(AllocationPin, pin.id) is None


def test_removing_a_pin_asks_first_and_a_form_that_expired_says_so(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    target = delegates(assembly, topics, 3)[0]
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{target.id}",
              {f"round_{rounds['1'].id}": str(ws["1B"].id), f"round_{rounds['2'].id}": str(ws["2C"].id), "pin": "y"})
    pin = db.session.scalar(select(AllocationPin).where(AllocationPin.round_id == rounds["1"].id))
    index = f"/organiser/assemblies/{assembly.slug}/allocation/"
    url = f"{index}pins/{pin.id}/delete"
    page = as_organiser.get(index).get_data(as_text=True)
    # The allocation page's "Remove pin" only leads to the question, and says whose pin to a screen reader.
    assert (f'<a href="{url}">Remove pin<span class="visually-hidden"> for <bdi>Delegate 00</bdi> in '
            "Mental health (morning)</span></a>") in page
    confirm = as_organiser.get(url).get_data(as_text=True)
    assert db.session.get(AllocationPin, pin.id) is not None
    assert "Remove the pin keeping <bdi>Delegate 00</bdi> in &ldquo;<bdi>Mental health (morning)</bdi>&rdquo;?" in confirm
    assert "Yes, remove the pin" in confirm and f'<a href="{index}">No, keep it</a>' in confirm
    # A form whose token is not valid (expired, or from another site) says so; the pin stays.
    refused = as_organiser.post(url, data={"csrf_token": "expired"})
    assert refused.status_code == 400 and "The form had expired" in refused.get_data(as_text=True)
    assert db.session.get(AllocationPin, pin.id) is not None
    done = as_organiser.post(url, data={"csrf_token": csrf_from(confirm)}, follow_redirects=True).get_data(as_text=True)
    assert "Pin removed." in done and db.session.get(AllocationPin, pin.id) is None
    again = as_organiser.post(url, data={"csrf_token": csrf_from(confirm)}, follow_redirects=True)
    assert again.status_code == 200 and "That pin was removed already." in again.get_data(as_text=True)


def test_rerun_after_publication_moves_nobody_when_a_late_registration_fits(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    delegates(assembly, topics, 4)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    before = _placements()
    assert len(before) == 8
    late = make_registration(assembly, make_org(), "Late Comer", [topics["A"], topics["B"], topics["C"]])
    _run(as_organiser, assembly)
    run = db.session.scalars(select(AllocationRun).order_by(AllocationRun.id.desc())).first()
    assert run.moves == 0
    assert len(run.result["assignments"][str(late.id)]) == 2
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    after = _placements()
    assert {k: v for k, v in after.items() if k[0] != late.id} == before


def test_a_cancellation_after_the_run_gets_no_place_on_publish(app, as_organiser):
    from eventapp.registration.services import cancel_registration

    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    regs = delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    with app.test_request_context():
        cancel_registration(regs[1])
    resp = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {},
                     follow_redirects=True)
    assert "Allocation published" in resp.get_data(as_text=True)
    assert {k[0] for k in _placements()} == {regs[0].id, regs[2].id}


def test_placement_rules_are_database_constraints(db):
    assembly, topics, rounds, ws = two_round_assembly()
    reg = delegates(assembly, topics, 1)[0]
    db.session.add(Placement(registration_id=reg.id, round_id=rounds["1"].id, topic_id=topics["A"].id,
                             workshop_id=ws["1A"].id))
    db.session.commit()
    db.session.add(Placement(registration_id=reg.id, round_id=rounds["1"].id, topic_id=topics["B"].id,
                             workshop_id=ws["1B"].id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(Placement(registration_id=reg.id, round_id=rounds["2"].id, topic_id=topics["A"].id,
                             workshop_id=ws["2B"].id))
    with pytest.raises(IntegrityError):  # the same topic twice
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize("path", ["/", "/delegates", "/publish"])
def test_facilitators_and_anonymous_are_refused(client, auth, facilitator, path):
    assembly, topics, rounds, ws = two_round_assembly()
    url = f"/organiser/assemblies/{assembly.slug}/allocation{path}"
    assert client.get(url).status_code == 302
    auth.login(facilitator.email)
    assert client.get(url).status_code == 403


def test_no_delegates_gives_a_clear_message(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly()
    html = _run(as_organiser, assembly).get_data(as_text=True)
    assert "no confirmed registrations" in html


def test_cli_allocate_and_publish(app, db):
    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    delegates(assembly, topics, 5)
    result = app.test_cli_runner().invoke(args=["allocate", assembly.slug, "--publish"])
    assert result.exit_code == 0, result.output
    assert "10 places for 5 delegates" in result.output
    assert "First come, first served would give" in result.output
    assert "Published: 10 places" in result.output
    assert len(_placements()) == 10
    bad = app.test_cli_runner().invoke(args=["allocate", "no-such-assembly"])
    assert bad.exit_code != 0 and "No assembly" in bad.output


def test_published_workshops_show_on_the_delegates_manage_page(app, as_organiser):
    from eventapp.registration.services import make_manage_token

    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    regs = delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    with app.test_request_context():
        token = make_manage_token(regs[0])
    before = as_organiser.get(f"/manage/{token}").get_data(as_text=True)
    assert "Your workshops" not in before  # a proposal is not shown to delegates
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    page = as_organiser.get(f"/manage/{token}").get_data(as_text=True)
    assert "Your workshops" in page
    mine = [w for w in ws.values() if (regs[0].id, w.round_id) in _placements() and _placements()[(regs[0].id, w.round_id)] == w.id]
    assert len(mine) == 2
    for w in mine:
        assert w.title in page and w.round.name in page


def test_a_blank_workshop_choice_means_no_workshop_in_that_round(as_organiser):
    # Found by the fuzz test: a whitespace-only choice passed Optional() and then crashed int().
    assembly, topics, rounds, ws = two_round_assembly(capacity=5)
    regs = delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{regs[0].id}"
    resp = post_form(as_organiser, url, {f"round_{rounds['1'].id}": " ", f"round_{rounds['2'].id}": str(ws["2B"].id),
                                         "pin": "y"}, follow_redirects=True)
    assert resp.status_code == 200
    run = db.session.scalar(select(AllocationRun))
    db.session.refresh(run)
    assert run.result["assignments"][str(regs[0].id)] == [str(ws["2B"].id)]


def test_publish_confirmation_says_who_is_emailed_and_the_flash_agrees(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    delegates(assembly, topics, 4)
    _run(as_organiser, assembly)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/publish"
    page = as_organiser.get(url).get_data(as_text=True)
    # The first publication emails everyone placed a calendar invitation: the page says so before the click.
    assert "4 delegates are emailed a calendar invitation for their workshops." in page
    assert "to the published allocation" not in page  # there is none yet
    html = post_form(as_organiser, url, {}, follow_redirects=True).get_data(as_text=True)
    assert "Allocation published: 8 places. Calendar invitations for 4 delegates whose workshops changed are in " \
           "the outbox." in html
    assert "since the last publication" not in html

    late = make_registration(assembly, make_org(), "Late Comer", [topics["A"], topics["B"], topics["C"]])
    _run(as_organiser, assembly)
    page = as_organiser.get(url).get_data(as_text=True)
    assert "0 changes to the published allocation." in page  # nobody moves: the late delegate is added
    assert "1 delegate is emailed an updated calendar invitation (or a cancellation) for the workshops that " \
           "change." in page
    html = post_form(as_organiser, url, {}, follow_redirects=True).get_data(as_text=True)
    assert "Calendar invitations for 1 delegate whose workshops changed are in the outbox." in html
    assert len(_placements()) == 10 and late.id in {k[0] for k in _placements()}


def test_a_workshop_deleted_after_the_run_is_flagged_before_publishing(as_organiser):
    from eventapp.assemblies import services as assemblies

    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    delegates(assembly, topics, 4)
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun))
    in_1a = sum(str(ws["1A"].id) in w for w in run.result["assignments"].values())
    assert in_1a > 0
    assemblies.delete_workshop(ws["1A"])
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert f"{in_1a} places of this proposal are in workshops deleted since it was run" in page
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/publish").get_data(as_text=True)
    assert (f"{in_1a} places of this proposal are in workshops deleted since it was run: those delegates would "
            "have no workshop in that round. Run the allocation again to place them.") in page
    # Run again: everyone is placed in what is left, and the warning is gone.
    _run(as_organiser, assembly)
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert "deleted since it was run" not in page


def test_the_published_delegates_list_says_how_to_move_someone(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates"
    proposal = as_organiser.get(url).get_data(as_text=True)
    assert ">Change<span" in proposal and "To move someone, run the allocation again" not in proposal
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    published = as_organiser.get(url).get_data(as_text=True)
    assert ">Change<span" in published and "they are emailed an updated invitation at once" in published
    assert "To rearrange many, run the allocation again from" in published


def test_one_delegate_is_moved_in_the_published_allocation_and_emailed(as_organiser):
    from eventapp.invites.models import CalendarEntry
    from eventapp.mail.models import OutboxMessage

    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    regs = delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    placed = _placements()
    # Everyone is in ASB then mental health; one delegate swaps to mental health then hidden harm.
    mover = regs[0]
    assert (placed[(mover.id, rounds["1"].id)], placed[(mover.id, rounds["2"].id)]) == (ws["1A"].id, ws["2B"].id)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{mover.id}"
    page = as_organiser.get(url).get_data(as_text=True)
    assert "These are published workshops: saving changes" in page
    before = set(db.session.scalars(select(OutboxMessage.id)))
    resp = post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(ws["1B"].id),
                                         f"round_{rounds['2'].id}": str(ws["2C"].id), "pin": ""},
                     follow_redirects=True)
    assert f"{mover.full_name}'s workshops were changed. An updated calendar invitation is in the outbox." \
        in html.unescape(resp.get_data(as_text=True))
    after = _placements()
    assert (after[(mover.id, rounds["1"].id)], after[(mover.id, rounds["2"].id)]) == (ws["1B"].id, ws["2C"].id)
    assert {k: v for k, v in after.items() if k[0] != mover.id} == {k: v for k, v in placed.items() if k[0] != mover.id}
    new_mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.not_in(before))).all()
    assert [(m.to_email, m.ics_method) for m in new_mail] == [(mover.email, "REQUEST")] * 2
    entries = {e.round_id: e.workshop_id for e in db.session.scalars(select(CalendarEntry).where(
        CalendarEntry.registration_id == mover.id, CalendarEntry.round_id.is_not(None)))}
    assert entries == {rounds["1"].id: ws["1B"].id, rounds["2"].id: ws["2C"].id}
    # The delegates list and the manage page follow; the run's figures too.
    listing = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/delegates").get_data(as_text=True)
    assert ws["2C"].title in listing.split(mover.full_name)[1].split("</tr>")[0]


def test_a_move_in_the_published_allocation_that_breaks_a_rule_is_refused(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=1)
    regs = delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    placed = _placements()
    a, b = regs
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{a.id}"
    resp = post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(placed[(b.id, rounds["1"].id)]),
                                         f"round_{rounds['2'].id}": str(placed[(a.id, rounds["2"].id)]), "pin": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "This change breaks a rule:" in html and "Nothing was changed." in html
    assert _placements() == placed


def test_after_a_capacity_cut_delegates_can_be_moved_out_of_the_overbooked_workshop_one_at_a_time(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    regs = delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    # All three are in ASB (morning) then mental health (afternoon); the room shrinks to one seat.
    ws["1A"].capacity = 1
    db.session.commit()
    mover = regs[0]
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{mover.id}"
    resp = post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(ws["1B"].id),
                                         f"round_{rounds['2'].id}": str(ws["2C"].id), "pin": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert _placements()[(mover.id, rounds["1"].id)] == ws["1B"].id
    # Moving someone into it is still refused.
    resp = post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(ws["1A"].id),
                                         f"round_{rounds['2'].id}": str(ws["2C"].id), "pin": ""})
    assert resp.status_code == 400 and "would have 3 delegates for 1 seat" in resp.get_data(as_text=True)


def test_a_delegate_moved_to_the_waiting_list_and_back_has_no_workshops_left_in_the_published_record(app, as_organiser):
    from eventapp.registration import services as registration

    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    regs = delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    who = regs[0]
    with app.test_request_context():  # the emails carry personal links, built for the request's host
        registration.move_to_waiting_list(who)
        registration.confirm_from_waiting_list(who)
    run = db.session.scalar(select(AllocationRun).where(AllocationRun.status == "published"))
    assert str(who.id) not in run.result["assignments"] and str(regs[1].id) in run.result["assignments"]
    listing = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/delegates").get_data(as_text=True)
    assert "<em>none</em>" in listing.split(who.full_name)[1].split("</tr>")[0]


def test_delegates_and_organisations_named_on_the_allocation_page_are_isolated(as_organiser):
    # Right-to-left names ending in digits, in the unplaced list, the busiest organisation and the pins.
    assembly, topics, rounds, ws = two_round_assembly(capacity=1)
    org = make_org("\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7", sector="voluntary_community")
    regs = [make_registration(assembly, org, f"\u0633\u0627\u0631\u0629 {i}", [topics["A"], topics["B"], topics["C"]])
            for i in range(3)]
    _run(as_organiser, assembly)
    run = db.session.scalar(select(AllocationRun))
    placed = next(r for r in regs if str(r.id) in run.result["assignments"])
    current = run.result["assignments"][str(placed.id)]
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{placed.id}",
              {f"round_{rounds['1'].id}": next(w for w in current if w in (str(ws["1A"].id), str(ws["1B"].id))),
               f"round_{rounds['2'].id}": next(w for w in current if w in (str(ws["2B"].id), str(ws["2C"].id))),
               "pin": "y"})
    page = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    (d, _), *_ = run.result["unplaced"]
    unplaced = db.session.get(type(placed), int(d))
    assert f"<li><bdi>{unplaced.full_name}</bdi> &ndash;" in page
    assert "(most: <bdi>\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7</bdi>, 1)" in page
    assert f"<li><bdi>{placed.full_name}</bdi>: " in page


def test_publish_clicked_twice_says_it_is_published_not_that_there_is_nothing_to_publish(as_organiser):
    from eventapp.mail.models import OutboxMessage

    assembly, topics, rounds, ws = two_round_assembly(capacity=3)
    delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/publish"
    page = as_organiser.get(url).get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    first = as_organiser.post(url, data={"csrf_token": token})
    assert first.status_code == 302
    mail = db.session.scalar(select(func.count(OutboxMessage.id)))
    # The second click of a double click, sent from the same page: its answer is what the organiser sees.
    second = as_organiser.post(url, data={"csrf_token": token}, follow_redirects=True)
    text = html.unescape(second.get_data(as_text=True))
    assert "This allocation is published already: nothing was published or sent again." in text
    assert "Run the allocation first" not in text
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == mail
    # Opening the publish page afterwards says what to do instead.
    text = html.unescape(as_organiser.get(url, follow_redirects=True).get_data(as_text=True))
    assert "The latest allocation is published already. To change it, run the allocation again" in text


def test_the_publish_page_says_who_the_proposal_leaves_out_and_offers_no_publish_while_it_breaks_a_rule(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=2)
    regs = delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    url = f"/organiser/assemblies/{assembly.slug}/allocation/publish"
    page = html.unescape(as_organiser.get(url).get_data(as_text=True))
    assert "since this allocation was run" not in page and ">Publish</button>" in page
    # Confirmed after the run: the proposal has no place for them.
    make_registration(assembly, make_org(), "Late Comer", [topics["A"]])
    page = html.unescape(as_organiser.get(url).get_data(as_text=True))
    assert ("1 confirmed delegate has registered or been confirmed since this allocation was run and is not in it: "
            "published as it is, they would have no workshop.") in page
    # A hand-made change that overfills a workshop: publishing would be refused, so no Publish button.
    run = db.session.scalar(select(AllocationRun))
    in_1a = [int(r) for r, w in run.result["assignments"].items() if str(ws["1A"].id) in w]
    mover = next(r for r in regs if r.id not in in_1a)
    r2 = next(w for w in run.result["assignments"][str(mover.id)] if w in (str(ws["2B"].id), str(ws["2C"].id)))
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{mover.id}",
              {f"round_{rounds['1'].id}": str(ws["1A"].id), f"round_{rounds['2'].id}": r2, "pin": ""})
    page = html.unescape(as_organiser.get(url).get_data(as_text=True))
    assert "This proposal cannot be published yet" in page and "3 delegates for 2 seats" in page
    assert ">Publish</button>" not in page


def test_after_publishing_a_delegate_confirmed_later_or_left_without_a_deleted_workshop_is_listed_as_unplaced(
        as_organiser):
    from eventapp.assemblies import services as assemblies

    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    regs = delegates(assembly, topics, 4)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    # Promoted from the waiting list (or registered) after publishing: no workshop anywhere.
    late = make_registration(assembly, make_org(), "Late Comer", [topics["A"], topics["B"], topics["C"]])
    # A workshop cancelled after publishing: its delegates have nothing in that round.
    run = db.session.scalar(select(AllocationRun).where(AllocationRun.status == "published"))
    gone = next(w for w in (ws["2B"], ws["2C"]) if any(str(w.id) in a for a in run.result["assignments"].values()))
    in_2c = [r for r in regs if str(gone.id) in run.result["assignments"][str(r.id)]]
    assemblies.delete_workshop(gone)
    page = html.unescape(as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True))
    assert "Everyone has a workshop in every round." not in page
    assert "<bdi>Late Comer</bdi> \u2013 Morning: confirmed since this allocation was run" in page
    assert "<bdi>Late Comer</bdi> \u2013 Afternoon: confirmed since this allocation was run" in page
    for reg in in_2c:
        assert f"<bdi>{reg.full_name}</bdi> \u2013 Afternoon: their workshop was deleted" in page
    listed = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/delegates?unplaced=1").get_data(
        as_text=True)
    assert ">Late Comer<" in listed
    for reg in regs:
        assert (f">{reg.full_name}<" in listed) == (reg in in_2c), reg.full_name


def test_the_published_allocations_figures_follow_a_cancellation_after_publishing(app, as_organiser):
    from eventapp.registration.services import cancel_registration

    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    regs = delegates(assembly, topics, 4)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    url = f"/organiser/assemblies/{assembly.slug}/allocation/"
    page = as_organiser.get(url).get_data(as_text=True)
    assert "<dt>Places filled</dt><dd>8</dd>" in page and "<dt>Delegates</dt><dd>4</dd>" in page
    with app.test_request_context():
        cancel_registration(regs[1])
    # Nobody waits for the place: the register of confirmed delegates still matches the allocation's, so no
    # "registrations have changed" warning says the figures are old; they must be today's.
    page = as_organiser.get(url).get_data(as_text=True)
    assert "<dt>Places filled</dt><dd>6</dd>" in page
    assert "<dt>Delegates</dt><dd>3</dd>" in page
    assert "<td>3 of 3</td>" in page  # placed per round


def test_the_choices_table_gives_every_column_as_a_share_of_delegates_not_ranked_too(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    delegates(assembly, topics, 2, choices="A")  # nothing ranked runs in the afternoon
    page = _run(as_organiser, assembly).get_data(as_text=True)
    row = page[page.index("<td>Afternoon</td>"):]
    row = row[:row.index("</tr>")]
    # The caption says these are shares: a bare 2 beside 0% reads as 2%.
    assert row.endswith("<td>0%</td><td>0%</td><td>0%</td><td>100%</td>"), row
