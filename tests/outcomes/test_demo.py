"""`flask demo` includes last year's assembly: approved notes, open actions (some overdue), carried forward."""
from __future__ import annotations

from sqlalchemy import func, select

from eventapp.extensions import db as _db
from eventapp.notes.models import Action
from eventapp.outcomes.models import AssemblyUpdate, CarriedAction
from tests.conftest import make_test_app


def test_demo_has_a_previous_assembly_with_outcomes_carried_forward(scratch_database_url, monkeypatch):
    monkeypatch.setenv("EVENTAPP_DEMO_PASSWORD", "demo-password-for-tests")
    app = make_test_app(scratch_database_url)
    runner = app.test_cli_runner()
    try:
        first = runner.invoke(args=["demo"])
        assert first.exit_code == 0, first.output
        with app.app_context():
            carried = _db.session.scalar(select(func.count(CarriedAction.id)))
            actions = _db.session.scalar(select(func.count(Action.id)))
            updates = _db.session.scalar(select(func.count(AssemblyUpdate.id)))
            _db.session.remove()
        assert carried >= 5 and updates == 2
        second = runner.invoke(args=["demo"])
        assert second.exit_code == 0, second.output
        with app.app_context():
            assert _db.session.scalar(select(func.count(CarriedAction.id))) == carried
            assert _db.session.scalar(select(func.count(Action.id))) == actions
            _db.session.remove()
        client = app.test_client()
        html = client.get("/a/community-safety-assembly-2026/updates").get_data(as_text=True)
        assert "Six months on" in html and "What the workshops agreed" in html
        assert "Dana Fielding" not in html  # lead person: never public
        assert "follow up privately" not in html  # an internal-only section
        assert "/a/community-safety-assembly-2027/updates" in html
        assert "/a/community-safety-assembly-2026/updates" in client.get(
            "/a/community-safety-assembly-2027/updates").get_data(as_text=True)
        # A facilitator of this year's anti-social behaviour workshop sees last year's open actions at once.
        page = client.get("/login").get_data(as_text=True)
        import re

        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"csrf_token": token, "email": "amira.haddad@example.org",
                                    "password": "demo-password-for-tests"})
        with app.app_context():
            from eventapp.assemblies.models import Assembly, Round, Workshop

            ws = _db.session.scalar(select(Workshop).join(Round).join(Assembly).where(
                Assembly.slug == "community-safety-assembly-2027", Workshop.title == "Anti-social behaviour")
                .order_by(Round.position))
            ws_id = ws.id
            _db.session.remove()
        html = client.get(f"/facilitator/workshops/{ws_id}/history").get_data(as_text=True)
        assert "single shared case list" in html and "Overdue" in html and "carried from" in html
    finally:
        with app.app_context():
            _db.engine.dispose()
