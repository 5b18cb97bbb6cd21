"""A carried action changed on a computer organisers share: sent after another organiser signed in, it is not
saved under their name until they confirm it (tests/notes/test_typed_by.py has the workshop's forms)."""
from __future__ import annotations

import re
from datetime import date, timedelta

from markupsafe import escape
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.notes.models import Action, ActionRevision
from tests.conftest import csrf_from, tickets_from
from tests.factories import make_user
from tests.outcomes.helpers import build_scene, carried_copy
from tests.outcomes.test_partners import token_for

AMY = "Amy <b>Organiser</b>"
BO = "Bo \"Second\" Organiser"
TYPED = "<script>alert('carried')</script> & a new owner"


def _latest(action_id: int) -> tuple[str, int | None, int]:
    db.session.expire_all()
    action = db.session.get(Action, action_id)
    rev = db.session.scalar(select(ActionRevision).where(ActionRevision.action_id == action_id)
                            .order_by(ActionRevision.version.desc()))
    return action.description, rev.user_id if rev else None, action.version


def test_a_carried_action_edited_by_one_organiser_is_saved_as_the_next_only_when_they_confirm(client, auth, db):
    amy = make_user("organiser", email="amy@example.org", name=AMY)
    bo = make_user("organiser", email="bo@example.org", name=BO)
    scene = build_scene(organiser=amy)
    copy = carried_copy(scene, amy.id)
    url = f"/organiser/tracker/{copy.id}/edit"
    before = _latest(copy.id)
    auth.login(amy.email)
    page = client.get(url).get_data(as_text=True)
    hidden = {"csrf_token": csrf_from(page), **tickets_from(page)}
    data = {"version": str(copy.version), "description": TYPED, "owner_organisation_id": str(scene.health.id),
            "lead_person": "New Lead", "due_date": (date.today() + timedelta(days=20)).isoformat(),
            "status": "in_progress"}
    auth.logout()
    auth.login(bo.email)
    resp = client.post(url, data={**hidden, **data})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and _latest(copy.id) == before
    assert str(escape(TYPED)) in html and 'value="New Lead"' in html and "<script>alert" not in html
    assert 'id="typed-by" role="alert"' in html
    assert (f"This page was opened by {escape(AMY)}, who is no longer signed in here. Nothing has been saved. "
            f"Check the text and press Save action to save it under your name ({escape(BO)})") in html
    # Bo presses Save action on the page shown: saved, as Bo's.
    form = re.search(rf'<form method="post" action="{url}"[^>]*>(.*?)</form>', html, re.S).group(1)
    resp = client.post(url, data={"csrf_token": csrf_from(form), **tickets_from(form), **data})
    assert resp.status_code == 302
    description, by, version = _latest(copy.id)
    assert description == TYPED and by == bo.id and version == before[2] + 1
    # Bo's own page, with no ticket at all (a page from before forms named who they were shown to): refused.
    resp = client.post(url, data={"csrf_token": csrf_from(html), **data, "version": str(version),
                                  "description": "Changed again"})
    assert resp.status_code == 409 and "cannot tell who typed it" in resp.get_data(as_text=True)
    assert _latest(copy.id)[0] == TYPED


NOTE = "<script>alert('note')</script> & \"minuted\" \u202eRTL\u202c"


def _updates(action_id: int) -> list[tuple[str, str, int | None]]:
    from eventapp.outcomes.models import ActionStatusUpdate

    db.session.expire_all()
    return [(u.status, u.note, u.user_id) for u in db.session.scalars(
        select(ActionStatusUpdate).where(ActionStatusUpdate.action_id == action_id).order_by(ActionStatusUpdate.id))]


def _form_of(html: str, action: str) -> str:
    return re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S).group(1)


def test_a_status_set_on_the_history_page_by_one_facilitator_is_saved_as_the_next_only_when_they_confirm(
        client, auth, db):
    ann = make_user("facilitator", email="ann@example.org", name=AMY)
    ben = make_user("facilitator", email="ben@example.org", name=BO)
    scene = build_scene(facilitator=ann)
    scene.new_workshop.facilitators.append(ben)
    db.session.commit()
    a = scene.overdue_action.id
    url = f"/facilitator/workshops/{scene.new_workshop.id}/history"
    before = _updates(a)
    auth.login(ann.email)
    page = client.get(url).get_data(as_text=True)
    hidden = token_for(_form_of(page, f"{url}/{a}"), a)
    data = {f"a{a}-status": "in_progress", f"a{a}-note": NOTE}
    auth.logout()
    auth.login(ben.email)
    resp = client.post(f"{url}/{a}", data={**hidden, **data})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and _updates(a) == before
    assert str(escape(NOTE)) in html and "<script>alert('note')" not in html
    assert re.search(rf'name="a{a}-status"[^>]*>.*?<option selected value="in_progress">', html, re.S)
    assert 'id="typed-by" role="alert"' in html and f'<a href="#action-{a}">Go to the text</a>' in html
    assert (f"This page was opened by {escape(AMY)}, who is no longer signed in here. Nothing has been saved. "
            f"Check the text and press Save status to save it under your name ({escape(BO)})") in html
    # Ben presses Save status on that action's form as shown: saved, as Ben's.
    form = _form_of(html, f"{url}/{a}")
    resp = client.post(f"{url}/{a}", data={**token_for(form, a), **data})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"#action-{a}")
    assert _updates(a) == before + [("in_progress", NOTE, ben.id)]
    # No ticket at all (a page from before forms named who they were shown to): refused.
    resp = client.post(f"{url}/{a}", data={**token_for(form, a), "typed_by": "", f"a{a}-status": "open",
                                           f"a{a}-note": ""})
    assert resp.status_code == 409 and "cannot tell who typed it" in resp.get_data(as_text=True)
    assert len(_updates(a)) == len(before) + 1


def test_a_status_set_on_the_organisers_status_page_is_saved_as_the_next_organiser_only_when_they_confirm(
        client, auth, db):
    amy = make_user("organiser", email="amy@example.org", name=AMY)
    bo = make_user("organiser", email="bo@example.org", name=BO)
    scene = build_scene(organiser=amy)
    a = scene.open_action.id
    url = f"/organiser/tracker/{a}/status"
    before = _updates(a)
    auth.login(amy.email)
    page = client.get(url).get_data(as_text=True)
    hidden = {"csrf_token": csrf_from(page), **tickets_from(page)}
    data = {"status": "dropped", "note": NOTE}
    auth.logout()
    auth.login(bo.email)
    resp = client.post(url, data={**hidden, **data})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and _updates(a) == before
    assert str(escape(NOTE)) in html and "<script>alert('note')" not in html
    assert '<option selected value="dropped">' in html
    assert 'id="typed-by" role="alert"' in html
    assert (f"This page was opened by {escape(AMY)}, who is no longer signed in here. Nothing has been saved. "
            f"Check the text and press Save status to save it under your name ({escape(BO)})") in html
    form = _form_of(html, url)
    resp = client.post(url, data={"csrf_token": csrf_from(form), **tickets_from(form), **data})
    assert resp.status_code == 302
    assert _updates(a) == before + [("dropped", NOTE, bo.id)]
    resp = client.post(url, data={"csrf_token": csrf_from(form), "status": "open", "note": ""})
    assert resp.status_code == 409 and "cannot tell who typed it" in resp.get_data(as_text=True)
    assert len(_updates(a)) == len(before) + 1
