"""Day sheets: the reception list, each workshop's register and the catering list, ready to print."""
from __future__ import annotations

from sqlalchemy import select

from eventapp.assemblies.models import Workshop
from eventapp.extensions import db
from eventapp.placements.models import Placement
from tests.factories import make_user

from .test_organiser import seed


def _url(setup, part=""):
    return f"/organiser/assemblies/{setup.assembly.slug}/day-sheets" + (f"?part={part}" if part else "")


def _place(reg, workshop):
    db.session.add(Placement(registration_id=reg.id, round_id=workshop.round_id, topic_id=workshop.topic_id,
                             workshop_id=workshop.id))


def test_the_day_sheets_list_confirmed_delegates_by_name_with_workshops_registers_and_needs(app, as_organiser, setup):
    setup.assembly.capacity = 3
    db.session.commit()
    zoe, aisha, ben, waiting = seed(app, setup, [
        (1, 0, {"full_name": "Zoë <b>Adams</b>", "dietary_needs": "Vegan\nNo nuts"}),
        (2, 1, {"full_name": "Aisha Khan", "access_needs": "Hearing loop"}),
        (3, 1, {"full_name": "Ben Jones"}),
        (4, 2, {"full_name": "Will Waiting"})])
    assert waiting.status == "waiting"
    fran = make_user("facilitator", name="Fran Facilitator")
    asb = db.session.scalar(select(Workshop).where(Workshop.topic_id == setup.topics[0].id))
    asb.facilitators = [fran]
    for reg in (zoe, aisha):
        _place(reg, asb)
    db.session.commit()
    page = as_organiser.get(_url(setup)).get_data(as_text=True)
    reception = page.split('id="reception"')[1].split("</section>")[0]
    # By name, confirmed only, hostile text escaped, each with their workshop and needs.
    names = [reception.index(n) for n in ("Aisha Khan", "Ben Jones", "Zoë &lt;b&gt;Adams&lt;/b&gt;")]
    assert names == sorted(names) and "Will Waiting" not in page
    assert f"{asb.round.name}: {asb.title} ({asb.room})" in reception.split("Aisha Khan")[1].split("</tr>")[0]
    assert "None yet" in reception.split("Ben Jones")[1].split("</tr>")[0]
    register = page.split(f'id="register-{asb.id}"')[1].split("</section>")[0]
    assert "Facilitated by <bdi>Fran Facilitator</bdi>" in register and "2 delegates placed, 20 seats" in register
    assert "Aisha Khan" in register and "Hearing loop" in register and "Ben Jones" not in register
    catering = page.split('id="catering"')[1].split("</section>")[0]
    assert "3 confirmed delegates: 1 dietary need, 1 access need." in catering
    assert "Vegan\nNo nuts" in catering
    # One part at a time, to print only that.
    only = as_organiser.get(_url(setup, "registers")).get_data(as_text=True)
    assert f'id="register-{asb.id}"' in only and 'id="reception"' not in only and 'id="catering"' not in only
    assert 'aria-current="page">Workshop registers</a>' in only
    assert 'id="reception"' in as_organiser.get(_url(setup, "nonsense")).get_data(as_text=True)  # all of it


def test_day_sheets_before_anyone_registered_say_so(as_organiser, setup):
    page = as_organiser.get(_url(setup)).get_data(as_text=True)
    assert "No delegate is confirmed yet" in page
    detail = as_organiser.get(f"/organiser/assemblies/{setup.assembly.slug}").get_data(as_text=True)
    assert f'href="{_url(setup)}">Day sheets (print)</a>' in detail


def test_name_badges_show_each_confirmed_delegate_with_their_workshops_and_print_on_their_own(app, as_organiser, setup):
    zoe, aisha = seed(app, setup, [(1, 0, {"full_name": "Zoë <b>Adams</b>"}), (2, 1, {"full_name": "Aisha Khan"})])
    asb = db.session.scalar(select(Workshop).where(Workshop.topic_id == setup.topics[0].id))
    asb.room = "Committee Room <2>"
    _place(aisha, asb)
    db.session.commit()
    page = as_organiser.get(_url(setup, "badges")).get_data(as_text=True)
    badges = page.split('class="badges"')[1].split("</section>")[0]
    assert badges.count('<li class="name-badge">') == 2
    assert badges.index("Aisha Khan") < badges.index("Zoë &lt;b&gt;Adams&lt;/b&gt;")
    aisha_badge = badges.split("Aisha Khan")[1].split('<li class="name-badge">')[0]
    assert f"{setup.orgs[1].name}" in aisha_badge
    assert f"{asb.round.starts_at:%H:%M} {asb.title}, Committee Room &lt;2&gt;" in aisha_badge
    assert "badge-workshops" not in badges.split("Zoë")[1]  # no workshop yet: none listed
    assert 'aria-current="page">Name badges</a>' in page
    # Card, not paper: "All" leaves them out.
    assert 'class="badges"' not in as_organiser.get(_url(setup)).get_data(as_text=True)
