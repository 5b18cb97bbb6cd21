"""feedback

Delegates say how useful the assembly and each of their workshops was, and what the next
assembly should cover. A response outlives its registration (purged with the personal
data): the link goes, the answers and the sector stay.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-28 16:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('overall', sa.Integer(), nullable=False),
    sa.Column('differently', sa.Text(), nullable=False),
    sa.Column('next_time', sa.Text(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('overall BETWEEN 1 AND 5', name=op.f('ck_feedback_overall')),
    sa.ForeignKeyConstraint(['assembly_id'], ['assembly.id'], name=op.f('fk_feedback_assembly_id_assembly'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_feedback_registration_id_registration'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('registration_id', name=op.f('uq_feedback_registration_id'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_assembly_id'), ['assembly_id'], unique=False)

    op.create_table('feedback_workshop',
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.CheckConstraint('rating BETWEEN 1 AND 5', name=op.f('ck_feedback_workshop_rating')),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_feedback_workshop_feedback_id_feedback'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_feedback_workshop_workshop_id_workshop'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feedback_id', 'workshop_id', name=op.f('pk_feedback_workshop'))
    )
    with op.batch_alter_table('feedback_workshop', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_workshop_workshop_id'), ['workshop_id'], unique=False)


def downgrade():
    with op.batch_alter_table('feedback_workshop', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_workshop_workshop_id'))
    op.drop_table('feedback_workshop')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_assembly_id'))
    op.drop_table('feedback')
