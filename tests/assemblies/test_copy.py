"""Next year's assembly from this year's: its details, rounds, workshops, facilitators and agenda, in one form."""
from __future__ import annotations

import re
from datetime import date, time

from sqlalchemy import select

from eventapp.assemblies.models import Assembly
from eventapp.extensions import db
from tests.assemblies.test_console import assembly_form
from tests.conftest import post_form
from tests.factories import make_agenda_item, make_assembly, make_org, make_round, make_topic, make_user, make_workshop
from tests.notes.helpers import make_registration
from tests.page_messages import WITHOUT_ISOLATES


def _last_year():
    source = make_assembly(title="Shireford Community Safety Assembly", org_limit=6, capacity=180,
                           privacy_notice="We keep your details for a year.", confirm_email_first=True,
                           start_time=time(9, 30), end_time=time(16, 30))
    fac = make_user("facilitator", name="Fran Facilitator")
    morning = make_round(source, "Morning breakouts", starts_at=time(11), ends_at=time(12), position=1)
    afternoon = make_round(source, "Afternoon breakouts", starts_at=time(14), ends_at=time(15), position=2)
    make_workshop(morning, make_topic("Hidden harm"), "Spotting hidden harm", room="Library", capacity=24,
                  facilitators=[fac])
    make_workshop(afternoon, make_topic("Exploitation"), "County lines", room="Hall", capacity=40)
    item = make_agenda_item(source, title="Welcome from the Commissioner", starts_at=time(9, 30))
    item.speaker, item.organisation_id = "The Commissioner", make_org("Office of the PCC").id
    make_registration(source, make_org("Shire Police"), "Aisha Khan")
    db.session.commit()
    return source, fac


def test_copying_fills_the_form_and_brings_rounds_workshops_facilitators_and_agenda(as_organiser, db):
    source, fac = _last_year()
    detail = as_organiser.get(f"/organiser/assemblies/{source.slug}").get_data(as_text=True)
    assert f'href="/organiser/assemblies/{source.slug}/copy">Copy to a new assembly</a>' in detail
    page = as_organiser.get(f"/organiser/assemblies/{source.slug}/copy").get_data(as_text=True)
    assert "Create an assembly from &ldquo;Shireford Community Safety Assembly&rdquo;" in page
    assert 'value="Shireford Community Safety Assembly"' in page and 'value="180"' in page
    assert '<input id="date" name="date" required type="date" value="">' in page  # a new day to choose
    assert '<input checked id="copy_workshops" name="copy_workshops" type="checkbox" value="y">' in page
    resp = post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
                     {**assembly_form(slug="shireford-2028", date="2028-03-16", start_time="09:30", end_time="16:30",
                                      title="Shireford Community Safety Assembly 2028", status="draft"),
                      "copy_workshops": "y", "copy_facilitators": "y", "copy_agenda": "y"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/organiser/assemblies/shireford-2028"
    new = db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2028"))
    assert (new.date, new.status) == (date(2028, 3, 16), "draft")
    assert [(r.name, r.position, r.starts_at) for r in new.rounds] == [
        ("Morning breakouts", 1, time(11)), ("Afternoon breakouts", 2, time(14))]
    workshops = [(w.title, w.topic.name, w.room, w.capacity, [f.id for f in w.facilitators])
                 for r in new.rounds for w in r.workshops]
    assert workshops == [("Spotting hidden harm", "Hidden harm", "Library", 24, [fac.id]),
                         ("County lines", "Exploitation", "Hall", 40, [])]
    assert [(i.title, i.speaker, i.organisation.name) for i in new.agenda_items] == [
        ("Welcome from the Commissioner", "The Commissioner", "Office of the PCC")]
    assert new.confirmed_count == 0 and new.org_limit == 8  # the form's values, not the source's
    # Last year's assembly is untouched.
    db.session.refresh(source)
    assert len(source.rounds) == 2 and source.confirmed_count == 1


def test_a_copy_can_leave_out_workshops_facilitators_or_agenda(as_organiser, db):
    source, _ = _last_year()
    post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
              {**assembly_form(slug="shireford-2028", date="2028-03-16"), "copy_workshops": "y"})
    new = db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2028"))
    assert [w.facilitators for r in new.rounds for w in r.workshops] == [[], []]
    assert new.agenda_items == []
    post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
              assembly_form(slug="shireford-2029", date="2029-03-15"))
    assert db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2029")).rounds == []


def test_a_copy_is_refused_with_a_message_and_everything_kept(as_organiser, db):
    source, _ = _last_year()
    resp = post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
                     {**assembly_form(slug=source.slug, date="2028-03-16", title="Next <b>year</b>"),
                      "copy_workshops": "y"})
    page = resp.get_data(as_text=True).translate(WITHOUT_ISOLATES)
    assert resp.status_code == 400 and "Another assembly already uses that web address." in page
    assert 'value="Next &lt;b&gt;year&lt;/b&gt;"' in page
    assert '<input checked id="copy_workshops" name="copy_workshops" type="checkbox" value="y">' in page
    assert '<input id="copy_agenda" name="copy_agenda" type="checkbox" value="y">' in page  # unticked stays unticked
    # The day's new hours would leave the afternoon round outside them.
    resp = post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
                     {**assembly_form(slug="short-2028", date="2028-03-16", end_time="13:00"), "copy_workshops": "y"})
    assert resp.status_code == 400
    assert re.search(r"Afternoon breakouts runs 14:00–15:00, outside these hours", resp.get_data(as_text=True).translate(WITHOUT_ISOLATES))
    assert db.session.scalar(select(Assembly).where(Assembly.slug == "short-2028")) is None


def test_a_copy_brings_the_documents_when_asked_byte_for_byte_and_they_download(client, as_organiser, db):
    from eventapp.documents.models import Document
    from tests.factories import make_document

    source, _ = _last_year()
    agreement = bytes(range(256)) * 40
    make_document(source, "Community Safety Agreement", data=b"%PDF-1.7\n" + agreement, filename="agreement.pdf")
    make_document(source, "Delegates' pack", visibility="delegates")
    page = as_organiser.get(f"/organiser/assemblies/{source.slug}/copy").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="copy_documents"[^>]*>', page).group(0)
    assert "checked" not in box  # not ticked unless asked: last year's slides are rarely this year's
    post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
              assembly_form(slug="shireford-2029", date="2029-03-15"))
    assert db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2029")).id not in set(
        db.session.scalars(select(Document.assembly_id)))
    post_form(as_organiser, f"/organiser/assemblies/{source.slug}/copy",
              {**assembly_form(slug="shireford-2028", date="2028-03-16", status="open"), "copy_documents": "y"})
    new = db.session.scalar(select(Assembly).where(Assembly.slug == "shireford-2028"))
    copied = db.session.scalars(select(Document).where(Document.assembly_id == new.id).order_by(Document.position,
                                                                                                   Document.id)).all()
    assert [(d.title, d.visibility, d.filename) for d in copied] == [
        ("Community Safety Agreement", "public", "agreement.pdf"), ("Delegates' pack", "delegates", "agenda.pdf")]
    public = client.get(f"/a/shireford-2028/documents/{copied[0].id}")
    assert public.status_code == 200 and public.data == b"%PDF-1.7\n" + agreement
    # Last year's keep theirs.
    assert len(db.session.scalars(select(Document).where(Document.assembly_id == source.id)).all()) == 2
