"""assembly cancelled_at

An assembly can be called off (and reinstated) without losing its status.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch): recreating the assembly table on SQLite would cascade
    # its implicit DELETE to every registration while foreign keys are on.
    op.add_column('assembly', sa.Column('cancelled_at', sa.DateTime(), nullable=True))


def downgrade():
    # DROP COLUMN without a table rebuild (SQLite 3.35+), for the same reason.
    op.drop_column('assembly', 'cancelled_at')
