"""Every search box looks for what was typed: % and _ match only themselves, never any text.

Each list is given one row whose searched text holds "50%_off" and one that does not; a search
for "%", for "_" and for "50%_o" finds the first only, and a plain word still finds what it should.
"""
from __future__ import annotations

import pytest

from eventapp.extensions import db
from eventapp.mail.models import OutboxMessage
from eventapp.notes.services import walk_in_candidates
from eventapp.timeutil import utcnow
from tests.factories import make_assembly, make_org, make_round, make_topic, make_user, make_workshop
from tests.notes.helpers import make_registration

MARKED, PLAIN = "Fifty 50%_off Partnership", "Northvale Partnership"
SEARCHES = ("%", "_", "50%_o", "/")


def _outbox(name: str) -> None:
    db.session.add(OutboxMessage(kind="registration_confirmed", to_email="someone@example.org", to_name=name,
                                 subject="Your place", body_text="", body_html="", message_id=f"<{len(name)}@x>",
                                 status="pending", attempts=0, next_attempt_at=utcnow(), last_error=""))
    db.session.commit()


def _lists():
    """(URL, make one row whose searched text is the name), per organiser search box."""
    def registration_row(name: str) -> None:
        make_registration(assembly, org, name)

    assembly, org = make_assembly(slug="wildcards"), make_org("Shireford Constabulary")
    return {
        "assemblies": ("/organiser/", lambda name: make_assembly(title=name)),
        "topics": ("/organiser/topics", make_topic),
        "users": ("/organiser/users", lambda name: make_user(name=name)),
        "organisations": ("/organiser/organisations/", make_org),
        "outbox": ("/organiser/outbox/", _outbox),
        "registrations": ("/organiser/assemblies/wildcards/registrations", registration_row),
    }


@pytest.mark.parametrize("which", ["assemblies", "topics", "users", "organisations", "outbox", "registrations"])
def test_a_wildcard_typed_in_a_search_box_matches_only_itself(as_organiser, which):
    url, add = _lists()[which]
    add(MARKED)
    add(PLAIN)
    for q in SEARCHES[:3]:
        page = as_organiser.get(url, query_string={"q": q}).get_data(as_text=True)
        assert MARKED in page, (which, q)
        assert PLAIN not in page, (which, q)
    page = as_organiser.get(url, query_string={"q": "/"}).get_data(as_text=True)
    assert MARKED not in page and PLAIN not in page
    page = as_organiser.get(url, query_string={"q": "partnership"}).get_data(as_text=True)
    assert MARKED in page and PLAIN in page


def test_the_walk_in_search_matches_a_wildcard_only_as_itself(db):
    assembly = make_assembly()
    workshop = make_workshop(make_round(assembly), make_topic())
    org = make_org("Shireford Constabulary")
    marked, plain = make_registration(assembly, org, MARKED), make_registration(assembly, org, PLAIN)
    for q in SEARCHES[:3]:
        assert walk_in_candidates(workshop, q) == [marked]
    assert walk_in_candidates(workshop, "/") == []
    assert set(walk_in_candidates(workshop, "partnership")) == {marked, plain}
