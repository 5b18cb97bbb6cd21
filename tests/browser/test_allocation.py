"""An organiser runs the allocation, inspects it, pins a delegate and publishes, in Chromium."""
from __future__ import annotations

import uuid
from datetime import date, time

from playwright.sync_api import expect

from eventapp.assemblies.models import Assembly, Round, Topic, Workshop
from eventapp.extensions import db
from eventapp.organisations.models import Organisation, name_key
from eventapp.placements.models import AllocationPin, Placement
from eventapp.registration.models import Preference, Registration, email_key
from tests.browser.axe import axe_check
from tests.browser.conftest import login


def _seed(app) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    with app.app_context():
        orgs = []
        for i, sector in enumerate(["police", "health", "housing", "voluntary_community"]):
            name = f"Partner {i} {tag}"
            orgs.append(Organisation(name=name, name_key=name_key(name), sector=sector))
        topics = []
        for label in ["Anti-social behaviour", "Poor mental health", "Criminal exploitation"]:
            name = f"{label} {tag}"
            topics.append(Topic(name=name, name_key=name_key(name)))
        assembly = Assembly(title=f"Allocation assembly {tag}", slug=f"alloc-{tag}", date=date(2027, 3, 18),
                            start_time=time(9), end_time=time(16), venue_name="Guildhall", capacity=100,
                            status="open")
        r1 = Round(assembly=assembly, name="Morning breakouts", position=1, starts_at=time(11), ends_at=time(12))
        r2 = Round(assembly=assembly, name="Afternoon breakouts", position=2, starts_at=time(14), ends_at=time(15))
        for rnd, picks in ((r1, [0, 1]), (r2, [1, 2])):
            for t in picks:
                rnd.workshops.append(Workshop(topic=topics[t], title=f"{topics[t].name} ({rnd.name})", capacity=10,
                                              room=f"Room {t}"))
        db.session.add_all(orgs + topics + [assembly])
        db.session.flush()
        first = None
        for i in range(16):
            email = f"delegate{i}.{tag}@example.org"
            reg = Registration(assembly_id=assembly.id, organisation_id=orgs[i % 4].id, full_name=f"Delegate {i:02d} {tag}",
                               email=email, email_key=email_key(email), status="confirmed")
            order = [0, 1, 2] if i % 2 else [1, 2, 0]
            reg.preferences = [Preference(topic_id=topics[t].id, rank=r + 1) for r, t in enumerate(order)]
            db.session.add(reg)
            first = first or reg
        db.session.commit()
        return assembly.slug, first.full_name


def test_organiser_runs_inspects_pins_and_publishes(live_server, page):
    slug, person = _seed(live_server.app)
    login(page, live_server)
    page.goto(f"{live_server.url}/organiser/assemblies/{slug}")
    page.get_by_role("link", name="Workshop allocation").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}/allocation/")
    expect(page.get_by_text("No allocation has been run yet")).to_be_visible()
    axe_check(page, "allocation empty state")

    page.get_by_label("At most this many delegates of one organisation in a workshop").fill("4")
    page.get_by_role("button", name="Run the allocation").click()
    expect(page.get_by_role("heading", name="Proposal (not published)")).to_be_visible()
    expect(page.get_by_role("heading", name="Compared with first come, first served")).to_be_visible()
    expect(page.get_by_text("Everyone has a workshop in every round.")).to_be_visible()
    axe_check(page, "allocation proposal")

    page.get_by_role("link", name="Change a delegate's workshops").click()
    axe_check(page, "delegates list")
    page.get_by_label("Name, email or organisation").fill(person)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=f"Change {person}'s workshops").click()
    axe_check(page, "change a delegate")
    # Mental health in the morning and exploitation in the afternoon: no topic twice, and
    # with 10 seats a workshop and at most 4 per organisation the move breaks no rule.
    morning = page.get_by_label("Morning breakouts")
    target = next(o for o in morning.locator("option").all_inner_texts() if o.startswith("Poor mental health"))
    morning.select_option(label=target)
    afternoon = page.get_by_label("Afternoon breakouts")
    afternoon.select_option(label=next(o for o in afternoon.locator("option").all_inner_texts()
                                       if o.startswith("Criminal exploitation")))
    page.get_by_role("button", name="Save change").click()
    # Back to the delegates list as it was filtered, then to the proposal.
    page.wait_for_url(f"**/organiser/assemblies/{slug}/allocation/delegates?q=*")
    expect(page.get_by_text(f"{person}'s workshops were changed.")).to_be_visible()
    axe_check(page, "delegates list, filtered, after a change")
    page.get_by_role("link", name="Back to the allocation").click()
    page.wait_for_url(f"**/organiser/assemblies/{slug}/allocation/")
    expect(page.get_by_role("heading", name="Pinned by organisers")).to_be_visible()
    axe_check(page, "proposal after a pin")

    page.get_by_role("link", name="Review and publish").click()
    axe_check(page, "publish confirmation")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Allocation published")).to_be_visible()
    expect(page.get_by_role("heading", name="Published allocation")).to_be_visible()
    axe_check(page, "published allocation")

    # A delegate added after publishing has no workshop: placed into free seats, nobody else moved.
    with live_server.app.app_context():
        first = db.session.query(Registration).filter_by(full_name=person).one()
        late = Registration(assembly_id=first.assembly_id, organisation_id=first.organisation_id,
                            full_name=f"Late \u0639\u0627\u0626\u0634\u0629 {slug}", email=f"late.{slug}@example.org",
                            email_key=email_key(f"late.{slug}@example.org"), status="confirmed")
        late.preferences = [Preference(topic_id=p.topic_id, rank=p.rank) for p in first.preferences]
        db.session.add(late)
        db.session.commit()
        before = {(p.registration_id, p.workshop_id) for p in db.session.query(Placement).all()}
    page.reload()
    page.get_by_role("link", name="Place the 1 delegate missing a workshop").click()
    expect(page.get_by_role("heading", name="Who goes where")).to_be_visible()
    axe_check(page, "place the delegates missing a workshop")
    page.get_by_role("button", name="Place 1 delegate").click()
    expect(page.get_by_text("1 delegate placed.")).to_be_visible()
    with live_server.app.app_context():
        after = {(p.registration_id, p.workshop_id) for p in db.session.query(Placement).all()}
        late_id = db.session.query(Registration.id).filter_by(email=f"late.{slug}@example.org").scalar()
        assert before < after and {r for r, _ in after - before} == {late_id} and len(after - before) == 2

    with live_server.app.app_context():
        reg = db.session.query(Registration).filter_by(full_name=person).one()
        placed = db.session.query(Placement).filter_by(registration_id=reg.id).all()
        pins = db.session.query(AllocationPin).filter_by(registration_id=reg.id).all()
        assert len(placed) == 2
        assert {p.workshop_id for p in pins} <= {p.workshop_id for p in placed}
        assert any(p.workshop.title == target.rsplit(" (Room", 1)[0] for p in placed)


def test_a_big_assembly_shows_its_background_run_then_the_proposal(live_server, page):
    from eventapp.placements.services import run_jobs

    slug, _ = _seed(live_server.app)
    saved = live_server.app.config["ALLOCATION_INLINE_MAX"]
    live_server.app.config["ALLOCATION_INLINE_MAX"] = 10  # the 16 delegates go to the worker
    try:
        login(page, live_server)
        page.goto(f"{live_server.url}/organiser/assemblies/{slug}/allocation/")
        page.get_by_role("button", name="Run the allocation").click()
        expect(page.get_by_role("heading", name="Allocation running")).to_be_visible()
        expect(page.get_by_text("The allocation of 16 delegates is running in the background")).to_be_visible()
        assert page.get_by_role("button", name="Run the allocation").count() == 0
        axe_check(page, "allocation running in the background")
        with live_server.app.app_context():
            assert run_jobs(once=True) == 1
        page.reload()
        expect(page.get_by_role("heading", name="Proposal (not published)")).to_be_visible()
        assert page.get_by_role("heading", name="Allocation running").count() == 0
    finally:
        live_server.app.config["ALLOCATION_INLINE_MAX"] = saved
