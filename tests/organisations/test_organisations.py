"""Organiser pages for partner organisations: add, edit, approve, merge, list."""
from __future__ import annotations

from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from eventapp.assemblies.models import AgendaItem
from eventapp.organisations.models import Organisation
from tests.conftest import csrf_from, post_form
from tests.factories import make_agenda_item, make_assembly, make_org
from tests.page_messages import WITHOUT_ISOLATES


def body(resp) -> str:
    """The page, its flashed sentences read without their bidi isolates."""
    return resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)


def test_organiser_adds_an_organisation(as_organiser, db):
    resp = post_form(as_organiser, "/organiser/organisations/new",
                     {"name": "  Mind   in Shireford ", "sector": "mental_health", "status": "approved"})
    assert resp.status_code == 302
    org = db.session.scalar(select(Organisation).where(Organisation.name == "Mind in Shireford"))
    assert (org.sector, org.status, org.name_key) == ("mental_health", "approved", "mind in shireford")
    listing = body(as_organiser.get(resp.headers["Location"]))
    assert "“Mind in Shireford” saved." in listing and "Mental health" in listing


@pytest.mark.parametrize("typed", ["Victim Support Shireford", "victim support shireford", "  VICTIM  Support   Shireford"])
def test_duplicate_names_are_refused_ignoring_case_and_spacing(as_organiser, db, typed):
    make_org("Victim Support Shireford", sector="victim_support")
    resp = post_form(as_organiser, "/organiser/organisations/new", {"name": typed, "sector": "victim_support",
                                                                   "status": "approved"})
    assert resp.status_code == 400
    assert "An organisation with that name already exists." in body(resp)
    assert f'value="{typed}"' in body(resp)
    assert db.session.query(Organisation).count() == 1


def test_renaming_onto_another_name_is_refused_but_own_name_is_fine(as_organiser, db):
    make_org("Shireford College", sector="education")
    other = make_org("Shireford Colege", sector="education")
    url = f"/organiser/organisations/{other.id}/edit"
    resp = post_form(as_organiser, url, {"name": "SHIREFORD COLLEGE", "sector": "education", "status": "approved"})
    assert resp.status_code == 400 and "An organisation with that name already exists." in body(resp)
    resp = post_form(as_organiser, url, {"name": "Shireford colege", "sector": "housing", "status": "pending"})
    assert resp.status_code == 302
    db.session.refresh(other)
    assert (other.name, other.sector, other.status) == ("Shireford colege", "housing", "pending")


@pytest.mark.parametrize("data, message", [
    ({"name": "", "sector": "police", "status": "approved"}, "Enter the organisation&#39;s name."),
    ({"name": "   ", "sector": "police", "status": "approved"}, "Enter the organisation&#39;s name."),
    ({"name": "N" * 201, "sector": "police", "status": "approved"}, "Use at most 200 characters."),
    ({"name": "Acme", "sector": "pirates", "status": "approved"}, "Choose a sector from the list."),
    ({"name": "Acme", "sector": "police", "status": "maybe"}, "Choose a status from the list."),
])
def test_organisation_form_refusals(as_organiser, db, data, message):
    resp = post_form(as_organiser, "/organiser/organisations/new", data)
    assert resp.status_code == 400
    assert message in body(resp)
    assert "There is a problem" in body(resp)
    assert db.session.query(Organisation).count() == 0


def test_every_sector_in_the_managed_list_is_offered(as_organiser):
    html = body(as_organiser.get("/organiser/organisations/new"))
    for label in ("Police", "Local authority (district or borough)", "County council", "Health", "Mental health",
                  "Victim support", "Fire and rescue", "Probation", "Housing", "Education",
                  "Voluntary and community", "Other"):
        assert f">{label}</option>" in html, label


def test_organiser_approves_a_pending_organisation(as_organiser, db):
    org = make_org("Shireford Street Pastors", sector="voluntary_community", status="pending")
    listing = body(as_organiser.get("/organiser/organisations/?status=pending"))
    assert "Shireford Street Pastors" in listing and "Approve" in listing
    resp = post_form(as_organiser, f"/organiser/organisations/{org.id}/approve", {},
                     form_url="/organiser/organisations/")
    assert resp.status_code == 302
    db.session.refresh(org)
    assert org.status == "approved"


def test_approve_without_csrf_changes_nothing(as_organiser, db):
    org = make_org(status="pending")
    resp = as_organiser.post(f"/organiser/organisations/{org.id}/approve")
    assert resp.status_code == 400
    db.session.refresh(org)
    assert org.status == "pending"


def test_merge_moves_agenda_items_and_removes_the_duplicate(as_organiser, db):
    keep = make_org("Shireford Fire and Rescue Service", sector="fire_rescue")
    dup = make_org("Shireford Fire & Rescue", sector="fire_rescue", status="pending")
    assembly = make_assembly()
    item = make_agenda_item(assembly, title="Fire safety in the home")
    item.organisation = dup
    db.session.commit()
    dup_id = dup.id

    page = body(as_organiser.get(f"/organiser/organisations/{dup_id}/merge"))
    assert "Merge &ldquo;<bdi>Shireford Fire &amp; Rescue</bdi>&rdquo; into another organisation" in page
    assert "Shireford Fire and Rescue Service (Fire and rescue)" in page
    resp = post_form(as_organiser, f"/organiser/organisations/{dup_id}/merge", {"target_id": keep.id})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Organisation, dup_id) is None
    assert db.session.get(AgendaItem, item.id).organisation_id == keep.id
    listing = body(as_organiser.get("/organiser/organisations/"))
    assert "was merged into “Shireford Fire and Rescue Service”" in listing


def test_merging_two_organisations_that_both_have_a_partner_contact_keeps_the_kept_ones(as_organiser, db):
    from eventapp.outcomes.models import PartnerContact

    keep = make_org("Shireford Fire and Rescue Service", sector="fire_rescue")
    dup = make_org("Shireford Fire & Rescue", sector="fire_rescue")
    lone = make_org("Shireford Fire Service", sector="fire_rescue")
    db.session.add_all([PartnerContact(organisation_id=keep.id, contact_name="Kept", contact_email="k@example.org"),
                        PartnerContact(organisation_id=dup.id, contact_name="Dup", contact_email="d@example.org")])
    db.session.commit()
    resp = post_form(as_organiser, f"/organiser/organisations/{dup.id}/merge", {"target_id": keep.id})
    assert resp.status_code == 302
    db.session.expire_all()
    assert [(c.organisation_id, c.contact_name) for c in db.session.scalars(select(PartnerContact))] == [
        (keep.id, "Kept")]
    # Into an organisation without a contact, the contact moves with the merge.
    resp = post_form(as_organiser, f"/organiser/organisations/{keep.id}/merge", {"target_id": lone.id})
    assert resp.status_code == 302
    db.session.expire_all()
    assert [(c.organisation_id, c.contact_name) for c in db.session.scalars(select(PartnerContact))] == [
        (lone.id, "Kept")]


def test_merging_an_approved_duplicate_into_a_pending_one_approves_it(as_organiser, db):
    keep = make_org("Northvale Community Housing", sector="housing", status="pending")
    dup = make_org("Northvale Comm. Housing", sector="housing", status="approved")
    assert post_form(as_organiser, f"/organiser/organisations/{dup.id}/merge", {"target_id": keep.id}).status_code == 302
    db.session.refresh(keep)
    assert keep.status == "approved"


def test_merge_refuses_itself_and_unknown_targets(as_organiser, db):
    org = make_org()
    resp = post_form(as_organiser, f"/organiser/organisations/{org.id}/merge", {"target_id": org.id})
    assert resp.status_code == 400
    resp = post_form(as_organiser, f"/organiser/organisations/{org.id}/merge", {"target_id": 999999})
    assert resp.status_code == 400
    assert db.session.get(Organisation, org.id) is not None


def test_merge_needs_the_organisation_to_keep_chosen_and_says_what_moves_for_good(as_organiser, db):
    from tests.notes.helpers import make_registration

    make_org("Aardvark Trust", sector="voluntary_community")  # first in the list
    keep = make_org("Shireford Constabulary", sector="police")
    dup = make_org("Shireford Constabluary", sector="police", status="pending")
    assembly = make_assembly()
    make_registration(assembly, dup, "Aisha Khan")
    make_registration(assembly, dup, "Ben Jones")
    make_agenda_item(assembly, title="Policing update").organisation = dup
    db.session.commit()
    url = f"/organiser/organisations/{dup.id}/merge"
    page = body(as_organiser.get(url))
    # Nothing chosen until the organiser chooses: a click straight on the button must not merge into Aardvark Trust.
    assert '<option selected value="0">Choose the organisation to keep</option>' in page
    assert "selected value=\"" + str(keep.id) not in page
    assert "Moving with it: 2 registrations, 1 agenda item. A merge cannot be undone." in " ".join(page.split())
    resp = post_form(as_organiser, url, {"target_id": "0"})
    assert resp.status_code == 400 and "Choose the organisation to keep." in body(resp)
    db.session.expire_all()
    assert db.session.get(Organisation, dup.id) is not None
    assert post_form(as_organiser, url, {"target_id": keep.id}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Organisation, dup.id) is None
    lone = make_org("Northvale Food Bank", sector="voluntary_community")
    assert "Nothing is recorded against it yet. A merge cannot be undone." in " ".join(
        body(as_organiser.get(f"/organiser/organisations/{lone.id}/merge")).split())


def test_a_second_click_on_merge_says_it_was_merged_already_on_the_list_it_came_from(as_organiser, db):
    keep = make_org("Shireford Constabulary", sector="police")
    dup = make_org("Shireford Constabluary", sector="police", status="pending")
    url = f"/organiser/organisations/{dup.id}/merge?sector=police"
    token = csrf_from(body(as_organiser.get(url)))
    first = as_organiser.post(url, data={"csrf_token": token, "target_id": keep.id})
    assert first.status_code == 302
    second = as_organiser.post(url, data={"csrf_token": token, "target_id": keep.id})
    assert second.status_code == 302 and second.headers["Location"] == "/organiser/organisations/?sector=police"
    page = body(as_organiser.get(second.headers["Location"]))
    assert "That organisation was merged already." in page and "Page not found" not in page
    assert db.session.scalar(select(func.count(Organisation.id))) == 1


def test_merge_page_for_unknown_organisation_is_404(as_organiser):
    assert as_organiser.get("/organiser/organisations/999999/merge").status_code == 404
    assert as_organiser.get("/organiser/organisations/999999/edit").status_code == 404
    assert post_form(as_organiser, "/organiser/organisations/999999/approve", {},
                     form_url="/organiser/organisations/").status_code == 404


def test_list_paginates_30_organisations_into_2_pages(as_organiser):
    for i in range(30):
        make_org(f"Partner {i:02d}", sector="health" if i < 4 else "police", status="pending" if i % 10 == 0 else "approved")
    first = body(as_organiser.get("/organiser/organisations/"))
    assert "Page 1 of 2 (30 in all)" in first
    assert "Partner 00" in first and "Partner 24" in first and "Partner 25" not in first
    second = body(as_organiser.get("/organiser/organisations/?page=2"))
    assert "Partner 25" in second and "Partner 29" in second and "Partner 24" not in second
    assert 'rel="prev"' in second


def test_list_filters_by_name_sector_and_status(as_organiser):
    make_org("Shireford Public Health", sector="health")
    make_org("Shireford Constabulary", sector="police")
    make_org("Eastbrook Clinic", sector="health", status="pending")
    by_name = body(as_organiser.get("/organiser/organisations/?q=  SHIREFORD  "))
    assert "Shireford Public Health" in by_name and "Shireford Constabulary" in by_name
    assert "Eastbrook Clinic" not in by_name
    health = body(as_organiser.get("/organiser/organisations/?sector=health"))
    assert "Shireford Public Health" in health and "Eastbrook Clinic" in health and "Constabulary" not in health
    assert '<option value="health" selected>' in health
    pending_health = body(as_organiser.get("/organiser/organisations/?sector=health&status=pending"))
    assert "Eastbrook Clinic" in pending_health and "Public Health" not in pending_health
    # The page links keep the filters.
    none = body(as_organiser.get("/organiser/organisations/?q=nothing"))
    assert "No organisations match." in none


def test_a_right_to_left_name_is_isolated_so_it_does_not_reorder_the_text_around_it(as_organiser):
    # An Arabic name ending in digits: without <bdi> the row's and the heading's neighbouring text flows into it.
    org = make_org("\u0645\u0624\u0633\u0633\u0629 \u0627\u0644\u0623\u0645\u0644 <b>2</b>", status="pending")
    name = "\u0645\u0624\u0633\u0633\u0629 \u0627\u0644\u0623\u0645\u0644 &lt;b&gt;2&lt;/b&gt;"
    listing = body(as_organiser.get("/organiser/organisations/"))
    assert f'<tr id="organisation-{org.id}"><td><bdi>{name}</bdi></td>' in listing
    assert "<b>2</b>" not in listing
    edit = body(as_organiser.get(f"/organiser/organisations/{org.id}/edit"))
    assert f"<h1>Edit &ldquo;<bdi>{name}</bdi>&rdquo;</h1>" in edit
    merge = body(as_organiser.get(f"/organiser/organisations/{org.id}/merge"))
    assert f"<h1>Merge &ldquo;<bdi>{name}</bdi>&rdquo; into another organisation</h1>" in merge
    assert f"Merge and remove &ldquo;<bdi>{name}</bdi>&rdquo;</button>" in merge


def test_empty_list_invites_the_first_organisation(as_organiser):
    assert "No organisations yet." in body(as_organiser.get("/organiser/organisations/"))


def test_pagination_links_keep_the_filters(as_organiser):
    for i in range(27):
        make_org(f"Health Partner {i:02d}", sector="health")
    make_org("Police Partner", sector="police")
    first = body(as_organiser.get("/organiser/organisations/?sector=health"))
    assert "Page 1 of 2 (27 in all)" in first
    assert "sector=health" in first.split('rel="next"')[0].rsplit("<a", 1)[1]


def test_edit_and_merge_come_back_to_the_filtered_page_they_started_from(as_organiser, db):
    # 300 partners: tidying the pending health ones should not mean filtering again after each.
    for i in range(26):
        make_org(f"Health Partner {i:02d}", sector="health", status="pending")
    keep = make_org("Health Partner Kept", sector="health")
    listing = body(as_organiser.get("/organiser/organisations/?sector=health&status=pending&page=2"))
    dup = db.session.scalar(select(Organisation).where(Organisation.name == "Health Partner 25"))
    edit = f"/organiser/organisations/{dup.id}/edit?sector=health&amp;status=pending&amp;page=2"
    merge = f"/organiser/organisations/{dup.id}/merge?sector=health&amp;status=pending&amp;page=2"
    assert edit in listing and merge in listing
    form_page = body(as_organiser.get(edit.replace("&amp;", "&")))
    assert 'href="/organiser/organisations/?sector=health&amp;status=pending&amp;page=2">Cancel' in form_page
    resp = post_form(as_organiser, edit.replace("&amp;", "&"), {"name": "Health Partner 25 (renamed)", "sector": "health",
                                                               "status": "pending"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/organiser/organisations/?sector=health&status=pending&page=2#organisation-{dup.id}"
    # Merging away the last one on page 2 lands on the page that is now last, filters kept.
    resp = post_form(as_organiser, merge.replace("&amp;", "&"), {"target_id": keep.id})
    assert resp.headers["Location"] == "/organiser/organisations/?sector=health&status=pending&page=2"
    resp = as_organiser.get(resp.headers["Location"])
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/organiser/organisations/?sector=health&status=pending&page=1"
    page = body(as_organiser.get(resp.headers["Location"]))
    assert "was merged into “Health Partner Kept”" in page and "Health Partner 24" in page and "<td>Health Partner 25" not in page


def test_approving_on_page_2_of_a_filtered_list_comes_back_to_that_row_with_the_filters(as_organiser, db):
    for i in range(27):
        make_org(f"Health Partner {i:02d}", sector="health", status="pending" if i == 26 else "approved")
    make_org("Police Partner", sector="police", status="pending")
    pending = db.session.scalar(select(Organisation).where(Organisation.name == "Health Partner 26"))
    listing = body(as_organiser.get("/organiser/organisations/?sector=health&page=2"))
    action = f"/organiser/organisations/{pending.id}/approve?sector=health&amp;page=2"
    assert f'<tr id="organisation-{pending.id}">' in listing and f'action="{action}"' in listing
    # No Referer: the browser, or its privacy settings, may send none.
    resp = post_form(as_organiser, action.replace("&amp;", "&"), {}, form_url="/organiser/organisations/?sector=health&page=2")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/organiser/organisations/?sector=health&page=2#organisation-{pending.id}"
    page = body(as_organiser.get(resp.headers["Location"]))
    assert "Page 2 of 2 (27 in all)" in page and "“Health Partner 26” approved." in page
    assert f'<tr id="organisation-{pending.id}"><td><bdi>Health Partner 26</bdi></td><td data-label="Sector">Health</td><td data-label="Status">Approved</td>' in page


def test_a_renamed_organisation_is_shown_on_the_page_it_moves_to_and_one_filtered_out_is_explained(as_organiser, db):
    for i in range(27):
        make_org(f"Health Partner {i:02d}", sector="health", status="pending")
    last = db.session.scalar(select(Organisation).where(Organisation.name == "Health Partner 26"))
    edit = f"/organiser/organisations/{last.id}/edit?status=pending&page=2"
    resp = post_form(as_organiser, edit, {"name": "Aardvark Health Partner", "sector": "health", "status": "pending"})
    # Renamed to the top of the list: page 1, at its row.
    assert resp.headers["Location"] == f"/organiser/organisations/?status=pending#organisation-{last.id}"
    assert f'<tr id="organisation-{last.id}"><td><bdi>Aardvark Health Partner</bdi></td>' in body(as_organiser.get(resp.headers["Location"]))
    # Approved from a list of pending ones: the same page and filters, saying why it is not there.
    resp = post_form(as_organiser, edit, {"name": "Aardvark Health Partner", "sector": "health", "status": "approved"})
    assert resp.headers["Location"] == "/organiser/organisations/?status=pending&page=2"
    page = body(as_organiser.get(resp.headers["Location"]))
    assert "“Aardvark Health Partner” does not match the filters, so it is not in the list below." in page


@pytest.mark.parametrize("hostile", ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_no_value_sent_with_a_save_can_lead_off_the_site(as_organiser, db, hostile):
    org = make_org("Shireford Partner", sector="health", status="pending")
    for action, data in ((f"{org.id}/edit", {"name": "Shireford Partner", "sector": "health", "status": "pending"}),
                         (f"{org.id}/approve", {})):
        url = f"/organiser/organisations/{action}?" + urlencode({"next": hostile, "page": hostile, "q": hostile})
        resp = post_form(as_organiser, url, data, form_url="/organiser/organisations/")
        location = resp.headers["Location"]
        assert location.startswith("/organiser/organisations/?") and "evil.example/" not in location.split("?")[0]
        assert "next=" not in location and urlsplit(location).netloc == ""


def test_a_merge_that_takes_an_organisation_past_an_assemblys_limit_says_so(app, as_organiser, db):
    from eventapp.registration import services as registration

    keep = make_org("Shireford County Council", sector="county_council")
    # Typed by a delegate whose council had its two places already: a new name, so a place.
    dup = make_org("Shireford CC", sector="county_council", status="pending")
    assembly = make_assembly(title="Shireford Assembly 2027", capacity=20, org_limit=2)
    quiet = make_assembly(title="Assembly without a limit", capacity=20)
    with app.test_request_context("/"):
        for n, org in enumerate((keep, keep, dup)):
            for a in (assembly, quiet):
                registration.register(a, {"full_name": f"Delegate {n}", "email": f"d{n}@example.org",
                                          "job_title": "Officer", "organisation_id": org.id, "topic_ids": [],
                                          "access_needs": "", "dietary_needs": "", "consent": True})
    resp = post_form(as_organiser, f"/organiser/organisations/{dup.id}/merge", {"target_id": keep.id},
                     follow_redirects=True)
    page = body(resp)
    assert ("“Shireford County Council” now has 3 confirmed delegates for Shireford Assembly 2027, more than the 2 "
            "each organisation may send: move one to the waiting list from its registrations if need be.") in page
    assert "Assembly without a limit" not in page


def test_add_an_organisation_clicked_twice_says_it_was_saved_and_shows_it(app, as_organiser, db, organiser):
    page = as_organiser.get("/organiser/organisations/new?sector=health").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    data = {"csrf_token": csrf_from(page), "name": "Mind in Shireford", "sector": "mental_health",
            "status": "approved"}
    first = as_organiser.post("/organiser/organisations/new?sector=health", data=data)
    second = as_organiser.post("/organiser/organisations/new?sector=health", data={**data, "name": "mind  in shireford"})
    assert second.status_code == 302
    listing = body(as_organiser.get(second.headers["Location"]))
    assert "“Mind in Shireford” saved (by your first click; the second added nothing)." in listing
    assert "already exists" not in listing
    assert db.session.query(Organisation).count() == 1
    assert first.status_code == 302
    # Another browser adding the same name is told it exists.
    from tests.conftest import Auth

    other = app.test_client()
    Auth(other).login(organiser.email)
    again = post_form(other, "/organiser/organisations/new", {k: v for k, v in data.items() if k != "csrf_token"})
    assert again.status_code == 400 and "An organisation with that name already exists." in body(again)


def test_a_merge_into_an_organisation_merged_away_meanwhile_says_what_happened(as_organiser, db):
    keep = make_org("Shireford Constabulary", sector="police")
    middle = make_org("Shireford Police", sector="police")
    dup = make_org("Shireford Constabluary", sector="police", status="pending")
    url = f"/organiser/organisations/{dup.id}/merge?sector=police"
    token = csrf_from(body(as_organiser.get(url)))
    # Meanwhile, in another tab, the organisation chosen below is merged into another.
    post_form(as_organiser, f"/organiser/organisations/{middle.id}/merge", {"target_id": keep.id})
    resp = as_organiser.post(url, data={"csrf_token": token, "target_id": middle.id})
    assert resp.status_code == 400
    page = body(resp)
    assert ("The organisation you chose is no longer in the list: it was merged into another one meanwhile. "
            "Choose the organisation to keep again.") in page
    assert "Choose the organisation to keep from the list." not in page  # the form's own words for a value not offered
    assert db.session.get(Organisation, dup.id) is not None


def test_a_merge_into_the_organisation_itself_says_why_it_cannot_be(as_organiser, db):
    dup = make_org("Shireford Constabluary", sector="police", status="pending")
    make_org("Shireford Constabulary", sector="police")
    url = f"/organiser/organisations/{dup.id}/merge"
    page = body(as_organiser.get(url))
    assert f'<option value="{dup.id}"' not in page and "Shireford Constabulary (" in page  # not offered
    resp = as_organiser.post(url, data={"csrf_token": csrf_from(page), "target_id": dup.id})
    assert resp.status_code == 400
    page = body(resp)
    assert "Choose another organisation to keep: an organisation cannot be merged into itself." in page
    assert "Choose the organisation to keep from the list." not in page  # the form's own words for a value not offered
    assert db.session.get(Organisation, dup.id) is not None
