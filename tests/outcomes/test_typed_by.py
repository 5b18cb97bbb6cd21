"""A carried action changed on a computer organisers share: sent after another organiser signed in, it is not
saved under their name until they confirm it (tests/notes/test_typed_by.py has the workshop's forms)."""
from __future__ import annotations

import re
from datetime import date, timedelta

from markupsafe import escape
from sqlalchemy import select

from eventapp.extensions import db
from eventapp.notes.models import Action, ActionRevision
from eventapp.outcomes import services
from tests.conftest import csrf_from, tickets_from
from tests.factories import make_user
from tests.outcomes.helpers import build_scene

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
    services.carry_forward(scene.current, [scene.overdue_action.id], amy.id)
    (copy,) = [a for a in services.partner_actions(scene.police.id)
               if a.description == scene.overdue_action.description]
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
