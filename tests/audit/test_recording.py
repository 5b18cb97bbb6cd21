"""Each action on personal data or accounts leaves exactly one audit event, naming who did it, when it
succeeds; one that fails or rolls back leaves none."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from eventapp.audit import services as audit
from eventapp.domain import DomainError
from eventapp.extensions import db
from eventapp.organisations.models import Organisation
from eventapp.registration import services as registrations
from eventapp.registration.models import Registration
from tests.audit.helpers import logged
from tests.conftest import csrf_from, post_form
from tests.factories import make_org, make_user
from tests.registration.conftest import form_fields, person, setup  # noqa: F401 - fixture


def seed(app, setup, people):
    with app.test_request_context("/"):
        return [registrations.register(setup.assembly, person(setup, n, org=o, **kw)).registration
                for n, o, kw in people]


def base(setup):
    return f"/organiser/assemblies/{setup.assembly.slug}/registrations"


def only(action):
    events = logged(action)
    assert len(events) == 1, [(e.action, e.subject) for e in events]
    return events[0]


def test_an_event_commits_and_rolls_back_with_the_callers_transaction(db, organiser):
    audit.record(organiser.id, "user.create", subject="account 1: kept")
    db.session.commit()
    audit.record(organiser.id, "user.create", subject="account 2: never happened")
    db.session.rollback()
    [event] = logged()
    assert event.subject == "account 1: kept"
    assert (event.actor_id, event.actor_name) == (organiser.id, "Test User") and event.at is not None


def test_the_actors_name_outlives_their_account(db, organiser):
    leaver = make_user("organiser", email="leaver@example.org", name="Lee Leaver")
    audit.record(leaver.id, "registrations.export", subject="registrations of x")
    db.session.commit()
    db.session.delete(leaver)
    db.session.commit()
    [event] = logged()
    assert event.actor_id is None and event.actor_name == "Lee Leaver"


def test_an_organiser_editing_a_delegate_is_logged_with_the_fields_not_their_values(app, as_organiser, organiser,
                                                                                    setup):
    reg, other = seed(app, setup, [(1, 0, {}), (2, 1, {})])
    url = f"{base(setup)}/{reg.id}/edit"
    fields = form_fields(setup, n=1, job_title="Chief Inspector", access_needs="Hearing loop")
    assert post_form(as_organiser, url, fields).status_code == 302
    event = only("registration.edit")
    assert (event.actor_id, event.assembly_id) == (organiser.id, setup.assembly.id)
    assert event.subject == f"registration {reg.id}: Delegate 1"
    assert event.detail == "changed: job title, access needs" and "Hearing loop" not in event.detail

    # Refused (the address is another delegate's): nothing is logged.
    clash = post_form(as_organiser, url, form_fields(setup, n=1, email=other.email))
    assert clash.status_code == 400
    assert len(logged("registration.edit")) == 1


def test_a_delegate_changing_or_cancelling_their_own_registration_is_not_logged(app, db, setup):
    [reg] = seed(app, setup, [(1, 0, {})])
    with app.test_request_context("/"):
        registrations.update_registration(reg, {**person(setup, 1), "job_title": "Sergeant"})
        registrations.cancel_registration(reg)
    assert logged() == []


def test_an_organiser_cancelling_and_reinstating_one_registration_is_logged(app, as_organiser, organiser, setup):
    ann, _, waiting = seed(app, setup, [(1, 0, {"full_name": "Ann Able"}), (2, 0, {}), (3, 0, {})])
    assert waiting.status == "waiting"  # two per organisation
    post_form(as_organiser, f"{base(setup)}/{ann.id}/cancel", {})
    event = only("registration.cancel")
    assert (event.actor_id, event.subject) == (organiser.id, f"registration {ann.id}: Ann Able")
    assert event.detail == f"promoted from the waiting list: registrations {waiting.id}"

    post_form(as_organiser, f"{base(setup)}/{ann.id}/reinstate", {}, form_url=base(setup))
    event = only("registration.reinstate")
    assert (event.actor_id, event.subject, event.detail) == (organiser.id, f"registration {ann.id}: Ann Able",
                                                             "now waiting")
    # Reinstating again is refused, cancelling twice changes nothing: neither is logged.
    post_form(as_organiser, f"{base(setup)}/{ann.id}/reinstate", {}, form_url=base(setup))
    db.session.expire_all()
    with app.test_request_context("/"):
        registrations.cancel_registration(db.session.get(Registration, waiting.id), by=organiser.id)
        registrations.cancel_registration(db.session.get(Registration, waiting.id), by=organiser.id)
    assert len(logged("registration.reinstate")) == 1 and len(logged("registration.cancel")) == 2


def test_a_cancellation_after_the_day_is_refused_and_not_logged(app, as_organiser, setup):
    [reg] = seed(app, setup, [(1, 0, {})])
    setup.assembly.date = date.today() - timedelta(days=2)
    db.session.commit()
    post_form(as_organiser, f"{base(setup)}/{reg.id}/cancel", {})
    assert db.session.get(Registration, reg.id).status == "confirmed"
    assert logged() == []


def test_cancelling_several_at_once_is_one_event_with_the_count(app, as_organiser, organiser, setup):
    regs = seed(app, setup, [(n, n % 3, {}) for n in range(4)])
    page = as_organiser.get(f"{base(setup)}/cancel-selected?reg={regs[0].id}&reg={regs[2].id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    as_organiser.post(f"{base(setup)}/cancel-selected", data={"csrf_token": token,
                                                              "reg": [str(regs[0].id), str(regs[2].id)]})
    event = only("registrations.cancel")
    assert (event.actor_id, event.assembly_id) == (organiser.id, setup.assembly.id)
    assert event.subject == f"2 registrations of {setup.assembly.slug}"
    assert event.detail == f"registrations {regs[0].id}, {regs[2].id}"
    # Only cancelled ones ticked: refused, not logged.
    as_organiser.post(f"{base(setup)}/cancel-selected", data={"csrf_token": token, "reg": [str(regs[0].id)]})
    assert len(logged()) == 1


def test_downloading_registrations_is_logged_without_the_search_text(app, as_organiser, organiser, setup):
    seed(app, setup, [(1, 0, {"full_name": "Jo Bloggs"}), (2, 1, {})])
    assert as_organiser.get(base(setup) + ".csv").status_code == 200
    event = only("registrations.export")
    assert (event.actor_id, event.assembly_id) == (organiser.id, setup.assembly.id)
    assert (event.subject, event.detail) == (f"registrations of {setup.assembly.slug}", "2 rows")

    resp = as_organiser.get(base(setup) + ".csv?q=Bloggs&status=confirmed")
    assert "Jo Bloggs" in resp.get_data(as_text=True)
    latest = logged("registrations.export")[-1]
    assert latest.detail == "1 rows; filtered: a search, status=confirmed" and "Bloggs" not in latest.detail


IMPORT = (
    "full_name,email,job_title,organisation\n"
    "Siobhán O'Brien,siobhan@example.org,Inspector,Shireford Constabulary\n"
    "No Org,noorg@example.org,Officer,Nowhere Council\n"
)


def _upload(client, setup, text, apply):
    page = client.get(base(setup) + "/import").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "file": (io.BytesIO(text.encode("utf-8")), "list.csv")}
    if apply:
        data["apply"] = "y"
    return client.post(base(setup) + "/import", data=data, content_type="multipart/form-data")


def test_an_applied_import_is_logged_and_a_dry_run_or_a_bad_file_is_not(as_organiser, organiser, setup):
    assert _upload(as_organiser, setup, IMPORT, apply=False).status_code == 200
    assert _upload(as_organiser, setup, "not,a,list\n", apply=True).status_code == 400
    assert logged() == []
    assert "Import done" in _upload(as_organiser, setup, IMPORT, apply=True).get_data(as_text=True)
    event = only("registrations.import")
    assert (event.actor_id, event.assembly_id, event.subject) == (organiser.id, setup.assembly.id,
                                                                  f"registrations of {setup.assembly.slug}")
    assert event.detail == "1 confirmed, 0 waiting, 1 rows refused"


def test_account_changes_are_logged(as_organiser, organiser):
    form = {"email": "new.person@example.org", "name": "New Person", "role": "reception",
            "password": "a long enough password"}
    assert post_form(as_organiser, "/organiser/users/new", form).status_code == 302
    created = only("user.create")
    from eventapp.accounts.models import User

    new = db.session.scalar(select(User).where(User.email == "new.person@example.org"))
    assert (created.actor_id, created.subject, created.detail) == (
        organiser.id, f"account {new.id}: New Person <new.person@example.org>", "role: Reception (check-in only)")
    # The same address again (here a second click on Add, in the same browser): nothing made, not logged.
    again = post_form(as_organiser, "/organiser/users/new", form, follow_redirects=True)
    assert "by your first click; the second added nothing" in again.get_data(as_text=True)
    assert len(logged("user.create")) == 1

    post_form(as_organiser, f"/organiser/users/{new.id}/deactivate", {})
    post_form(as_organiser, f"/organiser/users/{organiser.id}/deactivate", {}, form_url="/organiser/users")
    deactivated = only("user.deactivate")
    assert (deactivated.actor_id, deactivated.subject) == (organiser.id, created.subject)
    post_form(as_organiser, f"/organiser/users/{new.id}/reactivate", {}, form_url="/organiser/users")
    post_form(as_organiser, f"/organiser/users/{new.id}/reactivate", {}, form_url="/organiser/users")
    reactivated = only("user.reactivate")  # the second changed nothing
    assert (reactivated.actor_id, reactivated.subject) == (organiser.id, created.subject)


def test_an_account_created_on_the_command_line_is_logged_with_no_actor(app, db):
    result = app.test_cli_runner().invoke(args=["users", "create", "cli@example.org", "--role", "organiser",
                                                "--name", "Cli Person"], input="a long enough password\n" * 2)
    assert result.exit_code == 0, result.output
    event = only("user.create")
    assert event.actor_id is None and event.actor_name == "" and "cli@example.org" in event.subject


def test_merging_organisations_is_logged(as_organiser, organiser):
    dup, keep = make_org("Shire Police (dup)"), make_org("Shire Police")
    url = f"/organiser/organisations/{dup.id}/merge"
    assert post_form(as_organiser, url, {"target_id": str(dup.id)}).status_code in (200, 400)
    assert logged() == []
    dup_id = dup.id
    assert post_form(as_organiser, url, {"target_id": str(keep.id)}).status_code == 302
    assert db.session.get(Organisation, dup_id) is None
    event = only("organisation.merge")
    assert event.actor_id == organiser.id
    assert event.subject == f"organisation {dup_id}: Shire Police (dup) into {keep.id}: Shire Police"


def test_publishing_an_allocation_is_logged(as_organiser, organiser):
    from eventapp.placements import services as placements
    from tests.placements.helpers import delegates, two_round_assembly

    assembly, topics, _, _ = two_round_assembly(capacity=3)
    delegates(assembly, topics, 4)
    run = placements.run_allocation(assembly)
    resp = post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {},
                     follow_redirects=True)
    assert "Allocation published" in resp.get_data(as_text=True)
    event = only("allocation.publish")
    assert (event.actor_id, event.assembly_id, event.subject) == (organiser.id, assembly.id,
                                                                  f"allocation {run.id} of {assembly.slug}")
    assert event.detail.startswith("8 places;")
    # Publishing the same run again is refused, and not logged.
    with pytest.raises(DomainError):
        placements.publish(db.session.get(type(run), run.id), assembly, by=organiser.id)
    db.session.rollback()
    assert len(logged()) == 1


def test_sending_a_message_is_logged_and_a_refused_one_is_not(as_organiser, organiser, email_request_context):
    from tests.factories import make_assembly
    from tests.messages.test_messages import _compose
    from tests.placements.helpers import make_registration

    assembly = make_assembly(title="Shire Assembly")
    make_registration(assembly, make_org("Shire Police"), "Aisha Khan", [])
    url, payload = _compose(as_organiser, assembly, audience="workshop:999999")
    assert as_organiser.post(url, data={**payload, "action": "send"}).status_code == 400
    assert logged() == []
    url, payload = _compose(as_organiser, assembly, subject="Parking <b>now</b>")
    assert as_organiser.post(url, data={**payload, "action": "send"}).status_code == 302
    event = only("message.send")
    assert (event.actor_id, event.assembly_id) == (organiser.id, assembly.id)
    assert event.subject.endswith(": Parking <b>now</b>") and event.detail == "to Confirmed delegates"


def test_the_privacy_purge_is_logged_and_takes_delegates_names_out_of_the_log(app, db, organiser, setup):
    regs = seed(app, setup, [(1, 0, {"full_name": "Jo Bloggs"}), (2, 1, {})])
    with app.test_request_context("/"):
        registrations.cancel_registration(regs[0], by=organiser.id)
    from tests.factories import make_assembly

    elsewhere = make_assembly()
    audit.record(organiser.id, "registration.edit", assembly_id=elsewhere.id, subject="registration 999: Kept Name")
    setup.assembly.status, setup.assembly.retention_days = "archived", 30
    setup.assembly.date = date.today() - timedelta(days=31)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["privacy", "purge", "--apply"])
    assert result.exit_code == 0, result.output
    purge = only("privacy.purge")
    assert (purge.actor_id, purge.assembly_id, purge.subject) == (None, setup.assembly.id,
                                                                  f"assembly {setup.assembly.slug}")
    assert purge.detail.startswith("2 registrations anonymised;") and purge.detail.endswith("1 audit events redacted")
    cancel = only("registration.cancel")
    assert cancel.subject == f"registration {regs[0].id}: Anonymised delegate"
    assert cancel.actor_name == "Test User"  # who did it stays
    assert not any("Bloggs" in e.subject + e.detail for e in logged())
    assert any(e.subject == "registration 999: Kept Name" for e in logged())  # another assembly's delegate


def test_an_organiser_moving_a_delegate_to_and_from_the_waiting_list_is_logged(app, as_organiser, organiser, setup):
    [reg] = seed(app, setup, [(1, 0, {"full_name": "Ann Able"})])
    post_form(as_organiser, f"{base(setup)}/{reg.id}/waiting", {}, form_url=base(setup))
    event = only("registration.to_waiting")
    assert (event.actor_id, event.assembly_id, event.subject) == (organiser.id, setup.assembly.id,
                                                                  f"registration {reg.id}: Ann Able")
    # Already waiting: refused, nothing more logged.
    post_form(as_organiser, f"{base(setup)}/{reg.id}/waiting", {}, form_url=base(setup))
    assert len(logged("registration.to_waiting")) == 1

    post_form(as_organiser, f"{base(setup)}/{reg.id}/confirm", {}, form_url=base(setup))
    event = only("registration.confirm")
    assert (event.actor_id, event.subject) == (organiser.id, f"registration {reg.id}: Ann Able")
    post_form(as_organiser, f"{base(setup)}/{reg.id}/confirm", {}, form_url=base(setup))
    assert len(logged("registration.confirm")) == 1 and len(logged()) == 2


def test_promotions_after_a_cancellation_name_the_organiser_who_freed_the_place(app, as_organiser, organiser, setup):
    ann, _, waiting = seed(app, setup, [(1, 0, {}), (2, 0, {}), (3, 0, {"full_name": "Wes Waiting"})])
    post_form(as_organiser, f"{base(setup)}/{ann.id}/cancel", {})
    event = only("registration.promote")
    assert (event.actor_id, event.assembly_id, event.subject) == (organiser.id, setup.assembly.id,
                                                                  f"registration {waiting.id}: Wes Waiting")
    assert event.detail == f"place freed when an organiser cancelled registration {ann.id}"


def test_promotions_after_cancelling_several_name_the_organiser_and_those_cancelled(app, as_organiser, organiser,
                                                                                   setup):
    ann, bo, waiting = seed(app, setup, [(1, 0, {}), (2, 0, {}), (3, 0, {})])
    page = as_organiser.get(f"{base(setup)}/cancel-selected?reg={ann.id}&reg={bo.id}").get_data(as_text=True)
    as_organiser.post(f"{base(setup)}/cancel-selected", data={"csrf_token": csrf_from(page),
                                                              "reg": [str(ann.id), str(bo.id)]})
    event = only("registration.promote")
    assert (event.actor_id, event.subject) == (organiser.id, f"registration {waiting.id}: Delegate 3")
    assert event.detail == f"places freed by cancelling registrations {ann.id}, {bo.id}"


def test_promotions_after_a_delegates_own_cancellation_have_no_actor(app, db, setup):
    ann, _, waiting = seed(app, setup, [(1, 0, {}), (2, 0, {}), (3, 0, {})])
    with app.test_request_context("/"):
        registrations.cancel_registration(ann)
    event = only("registration.promote")
    assert (event.actor_id, event.actor_name, event.who) == (None, "", "A delegate (own link)")
    assert event.subject.startswith(f"registration {waiting.id}:")
    assert event.detail == f"place freed when the delegate cancelled registration {ann.id}"
    assert logged("registration.cancel") == []  # the delegate's own cancellation stays unlogged


def test_the_promote_button_logs_each_person_promoted_and_nothing_when_nobody_fits(app, as_organiser, organiser,
                                                                                  setup):
    _, _, waiting = seed(app, setup, [(1, 0, {}), (2, 0, {}), (3, 0, {})])
    promote = f"{base(setup)}/promote"
    post_form(as_organiser, promote, {}, form_url=base(setup))
    assert logged() == []  # the organisation is at its limit: nobody promoted
    setup.assembly.org_limit = 3
    db.session.commit()
    post_form(as_organiser, promote, {}, form_url=base(setup))
    event = only("registration.promote")
    assert (event.actor_id, event.subject) == (organiser.id, f"registration {waiting.id}: Delegate 3")
    assert event.detail == "free places filled from the waiting list"


def test_an_organiser_adding_a_delegate_is_logged_and_a_duplicate_or_refused_one_is_not(app, as_organiser, organiser,
                                                                                         setup):
    url = f"{base(setup)}/new"
    fields = form_fields(setup, n=7, full_name="Nia Added")
    fields.pop("consent")
    assert post_form(as_organiser, url, fields).status_code == 302
    reg = db.session.scalar(select(Registration).where(Registration.email == "delegate7@example.org"))
    event = only("registration.add")
    assert (event.actor_id, event.assembly_id, event.subject) == (organiser.id, setup.assembly.id,
                                                                  f"registration {reg.id}: Nia Added")
    assert event.detail == "now confirmed"
    # The same address again: their link is emailed, nobody is added.
    assert post_form(as_organiser, url, fields).status_code == 302
    # The assembly called off: refused.
    setup.assembly.cancelled_at = date.today()
    db.session.commit()
    assert post_form(as_organiser, url, form_fields(setup, n=8)).status_code == 400
    assert len(logged()) == 1


def test_moving_a_delegate_in_the_published_allocation_is_logged_and_a_refused_move_is_not(as_organiser, organiser):
    from eventapp.placements.models import Placement
    from tests.placements.helpers import delegates, two_round_assembly
    from tests.placements.test_views import _run

    assembly, topics, rounds, ws = two_round_assembly(capacity=1)
    a, b = delegates(assembly, topics, 2)
    _run(as_organiser, assembly)
    post_form(as_organiser, f"/organiser/assemblies/{assembly.slug}/allocation/publish", {})
    placed = {(p.registration_id, p.round_id): p.workshop_id for p in db.session.scalars(select(Placement))}
    assert placed, "the allocation was published"
    publish_events = len(logged())
    url = f"/organiser/assemblies/{assembly.slug}/allocation/delegates/{a.id}"
    # Into b's full morning workshop: breaks a rule, refused.
    post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(placed[(b.id, rounds["1"].id)]),
                                  f"round_{rounds['2'].id}": str(placed[(a.id, rounds["2"].id)]), "pin": ""})
    assert len(logged()) == publish_events
    # Out of the afternoon altogether: allowed.
    post_form(as_organiser, url, {f"round_{rounds['1'].id}": str(placed[(a.id, rounds["1"].id)]),
                                  f"round_{rounds['2'].id}": "", "pin": ""})
    event = only("placement.move")
    afternoon = {w.id: w.title for w in ws.values()}[placed[(a.id, rounds["2"].id)]]
    assert (event.actor_id, event.assembly_id, event.subject) == (organiser.id, assembly.id,
                                                                  f"registration {a.id}: {a.full_name}")
    assert event.detail == f"Afternoon: {afternoon} -> none"


def test_a_scheduled_message_going_out_is_logged_with_who_scheduled_it(as_organiser, organiser, email_request_context):
    from eventapp.messages.models import AssemblyMessage
    from eventapp.messages.services import release_due
    from eventapp.timeutil import utcnow
    from tests.factories import make_assembly
    from tests.messages.test_messages import _compose
    from tests.messages.test_scheduled import _later
    from tests.placements.helpers import make_registration

    assembly = make_assembly(title="Shire Assembly")
    org = make_org("Shire Police")
    make_registration(assembly, org, "Aisha Khan", [])
    make_registration(assembly, org, "Ben Ode", [])
    for subject in ("Called off", "Parking"):
        url, payload = _compose(as_organiser, assembly, subject=subject, **_later(assembly))
        as_organiser.post(url, data={**payload, "action": "send"})
    off, parking = db.session.scalars(select(AssemblyMessage).order_by(AssemblyMessage.id)).all()
    as_organiser.post(f"/organiser/assemblies/{assembly.slug}/messages/{off.id}/cancel",
                      data={"csrf_token": payload["csrf_token"]})
    assert len(logged("message.send")) == 2
    assert release_due() == 0  # not due yet
    assert logged("message.release") == []
    for message in (off, parking):
        message.send_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert release_due() == 1  # the cancelled one stays unsent
    assert release_due() == 0  # another pass (a second worker) queues nothing more, and logs nothing more
    event = only("message.release")
    assert (event.actor_id, event.actor_name, event.assembly_id) == (None, "", assembly.id)
    assert (event.subject, event.detail) == (f"message {parking.id}: Parking", "scheduled by Test User; 2 recipients")
