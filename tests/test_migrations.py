"""The migrations build the schema the models describe, and can be undone."""
from __future__ import annotations

import warnings

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
