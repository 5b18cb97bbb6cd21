"""The registrations list at a national event's size: actions keep the organiser's place in a filtered,
paged list; a 'needs' filter for catering and access; the CSV export downloads what the list shows."""
from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

from eventapp.extensions import db
from eventapp.registration.models import Registration
from tests.conftest import post_form
from tests.registration.test_organiser import base, seed


def _query(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_moving_someone_returns_to_the_same_filtered_page(app, as_organiser, setup, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 0, {"full_name": "Bob Bell"}),
                             (3, 0, {"full_name": "Cat Cole"})])
    listed = f"{base(setup)}?q=e&sector=police&status=all&page=2"
    cat = regs[2]
    assert cat.status == "waiting"
    resp = post_form(as_organiser, f"{base(setup)}/{cat.id}/confirm?q=e&sector=police&status=all&page=2", {},
                     form_url=listed)
    assert resp.status_code == 302
    assert _query(resp.headers["Location"]) == {"q": "e", "sector": "police", "status": "all", "page": "2"}
    bob = regs[1]
    resp = post_form(as_organiser, f"{base(setup)}/{bob.id}/waiting?organisation={setup.orgs[0].id}&page=2", {},
                     form_url=listed)
    assert _query(resp.headers["Location"]) == {"organisation": str(setup.orgs[0].id), "page": "2"}


def test_row_links_carry_the_filters_to_the_action_and_back(app, as_organiser, setup):
    [ann] = seed(app, setup, [(1, 0, {"full_name": "Ann Able"})])
    html = as_organiser.get(f"{base(setup)}?q=ann&sector=police&page=1").get_data(as_text=True)
    url = f"{base(setup)}/{ann.id}"
    assert f'action="{url}/waiting?q=ann&amp;sector=police&amp;page=1"' in html
    assert f'href="{url}/cancel?q=ann&amp;sector=police&amp;page=1"' in html
    assert f'href="{url}/edit?q=ann&amp;sector=police&amp;page=1"' in html
    # Cancelling (a confirmation page first) and editing come back to the same list.
    page = as_organiser.get(f"{url}/cancel?q=ann&sector=police&page=1").get_data(as_text=True)
    assert f'href="{base(setup)}?q=ann&amp;sector=police&amp;page=1">No, keep it' in page
    resp = post_form(as_organiser, f"{url}/cancel?q=ann&sector=police&page=1", {})
    assert _query(resp.headers["Location"]) == {"q": "ann", "sector": "police", "page": "1"}
    db.session.expire_all()
    assert db.session.get(Registration, ann.id).status == "cancelled"
    resp = post_form(as_organiser, f"{url}/reinstate?status=cancelled&q=ann", {}, form_url=base(setup))
    assert _query(resp.headers["Location"]) == {"status": "cancelled", "q": "ann"}
    # Only the list's own filters travel: nothing else is echoed into the address.
    resp = post_form(as_organiser, f"{url}/waiting?q=ann&next=https://evil.example/", {}, form_url=base(setup))
    assert _query(resp.headers["Location"]) == {"q": "ann"}


def test_needs_filter_finds_those_with_access_or_dietary_needs(app, as_organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "Ann Able", "access_needs": "Step-free access"}),
                      (2, 1, {"full_name": "Ben Baker", "dietary_needs": "Vegan"}),
                      (3, 2, {"full_name": "Cat Cole"})])
    html = as_organiser.get(base(setup) + "?needs=access").get_data(as_text=True)
    assert "Ann Able" in html and "Ben Baker" not in html and "Cat Cole" not in html
    assert '<option value="access" selected>' in html
    html = as_organiser.get(base(setup) + "?needs=dietary").get_data(as_text=True)
    assert "Ben Baker" in html and "Ann Able" not in html and "Cat Cole" not in html
    html = as_organiser.get(base(setup) + "?needs=any").get_data(as_text=True)
    assert "Ann Able" in html and "Ben Baker" in html and "Cat Cole" not in html
    html = as_organiser.get(base(setup) + "?needs=any&sector=police").get_data(as_text=True)
    assert "Ann Able" in html and "Ben Baker" not in html
    html = as_organiser.get(base(setup) + "?needs=bogus").get_data(as_text=True)
    assert "Cat Cole" in html and "Ann Able" in html


def _csv(resp) -> list[list[str]]:
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(resp.get_data().decode("utf-8-sig"))))


def test_export_downloads_what_the_filters_show(app, as_organiser, setup):
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able", "dietary_needs": "=cmd|' /C calc'!A0"}),
                             (2, 1, {"full_name": "Ben Baker"}), (3, 0, {"full_name": "Cat Cole"}),
                             (4, 0, {"full_name": "Dan Dale", "dietary_needs": "Halal"})])
    with app.test_request_context("/"):
        from eventapp.registration import services
        services.cancel_registration(regs[2])
    # Unfiltered, the export still holds everyone, cancelled included (as before).
    assert sorted(r[0] for r in _csv(as_organiser.get(base(setup) + ".csv"))[1:]) == [
        "Ann Able", "Ben Baker", "Cat Cole", "Dan Dale"]
    html = as_organiser.get(base(setup) + "?sector=police&needs=dietary").get_data(as_text=True)
    assert f'href="{base(setup)}.csv?sector=police&amp;needs=dietary"' in html
    assert "Download the 2 registrations shown as CSV (Excel)" in html
    rows = _csv(as_organiser.get(base(setup) + ".csv?sector=police&needs=dietary"))
    assert sorted(r[0] for r in rows[1:]) == ["Ann Able", "Dan Dale"]
    # The formula guard holds for a filtered export too.
    assert next(r for r in rows if r[0] == "Ann Able")[8] == "'=cmd|' /C calc'!A0"
    # The list's default (confirmed and waiting) leaves the cancelled out when any filter is set.
    rows = _csv(as_organiser.get(base(setup) + ".csv?q=a"))
    assert sorted(r[0] for r in rows[1:]) == ["Ann Able", "Ben Baker", "Dan Dale"]
    rows = _csv(as_organiser.get(base(setup) + ".csv?status=cancelled"))
    assert [r[0] for r in rows[1:]] == ["Cat Cole"]
    rows = _csv(as_organiser.get(base(setup) + f".csv?organisation={setup.orgs[1].id}&page=3"))
    assert [r[0] for r in rows[1:]] == ["Ben Baker"]


def test_the_unfiltered_download_link_says_it_holds_everyone_the_cancelled_too(app, as_organiser, setup):
    # The list hides the cancelled unless asked; its plain download link holds them: the link says so, with
    # as many as the file has.
    link = f'<a href="{base(setup)}.csv">'
    assert f"{link}Download as CSV (Excel): no registrations yet</a>" in as_organiser.get(base(setup)).get_data(
        as_text=True)
    regs = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 1, {"full_name": "Ben Baker"}),
                             (3, 0, {"full_name": "Cat Cole"}), (4, 0, {"full_name": "Dan Dale"})])
    html = as_organiser.get(base(setup)).get_data(as_text=True)
    assert f"{link}Download all 4 registrations as CSV (Excel)</a>" in html
    with app.test_request_context("/"):
        from eventapp.registration import services
        services.cancel_registration(regs[1])
    html = as_organiser.get(base(setup)).get_data(as_text=True)
    assert "Ben Baker" not in html.split("<h2>Delegates</h2>", 1)[1]  # the list leaves him out...
    assert f"{link}Download all 4 registrations as CSV (Excel), the 1 cancelled included</a>" in html
    rows = _csv(as_organiser.get(base(setup) + ".csv"))[1:]  # ...the file holds him, as its link says
    assert len(rows) == 4 and [r[0] for r in rows if r[5] == "Cancelled"] == ["Ben Baker"]


def test_acting_on_the_last_row_of_the_last_page_lands_on_the_page_before(client, setup, as_organiser):
    from sqlalchemy import func, select

    from eventapp.registration import services
    from tests.registration.conftest import person

    _db = db
    setup.assembly.capacity, setup.assembly.org_limit = 100, None
    _db.session.commit()
    with client.application.test_request_context():
        for n in range(26):  # one more than a page
            services.register(setup.assembly, person(setup, n=n, org=n % 3), source="organiser", check_window=False)
    url = f"/organiser/assemblies/{setup.assembly.slug}/registrations"
    assert "Delegate" in client.get(url + "?page=2").get_data(as_text=True)
    last = _db.session.scalar(select(Registration).order_by(func.lower(Registration.full_name).desc()).limit(1))
    with client.application.test_request_context():
        services.cancel_registration(last)
    response = client.get(url + "?page=2")
    assert response.status_code == 302 and response.headers["Location"].endswith("registrations?page=1")
