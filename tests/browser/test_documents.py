"""An organiser adds the agenda from a phone; a visitor and a delegate find it (axe on each page)."""
from __future__ import annotations

import urllib.error
import urllib.request

from playwright.sync_api import expect

from eventapp.extensions import db
from eventapp.registration.services import make_manage_token
from tests.browser.axe import axe_check
from tests.browser.conftest import login
from tests.factories import PDF_BYTES, make_assembly, make_document, make_org
from tests.notes.helpers import make_registration


def test_an_organiser_adds_a_document_on_a_phone_and_delegates_find_theirs(live_server, phone_page, tmp_path):
    with live_server.app.app_context():
        assembly = make_assembly(title="Browser Documents Assembly")
        reg = make_registration(assembly, make_org("Browser Documents Police"), "Dana Browser")
        make_document(assembly, "Joining instructions", visibility="delegates")
        slug = assembly.slug
        with live_server.app.test_request_context():
            token = make_manage_token(reg)
        db.session.remove()
    agenda = tmp_path / "Agenda 2027.pdf"
    agenda.write_bytes(PDF_BYTES + b"% browser")
    renamed = tmp_path / "agenda.pdf"
    renamed.write_bytes(b"MZ\x90\x00 not a PDF")
    page = phone_page
    login(page, live_server)
    page.goto(live_server(f"/organiser/assemblies/{slug}"))
    page.get_by_role("link", name="Documents", exact=True).click()
    axe_check(page, "documents, one for delegates")

    # A file that is not what its name says: refused, with the title and choice kept.
    page.get_by_label("File").set_input_files(str(renamed))
    page.get_by_label("Title").fill("Agenda for the day")
    page.get_by_role("button", name="Add the document").click()
    page.wait_for_load_state()
    # autofocus moves focus at the page's next rendering, a moment after it has loaded.
    expect(page.locator(".error-summary")).to_be_focused(timeout=5000)
    assert "does not look like a PDF file" in page.locator(".error-summary").inner_text()
    assert page.get_by_label("Title").input_value() == "Agenda for the day"
    axe_check(page, "documents, a refused upload")

    page.get_by_label("File").set_input_files(str(agenda))
    page.get_by_role("button", name="Add the document").click()
    page.wait_for_load_state()
    assert "\u201cAgenda for the day\u201d was added (PDF, " in page.content()
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), "scrolls sideways at 320 px"

    page.goto(live_server(f"/a/{slug}"))
    link = page.get_by_role("link", name="Agenda for the day")
    assert link.is_visible() and page.get_by_role("link", name="Joining instructions").count() == 0
    axe_check(page, "public page with a document")
    with page.expect_download() as download:
        link.click()
    path = download.value.path()
    assert download.value.suggested_filename == "Agenda 2027.pdf"
    with open(path, "rb") as fh:
        assert fh.read() == PDF_BYTES + b"% browser"

    page.goto(live_server(f"/manage/{token}"))
    expect(page.get_by_role("link", name="Joining instructions")).to_be_visible()
    expect(page.get_by_role("link", name="Agenda for the day")).to_be_visible()
    axe_check(page, "a delegate's page with documents")
    # The delegates' document does not open without the personal link.
    with page.expect_download() as download:
        page.get_by_role("link", name="Joining instructions").click()
    assert download.value.suggested_filename == "agenda.pdf"
    href = page.get_by_role("link", name="Joining instructions").get_attribute("href")
    public_href = href.replace(f"/manage/{token}/", f"/a/{slug}/")
    try:
        urllib.request.urlopen(live_server(public_href))
        raise AssertionError("the delegates' document opened from the public address")
    except urllib.error.HTTPError as err:
        assert err.code == 404
