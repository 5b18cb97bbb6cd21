"""arrival audiences

Organisers can write to the confirmed delegates reception checked in ("thank you for
coming", the slides) or to those it did not ("are you on your way?").

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-28 13:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_BEFORE = ("audience IN ('confirmed', 'waiting', 'registered', 'workshop', 'facilitators', 'access', 'dietary', "
           "'organisation')")
_AFTER = ("audience IN ('confirmed', 'waiting', 'registered', 'workshop', 'facilitators', 'access', 'dietary', "
          "'organisation', 'arrived', 'not_arrived')")


def upgrade():
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_assembly_message_audience'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assembly_message_audience'), _AFTER)


def downgrade():
    # Messages to these audiences cannot be kept under the old rule.
    op.execute("DELETE FROM assembly_message WHERE audience IN ('arrived', 'not_arrived')")
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_assembly_message_audience'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assembly_message_audience'), _BEFORE)
