"""Delegates say how useful the day was through their personal link; organisers read it without names."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.feedback import services
from eventapp.feedback.models import Feedback
from eventapp.registration.services import anonymise_registrations, make_manage_token
from eventapp.timeutil import local_today, utcnow
from tests.conftest import csrf_from, rate_limited_client
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.notes.helpers import make_registration, place

HOSTILE = "<script>alert(1)</script>\r\n=HYPERLINK(\"http://x\") \u202eRTL \U0001F600 ' OR 1=1; --"


@pytest.fixture
def day(app, db):
    """Yesterday's assembly: two rounds, Aisha placed in one workshop of each (published), Ben in one."""
    assembly = make_assembly(title="Shireford Assembly", date=local_today("Europe/London") - timedelta(days=1))
    morning, afternoon = make_round(assembly, "Morning", position=1), make_round(assembly, "Afternoon", position=2)
    harm = make_workshop(morning, make_topic("Hidden harm"), "Spotting hidden harm")
    exploit = make_workshop(morning, make_topic("Exploitation"), "Criminal exploitation", room="Room 2")
    asb = make_workshop(afternoon, make_topic("ASB"), "Anti-social behaviour")
    police, health = make_org("Shire Police", sector="police"), make_org("County NHS Trust", sector="health")
    aisha, ben = make_registration(assembly, police, "Aisha Khan"), make_registration(assembly, health, "Ben Jones")
    waiting = make_registration(assembly, health, "Will Waiting", status="waiting")
    place(aisha, harm), place(aisha, asb), place(ben, exploit)
    assembly.allocation_published_at = utcnow() - timedelta(days=3)
    db.session.commit()
    with app.test_request_context():
        tokens = {r.id: make_manage_token(r) for r in (aisha, ben, waiting)}
    return assembly, (harm, exploit, asb), (aisha, ben, waiting), tokens


def give(client, token, **data):
    # The session's CSRF token from any form (a closed feedback page shows none, and can still be posted to).
    page = client.get("/manage/new-link")
    return client.post(f"/manage/{token}/feedback", data={"csrf_token": csrf_from(page.get_data(as_text=True)), **data})


def test_a_delegate_rates_the_day_and_their_own_workshops_then_changes_it(client, day):
    assembly, (harm, exploit, asb), (aisha, _ben, _w), tokens = day
    token = tokens[aisha.id]
    manage = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "Give your feedback" in manage and f"/manage/{token}/feedback" in manage

    form = client.get(f"/manage/{token}/feedback").get_data(as_text=True)
    # Her two workshops, in the day's order; not the one she was not in.
    assert form.index("Spotting hidden harm") < form.index("Anti-social behaviour")
    assert "Criminal exploitation" not in form

    # Without the one required answer: refused, what was typed kept.
    missed = give(client, token, differently="Use the referral map", **{f"workshop_{harm.id}": "5"})
    body = missed.get_data(as_text=True)
    assert missed.status_code == 400 and "Choose how useful the assembly was for your work." in body
    assert "Use the referral map" in body and f'<input checked id="workshop_{harm.id}-0"' in body

    sent = give(client, token, overall="4", differently="Use the referral map", next_time="More on housing",
                **{f"workshop_{harm.id}": "5", f"workshop_{asb.id}": "", f"workshop_{exploit.id}": "1"})
    assert sent.status_code == 302 and sent.headers["Location"] == f"/manage/{token}"
    after = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Thank you: your feedback is saved." in after and "Change your feedback" in after
    saved = services.feedback_of(aisha)
    assert (saved.overall, saved.sector, saved.differently, saved.next_time) == (4, "police", "Use the referral map",
                                                                                 "More on housing")
    # Only her own workshop counts; "did not go" is no answer; a workshop she was not in is ignored.
    assert {r.workshop_id: r.rating for r in saved.ratings} == {harm.id: 5}

    again = client.get(f"/manage/{token}/feedback").get_data(as_text=True)
    assert "You have already answered" in again
    assert '<input checked id="overall-1" name="overall" type="radio" value="4">' in again and "More on housing" in again
    give(client, token, overall="2", next_time="", **{f"workshop_{asb.id}": "3"})
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Feedback.id))) == 1
    changed = services.feedback_of(aisha)
    assert changed.overall == 2 and changed.next_time == "" and {r.workshop_id: r.rating for r in changed.ratings} == {
        asb.id: 3}


def test_the_way_back_from_the_form_is_not_called_cancel(client, day):
    _assembly, _w, (aisha, _ben, _waiting), tokens = day
    token = tokens[aisha.id]
    form = client.get(f"/manage/{token}/feedback").get_data(as_text=True)
    actions = re.search(r'<div class="actions">(.*?)</div>', form, re.S).group(1)
    back = re.search(rf'<a href="/manage/{re.escape(token)}">([^<]*)</a>', actions).group(1)
    # The words of the change-details form: beside Send, "Cancel" reads as "cancel my registration".
    assert back == "Back without saving"


def test_feedback_opens_after_the_day_for_confirmed_delegates_and_closes_after_thirty_days(client, day):
    assembly, _workshops, (aisha, _ben, waiting), tokens = day
    refused = give(client, tokens[waiting.id], overall="5")
    assert "Feedback is for the delegates who had a place at the assembly." in refused.get_data(as_text=True)
    assert "Give your feedback" not in client.get(f"/manage/{tokens[waiting.id]}").get_data(as_text=True)

    assembly.date = local_today("Europe/London") + timedelta(days=10)
    db.session.commit()
    early = client.get(f"/manage/{tokens[aisha.id]}/feedback").get_data(as_text=True)
    assert "You can tell us how it went once the assembly is over." in early and 'name="overall"' not in early
    assert give(client, tokens[aisha.id], overall="5").status_code == 200
    assert services.feedback_of(aisha) is None

    assembly.date = local_today("Europe/London") - timedelta(days=31)
    db.session.commit()
    late = client.get(f"/manage/{tokens[aisha.id]}/feedback").get_data(as_text=True)
    assert "Feedback closed on" in late and 'name="overall"' not in late


def test_a_broken_or_expired_link_offers_a_fresh_one(client, day):
    _assembly, _w, (aisha, _ben, _waiting), tokens = day
    broken = client.get(f"/manage/{tokens[aisha.id][:-3]}xyz/feedback")
    assert broken.status_code == 404 and "/manage/new-link" in broken.get_data(as_text=True)


def test_organisers_see_the_answers_without_names_and_hostile_text_escaped(client, auth, organiser, day):
    assembly, (harm, exploit, asb), (aisha, ben, _w), tokens = day
    give(client, tokens[aisha.id], overall="5", next_time=HOSTILE, **{f"workshop_{harm.id}": "4"})
    give(client, tokens[ben.id], overall="2", differently="=SUM(A1:A9)", **{f"workshop_{exploit.id}": "2"})
    auth.login(organiser.email)
    page = client.get(f"/organiser/assemblies/{assembly.slug}/feedback")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2 delegates of 2 confirmed have answered." in body
    assert "<strong>50%</strong> found it useful or very useful (average 3.5 of 5)" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "Aisha Khan" not in body and "Ben Jones" not in body and "aisha.khan" not in body
    assert '<td>Police</td><td class="num">1</td><td class="num">100%</td><td class="num">5.0 of 5</td>' in body
    assert "Spotting hidden harm" in body and '<td class="num">1</td><td class="num">0%</td><td class="num">2.0 of 5</td>' in body
    other = client.get(f"/organiser/assemblies/{assembly.slug}/feedback?comments=differently").get_data(as_text=True)
    assert "=SUM(A1:A9)" in other

    exported = client.get(f"/organiser/assemblies/{assembly.slug}/feedback.csv")
    name = f"feedback-{assembly.slug}-{local_today(assembly.timezone).isoformat()}.csv"
    assert exported.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    assert exported.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Submitted (UTC)", "Sector", "Assembly overall (1-5)"]
    assert "Morning: Spotting hidden harm (1-5)" in rows[0] and len(rows) == 3
    hostile_row = next(r for r in rows[1:] if r[2] == "5")
    # Stored as typed (line breaks made \n), and a spreadsheet shows the formula as text.
    assert hostile_row[-1] == HOSTILE.replace("\r\n", "\n")
    ben_row = next(r for r in rows[1:] if r[2] == "2")
    assert ben_row[-2] == "'=SUM(A1:A9)"


def test_the_comments_page_through_and_the_empty_state(client, auth, organiser, day):
    assembly, _w, _people, _tokens = day
    auth.login(organiser.email)
    empty = client.get(f"/organiser/assemblies/{assembly.slug}/feedback").get_data(as_text=True)
    assert "No feedback yet." in empty and "feedback.csv" not in empty
    org = make_org("Many Voices", sector="voluntary_community")
    for i in range(30):
        reg = make_registration(assembly, org, f"Voice {i:02d}")
        services.save_feedback(reg, {"overall": "3", "next_time": f"Idea number {i:02d}"})
    first = client.get(f"/organiser/assemblies/{assembly.slug}/feedback").get_data(as_text=True)
    assert "Idea number 29" in first and "Idea number 04" not in first and "Page 1 of 2 (30 in all)" in first
    # The page links open the next page at the comments, not at the top of the figures above them.
    following = html.unescape(re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first).group(1))
    assert following == f"/organiser/assemblies/{assembly.slug}/feedback?page=2#comments"
    second = client.get(f"/organiser/assemblies/{assembly.slug}/feedback?comments=next_time&page=2").get_data(as_text=True)
    assert "Idea number 04" in second
    assert re.search(r'<a href="[^"]*page=1#comments" rel="prev">Previous page</a>', second)


def test_feedback_is_in_the_delegates_data_and_outlives_the_purge_of_personal_data(client, day):
    assembly, (harm, _e, _a), (aisha, _ben, _w), tokens = day
    give(client, tokens[aisha.id], overall="5", differently="Meet the housing team", **{f"workshop_{harm.id}": "4"})
    data = json.loads(client.get(f"/manage/{tokens[aisha.id]}/my-data.json").get_data(as_text=True))
    assert data["feedback"]["assembly"] == "Very useful"
    assert data["feedback"]["workshops"] == [{"workshop": "Spotting hidden harm", "answer": "Useful"}]
    assert data["feedback"]["what_you_will_do_differently"] == "Meet the housing team"

    anonymise_registrations(assembly)
    kept = db.session.scalar(select(Feedback))
    assert kept.registration_id is None and kept.overall == 5 and kept.sector == "police"
    assert services.summary(assembly).overall.counts[5] == 1


def test_answers_outside_the_scale_are_refused(day):
    _assembly, (harm, _e, _a), (aisha, _ben, _w), _tokens = day
    from eventapp.domain import DomainError

    with pytest.raises(DomainError, match="Choose one of the answers"):
        services.save_feedback(aisha, {"overall": "9"})
    with pytest.raises(DomainError, match="Choose one of the answers for Spotting hidden harm"):
        services.save_feedback(aisha, {"overall": "3", "workshops": {harm.id: "-1"}})
    assert services.feedback_of(aisha) is None


def test_the_assembly_report_carries_the_feedback_figures(client, auth, organiser, day):
    assembly, (harm, _e, _a), (aisha, ben, _w), tokens = day
    auth.login(organiser.email)
    assert "No delegate has given feedback." in client.get(f"/organiser/assemblies/{assembly.slug}/report").get_data(
        as_text=True)
    give(client, tokens[aisha.id], overall="5")
    give(client, tokens[ben.id], overall="3")
    report = client.get(f"/organiser/assemblies/{assembly.slug}/report").get_data(as_text=True)
    assert "2 delegates of 2 confirmed answered; 50% found the assembly useful or very useful (average 4.0 of 5)." in report
    data = json.loads(client.get(f"/organiser/assemblies/{assembly.slug}/report.json").get_data(as_text=True))
    assert data["feedback"] == {"responses": 2, "useful_or_very_useful": 1, "average_of_5": 4.0,
                                "answers": {"Very useful": 1, "Useful": 0, "Somewhat useful": 1, "Not very useful": 0,
                                            "Not useful at all": 0}}


def test_changing_a_workshop_rating_replaces_it(day):
    _assembly, (harm, _e, asb), (aisha, _ben, _w), _tokens = day
    services.save_feedback(aisha, {"overall": "4", "workshops": {harm.id: "5", asb.id: "2"}})
    services.save_feedback(aisha, {"overall": "4", "workshops": {harm.id: "3", asb.id: "2"}})
    db.session.expire_all()
    assert {r.workshop_id: r.rating for r in services.feedback_of(aisha).ratings} == {harm.id: 3, asb.id: 2}


def test_feedback_refused_by_its_links_limit_comes_back_as_typed_and_nothing_is_saved(app, day):
    _assembly, (harm, _e, _a), (aisha, _b, _w), tokens = day
    token = tokens[aisha.id]
    with rate_limited_client(app) as client:
        # Ten sent in a minute from her link, each missing the one required answer.
        assert [give(client, token, next_time="draft").status_code for _ in range(10)] == [400] * 10
        refused = give(client, token, overall="4", differently=HOSTILE, next_time="More on housing, please",
                       **{f"workshop_{harm.id}": "5"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert "There is a problem" in page
    assert ("Your feedback has not been saved yet: it was sent from your personal link many times in a short time. "
            "Everything you entered is kept here. Please wait a minute, then send it again.") in page
    # The form as typed, ready to send again: the comments, the answers chosen, a form token.
    assert "More on housing, please</textarea>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert '<input checked id="overall-1" name="overall" type="radio" value="4">' in page
    assert f'<input checked id="workshop_{harm.id}-0"' in page
    assert 'name="csrf_token"' in page
    assert services.feedback_of(aisha) is None


def test_feedback_refused_by_the_limit_per_address_says_so_and_keeps_the_text(app, day):
    _assembly, _w, (aisha, ben, _w2), tokens = day
    with rate_limited_client(app, REGISTRATION_ATTEMPT_LIMIT="2 per minute") as client:
        # Two colleagues behind one office address: the third form this minute waits.
        assert give(client, tokens[aisha.id], overall="5").status_code == 302
        assert give(client, tokens[ben.id], next_time="").status_code == 400
        refused = give(client, tokens[ben.id], overall="2", next_time="A session on hidden harm")
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert "a lot of forms have come from your network (colleagues on the same connection count too)" in page
    assert "A session on hidden harm</textarea>" in page
    assert services.feedback_of(ben) is None and services.feedback_of(aisha).overall == 5
