"""arrivals

Reception's check-in: one row per confirmed delegate who has arrived at the assembly. The
registration is the primary key, so two desks marking the same person make one arrival.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-28 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('arrival',
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('arrived_at', sa.DateTime(), nullable=False),
    sa.Column('marked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assembly_id'], ['assembly.id'], name=op.f('fk_arrival_assembly_id_assembly'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['marked_by_id'], ['user_account.id'], name=op.f('fk_arrival_marked_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_arrival_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('registration_id', name=op.f('pk_arrival'))
    )
    with op.batch_alter_table('arrival', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arrival_assembly_id'), ['assembly_id'], unique=False)


def downgrade():
    with op.batch_alter_table('arrival', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arrival_assembly_id'))
    op.drop_table('arrival')
