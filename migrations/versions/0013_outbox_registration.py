"""outbox registration

Each email about a registration names it, so a delegate's data download lists every email
sent about them, including those to an address they have since changed, and never the
emails of someone who used that address before. Rows queued before this migration are
matched by address (what the download did until now).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 00:40:00

"""
import warnings
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


@contextmanager
def _quiet():
    """SQLite rebuilds the table (batch mode), reflecting the registration table its new foreign key
    names; SQLAlchemy warns that it cannot reflect that table's index on lower(full_name), which the
    rebuild of outbox_message never touches."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        yield


def upgrade():
    with _quiet(), op.batch_alter_table('outbox_message') as batch_op:
        batch_op.add_column(sa.Column('registration_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_outbox_message_registration_id_registration'), 'registration',
                                    ['registration_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(op.f('ix_outbox_message_registration_id'), ['registration_id'], unique=False)
    # Matched in Python, as the app compares addresses (str.strip().lower()): SQLite's lower()
    # leaves non-ASCII letters alone, so zoë@... would not meet Zoë@...
    conn = op.get_bind()
    holders = {(a, k): i for i, a, k in conn.execute(sa.text("SELECT id, assembly_id, email_key FROM registration"))}
    found = [{"m": m, "r": holders[(a, (to or "").strip().lower())]}
             for m, a, to in conn.execute(sa.text(
                 "SELECT id, assembly_id, to_email FROM outbox_message WHERE assembly_id IS NOT NULL"))
             if (a, (to or "").strip().lower()) in holders]
    if found:
        conn.execute(sa.text("UPDATE outbox_message SET registration_id = :r WHERE id = :m"), found)


def downgrade():
    with _quiet(), op.batch_alter_table('outbox_message') as batch_op:
        batch_op.drop_index(op.f('ix_outbox_message_registration_id'))
        batch_op.drop_constraint(op.f('fk_outbox_message_registration_id_registration'), type_='foreignkey')
        batch_op.drop_column('registration_id')
