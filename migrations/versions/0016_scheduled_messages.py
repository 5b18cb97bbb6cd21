"""scheduled messages

An organiser's email to delegates can be scheduled for later: send_at is when, queued_at
when its copies went into the outbox (messages sent before this migration: when created),
cancelled_at when a scheduled one was called off.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.add_column(sa.Column('send_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_assembly_message_send_at'), ['send_at'], unique=False)
    # Every message so far went into the outbox when it was written.
    op.execute("UPDATE assembly_message SET queued_at = created_at")


def downgrade():
    # Messages still waiting for their time would be lost silently: they are called off.
    op.execute("DELETE FROM assembly_message WHERE queued_at IS NULL")
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.drop_index(batch_op.f('ix_assembly_message_send_at'))
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('queued_at')
        batch_op.drop_column('send_at')
