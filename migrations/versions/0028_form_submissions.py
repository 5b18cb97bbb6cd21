"""form submissions

The one-time tokens of "Add" forms that have been acted on (eventapp.add_once), each with the id
of what it added, so that the same form sent twice (a double click) adds once. Rows are deleted
when their token's window is over.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-29 15:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'form_submission',
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_form_submission')),
    )
    op.create_index(op.f('ix_form_submission_created_at'), 'form_submission', ['created_at'])


def downgrade():
    op.drop_index(op.f('ix_form_submission_created_at'), table_name='form_submission')
    op.drop_table('form_submission')
