"""forms never confirmed (name, address, access and dietary needs) are deleted only when someone else
sends a form; `privacy purge` never looks at them, so once registration has closed they are kept for ever,
even after the assembly is archived past its retention period."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from eventapp.extensions import db
from eventapp.registration import services
from eventapp.registration.models import PendingRegistration

from tests.registration.test_confirm_first import _confirm_first, register


def test_privacy_purge_removes_forms_never_confirmed(client, setup):
    _confirm_first(setup)
    register(client, setup, n=1, access_needs="Epilepsy: seizure plan attached")
    assembly = setup.assembly
    assembly.status, assembly.retention_days, assembly.date = "archived", 30, date.today() - timedelta(days=400)
    db.session.commit()
    # What `flask privacy purge --apply` does.
    for due, _count in services.purge_due():
        services.anonymise_registrations(due)
    assert db.session.scalar(select(func.count(PendingRegistration.id))) == 0


def test_the_mail_worker_deletes_forms_whose_week_is_over(client, setup, mail_sink):
    # With no one else sending a form (registration closed), an unconfirmed form still goes after its week,
    # as the page that lists them says.
    from datetime import datetime

    from eventapp.mail.services import send_pending

    _confirm_first(setup)
    register(client, setup, n=1)
    register(client, setup, n=2, org=1)
    old = db.session.scalar(select(PendingRegistration).where(PendingRegistration.email_key == "delegate1@example.org"))
    old.created_at = datetime.utcnow() - timedelta(days=services.CONFIRM_DAYS, minutes=1)
    db.session.commit()
    services._last_sweep[0] = float("-inf")
    send_pending()
    keys = db.session.scalars(select(PendingRegistration.email_key)).all()
    assert keys == ["delegate2@example.org"]
