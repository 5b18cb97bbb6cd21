"""Placing the delegates missing a workshop in the published allocation, nobody else moving."""
from __future__ import annotations

import html
import re

from sqlalchemy import event, select

from eventapp.audit.models import AuditEvent
from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.placements import services
from eventapp.placements.models import AllocationRun, Placement
from tests.conftest import csrf_from, post_form
from tests.factories import make_org

from .helpers import delegates, make_registration, two_round_assembly

SEEN_RE = re.compile(r'name="seen" type="hidden" value="([^"]+)"')


def _placements():
    return {(p.registration_id, p.round_id): p.workshop_id for p in db.session.scalars(select(Placement))}


def _publish(client, assembly):
    post_form(client, f"/organiser/assemblies/{assembly.slug}/allocation/run", {"workshop_org_limit": ""},
              form_url=f"/organiser/assemblies/{assembly.slug}/allocation/")
    post_form(client, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    return db.session.scalar(select(AllocationRun).where(AllocationRun.status == "published"))


def _two_late(client, first_name: str):
    """Four seats a round, three delegates placed and published, then two registered late (``first_name`` first,
    then Ben Later): one seat left in each round. Returns (assembly, topics, rounds, ws, places before, first, second)."""
    assembly, topics, rounds, ws = two_round_assembly(capacity=2)
    delegates(assembly, topics, 3, choices="ABC")
    _publish(client, assembly)
    before = _placements()
    org = make_org("Late & Co")
    first = make_registration(assembly, org, first_name, [topics["A"], topics["B"], topics["C"]])
    second = make_registration(assembly, org, "Ben Later", [topics["A"], topics["B"], topics["C"]])
    return assembly, topics, rounds, ws, before, first, second


def _url(assembly):
    return f"/organiser/assemblies/{assembly.slug}/allocation/place-missing"


def test_a_delegate_promoted_after_publishing_gets_their_best_free_choice_and_nobody_else_moves(app, as_organiser):
    from eventapp.registration import services as registration

    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    regs = delegates(assembly, topics, 3, choices="ABC")  # everyone: ASB, then mental health
    waiting = make_registration(assembly, make_org(), "Wendy Waiting", [topics["A"], topics["C"], topics["B"]],
                                status="waiting", position=1)
    run = _publish(as_organiser, assembly)
    before = _placements()
    with app.test_request_context():
        registration.confirm_from_waiting_list(waiting)
    mail_before = set(db.session.scalars(select(OutboxMessage.id)))
    outcome = services.place_missing(run, assembly, by=None)
    assert [(row.id, rnd.id, w.id) for row, rnd, w, _ in outcome.placed] == [
        (waiting.id, rounds["1"].id, ws["1A"].id), (waiting.id, rounds["2"].id, ws["2C"].id)]
    assert outcome.left == []
    after = _placements()
    assert {k: v for k, v in after.items() if k[0] != waiting.id} == before
    assert (after[(waiting.id, rounds["1"].id)], after[(waiting.id, rounds["2"].id)]) == (ws["1A"].id, ws["2C"].id)
    db.session.refresh(run)
    assert run.result["assignments"][str(waiting.id)] == [str(ws["1A"].id), str(ws["2C"].id)]
    assert all(run.result["assignments"][str(r.id)] == [str(before[(r.id, rounds[n].id)]) for n in "12"]
               for r in regs)
    new_mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.not_in(mail_before))).all()
    assert {(m.to_email, m.ics_method) for m in new_mail} == {(waiting.email, "REQUEST")}
    event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "placement.place_missing"))
    assert event_.subject == f"registration {waiting.id}: Wendy Waiting"
    assert "Morning: none -> ASB (morning)" in event_.detail and "Afternoon: none -> Hidden harm (afternoon)" \
        in event_.detail
    # Nothing is missing any more: a second go places nobody and sends nothing.
    assert services.place_missing(run, assembly, by=None).placed == []


def test_the_preview_says_who_goes_where_and_who_cannot_be_placed_then_confirm_places_them(as_organiser):
    assembly, topics, rounds, ws, before, first, second = _two_late(as_organiser, "Ann <b>Early</b>")
    index = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert "Place the 2 delegates missing a workshop" in index
    page = as_organiser.get(_url(assembly)).get_data(as_text=True)
    assert "registration order" in page and "first come, first served" in page
    assert '<td data-label="Delegate"><bdi>Ann &lt;b&gt;Early&lt;/b&gt;</bdi></td>' in page
    # Four seats a round, three taken: Ann (registered first) takes the last one in each round, Ben gets none.
    ann = page.split("Ann &lt;b&gt;Early")[1].split("</tr>")[0]
    assert "Morning" in ann and "choice" in ann
    ben = page.split("Ben Later")[1]
    assert "every workshop in this round is full" in ben.split("</tr>")[0]
    assert ">Place 1 delegate</button>" in page and 'name="csrf_token"' in page
    assert _placements() == before  # a preview changes nothing
    resp = post_form(as_organiser, _url(assembly), {}, follow_redirects=True)
    text = html.unescape(resp.get_data(as_text=True))
    assert "1 delegate placed" in text and "1 delegate could not be placed" in text
    after = _placements()
    assert {k: v for k, v in after.items() if k[0] != first.id} == before
    assert {k[1] for k in after if k[0] == first.id} == {rounds["1"].id, rounds["2"].id}
    assert not any(k[0] == second.id for k in after)


def test_nothing_missing_shows_an_empty_state_not_a_button(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    delegates(assembly, topics, 3)
    _publish(as_organiser, assembly)
    index = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/allocation/").get_data(as_text=True)
    assert "delegates missing a workshop" not in index
    page = as_organiser.get(_url(assembly)).get_data(as_text=True)
    assert "Every delegate has a workshop in every round" in page and "<button" not in page.split("<main")[-1]
    # A confirmation clicked twice (or after someone else placed them) says so, and sends nothing.
    mail = set(db.session.scalars(select(OutboxMessage.id)))
    resp = post_form(as_organiser, _url(assembly), {}, follow_redirects=True)
    assert "Nobody is missing a workshop: nothing was changed or sent." in resp.get_data(as_text=True)
    assert set(db.session.scalars(select(OutboxMessage.id))) == mail


def test_a_proposal_offers_no_placing_and_the_page_sends_back_to_the_allocation(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    delegates(assembly, topics, 3)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/run", {"workshop_org_limit": ""},
              form_url=f"/organiser/assemblies/{assembly.slug}/allocation/")
    resp = as_organiser.get(_url(assembly))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/allocation/")


def test_statements_do_not_grow_with_the_delegates_placed(as_organiser):
    assembly, topics, rounds, ws = two_round_assembly(capacity=40)
    delegates(assembly, topics, 2)
    _publish(as_organiser, assembly)
    org = make_org()
    counts = []
    for n in (2, 12):
        for i in range(n):
            make_registration(assembly, org, f"Late {n}-{i}", [topics["A"], topics["B"], topics["C"]])
        statements = []

        def count(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            as_organiser.get(_url(assembly))
            preview = len(statements)
            post_form(as_organiser, _url(assembly), {})
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        counts.append((preview, len(statements)))
        assert sum(1 for k in _placements() if k[0] > 0) == 2 * (2 + (2 if n == 12 else 0) + n)
    assert counts[0] == counts[1], counts


def test_delegates_whose_workshop_was_deleted_get_another_in_that_round_only(as_organiser):
    from eventapp.assemblies import services as assemblies

    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    regs = delegates(assembly, topics, 3, choices="ABC")
    run = _publish(as_organiser, assembly)
    before = _placements()
    gone = ws["2B"]
    in_gone = [r for r in regs if before[(r.id, rounds["2"].id)] == gone.id]
    assert in_gone
    assemblies.delete_workshop(gone)
    outcome = services.place_missing(run, assembly, by=None)
    assert {(row.id, rnd.id, w.id) for row, rnd, w, _ in outcome.placed} == {
        (r.id, rounds["2"].id, ws["2C"].id) for r in in_gone}
    after = _placements()
    assert {k: v for k, v in after.items() if k[1] != rounds["2"].id} == \
        {k: v for k, v in before.items() if k[1] != rounds["2"].id}
    db.session.refresh(run)
    assert all(run.result["assignments"][str(r.id)] == [str(before[(r.id, rounds["1"].id)]), str(ws["2C"].id)]
               for r in in_gone)


def test_a_plan_that_changed_after_its_preview_is_not_placed_until_confirmed_again(as_organiser):
    """The organiser confirms the emails they were shown: a seat freed meanwhile (so Ben too would be placed and
    emailed) sends them back to the new plan, nothing placed; confirming that one places both."""
    assembly, topics, rounds, ws, before, first, second = _two_late(as_organiser, "Ann Early")
    page = as_organiser.get(_url(assembly)).get_data(as_text=True)
    assert ">Place 1 delegate</button>" in page
    shown = SEEN_RE.search(page)
    assert shown, "the confirmation carries no fingerprint of the plan shown"
    for key in ("1A", "2B"):
        ws[key].capacity += 1  # another organiser adds a seat in each round
    db.session.commit()
    mail = set(db.session.scalars(select(OutboxMessage.id)))
    resp = as_organiser.post(_url(assembly), data={"csrf_token": csrf_from(page), "seen": shown.group(1)},
                             follow_redirects=True)
    text = html.unescape(resp.get_data(as_text=True))
    assert "Who goes where changed after you opened this page" in text and "nobody was placed" in text
    assert ">Place 2 delegates</button>" in text  # the new plan, to check
    assert _placements() == before and set(db.session.scalars(select(OutboxMessage.id))) == mail
    resp = post_form(as_organiser, _url(assembly), {"seen": SEEN_RE.search(resp.get_data(as_text=True)).group(1)},
                     follow_redirects=True)
    assert "2 delegates placed" in html.unescape(resp.get_data(as_text=True))
    assert {k[0] for k in _placements()} >= {first.id, second.id}
