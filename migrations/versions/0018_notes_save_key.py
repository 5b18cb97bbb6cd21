"""notes save key

session_notes.last_save_key: the key the notes page's script gave the save that made the
current version. A page whose save reached the server but whose reply was lost (a dropped
connection) names that key when it tries again, and is not shown its own save as a conflict.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('session_notes') as batch_op:
        batch_op.add_column(sa.Column('last_save_key', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('session_notes') as batch_op:
        batch_op.drop_column('last_save_key')
