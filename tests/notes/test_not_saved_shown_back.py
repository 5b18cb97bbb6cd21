"""Notes sent for a workshop the facilitator can no longer write to (taken off it, or it was deleted, while they
typed): nothing is saved, and what they typed comes back, escaped, in boxes to copy from, with why."""
from __future__ import annotations

import html

from sqlalchemy import func, select

from eventapp.assemblies import services as assemblies
from eventapp.extensions import db
from eventapp.notes.models import SessionNotes
from tests.conftest import csrf_from, tickets_from

from .helpers import notes_form, scene

TYPED = "Single point of contact in A&E <b>not bold</b>\r\nsecond line \U0001F6A8 \u202eRTL\u202c"
INTERNAL = "Names of the families discussed <script>x</script>"


def _open_notes(client, s) -> dict[str, str]:
    page = client.get(f"/facilitator/workshops/{s.workshop.id}/notes").get_data(as_text=True)
    return {"csrf_token": csrf_from(page), **tickets_from(page)}


def _shown_back(resp) -> str:
    page = resp.get_data(as_text=True)
    assert "Your notes have not been saved" in page and "Nothing you typed has been saved" in page
    assert "<b>not bold</b>" not in page and "<script>x</script>" not in page
    assert f">\n{html.escape(TYPED, quote=False)}</textarea>" in page
    assert f">\n{html.escape(INTERNAL, quote=False)}</textarea>" in page
    assert "Free notes (internal only)" in page
    return page


def test_notes_saved_after_being_taken_off_the_workshop_are_shown_back(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    hidden = _open_notes(client, s)
    s.workshop.facilitators.remove(facilitator)
    db.session.commit()
    data = {**hidden, **notes_form(summary=TYPED, free_notes=INTERNAL, internal=("free_notes",))}

    resp = client.post(f"/facilitator/workshops/{s.workshop.id}/notes", data=data)
    assert resp.status_code == 403
    page = _shown_back(resp)
    assert f"no longer named as a facilitator of {s.workshop.title}" in page
    assert db.session.scalar(select(func.count(SessionNotes.id))) == 0

    # Autosave, meanwhile, says so in words the page shows (static/notes.js), not an error page's HTML.
    auto = client.post(f"/facilitator/workshops/{s.workshop.id}/notes/autosave", data=data)
    assert auto.status_code == 403 and auto.json["ok"] is False
    assert "no longer named as a facilitator" in auto.json["message"]


def test_notes_saved_after_the_workshop_was_deleted_are_shown_back(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    hidden = _open_notes(client, s)
    workshop_id = s.workshop.id
    assemblies.delete_workshop(s.workshop)
    data = {**hidden, **notes_form(summary=TYPED, free_notes=INTERNAL, internal=("free_notes",))}

    resp = client.post(f"/facilitator/workshops/{workshop_id}/notes", data=data)
    assert resp.status_code == 404
    assert "This workshop has been deleted" in _shown_back(resp)
    auto = client.post(f"/facilitator/workshops/{workshop_id}/notes/autosave", data=data)
    assert auto.status_code == 404 and "has been deleted" in auto.json["message"]


def test_a_workshop_not_theirs_still_refuses_and_keeps_nothing(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    hidden = _open_notes(client, s)
    # Another facilitator's workshop: refused (what was sent is only echoed back to its sender), nothing stored.
    resp = client.post(f"/facilitator/workshops/{s.other.id}/notes", data={**hidden, **notes_form(summary=TYPED)})
    assert resp.status_code == 403
    assert db.session.scalar(select(func.count(SessionNotes.id))) == 0
    assert client.get(f"/facilitator/workshops/{s.other.id}/notes").status_code == 403


def test_notes_kept_while_signed_out_are_shown_back_if_taken_off_the_workshop_meanwhile(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    hidden = _open_notes(client, s)
    auth.logout()  # in another tab: the notes page stays open, its Save keeps the text for after signing in
    data = {**hidden, **notes_form(summary=TYPED, free_notes=INTERNAL, internal=("free_notes",))}
    resp = client.post(f"/facilitator/workshops/{s.workshop.id}/notes", data=data)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    s.workshop.facilitators.remove(facilitator)
    db.session.commit()
    auth.login(facilitator.email)

    resume = f"/facilitator/workshops/{s.workshop.id}/notes/resume"
    resp = client.get(resume)
    assert resp.status_code == 403
    _shown_back(resp)
    _shown_back(client.get(resume))  # opened again: still there to copy
    assert db.session.scalar(select(func.count(SessionNotes.id))) == 0
