"""Documents: what an upload must be, what is kept, and what is refused with a reason."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from eventapp.documents import services
from eventapp.documents.models import Document
from eventapp.domain import DomainError
from eventapp.extensions import db as _db
from tests.factories import PDF_BYTES, make_assembly, make_document

HOSTILE = "<script>alert(1)</script>\r\nBcc: x@evil.test \u202etxt.exe \U0001F600 ' OR 1=1; --"


def zipped(*members: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in members:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


def count(assembly) -> int:
    return _db.session.scalar(select(func.count(Document.id)).where(Document.assembly_id == assembly.id))


def test_a_pdf_is_kept_with_its_size_kind_and_a_title_from_its_name(db):
    assembly = make_assembly()
    doc = services.add_document(assembly.id, filename="Agenda 2027.pdf", data=PDF_BYTES, title="  ")
    assert (doc.title, doc.filename, doc.kind, doc.size, doc.visibility) == (
        "Agenda 2027", "Agenda 2027.pdf", "pdf", len(PDF_BYTES), "public")
    assert services.describe(doc) == f"PDF, {len(PDF_BYTES)} bytes"
    assert services.human_size(245_000) == "239 KB" and services.human_size(3_500_000) == "3.3 MB"
    _db.session.expire_all()
    assert services.get_document(assembly.id, doc.id, with_data=True).data == PDF_BYTES


def test_office_files_must_really_be_office_files(db):
    assembly = make_assembly()
    docx = services.add_document(assembly.id, filename="agreement.docx",
                                 data=zipped("[Content_Types].xml", "word/document.xml"))
    assert services.describe(docx).startswith("Word, ")
    # Any zip renamed .docx (or .pptx) is not a document.
    with pytest.raises(DomainError, match="does not look like a Word file") as err:
        services.add_document(assembly.id, filename="slides.docx", data=zipped("payload.js"))
    assert err.value.field == "file"
    with pytest.raises(DomainError, match="does not look like a PowerPoint file"):
        services.add_document(assembly.id, filename="slides.pptx", data=b"not a zip at all")
    assert count(assembly) == 1


@pytest.mark.parametrize("filename, data", [
    ("report.pdf", b"MZ\x90\x00 a Windows program renamed"),
    ("map.png", PDF_BYTES),
    ("photo.jpg", b"<svg onload=alert(1)>"),
])
def test_a_file_whose_bytes_are_not_its_kind_is_refused(db, filename, data):
    assembly = make_assembly()
    with pytest.raises(DomainError, match="does not look like a"):
        services.add_document(assembly.id, filename=filename, data=data)
    assert count(assembly) == 0


@pytest.mark.parametrize("filename", ["page.html", "drawing.svg", "setup.exe", "notes", "agenda.pdf.js"])
def test_kinds_that_could_run_code_are_refused(db, filename):
    assembly = make_assembly()
    with pytest.raises(DomainError, match="Upload a PDF, Word, Excel, PowerPoint, OpenDocument, PNG or JPEG file"):
        services.add_document(assembly.id, filename=filename, data=PDF_BYTES)


def test_no_file_an_empty_file_and_a_too_large_file_each_say_so(db):
    assembly = make_assembly()
    with pytest.raises(DomainError, match="Choose a file"):
        services.add_document(assembly.id, filename="", data=b"")
    with pytest.raises(DomainError, match="That file is empty"):
        services.add_document(assembly.id, filename="agenda.pdf", data=b"")
    with pytest.raises(DomainError, match=r"That file is 2 KB: the most is 1000 bytes"):
        services.add_document(assembly.id, filename="agenda.pdf", data=PDF_BYTES + b"x" * 2000, max_bytes=1000)
    assert count(assembly) == 0


def test_the_same_file_twice_is_refused_naming_the_first(db):
    assembly = make_assembly()
    make_document(assembly, "Slides: county council", data=PDF_BYTES)
    with pytest.raises(DomainError, match="already attached, as \u201cSlides: county council\u201d"):
        services.add_document(assembly.id, filename="copy.pdf", data=PDF_BYTES, title="Again")
    assert count(assembly) == 1
    # Another assembly may have the same file.
    other = make_assembly()
    assert services.add_document(other.id, filename="copy.pdf", data=PDF_BYTES).assembly_id == other.id


def test_hostile_titles_and_names_are_kept_as_typed_and_the_download_name_is_safe(db):
    assembly = make_assembly()
    name = "<img src=x onerror=alert(1)>\r\nBcc: x@evil.test \u202etxt.exe \U0001F600 ' OR 1=1; --.pdf"
    doc = services.add_document(assembly.id, filename="C:\\Users\\pa\\" + name, data=PDF_BYTES, title=HOSTILE)
    _db.session.expire_all()
    doc = _db.session.get(Document, doc.id)
    assert doc.title == HOSTILE.strip()
    # Only the name, not the folders the browser sent it from.
    assert doc.filename == name
    name = services.download_name(doc)
    assert "\r" not in name and "\n" not in name and "\\" not in name and "/" not in name
    assert name.endswith(".pdf") and "Bcc: x@evil.test" in name


def test_a_title_that_is_too_long_is_refused_and_a_long_file_name_makes_a_short_title(db):
    assembly = make_assembly()
    with pytest.raises(DomainError, match="at most 200 characters") as err:
        services.add_document(assembly.id, filename="a.pdf", data=PDF_BYTES, title="x" * 201)
    assert err.value.field == "title"
    doc = services.add_document(assembly.id, filename="y" * 250 + ".pdf", data=PDF_BYTES)
    assert doc.title == "y" * 200


def test_an_assembly_holds_a_limited_number_of_documents(db, monkeypatch):
    monkeypatch.setattr(services, "MAX_PER_ASSEMBLY", 2)
    assembly = make_assembly()
    make_document(assembly, "One")
    make_document(assembly, "Two")
    with pytest.raises(DomainError, match="at most 2 documents: delete one first"):
        make_document(assembly, "Three")


def test_retitle_change_visibility_and_delete(db):
    assembly = make_assembly()
    doc = make_document(assembly, "Agenda")
    with pytest.raises(DomainError, match="Enter a title"):
        services.update_document(doc, title=" ", visibility="public")
    with pytest.raises(DomainError, match="Choose who can see"):
        services.update_document(doc, title="Agenda", visibility="everyone")
    services.update_document(doc, title="Final agenda", visibility="delegates")
    assert [d.title for d in services.list_documents(assembly.id, visibility="delegates")] == ["Final agenda"]
    assert services.list_documents(assembly.id, visibility="public") == []
    services.delete_document(doc)
    assert count(assembly) == 0


def test_listing_does_not_read_the_files(db):
    assembly = make_assembly()
    make_document(assembly, "Big", data=PDF_BYTES + b"x" * 500_000)
    _db.session.expire_all()
    (doc,) = services.list_documents(assembly.id)
    assert "data" not in doc.__dict__  # deferred: a page listing documents never loads their bytes
