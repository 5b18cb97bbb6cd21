"""User text inside a flashed sentence is bidi-isolated (FSI ... PDI), so an RLO or right-to-left name in it
cannot reorder the rest of the message on screen; what is stored stays exactly as typed."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.extensions import db
from eventapp.notes.models import Attendance
from eventapp.organisations.models import Organisation
from eventapp.registration.models import Registration
from eventapp.text import FSI, PDI, isolate
from tests.conftest import post_form
from tests.factories import make_org
from tests.notes.helpers import make_registration, scene
from tests.page_messages import message_boxes

RLO_NAME = "Eve \u202eevil\u202c Smith"


def _flashes(html: str) -> list[str]:
    return [text for box in message_boxes(html) for text in box.texts]


def _contained(message: str) -> bool:
    """Every explicit embedding/override in the message lies inside an isolate, and every isolate is closed."""
    depth = 0
    for char in message:
        if char in "\u2066\u2067\u2068":
            depth += 1
        elif char == PDI:
            depth = max(depth - 1, 0)
        elif "\u202a" <= char <= "\u202e" and depth == 0:
            return False
    return depth == 0


def test_isolate_wraps_the_value_and_keeps_a_stray_pdi_from_closing_it_early():
    # Left-to-right text cannot reorder the sentence: no invisible characters added.
    assert isolate("Aisha O'Neil <b>") == "Aisha O'Neil <b>"
    assert isolate(42) == "42"
    assert isolate("\u0639\u0627\u0626\u0634\u0629 2") == f"{FSI}\u0639\u0627\u0626\u0634\u0629 2{PDI}"
    assert isolate("Eve \u202eevil") == f"{FSI}Eve \u202eevil{PDI}"
    # A PDI typed in the value would end the isolate and free what follows it: it gets an FSI of its own.
    assert isolate("a\u2069\u202eb") == f"{FSI}{FSI}a\u2069\u202eb{PDI}"
    # An isolate opened and left open in the value is closed before the value's own isolate is.
    assert isolate("\u2067x") == f"{FSI}\u2067x{PDI}{PDI}"
    for hostile in ("a\u2069\u202eb", "\u2067\u2067x\u2069", "\u2069\u2069\u202d", RLO_NAME):
        assert _contained(isolate(hostile) + " rest") and hostile in isolate(hostile)


def test_organiser_cancelling_a_registration_with_an_rlo_in_the_name(as_organiser, facilitator):
    s = scene(facilitator)
    reg = make_registration(s.assembly, make_org(), RLO_NAME)
    url = f"/organiser/assemblies/{s.assembly.slug}/registrations/{reg.id}/cancel"
    resp = post_form(as_organiser, url, {}, follow_redirects=True)
    [message] = [m for m in _flashes(resp.get_data(as_text=True)) if "registration is cancelled" in m]
    assert message.startswith(f"{isolate(RLO_NAME)}'s registration is cancelled. To undo it, choose Reinstate")
    assert _contained(message)
    assert db.session.get(Registration, reg.id).full_name == RLO_NAME


def test_facilitator_adding_a_walk_in_with_an_arabic_name_and_digits(as_facilitator, facilitator):
    s = scene(facilitator)
    name = "سارة 2 \u202e12"
    url = f"/facilitator/workshops/{s.workshop.id}/attendance"
    resp = post_form(as_facilitator, f"{url}/walk-in", {"registration_id": "0", "name": name, "organisation": ""},
                     form_url=url, follow_redirects=True)
    assert f"{isolate(name)} added to the register as present." in _flashes(resp.get_data(as_text=True))
    assert db.session.scalar(select(Attendance.walk_in_name).where(Attendance.registration_id.is_(None))) == name


def test_organiser_approving_an_organisation_with_an_rlo_in_its_name(as_organiser):
    org = make_org("Refuge \u202eTrust", status="pending")
    resp = post_form(as_organiser, f"/organiser/organisations/{org.id}/approve", {},
                     form_url="/organiser/organisations/", follow_redirects=True)
    assert f"“{isolate(org.name)}” approved." in _flashes(resp.get_data(as_text=True))
    assert db.session.get(Organisation, org.id).name == "Refuge \u202eTrust"


def test_a_hostile_assembly_title_in_the_created_message(as_organiser):
    from tests.assemblies.test_console import assembly_form

    title = "جمعية \u202e2027"
    resp = post_form(as_organiser, "/organiser/assemblies/new", assembly_form(title=title, slug="rlo-title"),
                     follow_redirects=True)
    [message] = [m for m in _flashes(resp.get_data(as_text=True)) if "created" in m]
    assert message == f"Assembly “{isolate(title)}” created. Next, add its rounds and workshops."


def test_a_service_refusal_naming_the_assembly_is_isolated_too(as_organiser, facilitator):
    from datetime import date
    s = scene(facilitator, title="Assembly \u202eX", date=date(2020, 3, 18))
    reg = make_registration(s.assembly, make_org(), "Wait Ing", status="waiting")
    resp = post_form(as_organiser, f"/organiser/assemblies/{s.assembly.slug}/registrations/{reg.id}/confirm", {},
                     form_url=f"/organiser/assemblies/{s.assembly.slug}/registrations", follow_redirects=True)
    messages = [m for m in _flashes(resp.get_data(as_text=True)) if "Assembly \u202eX" in m]
    assert messages and all(isolate("Assembly \u202eX") in m and _contained(m) for m in messages)
