"""Big assemblies are allocated in the background: queued by the organiser, run by a worker."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from eventapp import allocation as core
from eventapp.assemblies.models import Assembly
from eventapp.extensions import db
from eventapp.placements import services
from eventapp.placements.models import AllocationJob, AllocationRun
from eventapp.timeutil import utcnow
from tests.conftest import make_test_app, post_form, scratch_database
from tests.factories import make_assembly

from .helpers import delegates, two_round_assembly


def _page(client, slug: str) -> str:
    return client.get(f"/organiser/assemblies/{slug}/allocation/").get_data(as_text=True)


def _run(client, slug: str):
    return post_form(client, f"/organiser/assemblies/{slug}/allocation/run", {"workshop_org_limit": "2"},
                     form_url=f"/organiser/assemblies/{slug}/allocation/", follow_redirects=True)


def _assembly(n: int):
    """An assembly of two rounds with n confirmed delegates; returns (slug, id)."""
    assembly, topics, _, _ = two_round_assembly(capacity=4)
    delegates(assembly, topics, n)
    return assembly.slug, assembly.id


@pytest.fixture
def big(app, monkeypatch):
    # "Big" is a setting: three confirmed delegates are enough to go to the worker here.
    monkeypatch.setitem(app.config, "ALLOCATION_INLINE_MAX", 3)


def test_a_big_assembly_is_queued_then_the_worker_stores_the_proposal(as_organiser, organiser, big):
    slug, assembly_id = _assembly(6)
    organiser_id = organiser.id
    html = _run(as_organiser, slug).get_data(as_text=True)
    assert "The allocation of 6 delegates is running in the background" in html
    assert "Allocation running" in html and "Waiting for the allocation worker" in html
    assert "Check again</a> in a minute or two" in html
    assert "Run the allocation" not in html  # no second run while one is pending
    assert db.session.scalar(select(AllocationRun)) is None

    html = _run(as_organiser, slug).get_data(as_text=True)
    assert "An allocation is already running" in html
    jobs = [(j.id, j.status, j.delegates, j.requested_by_id) for j in db.session.scalars(select(AllocationJob))]
    assert [j[1:] for j in jobs] == [("queued", 6, organiser_id)]
    assert db.session.get(Assembly, assembly_id).workshop_org_limit == 2

    assert services.run_jobs(once=True) == 1
    job = db.session.get(AllocationJob, jobs[0][0])
    run = db.session.scalar(select(AllocationRun))
    assert (job.status, job.run_id, job.error, job.attempts) == ("done", run.id, None, 1)
    assert run.status == "proposal" and run.placed == 12 and run.created_by_id == organiser_id
    html = _page(as_organiser, slug)
    assert "Proposal (not published)" in html and "Allocation running" not in html
    assert "Check again" not in html
    assert "Run the allocation again" in html
    assert services.run_jobs(once=True) == 0


def test_a_small_assembly_is_still_allocated_at_once(as_organiser):
    slug, _ = _assembly(3)
    html = _run(as_organiser, slug).get_data(as_text=True)
    assert "Proposal (not published)" in html
    assert db.session.scalar(select(AllocationJob)) is None


def test_a_failed_job_says_why_and_offers_the_run_again(as_organiser, big, monkeypatch):
    solve = core.solve
    slug, _ = _assembly(5)
    _run(as_organiser, slug)

    def broken(problem, *args, **kwargs):
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(core, "solve", broken)
    assert services.run_jobs(once=True) == 1
    job = db.session.scalar(select(AllocationJob))
    assert job.status == "failed" and "unexpected error" in job.error and job.finished_at is not None
    html = _page(as_organiser, slug)
    assert "The last allocation did not finish" in html and "unexpected error" in html
    assert "solver crashed" not in html  # the details are for the worker's log, not the page
    assert "Run the allocation" in html and "Allocation running" not in html
    # Asking again queues a new job: the failed one no longer counts as active.
    monkeypatch.setattr(core, "solve", solve)
    _run(as_organiser, slug)
    assert [j.status for j in db.session.scalars(select(AllocationJob).order_by(AllocationJob.id))] == [
        "failed", "queued"]


def test_the_page_says_when_no_worker_has_started_a_job(as_organiser, big):
    slug, _ = _assembly(5)
    _run(as_organiser, slug)
    assert "No allocation worker has picked this up" not in _page(as_organiser, slug)
    job = db.session.scalar(select(AllocationJob))
    job.created_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    html = _page(as_organiser, slug)
    assert "No allocation worker has picked this up after 5 minutes" in html
    assert "flask --app eventapp allocate-worker" in html


def test_nothing_to_allocate_is_refused_before_queueing(as_organiser, big):
    assembly, topics, _, _ = two_round_assembly(capacity=4)
    with pytest.raises(services.DomainError, match="no confirmed registrations"):
        services.request_run(assembly)
    assert db.session.scalar(select(AllocationJob)) is None


def test_the_database_keeps_one_active_job_per_assembly(db):
    assembly = make_assembly()
    db.session.add_all([AllocationJob(assembly_id=assembly.id, status="done"),
                        AllocationJob(assembly_id=assembly.id, status="failed"),
                        AllocationJob(assembly_id=assembly.id, status="queued")])
    db.session.commit()
    db.session.add(AllocationJob(assembly_id=assembly.id, status="running"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_job_whose_worker_died_is_claimed_again_but_a_live_one_is_not(db):
    assembly, other = make_assembly(), make_assembly()
    live = AllocationJob(assembly_id=assembly.id, status="running", started_at=utcnow() - timedelta(minutes=10),
                         attempts=1)
    dead = AllocationJob(assembly_id=other.id, status="running", started_at=utcnow() - timedelta(hours=2), attempts=1)
    db.session.add_all([live, dead])
    db.session.commit()
    assert services.claim_job() == dead.id
    assert services.claim_job() is None
    assert db.session.get(AllocationJob, dead.id).attempts == 2


def test_allocate_worker_command_runs_the_queue(app, db, big):
    assembly, topics, _, _ = two_round_assembly(capacity=4)
    delegates(assembly, topics, 4)
    job_id = services.request_run(assembly).id
    result = app.test_cli_runner().invoke(args=["allocate-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert f"Allocation job {job_id}: done" in result.output
    assert "stopped after 1 job." in result.output
    assert db.session.scalar(select(AllocationRun)).placed == 8


def test_two_workers_never_take_the_same_job(tmp_path):
    with scratch_database(tmp_path, "jobs") as url:
        app = make_test_app(url)
        with app.app_context():
            upgrade()
            for _ in range(6):
                db.session.add(AllocationJob(assembly_id=make_assembly().id))
            db.session.commit()
            ids = sorted(db.session.scalars(select(AllocationJob.id)))
            db.session.remove()
        claimed: list[int] = []
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                with app.app_context():
                    while (job_id := services.claim_job()) is not None:
                        claimed.append(job_id)
                    db.session.remove()
            except BaseException as err:  # noqa: BLE001 - reported by the assertion below
                errors.append(err)

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert sorted(claimed) == ids  # every job once, none twice
        with app.app_context():
            assert {j.status for j in db.session.scalars(select(AllocationJob))} == {"running"}
            db.session.remove()
            db.engine.dispose()


def test_a_proposal_computed_before_a_publication_says_so(as_organiser):
    slug, assembly_id = _assembly(4)
    _run(as_organiser, slug)
    first = db.session.scalar(select(AllocationRun))
    services.publish(first, db.session.get(Assembly, assembly_id))
    _run(as_organiser, slug)
    assert "was published after this proposal" not in _page(as_organiser, slug)
    # A background run that started before the publication and stored its proposal after it.
    newest = db.session.scalar(select(AllocationRun).order_by(AllocationRun.id.desc()))
    newest.created_at = db.session.get(Assembly, assembly_id).allocation_published_at - timedelta(seconds=30)
    db.session.commit()
    assert "Another allocation was published after this proposal was computed" in _page(as_organiser, slug)


def test_the_allocate_command_leaves_an_assembly_with_a_queued_job_to_the_worker(app, as_organiser, big):
    slug, assembly_id = _assembly(6)
    _run(as_organiser, slug)
    job_id = db.session.scalar(select(AllocationJob.id))
    db.session.remove()

    refused = app.test_cli_runner().invoke(args=["allocate", slug])
    assert refused.exit_code == 1
    assert f"already queued in the background (job {job_id})" in refused.output
    assert "flask allocate-worker --once" in refused.output
    assert db.session.scalar(select(AllocationRun)) is None  # no second, competing proposal

    assert app.test_cli_runner().invoke(args=["allocate-worker", "--once"]).exit_code == 0
    ran = app.test_cli_runner().invoke(args=["allocate", slug])  # the job is done: nothing in the way
    assert ran.exit_code == 0, ran.output
    assert len(db.session.scalars(select(AllocationRun).where(AllocationRun.assembly_id == assembly_id)).all()) == 2
