"""outbox render recipe

An outbox row may hold, instead of its rendered subject and bodies, the recipe to render
them (JSON): the mail worker renders it just before sending, so the transaction that queues
the email (the public registration form) only inserts a small row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch): a nullable column needs no table rebuild on SQLite.
    op.add_column('outbox_message', sa.Column('render', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('outbox_message', 'render')
