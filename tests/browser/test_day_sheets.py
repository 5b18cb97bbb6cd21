"""Name badges as Chromium prints them: 90 x 55 mm each, eight to an A4 page, nothing of the site around them."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from eventapp.extensions import db
from tests.browser.axe import axe_check
from tests.browser.conftest import login
from tests.factories import make_assembly, make_org
from tests.notes.helpers import make_registration

MM = 96 / 25.4  # CSS pixels in a millimetre


def test_name_badges_print_eight_to_an_a4_page_at_badge_holder_size(live_server, page):
    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Badges Assembly")
        org = make_org("Browser Badges Fire and Rescue Service with a Rather Long Name")
        for n in range(10):
            make_registration(assembly, org, f"Badge Person {n} Longsurname-Doublebarrelled")
        slug = assembly.slug
        db.session.remove()
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}/day-sheets?part=badges"))
    axe_check(page, "name badges")
    page.emulate_media(media="print")
    boxes = [b.bounding_box() for b in page.locator("li.name-badge").all()]
    assert len(boxes) == 10
    for box in boxes:
        assert abs(box["width"] - 90 * MM) < 1 and abs(box["height"] - 55 * MM) < 1, box
    assert not page.locator(".site-header").is_visible() and not page.locator("main > h1").is_visible()
    # No margins, room for five rows: eight a page all the same, as on a sheet of badge inserts.
    pdf = page.pdf(format="A4", margin={"top": "0", "bottom": "0", "left": "0", "right": "0"})
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 2, pages


def test_a_badge_shows_every_workshop_of_a_delegate_with_a_long_name_and_organisation(live_server, page):
    from datetime import time

    from tests.factories import make_round, make_topic, make_workshop
    from tests.notes.helpers import place

    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Long Badges Assembly")
        org = make_org("Shireford and Northvale Integrated Care Board NHS Foundation Trust")
        arabic = make_org("منظمة المجتمع المدني للسلامة في شايرفورد")
        workshops = []
        for n, starts in enumerate((time(10), time(11, 30), time(14))):
            rnd = make_round(assembly, f"Long badges round {n}", starts_at=starts, ends_at=time(starts.hour + 1))
            workshop = make_workshop(rnd, make_topic(f"Problem-solving approaches to crime prevention {n}"))
            workshop.room = "Committee Room 3, Second Floor"
            workshops.append(workshop)
        db.session.commit()
        for name, where in (("Dr Oluwaseun Adebayo-Okonkwo Featherstonehaugh", org),
                            ("محمد عبد الرحمن بن عبد العزيز الهاشمي", arabic), ("Jo Li", org)):
            reg = make_registration(assembly, where, name)
            for workshop in workshops:
                place(reg, workshop)
        slug = assembly.slug
        db.session.remove()
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}/day-sheets?part=badges"))
    page.emulate_media(media="print")
    badges = page.locator("li.name-badge").all()
    assert len(badges) == 3
    for badge in badges:
        box = badge.bounding_box()
        # Each workshop (where the delegate goes next) is on the card, not cut off below its edge.
        times = badge.locator(".badge-workshops li").all()
        assert len(times) == 3
        for line in times:
            inner = line.bounding_box()
            assert inner["y"] >= box["y"] and inner["y"] + inner["height"] <= box["y"] + box["height"] + 0.5, \
                (badge.inner_text(), inner, box)
        name = badge.locator(".badge-name")
        assert name.evaluate("el => el.scrollHeight <= el.clientHeight + 1"), badge.inner_text()
        expect(badge.locator(".badge-workshops")).to_contain_text("11:30 Problem-solving")


def test_the_reception_list_is_shared_between_desks_through_a_form_each_desk_printing_on_its_own_pages(live_server, page):
    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Desks Assembly")
        org = make_org("Browser Desks Police")
        for name in ("Amal Ahmed", "Ben Brown", "Cara Cole", "Dan Dyer", "Eve Ellis", "Finn Ford", "Gus Gray",
                     "Hana Hill", "Ivy <b>Irons</b>"):
            make_registration(assembly, org, name)
        slug = assembly.slug
        db.session.remove()
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}/day-sheets?part=reception"))
    page.get_by_label("Reception desks").fill("0")
    page.get_by_role("button", name="Share out the names").click()
    expect(page.get_by_role("link", name="Reception desks: Enter a number of desks from 1 to 20.")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: Day sheets: Reception list"))
    axe_check(page, "day sheets, a number of desks refused")
    # Without JavaScript's help: a plain GET form, its part kept.
    page.get_by_label("Reception desks").fill("3")
    page.get_by_role("button", name="Share out the names").click()
    expect(page).to_have_url(re.compile(r"part=reception.*desks=3"))
    expect(page.get_by_role("heading", name="Desk 2: Dan Dyer – Finn Ford")).to_be_visible()
    expect(page.get_by_role("heading", name="Desk 3: Gus Gray – Ivy <b>Irons</b>")).to_be_visible()
    axe_check(page, "day sheets, reception list at three desks")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Desks")).to_be_hidden()
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 3  # a page each: every desk starts a new one
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Desk 2", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Day sheets: Reception list, desk 2 of 3")
    expect(page.get_by_role("link", name="Desk 2", exact=True)).to_have_attribute("aria-current", "page")
    rows = page.locator(".desk tbody th")
    expect(rows).to_have_text(["Dan Dyer", "Eve Ellis", "Finn Ford"])
    axe_check(page, "day sheets, one desk")
    page.emulate_media(media="print")
    assert len(re.findall(rb"/Type\s*/Page[^s]", page.pdf(format="A4"))) == 1
