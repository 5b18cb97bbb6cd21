"""Documents through the browser's eyes: the organiser's page, the public pages, the delegate's page, downloads."""
from __future__ import annotations

import io

import pytest

from werkzeug.test import EnvironBuilder

from eventapp.documents import services
from eventapp.registration import services as registration
from tests.conftest import csrf_from
from tests.factories import PDF_BYTES, make_assembly, make_document, make_org
from tests.documents.test_services import HOSTILE, count
from tests.page_messages import message_boxes, where_shown
from tests.page_messages import WITHOUT_ISOLATES


def upload(client, assembly, data: bytes = PDF_BYTES, filename: str = "agenda.pdf", **fields):
    page = client.get(f"/organiser/assemblies/{assembly.slug}/documents")
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "title": "", "visibility": "public", **fields,
            "file": (io.BytesIO(data), filename)}
    return post_built(client, f"/organiser/assemblies/{assembly.slug}/documents", form)


def post_built(client, path: str, form: dict, *, chunked: bool = False):
    # Built here rather than by client.post, which leaves the body of a large upload (a temporary file) open.
    builder = EnvironBuilder(path=path, method="POST", data=form)
    environ = builder.get_environ()
    if chunked:
        # Sent in chunks (Transfer-Encoding: chunked): the size is known only once it has been read.
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


def registered(assembly):
    """A confirmed delegate of ``assembly``, registered as the public form does."""
    org = make_org()
    return registration.register(assembly, {"full_name": "Dee Delegate", "email": "dee@example.org",
                                            "job_title": "Officer", "organisation_id": org.id, "consent": True,
                                            "join_waiting_list": True, "topic_ids": []}).registration


def test_an_organiser_adds_a_document_and_everyone_can_download_it(client, as_organiser):
    assembly = make_assembly()
    response = upload(client, assembly, title="Agenda for the day")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "\u201cAgenda for the day\u201d was added (PDF, " in page
    assert "agenda.pdf" in page
    (doc,) = services.list_documents(assembly.id)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/organiser/").get_data(as_text=True).translate(WITHOUT_ISOLATES))})

    for url in (f"/a/{assembly.slug}", f"/a/{assembly.slug}/updates"):
        html = client.get(url).get_data(as_text=True).translate(WITHOUT_ISOLATES)
        assert f'href="/a/{assembly.slug}/documents/{doc.id}" download>' in html, url
        assert "Agenda for the day</bdi></a> <span class=\"meta\">(PDF, " in html, url
    download = client.get(f"/a/{assembly.slug}/documents/{doc.id}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"] == "attachment; filename=agenda.pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    # A browser that has it already is told so, without the file again.
    again = client.get(f"/a/{assembly.slug}/documents/{doc.id}", headers={"If-None-Match": download.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_file_larger_than_any_form_can_be_uploaded_but_not_sent_to_other_forms(app, client, as_organiser):
    assembly = make_assembly()
    big = PDF_BYTES + b"x" * (3 * 1024 * 1024)  # over the 2 MB every other form is limited to
    assert upload(client, assembly, data=big, filename="slides.pdf").status_code == 302
    (doc,) = services.list_documents(assembly.id)
    assert doc.size == len(big)
    assert client.get(f"/organiser/assemblies/{assembly.slug}/documents/{doc.id}/file").data == big
    refused = client.post(f"/organiser/assemblies/{assembly.slug}/agenda/new", data={"title": "x" * len(big)})
    assert refused.status_code == 413


def test_a_refused_upload_keeps_what_was_typed_and_says_why(client, as_organiser):
    assembly = make_assembly()
    response = upload(client, assembly, data=b"MZ\x90 program", filename="agenda.pdf", title=HOSTILE,
                      visibility="delegates")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "There is a problem" in html and "does not look like a PDF file" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    (delegates,) = [tag for tag in html.split("<input") if 'value="delegates"' in tag]
    assert "checked" in delegates
    assert count(assembly) == 0


def _field_error(html: str, name: str) -> str:
    """The error message shown with field ``name`` (the text between its label and its input)."""
    return html.split(f'for="{name}"')[1].split(f'id="{name}"')[0]


def test_an_upload_over_the_limit_comes_back_to_the_page_saying_the_limit(app, client, as_organiser, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1000)
    assembly = make_assembly()
    make_document(assembly, "Agenda already there")
    # Over the request's limit: answered from its size alone, before anything is read.
    response = upload(client, assembly, data=PDF_BYTES + b"x" * 400_000, title="Slides from the police force")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and "Agenda already there" in html
    assert ("That file is too large: the most is 1000 bytes. Save a smaller copy (for slides, export them as PDF) "
            "and upload it again.") in _field_error(html, "file")
    # The title was never read: the page says so rather than pretending to keep it.
    assert "Slides from the police force" not in html
    assert "If you had typed a title or changed who can see the document, enter them again" in html
    assert f'action="/organiser/assemblies/{assembly.slug}/documents"' in html and 'name="csrf_token"' in html
    # Over the document limit but within the request's: the form's own error, the title kept.
    response = upload(client, assembly, data=PDF_BYTES + b"x" * 5000, title="Slides")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "That file is 5 KB: the most is 1000 bytes" in html and 'value="Slides"' in html
    assert "enter them again" not in html
    assert count(assembly) == 1


def test_an_upload_sent_without_its_length_is_stopped_at_the_limit_with_the_same_page(app, client, as_organiser,
                                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", 1000)
    assembly = make_assembly()
    page = client.get(f"/organiser/assemblies/{assembly.slug}/documents")
    response = post_built(client, f"/organiser/assemblies/{assembly.slug}/documents", {
        "csrf_token": csrf_from(page.get_data(as_text=True)), "title": "Chunked", "visibility": "public",
        "file": (io.BytesIO(PDF_BYTES + b"x" * 400_000), "big.pdf")}, chunked=True)
    assert response.status_code == 413
    assert "That file is too large: the most is 1000 bytes." in _field_error(response.get_data(as_text=True), "file")
    assert count(assembly) == 0


def test_an_oversized_upload_shows_nothing_of_the_page_to_anyone_but_an_organiser(client, auth, facilitator):
    assembly = make_assembly()
    make_document(assembly, "Organisers only draft", visibility="delegates")
    auth.login(facilitator.email)
    token = csrf_from(client.get("/facilitator/").get_data(as_text=True))
    response = post_built(client, f"/organiser/assemblies/{assembly.slug}/documents",
                          {"csrf_token": token, "file": (io.BytesIO(b"x" * (11 * 1024 * 1024)), "big.pdf")})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "That was too large to send" in html and "Organisers only draft" not in html


def test_hostile_titles_are_escaped_on_every_page_that_lists_documents(client, as_organiser, email_request_context):
    assembly = make_assembly()
    reg = registered(assembly)
    make_document(assembly, HOSTILE)
    make_document(assembly, HOSTILE + " (delegates)", visibility="delegates")
    token = registration.make_manage_token(reg)
    for url in (f"/organiser/assemblies/{assembly.slug}/documents", f"/a/{assembly.slug}", f"/a/{assembly.slug}/updates",
                f"/manage/{token}"):
        html = client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "<script>alert(1)" not in html, url


def test_delegates_only_documents_are_on_their_personal_page_only(client, db, email_request_context):
    assembly = make_assembly()
    reg = registered(assembly)
    public = make_document(assembly, "Agenda")
    private = make_document(assembly, "Joining instructions", visibility="delegates")
    token = registration.make_manage_token(reg)

    assert "Joining instructions" not in client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    assert "Joining instructions" not in client.get(f"/a/{assembly.slug}/updates").get_data(as_text=True)
    assert client.get(f"/a/{assembly.slug}/documents/{private.id}").status_code == 404

    html = client.get(f"/manage/{token}").get_data(as_text=True)
    assert f'href="/manage/{token}/documents/{private.id}" download>' in html
    assert f'href="/a/{assembly.slug}/documents/{public.id}" download>' in html
    download = client.get(f"/manage/{token}/documents/{private.id}")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "private, no-cache"
    assert client.get(f"/manage/{token[:-4]}AAAA/documents/{private.id}").status_code == 404

    # Another assembly's document is not reached through this delegate's link.
    other = make_document(make_assembly(), "Elsewhere", visibility="delegates")
    assert client.get(f"/manage/{token}/documents/{other.id}").status_code == 404

    registration.cancel_registration(reg)
    token = registration.make_manage_token(reg)
    html = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "Joining instructions" not in html and "Agenda" in html
    assert client.get(f"/manage/{token}/documents/{private.id}").status_code == 404


def test_a_draft_assemblys_documents_are_not_public(client, db):
    assembly = make_assembly(status="draft")
    doc = make_document(assembly, "Agenda")
    assert client.get(f"/a/{assembly.slug}/documents/{doc.id}").status_code == 404


def test_the_cached_public_page_shows_a_document_as_soon_as_it_is_added_and_drops_it_when_deleted(client, db):
    assembly = make_assembly()
    assert "Documents" not in client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    doc = make_document(assembly, "Venue map")
    assert "Venue map" in client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    services.update_document(doc, title="Venue map", visibility="delegates")
    assert "Venue map" not in client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    services.update_document(doc, title="Directions", visibility="public")
    assert "Directions" in client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    services.delete_document(doc)
    assert "Directions" not in client.get(f"/a/{assembly.slug}").get_data(as_text=True)


def test_edit_and_delete_through_their_pages(client, as_organiser):
    assembly = make_assembly()
    doc = make_document(assembly, "Agenda")
    base = f"/organiser/assemblies/{assembly.slug}/documents"
    page = client.get(f"{base}/{doc.id}/edit").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    refused = client.post(f"{base}/{doc.id}/edit", data={"csrf_token": csrf_from(page), "title": "",
                                                         "visibility": "delegates"})
    assert refused.status_code == 400 and "Enter a title" in refused.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    saved = client.post(f"{base}/{doc.id}/edit", data={"csrf_token": csrf_from(page), "title": "Final agenda",
                                                       "visibility": "delegates"}, follow_redirects=True)
    assert "\u201cFinal agenda\u201d was saved." in saved.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Registered delegates" in saved.get_data(as_text=True).translate(WITHOUT_ISOLATES)

    confirm = client.get(f"{base}/{doc.id}/delete").get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "Delete the document \u201cFinal agenda\u201d?" in confirm
    assert "delegates\u2019 personal pages" in confirm
    deleted = client.post(f"{base}/{doc.id}/delete", data={"csrf_token": csrf_from(confirm)}, follow_redirects=True)
    assert "\u201cFinal agenda\u201d was deleted." in deleted.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "No documents yet" in deleted.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert client.get(f"{base}/{doc.id}/file").status_code == 404


def test_another_assemblys_document_is_not_reached_through_this_assemblys_address(client, as_organiser):
    assembly, other = make_assembly(), make_assembly()
    doc = make_document(other, "Theirs")
    for url in (f"/a/{assembly.slug}/documents/{doc.id}",
                f"/organiser/assemblies/{assembly.slug}/documents/{doc.id}/file",
                f"/organiser/assemblies/{assembly.slug}/documents/{doc.id}/edit",
                f"/organiser/assemblies/{assembly.slug}/documents/{doc.id}/delete"):
        assert client.get(url).status_code == 404, url


def test_the_organiser_puts_the_documents_in_order_and_every_list_follows_it(client, as_organiser):
    assembly = make_assembly()
    slides, agenda, venue = (make_document(assembly, t) for t in ("Slides", "Agenda", "Venue map"))
    base = f"/organiser/assemblies/{assembly.slug}/documents"
    token = csrf_from(client.get(base).get_data(as_text=True))
    response = client.post(f"{base}/{agenda.id}/move", data={"csrf_token": token, "direction": "up"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{base}#document-{agenda.id}")
    client.post(f"{base}/{slides.id}/move", data={"csrf_token": token, "direction": "down"})
    assert [d.title for d in services.list_documents(assembly.id)] == ["Agenda", "Venue map", "Slides"]
    # At the top already: nothing moves, nothing breaks.
    client.post(f"{base}/{agenda.id}/move", data={"csrf_token": token, "direction": "up"})
    public = client.get(f"/a/{assembly.slug}").get_data(as_text=True)
    assert public.index("Agenda</bdi>") < public.index("Venue map</bdi>") < public.index("Slides</bdi>")
    organiser = client.get(base).get_data(as_text=True)
    first = organiser.split(f'id="document-{agenda.id}"')[1].split("</tr>")[0]
    last = organiser.split(f'id="document-{slides.id}"')[1].split("</tr>")[0]
    assert "Move up" not in first and "Move down" in first and "Move down" not in last
    refused = client.post(f"{base}/{agenda.id}/move", data={"csrf_token": token, "direction": "sideways"},
                          follow_redirects=True)
    assert "Choose up or down." in refused.get_data(as_text=True)


def test_a_refused_move_is_said_in_the_documents_row(client, as_organiser):
    assembly = make_assembly()
    agenda, _slides = make_document(assembly, "Agenda <i>v2</i>"), make_document(assembly, "Slides")
    base = f"/organiser/assemblies/{assembly.slug}/documents"
    token = csrf_from(client.get(base).get_data(as_text=True))
    response = client.post(f"{base}/{agenda.id}/move", data={"csrf_token": token, "direction": "sideways"})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    [box] = where_shown(html, "Choose up or down.")
    assert box.beside(f"document-{agenda.id}") and not box.at_top and box.role == "alert"
    assert len(message_boxes(html)) == 1 and "Agenda &lt;i&gt;v2&lt;/i&gt;" in html


def test_an_upload_sent_twice_is_attached_once_and_says_so(client, as_organiser, monkeypatch):
    from tests.assemblies.test_add_twice import ONCE_RE

    assembly = make_assembly()
    url = f"/organiser/assemblies/{assembly.slug}/documents"
    html = client.get(url).get_data(as_text=True)
    once = ONCE_RE.search(html)
    assert once, "the upload form has no one-time submission token"
    fields = {"csrf_token": csrf_from(html), "once": once.group(1), "title": "Agenda", "visibility": "public"}
    first = post_built(client, url, {**fields, "file": (io.BytesIO(PDF_BYTES), "agenda.pdf")})
    assert first.status_code == 302
    # The second request's file is not read, let alone stored again.
    monkeypatch.setattr(services, "add_document", lambda *a, **k: pytest.fail("the second upload was added"))
    second = post_built(client, url, {**fields, "file": (io.BytesIO(PDF_BYTES), "agenda.pdf")})
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    page = client.get(second.headers["Location"]).get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert "\u201cAgenda\u201d was added (PDF, " in page
    assert "(by your first click; the second added nothing)." in page
    assert "already attached" not in page
    assert len(services.list_documents(assembly.id)) == 1


def test_the_same_file_uploaded_again_from_a_new_form_is_still_refused(client, as_organiser):
    assembly = make_assembly()
    assert upload(client, assembly, title="Agenda").status_code == 302
    again = upload(client, assembly, title="Agenda again")
    assert again.status_code == 400
    assert "This file is already attached, as \u201cAgenda\u201d." in again.get_data(as_text=True).translate(WITHOUT_ISOLATES)


def test_a_file_whose_name_is_longer_than_the_column_is_added_with_its_name_cut_before_the_extension(client,
                                                                                                    as_organiser):
    # The name was cut to the column's 255 characters from its end, taking ".pdf" off: a PDF was refused as
    # not being a PDF, Office, OpenDocument, PNG or JPEG file.
    assembly = make_assembly()
    long_name = "Minutes of the county community safety partnership " * 6 + ".pdf"
    assert len(long_name) > 255
    response = upload(client, assembly, filename=long_name)
    assert response.status_code == 302
    (doc,) = services.list_documents(assembly.id)
    assert doc.filename.endswith(".pdf") and 250 <= len(doc.filename) <= 255
    assert long_name.startswith(doc.filename[:-4])
    assert doc.kind == "pdf" and len(doc.title) <= 200
