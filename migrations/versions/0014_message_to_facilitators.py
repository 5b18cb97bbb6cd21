"""message to facilitators

Organisers' emails can go to the facilitators of an assembly's workshops (staff accounts),
as well as to its delegates: the audience check allows 'facilitators'.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 02:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_BEFORE = "audience IN ('confirmed', 'waiting', 'registered', 'workshop')"
_AFTER = "audience IN ('confirmed', 'waiting', 'registered', 'workshop', 'facilitators')"


def upgrade():
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_assembly_message_audience'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assembly_message_audience'), _AFTER)


def downgrade():
    # Messages sent to facilitators cannot be kept under the old rule.
    op.execute("DELETE FROM assembly_message WHERE audience = 'facilitators'")
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_assembly_message_audience'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assembly_message_audience'), _BEFORE)
