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
