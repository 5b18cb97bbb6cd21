"""assembly counts and page version

Registration counts per status and a content version on the assembly, both kept by
database triggers (so no code path, bulk statement or cascade can leave them wrong),
and an index for the organiser's registration list in name order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 14:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Columns of the assembly that its public page shows.
PAGE_COLUMNS = ("title", "slug", "summary", "venue_name", "venue_address", "date", "start_time", "end_time",
                "timezone", "status")

COUNTS = """
    confirmed_count = confirmed_count {op} ({row}.status = 'confirmed'),
    waiting_count = waiting_count {op} ({row}.status = 'waiting'),
    cancelled_count = cancelled_count {op} ({row}.status = 'cancelled')
"""

SQLITE_BUMP = "UPDATE assembly SET content_version = random() WHERE id {where};"

SQLITE_TRIGGERS = {
    "registration_counts_insert": f"""
        AFTER INSERT ON registration BEGIN
          UPDATE assembly SET {COUNTS.format(op='+', row='NEW')} WHERE id = NEW.assembly_id;
        END""",
    "registration_counts_delete": f"""
        AFTER DELETE ON registration BEGIN
          UPDATE assembly SET {COUNTS.format(op='-', row='OLD')} WHERE id = OLD.assembly_id;
        END""",
    "registration_counts_update": f"""
        AFTER UPDATE OF status, assembly_id ON registration
        WHEN OLD.status IS NOT NEW.status OR OLD.assembly_id IS NOT NEW.assembly_id BEGIN
          UPDATE assembly SET {COUNTS.format(op='-', row='OLD')} WHERE id = OLD.assembly_id;
          UPDATE assembly SET {COUNTS.format(op='+', row='NEW')} WHERE id = NEW.assembly_id;
        END""",
    "assembly_page_version": f"""
        AFTER UPDATE OF {', '.join(PAGE_COLUMNS)} ON assembly BEGIN
          {SQLITE_BUMP.format(where='= NEW.id')}
        END""",
    "round_page_version_insert": f"AFTER INSERT ON round BEGIN {SQLITE_BUMP.format(where='= NEW.assembly_id')} END",
    "round_page_version_update": f"""AFTER UPDATE ON round BEGIN
          {SQLITE_BUMP.format(where='IN (OLD.assembly_id, NEW.assembly_id)')} END""",
    "round_page_version_delete": f"AFTER DELETE ON round BEGIN {SQLITE_BUMP.format(where='= OLD.assembly_id')} END",
    "workshop_page_version_insert": f"""AFTER INSERT ON workshop BEGIN
          {SQLITE_BUMP.format(where='IN (SELECT assembly_id FROM round WHERE id = NEW.round_id)')} END""",
    "workshop_page_version_update": f"""AFTER UPDATE ON workshop BEGIN
          {SQLITE_BUMP.format(where='IN (SELECT assembly_id FROM round WHERE id IN (OLD.round_id, NEW.round_id))')} END""",
    "workshop_page_version_delete": f"""AFTER DELETE ON workshop BEGIN
          {SQLITE_BUMP.format(where='IN (SELECT assembly_id FROM round WHERE id = OLD.round_id)')} END""",
    "agenda_item_page_version_insert": f"""AFTER INSERT ON agenda_item BEGIN
          {SQLITE_BUMP.format(where='= NEW.assembly_id')} END""",
    "agenda_item_page_version_update": f"""AFTER UPDATE ON agenda_item BEGIN
          {SQLITE_BUMP.format(where='IN (OLD.assembly_id, NEW.assembly_id)')} END""",
    "agenda_item_page_version_delete": f"""AFTER DELETE ON agenda_item BEGIN
          {SQLITE_BUMP.format(where='= OLD.assembly_id')} END""",
    "topic_page_version": f"""AFTER UPDATE ON topic BEGIN
          {SQLITE_BUMP.format(where='IN (SELECT r.assembly_id FROM round r JOIN workshop w ON w.round_id = r.id WHERE w.topic_id = NEW.id)')}
        END""",
    "organisation_page_version": f"""AFTER UPDATE OF name ON organisation BEGIN
          {SQLITE_BUMP.format(where='IN (SELECT assembly_id FROM agenda_item WHERE organisation_id = NEW.id)')}
        END""",
}

PG_VERSION = "floor(random() * 9007199254740991)::bigint"

PG_FUNCTIONS = {
    "registration_counts": f"""
        BEGIN
          IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status
             AND OLD.assembly_id IS NOT DISTINCT FROM NEW.assembly_id THEN
            RETURN NULL;
          END IF;
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE assembly SET {COUNTS.format(op='-', row='OLD').replace("')", "')::int")} WHERE id = OLD.assembly_id;
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE assembly SET {COUNTS.format(op='+', row='NEW').replace("')", "')::int")} WHERE id = NEW.assembly_id;
          END IF;
          RETURN NULL;
        END""",
    "assembly_page_version": f"""
        BEGIN
          IF ({', '.join('NEW.' + c for c in PAGE_COLUMNS)}) IS DISTINCT FROM
             ({', '.join('OLD.' + c for c in PAGE_COLUMNS)}) THEN
            NEW.content_version := {PG_VERSION};
          END IF;
          RETURN NEW;
        END""",
    "round_page_version": f"""
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE assembly SET content_version = {PG_VERSION} WHERE id = OLD.assembly_id;
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE assembly SET content_version = {PG_VERSION} WHERE id = NEW.assembly_id;
          END IF;
          RETURN NULL;
        END""",
    "workshop_page_version": f"""
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE assembly SET content_version = {PG_VERSION}
            WHERE id IN (SELECT assembly_id FROM round WHERE id = OLD.round_id);
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE assembly SET content_version = {PG_VERSION}
            WHERE id IN (SELECT assembly_id FROM round WHERE id = NEW.round_id);
          END IF;
          RETURN NULL;
        END""",
    "agenda_item_page_version": f"""
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE assembly SET content_version = {PG_VERSION} WHERE id = OLD.assembly_id;
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE assembly SET content_version = {PG_VERSION} WHERE id = NEW.assembly_id;
          END IF;
          RETURN NULL;
        END""",
    "topic_page_version": f"""
        BEGIN
          UPDATE assembly SET content_version = {PG_VERSION}
          WHERE id IN (SELECT r.assembly_id FROM round r JOIN workshop w ON w.round_id = r.id WHERE w.topic_id = NEW.id);
          RETURN NULL;
        END""",
    "organisation_page_version": f"""
        BEGIN
          IF NEW.name IS DISTINCT FROM OLD.name THEN
            UPDATE assembly SET content_version = {PG_VERSION}
            WHERE id IN (SELECT assembly_id FROM agenda_item WHERE organisation_id = NEW.id);
          END IF;
          RETURN NULL;
        END""",
}

# trigger name: (function, timing and events, table)
PG_TRIGGERS = {
    "registration_counts": ("registration_counts", "AFTER INSERT OR DELETE OR UPDATE OF status, assembly_id",
                            "registration"),
    "assembly_page_version": ("assembly_page_version", "BEFORE UPDATE", "assembly"),
    "round_page_version": ("round_page_version", "AFTER INSERT OR UPDATE OR DELETE", "round"),
    "workshop_page_version": ("workshop_page_version", "AFTER INSERT OR UPDATE OR DELETE", "workshop"),
    "agenda_item_page_version": ("agenda_item_page_version", "AFTER INSERT OR UPDATE OR DELETE", "agenda_item"),
    "topic_page_version": ("topic_page_version", "AFTER UPDATE", "topic"),
    "organisation_page_version": ("organisation_page_version", "AFTER UPDATE", "organisation"),
}


def upgrade():
    dialect = op.get_bind().dialect.name
    # Plain ADD COLUMN (no batch): recreating the assembly table on SQLite would cascade
    # its implicit DELETE to every registration while foreign keys are on.
    op.add_column('assembly', sa.Column('confirmed_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('assembly', sa.Column('waiting_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('assembly', sa.Column('cancelled_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('assembly', sa.Column('content_version', sa.BigInteger(), server_default='0', nullable=False))
    op.create_index('ix_registration_assembly_name', 'registration',
                    ['assembly_id', sa.text('lower(full_name)'), 'id'], unique=False)

    for status in ("confirmed", "waiting", "cancelled"):
        op.execute(f"UPDATE assembly SET {status}_count = (SELECT count(*) FROM registration r "
                   f"WHERE r.assembly_id = assembly.id AND r.status = '{status}')")
    if dialect == "postgresql":
        op.execute(f"UPDATE assembly SET content_version = {PG_VERSION}")
        for name, body in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$")
        for name, (function, when, table) in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()")
    else:
        op.execute("UPDATE assembly SET content_version = random()")
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, (_, _, table) in PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index('ix_registration_assembly_name', table_name='registration')
    op.drop_column('assembly', 'content_version')
    op.drop_column('assembly', 'cancelled_count')
    op.drop_column('assembly', 'waiting_count')
    op.drop_column('assembly', 'confirmed_count')
