"""The facilitator's home across assemblies, with the allocated attendees of each workshop."""
from __future__ import annotations

from datetime import date

from eventapp.notes import services
from tests.factories import make_org, make_round, make_workshop
from tests.notes.helpers import make_registration, notes_form, place, scene


def test_home_lists_own_workshops_across_assemblies_with_attendees(as_facilitator, facilitator):
    this_year = scene(facilitator, title="Assembly 2027", date=date(2027, 3, 18))
    last_year = scene(facilitator, title="Assembly 2026", date=date(2026, 3, 18))
    cancelled = make_registration(this_year.assembly, this_year.police, "Gone Away", status="cancelled")
    place(cancelled, this_year.workshop)
    services.save_notes(last_year.workshop, notes_form(summary="Done"), 0, None, submit=True)
    html = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert html.index("Assembly 2027") < html.index("Assembly 2026")  # newest first
    assert html.count("Spotting hidden harm") >= 2 and "Criminal exploitation" not in html
    for name in ("Aisha Khan", "Ben Jones", "Chloé Martin"):
        assert name in html
    assert "Shire Police" in html and "Health" in html and "Step-free access, please" in html
    assert "Dev Patel" not in html and "Gone Away" not in html
    assert "Submitted for review" in html and "Not started" in html
    assert f'href="/facilitator/workshops/{this_year.workshop.id}/attendance"' in html
    assert f'href="/facilitator/workshops/{this_year.workshop.id}/notes"' in html
    assert f'href="/facilitator/workshops/{this_year.workshop.id}/actions"' in html


def test_workshop_without_allocation_says_so(as_facilitator, facilitator):
    s = scene(facilitator)
    make_workshop(make_round(s.assembly, "Afternoon"), title="Not allocated yet", facilitators=[facilitator])
    html = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert "No attendees allocated yet" in html


def test_attendees_names_and_organisations_are_isolated_from_the_text_around_them(as_facilitator, facilitator):
    # Typed by the delegates: a right-to-left name ending in digits must not reorder the cells around it.
    s = scene(facilitator)
    org = make_org("\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7", sector="voluntary_community")
    place(make_registration(s.assembly, org, "\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2"), s.workshop)
    html = as_facilitator.get("/facilitator/").get_data(as_text=True)
    assert ("<tr><td><bdi>\u0633\u0627\u0631\u0629 \u0639\u0644\u064a 2</bdi></td>"
            '<td data-label="Organisation"><bdi>\u062c\u0645\u0639\u064a\u0629 \u0627\u0644\u0646\u0648\u0631 7</bdi></td>') in html
