"""message audiences

Organisers can write to the confirmed delegates who gave access or dietary needs, or to the
confirmed delegates of one organisation (assembly_message.organisation_id).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 04:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_BEFORE = "audience IN ('confirmed', 'waiting', 'registered', 'workshop', 'facilitators')"
_AFTER = ("audience IN ('confirmed', 'waiting', 'registered', 'workshop', 'facilitators', 'access', 'dietary', "
          "'organisation')")


def upgrade():
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assembly_message_organisation_id_organisation'), 'organisation',
                                    ['organisation_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_constraint(op.f('ck_assembly_message_audience'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assembly_message_audience'), _AFTER)


def downgrade():
    # Messages to these audiences cannot be kept under the old rule.
    op.execute("DELETE FROM assembly_message WHERE audience IN ('access', 'dietary', 'organisation')")
    with op.batch_alter_table('assembly_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_assembly_message_audience'), type_='check')
        batch_op.create_check_constraint(op.f('ck_assembly_message_audience'), _BEFORE)
        batch_op.drop_constraint(batch_op.f('fk_assembly_message_organisation_id_organisation'), type_='foreignkey')
        batch_op.drop_column('organisation_id')
