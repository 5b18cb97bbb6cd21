"""A certificate of attendance on the delegate's personal page, after the day, for those recorded as attending."""
from __future__ import annotations

from datetime import time, timedelta

from eventapp.checkin import services
from eventapp.extensions import db
from eventapp.notes.models import Attendance
from eventapp.registration.services import make_manage_token
from eventapp.timeutil import local_today
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.notes.helpers import make_registration

HOSTILE = "<script>alert(1)</script> \u202eRTL \U0001F600"


def held_yesterday():
    assembly = make_assembly(title="Safety <b>Assembly</b>", date=local_today("Europe/London") - timedelta(days=1),
                             start_time=time(9, 30), end_time=time(16, 0))
    rnd = make_round(assembly, "Morning", starts_at=time(10, 0), ends_at=time(11, 0))
    workshop = make_workshop(rnd, make_topic("Hidden harm"), "Spotting hidden harm")
    return assembly, workshop


def page(client, reg) -> tuple[int, str]:
    response = client.get(f"/manage/{make_manage_token(reg)}/certificate")
    return response.status_code, response.get_data(as_text=True)


def test_a_delegate_checked_in_and_present_gets_a_certificate_naming_the_workshop(client, db):
    assembly, workshop = held_yesterday()
    reg = make_registration(assembly, make_org("Shireford Fire"), HOSTILE)
    services.mark_arrived(assembly, reg.id)
    db.session.add(Attendance(workshop_id=workshop.id, registration_id=reg.id, status="present"))
    db.session.commit()
    status, html = page(client, reg)
    assert status == 200
    assert "Certificate of attendance" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html and "Safety &lt;b&gt;Assembly&lt;/b&gt;" in html
    assert "09:30&ndash;16:00 (6.5 hours)" in html
    assert "10:00&ndash;11:00: <bdi>Spotting hidden harm</bdi>" in html
    assert f"Reference {assembly.id}-{reg.id}" in html
    manage = client.get(f"/manage/{make_manage_token(reg)}").get_data(as_text=True)
    assert "Your certificate of attendance" in manage


def test_present_in_a_workshop_is_enough_and_so_is_checked_in_alone(client, db):
    assembly, workshop = held_yesterday()
    org = make_org()
    present = make_registration(assembly, org, "Pat Present")
    db.session.add(Attendance(workshop_id=workshop.id, registration_id=present.id, status="present"))
    arrived = make_registration(assembly, org, "Alex Arrived")
    services.mark_arrived(assembly, arrived.id)
    db.session.commit()
    assert "This is to certify that" in page(client, present)[1]
    _, html = page(client, arrived)
    assert "This is to certify that" in html and "Workshops attended" not in html


def test_no_certificate_without_a_record_before_the_day_or_when_absent(client, db):
    assembly, workshop = held_yesterday()
    org = make_org()
    absent = make_registration(assembly, org, "Abe Absent")
    db.session.add(Attendance(workshop_id=workshop.id, registration_id=absent.id, status="absent"))
    db.session.commit()
    status, html = page(client, absent)
    assert status == 200 and "This is to certify" not in html
    assert "Your attendance was not recorded" in html and "mailto:" in html
    assert "Your certificate of attendance" not in client.get(f"/manage/{make_manage_token(absent)}").get_data(as_text=True)

    coming = make_assembly()  # next year
    early = make_registration(coming, org, "Eve Early")
    assert "will be here once the assembly is over" in page(client, early)[1]

    waiting = make_registration(assembly, org, "Will Waiting", status="waiting")
    assert "was not confirmed" in page(client, waiting)[1]


def test_a_forged_link_gets_no_certificate(client, db):
    assembly, _ = held_yesterday()
    reg = make_registration(assembly, make_org(), "Fay Forged")
    services.mark_arrived(assembly, reg.id)
    token = make_manage_token(reg)
    assert client.get(f"/manage/{token[:-4]}AAAA/certificate").status_code == 404


def test_before_the_day_the_waiting_list_and_cancelled_are_not_promised_a_certificate(client, db):
    coming = make_assembly()  # next year
    org = make_org()
    waiting = make_registration(coming, org, "Wanda Waiting", status="waiting")
    html = page(client, waiting)[1]
    assert "will be here once the assembly is over" not in html
    assert "waiting list" in html and "if you are given a place" in html
    cancelled = make_registration(coming, org, "Carl Cancelled", status="cancelled")
    html = page(client, cancelled)[1]
    assert "will be here once the assembly is over" not in html and "was cancelled" in html
