"""Use cases for an assembly's documents: upload, retitle, delete, list and fetch for download."""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import undefer

from .. import add_once
from ..domain import DomainError, NotFound
from ..extensions import db
from ..text import without_control
from .models import VISIBILITIES, Document

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_ASSEMBLY = 50
TITLE_MAX = 200
FILENAME_MAX = 255  # Document.filename's column


@dataclass(frozen=True)
class Kind:
    label: str
    mimetype: str
    # What a file of this kind starts with: a renamed program or page is refused.
    magic: bytes
    # For zip-based formats, a member every such file has (a zip that is not a document is refused).
    member: Optional[str] = None


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
KINDS = {
    "pdf": Kind("PDF", "application/pdf", b"%PDF-"),
    "docx": Kind("Word", _OOXML + "wordprocessingml.document", b"PK\x03\x04", "word/document.xml"),
    "xlsx": Kind("Excel", _OOXML + "spreadsheetml.sheet", b"PK\x03\x04", "xl/workbook.xml"),
    "pptx": Kind("PowerPoint", _OOXML + "presentationml.presentation", b"PK\x03\x04", "ppt/presentation.xml"),
    "odt": Kind("OpenDocument text", _ODF + "text", b"PK\x03\x04", "content.xml"),
    "ods": Kind("OpenDocument spreadsheet", _ODF + "spreadsheet", b"PK\x03\x04", "content.xml"),
    "odp": Kind("OpenDocument presentation", _ODF + "presentation", b"PK\x03\x04", "content.xml"),
    "png": Kind("PNG image", "image/png", b"\x89PNG\r\n\x1a\n"),
    "jpg": Kind("JPEG image", "image/jpeg", b"\xff\xd8\xff"),
    "jpeg": Kind("JPEG image", "image/jpeg", b"\xff\xd8\xff"),
}
ACCEPTED = "PDF, Word, Excel, PowerPoint, OpenDocument, PNG or JPEG"
ACCEPT_ATTRIBUTE = ",".join(f".{ext}" for ext in KINDS)


def human_size(size: int) -> str:
    """240 KB, 1.4 MB: as a file manager says it."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def describe(doc: Document) -> str:
    """'PDF, 240 KB': what a link to the document says besides its title."""
    kind = KINDS.get(doc.kind)
    return f"{kind.label if kind else doc.kind.upper()}, {human_size(doc.size)}"


def _base_name(filename: str | None) -> str:
    # Browsers on Windows once sent the whole path; only the name means anything to the reader.
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if len(name) <= FILENAME_MAX:
        return name
    # Longer than the column: cut the name before its extension, which says what kind of file it is.
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        return name[:FILENAME_MAX]
    return stem[:FILENAME_MAX - len(ext) - 1].rstrip() + "." + ext


def _kind_of(name: str, data: bytes) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = KINDS.get(ext)
    if kind is None:
        raise DomainError(f"Upload a {ACCEPTED} file.", "file")
    looks_right = data.startswith(kind.magic)
    if looks_right and kind.member:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                looks_right = kind.member in archive.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            looks_right = False
    if not looks_right:
        raise DomainError(f"This file does not look like a {kind.label} file: it may be damaged, or another kind of "
                          f"file renamed. Upload a {ACCEPTED} file.", "file")
    return ext


def _clean_title(title: str | None, fallback: str) -> str:
    title = (title or "").strip()
    if not title:
        # The file's name without its extension, as the organiser named it.
        title = without_control(fallback.rsplit(".", 1)[0]).strip() or "Document"
        title = title[:TITLE_MAX]
    if len(title) > TITLE_MAX:
        raise DomainError(f"Give the document a title of at most {TITLE_MAX} characters (this one has "
                          f"{len(title):,}).", "title")
    return title


def _clean_visibility(visibility: str | None) -> str:
    if visibility not in VISIBILITIES:
        raise DomainError("Choose who can see the document.", "visibility")
    return visibility


def add_document(assembly_id: int, *, filename: str | None, data: bytes, title: str | None = None,
                 visibility: str | None = "public", uploaded_by_id: int | None = None,
                 max_bytes: int = MAX_BYTES, once: str | None = None) -> Document:
    """Attach an uploaded file to an assembly after checking its kind and size (``once``: the upload form's
    token, see add_once)."""
    name = _base_name(filename)
    if not name or not data:
        raise DomainError("Choose a file to upload." if not name else "That file is empty: choose another.", "file")
    if len(data) > max_bytes:
        raise DomainError(f"That file is {human_size(len(data))}: the most is {human_size(max_bytes)}. "
                          "Save a smaller copy (for slides, export them as PDF).", "file")
    kind = _kind_of(name, data)
    clean_title = _clean_title(title, name)
    visibility = _clean_visibility(visibility)
    count = db.session.scalar(select(func.count(Document.id)).where(Document.assembly_id == assembly_id))
    if count >= MAX_PER_ASSEMBLY:
        raise DomainError(f"An assembly can have at most {MAX_PER_ASSEMBLY} documents: delete one first.", "file")
    digest = hashlib.sha256(data).hexdigest()
    last = db.session.scalar(select(func.max(Document.position)).where(Document.assembly_id == assembly_id))
    doc = Document(assembly_id=assembly_id, title=clean_title, filename=name, kind=kind, size=len(data),
                   sha256=digest, visibility=visibility, uploaded_by_id=uploaded_by_id, data=data,
                   position=(last or 0) + 1)
    db.session.add(doc)
    try:
        add_once.record(once, "document", doc)
        db.session.commit()
    except IntegrityError:
        # The unique (assembly, sha256) constraint: this file is here already (perhaps from a second click).
        db.session.rollback()
        existing = db.session.scalar(select(Document.title).where(Document.assembly_id == assembly_id,
                                                                  Document.sha256 == digest))
        if existing is None:
            raise DomainError("We could not save the document just now. Please upload it again.", "file") from None
        raise DomainError(f"This file is already attached, as \u201c{existing}\u201d.", "file") from None
    return doc


def update_document(doc: Document, *, title: str | None, visibility: str | None) -> Document:
    """Change a document's title or who can see it."""
    title = (title or "").strip()
    if not title:
        raise DomainError("Enter a title.", "title")
    doc.title = _clean_title(title, doc.filename)
    doc.visibility = _clean_visibility(visibility)
    db.session.commit()
    return doc


def delete_document(doc: Document) -> None:
    """Remove a document; its links stop working at once."""
    db.session.delete(doc)
    db.session.commit()


def move_document(doc: Document, direction: str) -> bool:
    """Move a document one place up or down its assembly's list; False when it is at that end already."""
    if direction not in ("up", "down"):
        raise DomainError("Choose up or down.")
    docs = list_documents(doc.assembly_id)
    at = next(i for i, d in enumerate(docs) if d.id == doc.id)
    other = at - 1 if direction == "up" else at + 1
    if not 0 <= other < len(docs):
        return False
    docs[at], docs[other] = docs[other], docs[at]
    # Numbered afresh: positions left equal by documents added at the same moment sort the same way again.
    for n, d in enumerate(docs, start=1):
        d.position = n
    db.session.commit()
    return True


def list_documents(assembly_id: int, visibility: str | None = None) -> list[Document]:
    """An assembly's documents in the organiser's order, without their bytes."""
    stmt = select(Document).where(Document.assembly_id == assembly_id).order_by(Document.position, Document.id)
    if visibility is not None:
        stmt = stmt.where(Document.visibility == visibility)
    return list(db.session.scalars(stmt))


def public_documents_of(assembly_ids) -> dict[int, list[Document]]:
    """The public documents of several assemblies at once (one query), each assembly's in its own order."""
    ids = sorted(set(assembly_ids))
    out: dict[int, list[Document]] = {i: [] for i in ids}
    if ids:
        for doc in db.session.scalars(select(Document).where(Document.assembly_id.in_(ids),
                                                             Document.visibility == "public")
                                      .order_by(Document.assembly_id, Document.position, Document.id)):
            out[doc.assembly_id].append(doc)
    return {i: docs for i, docs in out.items() if docs}


def get_document(assembly_id: int, doc_id: int, *, visibility: str | None = None, with_data: bool = False) -> Document:
    """One document of this assembly (of this visibility, when given), or NotFound."""
    stmt = select(Document).where(Document.id == doc_id, Document.assembly_id == assembly_id)
    if visibility is not None:
        stmt = stmt.where(Document.visibility == visibility)
    if with_data:
        stmt = stmt.options(undefer(Document.data))
    doc = db.session.scalar(stmt)
    if doc is None:
        raise NotFound("There is no such document.")
    return doc


def download_name(doc: Document) -> str:
    """The name the file is saved under: its own, without control characters or folders."""
    name = without_control(doc.filename).strip().strip(".") or "document"
    if not name.lower().endswith(f".{doc.kind}"):
        name = f"{name}.{doc.kind}"
    return name
