"""Name badges as Chromium prints them: 90 x 55 mm each, eight to an A4 page, nothing of the site around them."""
from __future__ import annotations

import re

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
    boxes = [b.bounding_box() for b in page.locator("li.badge").all()]
    assert len(boxes) == 10
    for box in boxes:
        assert abs(box["width"] - 90 * MM) < 1 and abs(box["height"] - 55 * MM) < 1, box
    assert not page.locator(".site-header").is_visible() and not page.locator("main > h1").is_visible()
    # No margins, room for five rows: eight a page all the same, as on a sheet of badge inserts.
    pdf = page.pdf(format="A4", margin={"top": "0", "bottom": "0", "left": "0", "right": "0"})
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 2, pages
