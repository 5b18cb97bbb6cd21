"""Running the allocation does not hold the database while the solver works."""
from __future__ import annotations

import threading

import sqlalchemy as sa
from flask_migrate import upgrade

from eventapp import allocation as core
from eventapp.app import _normalise_db_uri
from eventapp.assemblies.models import Assembly
from eventapp.extensions import db as _db
from eventapp.placements import services
from eventapp.placements.models import AllocationRun
from eventapp.registration.models import Registration
from tests.conftest import make_test_app, scratch_database
from tests.placements.helpers import delegates, two_round_assembly


def test_registrations_and_edits_go_on_while_the_solver_runs(tmp_path, monkeypatch):
    with scratch_database(tmp_path, "solving") as url:
        app = make_test_app(url)
        other = sa.create_engine(_normalise_db_uri(url))
        try:
            with app.app_context():
                upgrade()
                assembly, topics, _, _ = two_round_assembly(capacity=3)
                regs = delegates(assembly, topics, 4)
                first, assembly_id = regs[0].id, assembly.id
                solve = core.solve
                seen = {}

                def write_meanwhile() -> None:
                    # What a delegate's edit does: a write on the registration, which the assembly's
                    # counters follow, from another connection (another worker process).
                    with other.begin() as conn:
                        conn.execute(sa.update(Registration).where(Registration.id == first)
                                     .values(job_title="Changed during the solve"))
                        conn.execute(sa.update(Assembly).where(Assembly.id == assembly_id)
                                     .values(summary="Edited during the solve"))
                    seen["written"] = True

                def slow_solve(problem, *args, **kwargs):
                    writer = threading.Thread(target=write_meanwhile)
                    writer.start()
                    # A writer blocked by the run's transaction would wait for the lock far longer.
                    writer.join(timeout=8)
                    seen["during"] = not writer.is_alive()
                    result = solve(problem, *args, **kwargs)
                    seen["thread"] = writer
                    return result

                monkeypatch.setattr(core, "solve", slow_solve)
                # The allocation page saves the organiser's organisation limit before the run.
                assembly.workshop_org_limit = 2
                run = services.run_allocation(assembly)
                seen["thread"].join(timeout=60)
                assert seen.get("during"), "another connection's write waited for the allocation run"
                assert seen.get("written")

                _db.session.expire_all()
                stored = _db.session.get(AllocationRun, run.id)
                assert stored.status == "proposal" and stored.placed == 8
                assert sorted(stored.result["assignments"]) == sorted(str(r.id) for r in regs)
                again = _db.session.get(Assembly, assembly_id)
                assert again.workshop_org_limit == 2
                assert again.summary == "Edited during the solve"
                assert _db.session.get(Registration, first).job_title == "Changed during the solve"
                _db.session.remove()
                _db.engine.dispose()
        finally:
            other.dispose()
