"""'Yes, delete' clicked twice: the second request finds nothing left to delete. Its answer is the page the
organiser sees, so it says the thing is deleted, not "Page not found"."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from eventapp.assemblies.models import AgendaItem, Round, Workshop
from eventapp.documents.models import Document
from eventapp.extensions import db
from tests.conftest import csrf_from
from tests.factories import make_agenda_item, make_assembly, make_document, make_round, make_topic, make_workshop


def _setup():
    assembly = make_assembly()
    rnd = make_round(assembly, "Morning breakouts")
    workshop = make_workshop(make_round(assembly, "Afternoon"), make_topic(), "Hidden harm")
    item = make_agenda_item(assembly, "Welcome")
    doc = make_document(assembly, "Venue directions")
    base = f"/organiser/assemblies/{assembly.slug}"
    return assembly, {
        "round": (f"{base}/rounds/{rnd.id}/delete", Round, rnd.id, base),
        "workshop": (f"{base}/workshops/{workshop.id}/delete", Workshop, workshop.id, base),
        "agenda item": (f"{base}/agenda/{item.id}/delete", AgendaItem, item.id, base),
        "document": (f"{base}/documents/{doc.id}/delete", Document, doc.id, f"{base}/documents"),
    }


@pytest.mark.parametrize("what", ["round", "workshop", "agenda item", "document"])
def test_a_second_click_on_yes_delete_says_it_is_deleted_already(as_organiser, what):
    assembly, things = _setup()
    url, model, obj_id, back = things[what]
    token = csrf_from(as_organiser.get(url).get_data(as_text=True))
    first = as_organiser.post(url, data={"csrf_token": token})
    assert first.status_code == 302
    assert db.session.scalar(select(model).where(model.id == obj_id)) is None
    second = as_organiser.post(url, data={"csrf_token": token})
    assert second.status_code == 302 and second.headers["Location"].endswith(back)
    page = html.unescape(as_organiser.get(back).get_data(as_text=True))
    assert f"That {what} was deleted already." in page


def test_another_assemblys_round_is_still_not_found(as_organiser):
    assembly, things = _setup()
    other = make_assembly()
    url, model, obj_id, back = things["round"]
    other_url = url.replace(assembly.slug, other.slug)
    token = csrf_from(as_organiser.get(url).get_data(as_text=True))
    assert as_organiser.post(other_url, data={"csrf_token": token}).status_code == 404
    assert db.session.get(Round, obj_id) is not None

