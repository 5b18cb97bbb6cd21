"""The migrations build the schema the models describe, and can be undone."""
from __future__ import annotations

import datetime
import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from eventapp.extensions import db
from tests.conftest import make_test_app


# Indexes on an expression (lower(full_name)): SQLite cannot reflect them, so SQLAlchemy and
# alembic warn and skip them there; PostgreSQL compares them. Only these are let through.
EXPRESSION_INDEXES = ("ix_registration_assembly_name",)


def _differences(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
    with warnings.catch_warnings():
        if connection.dialect.name == "sqlite":
            for name in EXPRESSION_INDEXES:
                warnings.filterwarnings("ignore", f"Skipped unsupported reflection of expression-based index {name}")
                warnings.filterwarnings("ignore", f"autogenerate skipping metadata-specified expression-based index '{name}'")
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    # ``app`` was built by running every migration from an empty database.
    with app.app_context():
        with db.engine.connect() as connection:
            diff = _differences(connection)
    assert diff == [], "models and migrations differ (run `flask db migrate`):\n" + "\n".join(map(str, diff))


def test_migrations_downgrade_to_base_and_up_again(scratch_database_url):
    app = make_test_app(scratch_database_url)
    with app.app_context():
        try:
            upgrade()
            tables = set(sa.inspect(db.engine).get_table_names())
            assert {"assembly", "organisation", "user_account", "workshop", "round", "agenda_item", "topic"} <= tables

            downgrade(revision="base")
            left = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert left == set(), f"tables left behind after downgrading to base: {sorted(left)}"

            upgrade()
            assert set(sa.inspect(db.engine).get_table_names()) == tables
            with db.engine.connect() as connection:
                assert _differences(connection) == []
        finally:
            db.engine.dispose()


def _insert(connection, table: sa.Table, **values) -> int:
    """A row with the given values, the other required columns filled with plain values of their type."""
    samples = {sa.Integer: 1, sa.String: "x", sa.Text: "x", sa.Boolean: False, sa.DateTime: datetime.datetime(2027, 1, 1),
               sa.Date: datetime.date(2027, 1, 1), sa.Time: datetime.time(9, 0)}
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key or column.server_default is not None:
            continue
        values[column.name] = next(v for t, v in samples.items() if isinstance(column.type, t))
    return connection.execute(table.insert().values(**values)).inserted_primary_key[0]


def test_emails_queued_before_the_outbox_named_registrations_are_matched_by_address(scratch_database_url):
    app = make_test_app(scratch_database_url)
    with app.app_context():
        try:
            upgrade(revision="0012")
            tables = sa.MetaData()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
                tables.reflect(db.engine, only=("assembly", "organisation", "registration", "outbox_message"))
            with db.engine.begin() as c:
                assembly = _insert(c, tables.tables["assembly"], slug="a", title="A", status="open",
                                   start_time=datetime.time(9, 0), end_time=datetime.time(16, 0))
                org = _insert(c, tables.tables["organisation"], name="Org", name_key="org", sector="police",
                              status="approved")
                reg = _insert(c, tables.tables["registration"], assembly_id=assembly, organisation_id=org,
                              email="Delegate@Example.org", email_key="delegate@example.org", status="confirmed",
                              source="form")
                zoe = _insert(c, tables.tables["registration"], assembly_id=assembly, organisation_id=org,
                              email="Zoë.Clarke@Example.org", email_key="zoë.clarke@example.org", status="confirmed",
                              source="form")
                outbox = tables.tables["outbox_message"]
                for n, to in enumerate(("Delegate@Example.org", "someone.else@example.org", "ZOË.Clarke@Example.org")):
                    _insert(c, outbox, to_email=to, assembly_id=assembly, message_id=f"<{n}@x>", status="sent", kind="cancelled")
            upgrade()
            with db.engine.connect() as c:
                rows = c.execute(sa.text("SELECT to_email, registration_id FROM outbox_message ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [("Delegate@Example.org", reg), ("someone.else@example.org", None),
                                                ("ZOË.Clarke@Example.org", zoe)]
        finally:
            db.engine.dispose()


def test_the_reception_role_keeps_every_account_and_what_points_at_it(scratch_database_url):
    # 0022 rebuilds user_account on SQLite (a new CHECK): the facilitators' workshops and the
    # arrivals that name who marked them must survive it, and a downgrade must not delete anyone.
    app = make_test_app(scratch_database_url)
    with app.app_context():
        try:
            upgrade(revision="0021")
            tables = sa.MetaData()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
                tables.reflect(db.engine, only=("user_account", "assembly", "organisation", "registration", "round",
                                                "topic", "workshop", "workshop_facilitator", "arrival"))
            t = tables.tables
            with db.engine.begin() as c:
                fran = _insert(c, t["user_account"], email="fran@example.org", role="facilitator", password_hash="x",
                               active=True, session_version=1)
                assembly = _insert(c, t["assembly"], slug="a", title="A", status="open",
                                   start_time=datetime.time(9, 0), end_time=datetime.time(16, 0))
                rnd = _insert(c, t["round"], assembly_id=assembly, name="Morning", starts_at=datetime.time(10, 0),
                              ends_at=datetime.time(11, 0))
                topic = _insert(c, t["topic"], name="Hidden harm", name_key="hidden harm")
                workshop = _insert(c, t["workshop"], round_id=rnd, topic_id=topic, title="Hidden harm")
                c.execute(t["workshop_facilitator"].insert().values(workshop_id=workshop, user_id=fran))
                org = _insert(c, t["organisation"], name="Org", name_key="org", sector="police", status="approved")
                reg = _insert(c, t["registration"], assembly_id=assembly, organisation_id=org, email="d@example.org",
                              email_key="d@example.org", status="confirmed", source="form")
                c.execute(t["arrival"].insert().values(registration_id=reg, assembly_id=assembly,
                                                       arrived_at=datetime.datetime(2027, 1, 1, 9), marked_by_id=fran))
            upgrade()
            with db.engine.begin() as c:
                assert c.execute(sa.text("SELECT user_id FROM workshop_facilitator")).scalars().all() == [fran]
                assert c.execute(sa.text("SELECT marked_by_id FROM arrival")).scalars().all() == [fran]
                desk = _insert(c, t["user_account"], email="desk@example.org", role="reception", password_hash="x",
                               active=True, session_version=1)
            downgrade(revision="0021")
            with db.engine.connect() as c:
                rows = c.execute(sa.text("SELECT id, role, active FROM user_account ORDER BY id")).all()
                assert [tuple(r) for r in rows] == [(fran, "facilitator", True), (desk, "facilitator", False)]
                assert c.execute(sa.text("SELECT user_id FROM workshop_facilitator")).scalars().all() == [fran]
        finally:
            db.engine.dispose()


def test_emails_not_sent_as_out_of_date_get_a_status_of_their_own_and_back(scratch_database_url):
    # Until 0027 an email the worker did not send (out of date by its turn) was stored as failed, its
    # reason after "Not sent: ". 0027 names them skipped, reason kept; the downgrade puts them back.
    app = make_test_app(scratch_database_url)
    why = "Not sent: Ben cancelled their registration before its turn came."
    with app.app_context():
        try:
            upgrade(revision="0026")
            tables = sa.MetaData()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
                tables.reflect(db.engine, only=("outbox_message",))
            outbox = tables.tables["outbox_message"]
            with db.engine.begin() as c:
                stale = _insert(c, outbox, message_id="<1@x>", status="failed", last_error=why)
                bounced = _insert(c, outbox, message_id="<2@x>", status="failed", last_error="550 mailbox unknown")
                # "Not sent: " only at the start marks one out of date.
                quoted = _insert(c, outbox, message_id="<3@x>", status="failed", last_error="550 Not sent: spam")
                sent = _insert(c, outbox, message_id="<4@x>", status="sent", last_error="")

            def rows():
                with db.engine.connect() as c:
                    found = c.execute(sa.text("SELECT id, status, last_error FROM outbox_message"))
                    return {i: (status, error) for i, status, error in found}

            upgrade()
            assert rows() == {stale: ("skipped", why), bounced: ("failed", "550 mailbox unknown"),
                              quoted: ("failed", "550 Not sent: spam"), sent: ("sent", "")}
            with db.engine.begin() as c:
                # As the worker writes them, and one whose reason lacks the prefix the old code looks for.
                _insert(c, outbox, message_id="<5@x>", status="skipped", last_error="Not sent: called off.")
                _insert(c, outbox, message_id="<6@x>", status="skipped", last_error="called off.")
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as c:
                _insert(c, outbox, message_id="<7@x>", status="lost", last_error="")

            downgrade(revision="0026")
            after = rows()
            assert after[stale] == ("failed", why) and after[bounced] == ("failed", "550 mailbox unknown")
            assert after[quoted] == ("failed", "550 Not sent: spam") and after[sent] == ("sent", "")
            assert "skipped" not in {status for status, _ in after.values()}
            assert sorted(after.values()).count(("failed", "Not sent: called off.")) == 2
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as c:
                _insert(c, outbox, message_id="<8@x>", status="skipped", last_error="")
        finally:
            db.engine.dispose()
