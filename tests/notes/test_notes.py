"""Session notes: revisions, conflicts, the lapsed sign-in path, autosave, review and approval."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.notes import services
from eventapp.notes.models import Action, NotesRevision, PendingSave
from tests.conftest import csrf_from, post_form
from tests.factories import PASSWORD, make_user, make_workshop

from .helpers import notes_form, scene

HOSTILE = ("<script>alert('x')</script> \"quoted\" & <b>bold</b>\r\nSecond line 🚨 "
           "\u202eRTL override\u202c مرحبا بالعالم\r\n" + "x" * 10_500)


def _url(s, suffix=""):
    return f"/facilitator/workshops/{s.workshop.id}/notes{suffix}"


def keep_from(html: str) -> str:
    """The ticket the notes form carries so that text posted after the sign-in ended is kept."""
    return re.search(r'name="keep" value="([^"]+)"', html).group(1)


def _colleague(s, email: str = "co@example.org"):
    """A second facilitator of the scene's workshop."""
    colleague = make_user("facilitator", email=email, name="Co Facilitator")
    s.workshop.facilitators.append(colleague)
    db.session.commit()
    return colleague


def _sent_after_the_sign_in_lapsed(client, auth, s, author, **sections):
    """Notes sent from the page `author` opened, once their sign-in has lapsed while it was open."""
    auth.login(author.email)
    page = client.get(_url(s)).get_data(as_text=True)
    auth.logout()  # the sign-in lapses while the page is open
    return client.post(_url(s), data={"csrf_token": csrf_from(page), "keep": keep_from(page),
                                      **notes_form(**sections)})


def _kept_before_authors_were_recorded(client, s, summary: str) -> None:
    """Notes kept the way the previous version kept them: a bare token in the session, naming no author."""
    token = services.stash_pending_save(s.workshop.id, notes_form(summary=summary), trusted=True)
    with client.session_transaction() as sess:
        sess["notes_pending"] = {str(s.workshop.id): token}


def test_text_posted_by_someone_never_signed_in_is_not_kept(client, auth, facilitator):
    # Anyone can post to the notes address: without the ticket of a notes page shown to a
    # signed-in person, nothing is stored (else anyone could fill the database, 2 MB a post).
    s = scene(facilitator)
    other = make_workshop(s.workshop.round, facilitators=[facilitator])
    auth.login(facilitator.email)
    other_keep = keep_from(client.get(f"/facilitator/workshops/{other.id}/notes").get_data(as_text=True))
    auth.logout()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for extra in ({}, {"keep": "forged"}, {"keep": other_keep}):
        resp = client.post(_url(s), data={"csrf_token": token, **extra, **notes_form(summary="x" * 1_000_000)})
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    assert db.session.scalar(select(func.count(PendingSave.id))) == 0
    assert "Please sign in to write notes." in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_another_facilitator_posting_with_a_stale_form_token_keeps_nothing(client, auth, facilitator):
    s = scene(facilitator)
    make_user("facilitator", email="someone.else@example.org")
    auth.login("someone.else@example.org")
    for _ in range(3):
        resp = client.post(_url(s), data={"csrf_token": "expired-or-forged", **notes_form(summary="x" * 1_000_000)})
        assert resp.status_code == 403
    assert db.session.scalar(select(func.count(PendingSave.id))) == 0


def _save(client, s, **kw):
    return post_form(client, _url(s), notes_form(**kw))


def _revisions(s):
    notes = services.notes_for(s.workshop.id)
    return list(db.session.scalars(select(NotesRevision).where(NotesRevision.notes_id == notes.id)
                                   .order_by(NotesRevision.version)))


def test_first_save_stores_sections_and_a_revision(as_facilitator, facilitator):
    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "Not started" in page and 'src="/static/notes.js"' in page and "<script>" not in page
    resp = _save(as_facilitator, s, summary="We mapped referral routes.", barriers="GDPR worries",
                 internal=("barriers",))
    assert resp.status_code == 302
    notes = services.notes_for(s.workshop.id)
    assert notes.version == 1 and notes.status == "draft"
    assert notes.section("summary").body == "We mapped referral routes."
    assert notes.section("barriers").internal is True and notes.section("summary").internal is False
    (rev,) = _revisions(s)
    assert rev.user_id == facilitator.id and rev.version == 1 and set(rev.changed) == {"summary", "barriers"}
    assert "Notes saved." in as_facilitator.get(_url(s)).get_data(as_text=True)


def test_every_save_keeps_a_revision_with_a_diff_and_unchanged_saves_add_none(as_facilitator, facilitator):
    s = scene(facilitator)
    _save(as_facilitator, s, summary="Line one\nLine two")
    _save(as_facilitator, s, version=1, summary="Line one\nLine 2 changed", ideas="Joint training")
    _save(as_facilitator, s, version=2, summary="Line one\nLine 2 changed", ideas="Joint training")
    revs = _revisions(s)
    assert [r.version for r in revs] == [1, 2]
    assert set(revs[1].changed) == {"summary", "ideas"}
    assert json.loads(revs[0].snapshot_json)["summary"]["body"] == "Line one\nLine two"
    html = as_facilitator.get(_url(s, "/revisions")).get_data(as_text=True)
    assert "Version 2" in html and "Version 1" in html
    assert '<span class="diff-del">− Line two</span>' in html
    assert '<span class="diff-add">+ Line 2 changed</span>' in html
    assert "Siobhán O&#39;Brien" in html


def test_a_save_based_on_an_old_version_shows_both_texts_and_overwrites_nothing(client, auth, facilitator):
    s = scene(facilitator)
    colleague = _colleague(s)
    auth.login(colleague.email)
    _save(client, s, summary="Their text from the colleague")
    auth.logout()
    auth.login(facilitator.email)
    resp = _save(client, s, version=0, summary="My text typed meanwhile", ideas="My idea")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "Co Facilitator saved these notes while you were editing" in html
    assert "Their text from the colleague" in html and "My text typed meanwhile" in html
    assert 'name="version" type="hidden" value="1"' in html  # merging is based on theirs
    notes = services.notes_for(s.workshop.id)
    assert notes.section("summary").body == "Their text from the colleague" and notes.version == 1
    # Merge and save: accepted, and both versions are in the history.
    resp = _save(client, s, version=1, summary="Their text from the colleague. My text typed meanwhile",
                 ideas="My idea")
    assert resp.status_code == 302
    notes = services.notes_for(s.workshop.id)
    assert notes.version == 2 and notes.section("ideas").body == "My idea"
    assert [r.user_id for r in _revisions(s)] == [colleague.id, facilitator.id]


def test_expired_sign_in_keeps_the_text_and_saves_it_after_signing_in(client, auth, facilitator):
    s = scene(facilitator)
    long_text = "Everything said in the room. " * 500  # about 15 kB
    resp = _sent_after_the_sign_in_lapsed(client, auth, s, facilitator, summary=long_text, ideas="Keep me")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")
    login_page = client.get(resp.headers["Location"])
    html = login_page.get_data(as_text=True)
    assert "Staff sign in" in html and "your notes are kept safe" in html
    assert services.notes_for(s.workshop.id) is None
    assert db.session.scalar(select(func.count(PendingSave.id))) == 1
    # Signing in through that page completes the save.
    resp = client.post(resp.headers["Location"], data={"csrf_token": csrf_from(html), "email": facilitator.email,
                                                        "password": PASSWORD}, follow_redirects=True)
    assert resp.status_code == 200
    assert "your notes were kept: they are now saved" in resp.get_data(as_text=True)
    notes = services.notes_for(s.workshop.id)
    assert notes.section("summary").body == long_text and notes.section("ideas").body == "Keep me"
    (rev,) = _revisions(s)
    assert rev.user_id == facilitator.id
    assert db.session.scalar(select(func.count(PendingSave.id))) == 0


def test_kept_text_is_saved_even_if_the_person_signs_in_from_elsewhere(client, auth, facilitator):
    s = scene(facilitator)
    auth.login(facilitator.email)
    keep = keep_from(client.get(_url(s)).get_data(as_text=True))
    auth.logout()  # the sign-in lapses while the page is open
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post(_url(s), data={"csrf_token": token, "keep": keep, **notes_form(summary="Typed before signing in")})
    auth.login(facilitator.email)  # plain sign-in, without the ?next= link
    resp = client.get(_url(s), follow_redirects=True)
    assert "they are now saved" in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id).section("summary").body == "Typed before signing in"


def test_a_colleague_signing_in_on_the_same_tablet_does_not_save_kept_text_as_theirs(client, auth, facilitator):
    s = scene(facilitator)
    colleague = _colleague(s)
    _sent_after_the_sign_in_lapsed(client, auth, s, facilitator, summary="Siobhán's words")
    # The colleague signs in on the tablet and opens the notes: nothing of Siobhán's is saved under their name.
    auth.login(colleague.email)
    resp = client.get(_url(s), follow_redirects=True)
    assert resp.status_code == 200 and "Siobhán's words" not in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id) is None
    assert client.get(_url(s, "/resume"), follow_redirects=True).status_code == 200
    assert services.notes_for(s.workshop.id) is None
    # Siobhán signs in again there: her text is saved, as hers.
    auth.logout()
    auth.login(facilitator.email)
    resp = client.get(_url(s), follow_redirects=True)
    assert "they are now saved" in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id).section("summary").body == "Siobhán's words"
    assert [r.user_id for r in _revisions(s)] == [facilitator.id]


def test_expired_form_token_keeps_the_text_and_asks_to_confirm(as_facilitator, facilitator):
    s = scene(facilitator)
    keep = keep_from(as_facilitator.get(_url(s)).get_data(as_text=True))
    resp = as_facilitator.post(_url(s), data={"csrf_token": "expired-or-forged", "keep": keep,
                                              **notes_form(summary="Text from a stale page")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/notes/resume")
    page = as_facilitator.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Check it and press Save" in html and "Text from a stale page" in html
    # Not stored until the person confirms: the post may not have come from them.
    assert services.notes_for(s.workshop.id) is None
    assert _save(as_facilitator, s, summary="Text from a stale page").status_code == 302
    assert services.notes_for(s.workshop.id).section("summary").body == "Text from a stale page"


def test_kept_text_cannot_be_claimed_by_a_facilitator_of_another_workshop(client, auth, facilitator):
    s = scene(facilitator)
    stranger = make_user("facilitator", email="stranger@example.org")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post(_url(s), data={"csrf_token": token, **notes_form(summary="Confidential")})
    auth.login(stranger.email)
    resp = client.get(_url(s, "/resume"))
    assert resp.status_code == 403 and "Confidential" not in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id) is None


def test_autosave_endpoint_saves_changes_and_reports_conflicts(as_facilitator, facilitator):
    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    hidden = {"csrf_token": csrf_from(page), "keep": keep_from(page)}  # the form token and who it was shown to
    url = _url(s, "/autosave")
    resp = as_facilitator.post(url, data={**hidden, **notes_form(summary="Typed on a tablet")})
    assert resp.status_code == 200 and resp.get_json() == {"ok": True, "version": 1, "changed": True}
    (rev,) = _revisions(s)
    assert rev.kind == "autosave"
    resp = as_facilitator.post(url, data={**hidden, **notes_form(version=1, summary="Typed on a tablet")})
    assert resp.get_json() == {"ok": True, "version": 1, "changed": False}
    # Someone else saves: the next autosave from the old version is refused, nothing overwritten.
    services.save_notes(s.workshop, notes_form(summary="Organiser's fix"), 1, None)
    resp = as_facilitator.post(url, data={**hidden, **notes_form(version=1, summary="Mine")})
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["error"] == "conflict" and "Autosave has stopped" in body["message"] and body["version"] == 2
    assert services.notes_for(s.workshop.id).section("summary").body == "Organiser's fix"
    # An expired form token and a lapsed sign-in answer in JSON too, never a redirect.
    resp = as_facilitator.post(url, data={"csrf_token": "stale", **notes_form(version=2, summary="Mine")})
    assert resp.status_code == 400 and resp.get_json()["error"] == "expired"


def test_an_autosave_whose_reply_was_lost_is_not_shown_as_someone_elses_change(as_facilitator, facilitator):
    # The tablet's save reached the server, the reply was lost on the way back (wifi dropped), so the page
    # still holds version 0: its next save names the unanswered one and goes through.
    s = scene(facilitator)
    page = as_facilitator.get(_url(s)).get_data(as_text=True)
    hidden = {"csrf_token": csrf_from(page), "keep": keep_from(page)}  # the form token and who it was shown to
    url = _url(s, "/autosave")
    lost = "0123456789abcdef0123456789abcdef"
    resp = as_facilitator.post(url, data={**hidden, "save_key": lost, **notes_form(summary="First")})
    assert resp.get_json()["version"] == 1
    resp = as_facilitator.post(url, data={**hidden, "save_key": "ab" * 16, "unanswered_saves": f"ffffffff,{lost}",
                                          **notes_form(version=0, summary="First, then more")})
    assert resp.status_code == 200 and resp.get_json() == {"ok": True, "version": 2, "changed": True}
    assert services.notes_for(s.workshop.id).section("summary").body == "First, then more"
    # Someone else's save since then is still a conflict, whatever keys the page names.
    services.save_notes(s.workshop, notes_form(summary="Organiser's fix"), 2, None)
    for unanswered in (lost, "ab" * 16, "x" * 5000, ""):
        resp = as_facilitator.post(url, data={**hidden, "save_key": "cd" * 16, "unanswered_saves": unanswered,
                                              **notes_form(version=2, summary="Mine")})
        assert resp.status_code == 409, unanswered
    assert services.notes_for(s.workshop.id).section("summary").body == "Organiser's fix"
    # The Save button sends the page's unanswered keys too.
    as_facilitator.post(url, data={**hidden, "save_key": "ee" * 16, **notes_form(version=3, summary="Next")})
    resp = as_facilitator.post(_url(s), data={**hidden, "unanswered_saves": "ee" * 16,
                                              **notes_form(version=3, summary="Next and last")})
    assert resp.status_code == 302
    assert services.notes_for(s.workshop.id).section("summary").body == "Next and last"


def test_autosave_when_signed_out_answers_401(client, facilitator):
    s = scene(facilitator)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(_url(s, "/autosave"), data={"csrf_token": token, **notes_form(summary="x")})
    assert resp.status_code == 401 and resp.get_json()["error"] == "signed_out"


def test_submit_needs_a_summary_and_keeps_what_was_typed(as_facilitator, facilitator):
    s = scene(facilitator)
    resp = _save(as_facilitator, s, intent="submit", ideas="An idea worth keeping")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Write a summary before submitting the notes." in html and "An idea worth keeping" in html
    resp = _save(as_facilitator, s, intent="submit", summary="Done", ideas="An idea worth keeping")
    assert resp.status_code == 302
    notes = services.notes_for(s.workshop.id)
    assert notes.status == "submitted" and notes.submitted_at is not None
    assert _revisions(s)[-1].kind == "submit"


def test_hostile_text_is_stored_faithfully_and_shown_escaped(app, as_facilitator, facilitator):
    s = scene(facilitator)
    services.save_notes(s.workshop, notes_form(summary=HOSTILE, ideas="[click](javascript:alert(1)) "
                                               "<img src=x onerror=alert(1)>"), 0, facilitator.id, submit=True)
    notes = services.notes_for(s.workshop.id)
    assert notes.section("summary").body == HOSTILE  # CR/LF, emoji, RTL and length untouched
    html = as_facilitator.get(_url(s)).get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "🚨" in html and "مرحبا بالعالم" in html
    organiser_client = app.test_client()
    make_user("organiser", email="reviewer@example.org")
    post_form(organiser_client, "/login", {"email": "reviewer@example.org", "password": PASSWORD})
    review = organiser_client.get(f"/organiser/assemblies/{s.assembly.slug}/notes/{s.workshop.id}").get_data(as_text=True)
    assert "<script>alert" not in review and "onerror" not in review.replace("onerror=alert(1)&gt;", "")
    assert 'href="javascript:' not in review and "🚨" in review


def test_organiser_approves_chosen_sections_and_changes_need_approval_again(client, auth, facilitator):
    s = scene(facilitator)
    organiser = make_user("organiser", email="org@example.org")
    services.save_notes(s.workshop, notes_form(summary="Public summary", ideas="Idea", barriers="Internal detail",
                                               internal=("barriers",)), 0, facilitator.id, submit=True)
    auth.login(organiser.email)
    review_url = f"/organiser/assemblies/{s.assembly.slug}/notes/{s.workshop.id}"
    html = client.get(review_url).get_data(as_text=True)
    assert "Internal only" in html and "Internal detail" in html and 'value="barriers"' not in html
    resp = post_form(client, review_url, {"sections": ["summary", "barriers"]})
    assert resp.status_code == 302
    notes = services.notes_for(s.workshop.id)
    assert notes.status == "approved"
    assert {x.key: x.approved for x in notes.sections} == {"summary": True, "ideas": False, "barriers": False}
    # A later edit sends the notes back for review and un-approves the changed part only.
    services.save_notes(s.workshop, notes_form(summary="Public summary, edited", ideas="Idea", barriers="Internal detail",
                                               internal=("barriers",)), notes.version, facilitator.id)
    db.session.expire_all()
    notes = services.notes_for(s.workshop.id)
    assert notes.status == "submitted" and notes.section("summary").approved is False


def test_draft_notes_cannot_be_approved(as_organiser, facilitator):
    s = scene(facilitator)
    services.save_notes(s.workshop, notes_form(summary="Draft only"), 0, facilitator.id)
    resp = post_form(as_organiser, f"/organiser/assemblies/{s.assembly.slug}/notes/{s.workshop.id}",
                     {"sections": ["summary"]})
    assert resp.status_code == 400 and "still a draft" in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id).status == "draft"


def test_overview_lists_workshops_without_notes_after_the_assembly(as_organiser, facilitator):
    from datetime import date

    s = scene(facilitator, date=date(2024, 3, 18))
    services.save_notes(s.workshop, notes_form(summary="Written"), 0, facilitator.id)
    html = as_organiser.get(f"/organiser/assemblies/{s.assembly.slug}/notes").get_data(as_text=True)
    assert "Workshops with no notes yet (1)" in html
    assert "The assembly has taken place" in html
    missing = html.split('id="missing-title"')[1].split("</section>")[0]
    assert "Criminal exploitation" in missing and "Spotting hidden harm" not in missing
    detail = as_organiser.get(f"/organiser/assemblies/{s.assembly.slug}").get_data(as_text=True)
    assert f'href="/organiser/assemblies/{s.assembly.slug}/notes"' in detail


def test_internal_flag_and_approval_cannot_coexist_in_the_database(db, facilitator):
    import pytest
    from sqlalchemy.exc import IntegrityError

    s = scene(facilitator)
    notes, _ = services.save_notes(s.workshop, notes_form(summary="x", internal=("summary",)), 0, None)
    notes.section("summary").approved = True
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


class _NotesFormAsSent(HTMLParser):
    """What a browser sends when the notes form is submitted as shown: textareas, ticked boxes, hidden fields."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "textarea":
            self._textarea = a["name"]
            self.data[self._textarea] = ""
        elif tag == "input" and a.get("name") and (a.get("type") != "checkbox" or "checked" in a):
            self.data[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "textarea":
            self.data[self._textarea] = self.data[self._textarea].removeprefix("\r\n").removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def test_the_merge_page_keeps_their_changes_to_parts_you_did_not_touch(client, auth, facilitator):
    s = scene(facilitator)
    colleague = _colleague(s, "co2@example.org")
    services.save_notes(s.workshop, notes_form(summary="Agreed at the start", barriers="Shared worry"), 0,
                        facilitator.id)
    # Both load version 1. The colleague rewrites the summary and marks the barriers internal; I add an idea.
    services.save_notes(s.workshop, notes_form(summary="Agreed at the start. Police to lead the pilot.",
                                               barriers="Shared worry", internal=("barriers",)), 1, colleague.id)
    auth.login(facilitator.email)
    resp = _save(client, s, version=1, summary="Agreed at the start", barriers="Shared worry",
                 ideas="Joint training day")
    assert resp.status_code == 409
    parser = _NotesFormAsSent()
    parser.feed(resp.get_data(as_text=True))
    assert parser.data["ideas"] == "Joint training day"
    # In a noisy room I press Save on the merge page as it stands.
    resp = post_form(client, _url(s), {**parser.data, "intent": "save"})
    assert resp.status_code == 302
    notes = services.notes_for(s.workshop.id)
    assert notes.section("summary").body == "Agreed at the start. Police to lead the pilot."
    assert notes.section("barriers").internal is True
    assert notes.section("ideas").body == "Joint training day"


def _seen(page: str) -> str:
    """The review form's record of what the organiser is reading (empty if the form has none)."""
    return page.split('name="seen" value="')[1].split('"')[0] if 'name="seen"' in page else ""


def test_approving_a_page_read_before_the_facilitator_changed_it_publishes_nothing_unread(client, auth, facilitator):
    from eventapp.notes.services import public_outcomes

    s = scene(facilitator)
    organiser = make_user("organiser", email="reviewer@example.org")
    services.save_notes(s.workshop, notes_form(summary="Agreed a joint pilot"), 0, facilitator.id, submit=True)
    action = services.add_action(s.workshop, {"description": "Run the pilot", "owner_organisation_id": s.police.id,
                                              "due_date": s.assembly.date}, facilitator.id)
    auth.login(organiser.email)
    review_url = f"/organiser/assemblies/{s.assembly.slug}/notes/{s.workshop.id}"
    page = client.get(review_url).get_data(as_text=True)
    seen = _seen(page)
    # Still in the room, the facilitator's autosave stores a name that must not be published.
    services.save_notes(s.workshop, notes_form(summary="Agreed a joint pilot. Mrs Jane Doe of 4 Elm Road spoke."),
                        1, facilitator.id, kind="autosave")
    resp = client.post(review_url, data={"csrf_token": csrf_from(page), "seen": seen, "sections": ["summary"],
                                         "actions": [str(action.id)]})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "changed while you were reading them. Nothing was approved" in html
    assert "Mrs Jane Doe" in html  # the current text is shown to read
    db.session.expire_all()
    assert public_outcomes(s.assembly) == []
    # The same for an action reworded meanwhile.
    page = client.get(review_url).get_data(as_text=True)
    seen = _seen(page)
    services.update_action(action.id, {"description": "Run the pilot with Mrs Jane Doe",
                                       "owner_organisation_id": s.police.id, "due_date": s.assembly.date}, 1, None)
    resp = client.post(review_url, data={"csrf_token": csrf_from(page), "seen": seen, "sections": [],
                                         "actions": [str(action.id)]})
    assert resp.status_code == 400
    db.session.expire_all()
    assert db.session.get(Action, action.id).approved is False
    # Read again, approve: done.
    page = client.get(review_url).get_data(as_text=True)
    seen = _seen(page)
    resp = client.post(review_url, data={"csrf_token": csrf_from(page), "seen": seen, "sections": ["summary"],
                                         "actions": [str(action.id)]})
    assert resp.status_code == 302


def test_a_conflict_with_a_save_by_no_one_signed_in_starts_with_a_capital(client, auth, facilitator):
    """Notes saved by the command line or the demo have no author: the message still reads as a sentence."""
    s = scene(facilitator)
    services.save_notes(s.workshop, {"summary": "Loaded by the demo"}, 0, None)
    auth.login(facilitator.email)
    html = _save(client, s, version=0, summary="Typed in the room").get_data(as_text=True)
    assert "Someone else saved these notes while you were editing." in html


def test_an_edit_after_approval_hides_only_what_it_changed_from_the_public_page(client, facilitator):
    """A typo fixed in one section must not take the workshop's approved outcomes off the public page."""
    s = scene(facilitator)
    action = services.add_action(s.workshop, {"description": "Share the referral map", "owner_organisation_id":
                                              s.police.id, "due_date": s.assembly.date, "status": "open"}, None)
    notes, _ = services.save_notes(s.workshop, notes_form(summary="Partners agreed a map", ideas="A shared inbox"),
                                   0, facilitator.id, submit=True)
    services.approve_notes(notes, ["summary", "ideas"], [action.id], None)
    db.session.commit()

    def public() -> str:
        return client.get(f"/a/{s.assembly.slug}/updates").get_data(as_text=True)

    assert "Partners agreed a map" in public() and "A shared inbox" in public() and "Share the referral map" in public()
    services.save_notes(s.workshop, notes_form(summary="Partners agreed a map", ideas="A shared inbox (not email)"),
                        notes.version, facilitator.id)
    html = public()
    assert "Partners agreed a map" in html and "Share the referral map" in html  # still approved as read
    assert "A shared inbox" not in html  # changed: waits for the organiser to read it again
    assert services.notes_for(s.workshop.id).status == "submitted"


def test_notes_kept_before_authors_were_recorded_are_still_saved(client, auth, facilitator):
    # Kept by the previous version (a bare token in the session): not lost by the upgrade.
    s = scene(facilitator)
    _kept_before_authors_were_recorded(client, s, "Kept before the upgrade")
    auth.login(facilitator.email)
    resp = client.get(_url(s), follow_redirects=True)
    assert "they are now saved" in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id).section("summary").body == "Kept before the upgrade"


def test_a_second_review_does_not_tick_again_what_the_organiser_chose_not_to_publish(client, auth, facilitator):
    # The organiser kept "ideas" and one action off the public page; the facilitator later fixes the summary.
    # On the second review only what changed (the summary) is offered ticked, not what was left out on purpose.
    s = scene(facilitator)
    organiser = make_user("organiser", email="org2@example.org")
    kept = services.add_action(s.workshop, {"description": "Publish the map", "owner_organisation_id": s.police.id,
                                            "due_date": s.assembly.date}, facilitator.id)
    left_out = services.add_action(s.workshop, {"description": "Name and shame landlords",
                                                "owner_organisation_id": s.police.id,
                                                "due_date": s.assembly.date}, facilitator.id)
    notes, _ = services.save_notes(s.workshop, notes_form(summary="Summary", ideas="Half-formed idea"), 0,
                                   facilitator.id, submit=True)
    services.approve_notes(notes, ["summary"], [kept.id], organiser.id)
    services.save_notes(s.workshop, notes_form(summary="Summary, typo fixed", ideas="Half-formed idea"),
                        notes.version, facilitator.id)
    auth.login(organiser.email)
    html = client.get(f"/organiser/assemblies/{s.assembly.slug}/notes/{s.workshop.id}").get_data(as_text=True)

    def ticked(element_id: str) -> bool:
        tag = re.search(rf'<input [^>]*id="{element_id}"[^>]*>', html).group(0)
        return " checked" in tag

    assert ticked("publish-summary") and ticked(f"publish-action-{kept.id}")
    assert not ticked("publish-ideas") and not ticked(f"publish-action-{left_out.id}")


def test_notes_sent_signed_out_past_the_rate_limit_are_offered_back_to_send_again(app, db, facilitator):
    from eventapp.extensions import limiter
    from tests.conftest import make_test_app

    s = scene(facilitator)
    limited = make_test_app(app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_ENABLED=True)
    try:
        with limited.app_context():
            client = limited.test_client()
            post_form(client, "/login", {"email": facilitator.email, "password": PASSWORD})
            page = client.get(_url(s)).get_data(as_text=True)
            token, keep = csrf_from(page), keep_from(page)
            post_form(client, "/logout", {}, form_url="/facilitator/")
            # A tablet whose sign-in lapsed, its page saving again and again; then the facilitator's last words.
            same_site = {"Sec-Fetch-Site": "same-origin"}
            codes = {client.post(_url(s), headers=same_site, data={"csrf_token": token, "keep": keep,
                                                                   **notes_form(summary="draft")}).status_code
                     for _ in range(30)}
            refused = client.post(_url(s), headers=same_site, data={"csrf_token": token, "keep": keep,
                                                                     **notes_form(summary=HOSTILE)})
            db.session.remove()
    finally:
        limiter.reset()
        limiter.enabled = False
    assert codes == {302}
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Wait a minute, then send the form again" in html and "Nothing has been saved yet" in html
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    assert ("summary", HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;")) in fields
    assert ("keep", keep) in fields


def test_overview_isolates_the_names_of_facilitators_without_notes(as_organiser, facilitator):
    from datetime import date

    other = make_user("facilitator", name="\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2")
    s = scene(facilitator, other_facilitator=other, date=date(2024, 3, 18))
    html = as_organiser.get(f"/organiser/assemblies/{s.assembly.slug}/notes").get_data(as_text=True)
    missing = html.split('id="missing-title"')[1].split("</section>")[0]
    assert "Criminal exploitation (Morning): <bdi>\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2</bdi>" in missing


def test_notes_kept_after_a_lapsed_sign_in_stay_for_their_author_only_after_a_sign_out(client, auth, facilitator):
    s = scene(facilitator)
    colleague = _colleague(s)
    _sent_after_the_sign_in_lapsed(client, auth, s, facilitator, summary="Siobh\u00e1n's words")
    assert db.session.scalar(select(func.count(PendingSave.id))) == 1
    # She signs in, does not go back to the notes, and signs out on purpose: what she typed is not lost...
    auth.login(facilitator.email)
    auth.logout()
    assert db.session.scalar(select(func.count(PendingSave.id))) == 1
    # ...nor offered to the colleague who signs in next on the tablet...
    auth.login(colleague.email)
    resp = client.get(_url(s), follow_redirects=True)
    assert resp.status_code == 200 and "Siobh\u00e1n's words" not in resp.get_data(as_text=True)
    assert services.notes_for(s.workshop.id) is None
    auth.logout()
    # ...and saved under her name when she opens the notes again.
    auth.login(facilitator.email)
    html = client.get(_url(s), follow_redirects=True).get_data(as_text=True)
    assert "they are now saved" in html
    assert services.notes_for(s.workshop.id).section("summary").body == "Siobh\u00e1n's words"


def test_notes_kept_with_no_author_are_not_offered_to_whoever_signs_in_after_a_sign_out(client, auth, facilitator):
    # A bare token (kept by the previous version) is offered to whoever signs in: after a sign-out it is gone.
    s = scene(facilitator)
    colleague = _colleague(s)
    _kept_before_authors_were_recorded(client, s, "Whose words?")
    auth.login(facilitator.email)
    auth.logout()
    auth.login(colleague.email)
    html = client.get(_url(s), follow_redirects=True).get_data(as_text=True)
    assert "they are now saved" not in html and "Whose words?" not in html
    assert services.notes_for(s.workshop.id) is None
