"""Command-line tools: ``flask users create`` and ``flask demo``."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from eventapp.accounts.models import User
from eventapp.assemblies.models import AgendaItem, Assembly, Round, Topic, Workshop
from eventapp.extensions import db as _db
from eventapp.organisations.models import Organisation
from tests.conftest import make_test_app


def test_users_create_prompts_for_the_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "New.Organiser@Example.org", "--role", "organiser", "--name", "Nia Evans"],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created organiser account new.organiser@example.org." in result.output
    assert "a long enough password" not in result.output  # hidden input is not echoed
    user = db.session.scalar(select(User).where(User.email == "new.organiser@example.org"))
    assert user.role == "organiser" and user.name == "Nia Evans"
    assert user.check_password("a long enough password")
    assert user.password_hash.startswith("scrypt:")


def test_users_create_refuses_a_short_password(app, db):
    result = app.test_cli_runner().invoke(args=["users", "create", "short@example.org"], input="short\nshort\n")
    assert result.exit_code != 0
    assert "Use at least 10 characters." in result.output
    assert db.session.scalar(select(User).where(User.email == "short@example.org")) is None


def test_users_create_refuses_mismatched_confirmation_then_accepts(app, db):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "fac@example.org", "--role", "facilitator"],
        input="first password one\nsecond password two\nthe real password\nthe real password\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert db.session.scalar(select(User).where(User.email == "fac@example.org")).role == "facilitator"


def test_users_create_refuses_a_name_or_address_longer_than_the_account_keeps(app, db):
    # They went to the database as typed: PostgreSQL refused them with a traceback after the password was typed
    # (SQLite kept them, longer than the organisers' form allows).
    for args, message in ((["long.name@example.org", "--name", "N" * 201], "Use at most 200 characters for the name."),
                          (["a" * 64 + "@" + "b" * 190 + ".org"], "Use at most 254 characters for the email address.")):
        result = app.test_cli_runner().invoke(args=["users", "create", *args],
                                              input="a long enough password\na long enough password\n")
        assert result.exit_code != 0 and message in result.output, result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_refuses_a_duplicate_email(app, db, organiser):
    result = app.test_cli_runner().invoke(
        args=["users", "create", organiser.email.upper()], input="a long enough password\na long enough password\n"
    )
    assert result.exit_code != 0
    assert "already exists" in result.output


def _counts() -> dict[str, int]:
    return {
        model.__name__: _db.session.scalar(select(func.count()).select_from(model))
        for model in (Organisation, Topic, Assembly, Round, Workshop, AgendaItem, User)
    }


def test_demo_loads_an_assembly_and_is_idempotent(scratch_database_url, monkeypatch):
    app = make_test_app(scratch_database_url)
    runner = app.test_cli_runner()
    try:
        first = runner.invoke(args=["demo"])  # builds the schema from empty, then loads
        assert first.exit_code == 0, first.output
        with app.app_context():
            counts = _counts()
            assembly = _db.session.scalar(select(Assembly).where(Assembly.slug == "community-safety-assembly-2027"))
            assert assembly.status == "open"
            previous = _db.session.scalar(select(Assembly).where(Assembly.slug == "community-safety-assembly-2026"))
            assert previous is not None and previous.date < assembly.date
            assert len(assembly.agenda_items) >= 4
            sectors = set(_db.session.scalars(select(Organisation.sector)))
            _db.session.remove()
        assert 30 <= counts["Organisation"] <= 40
        assert counts["Topic"] == 8
        # This year's assembly (2 rounds, 10 workshops) and last year's (1 round, 4 workshops),
        # whose open actions are carried forward.
        assert counts["Assembly"] == 2
        assert counts["Round"] == 3
        assert counts["Workshop"] == 14
        assert len(sectors) >= 10

        # The organiser's and facilitators' logins are printed, with a password that works.
        password = re.search(r"password: (\S+)", first.output).group(1)
        assert "organiser" in first.output and "organiser@example.org" in first.output
        assert first.output.count("facilitator ") >= 4
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        resp = client.post("/login", data={"csrf_token": token, "email": "organiser@example.org", "password": password})
        assert resp.status_code == 302
        # The reception desk's login lands on check-in, where the demo assembly is listed.
        assert "reception@example.org" in first.output
        desk = app.test_client()
        page = desk.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        resp = desk.post("/login", data={"csrf_token": token, "email": "reception@example.org", "password": password})
        assert resp.headers["Location"] == "/check-in"
        assert "Shireford Community Safety Assembly 2027" in desk.get("/check-in").get_data(as_text=True)

        second = runner.invoke(args=["demo"])
        assert second.exit_code == 0, second.output
        with app.app_context():
            assert _counts() == counts
            _db.session.remove()
        public = client.get("/a/community-safety-assembly-2027")
        assert public.status_code == 200
        assert "Morning breakouts" in public.get_data(as_text=True)
    finally:
        with app.app_context():
            _db.engine.dispose()


def test_commands_on_a_database_not_yet_upgraded_say_what_to_run(tmp_path):

    app = make_test_app(f"sqlite:///{tmp_path / 'not-upgraded.sqlite3'}", MAIL_SERVER="127.0.0.1")
    commands = [
        (["users", "create", "first.organiser@example.org"], None),  # refused before asking for a password
        (["mail", "send"], None), (["mail", "worker"], None), (["mail", "reminders"], None),
        (["actions", "remind"], None), (["privacy", "purge"], None), (["allocate", "any-assembly"], None),
        (["allocate-worker", "--once"], None),
    ]
    try:
        for args, given in commands:
            result = app.test_cli_runner().invoke(args=args, input=given)
            assert result.exit_code == 1, (args, result.output, result.exception)
            assert "The database is not up to date (database at nothing, code at " in result.output, args
            assert "run 'flask --app eventapp db upgrade' first" in result.output
            assert "first.organiser@example.org" not in result.output  # no SQL and its parameters
    finally:
        with app.app_context():
            _db.engine.dispose()


def test_every_command_group_says_what_it_is_for(app):
    result = app.test_cli_runner().invoke(args=["--help"])
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ") and line.split()}
    for group in ("actions", "mail", "users", "privacy"):
        assert len(lines[group].split()) > 1, lines[group]  # a name with no description says nothing


def test_a_command_started_with_a_wrong_setting_says_which_without_a_traceback(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "FLASK_SESSION_COOKIE_SECURE": "maybe", "FLASK_INSTANCE_PATH": str(tmp_path),
           "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run([str(flask), "--app", "eventapp", "db", "current"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "FLASK_SESSION_COOKIE_SECURE must be true or false, not 'maybe'." in done.stderr
    assert "Traceback" not in done.stderr
