"""allocation job

Background runs of the allocation for assemblies too big to solve within a web request:
the organiser's click queues a job, ``flask allocate-worker`` runs it. A partial unique
index keeps one queued or running job per assembly.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 08:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('queued', 'running')")


def upgrade():
    op.create_table('allocation_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('delegates', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_allocation_job_status')),
    sa.ForeignKeyConstraint(['assembly_id'], ['assembly.id'], name=op.f('fk_allocation_job_assembly_id_assembly'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_allocation_job_requested_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['allocation_run.id'], name=op.f('fk_allocation_job_run_id_allocation_run'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_allocation_job'))
    )
    op.create_index(op.f('ix_allocation_job_assembly_id'), 'allocation_job', ['assembly_id'], unique=False)
    op.create_index('uq_allocation_job_one_active', 'allocation_job', ['assembly_id'], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade():
    op.drop_index('uq_allocation_job_one_active', table_name='allocation_job')
    op.drop_index(op.f('ix_allocation_job_assembly_id'), table_name='allocation_job')
    op.drop_table('allocation_job')
