"""password-reset requests per address

A row per address typed on the forgotten-password form (a keyed hash of it, never the address),
written for every request whether or not the address has an account, and counting that hour's
requests for the per-address limit on reset emails.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'password_reset_request',
        sa.Column('address_key', sa.String(length=64), nullable=False),
        sa.Column('window_start', sa.DateTime(), nullable=False),
        sa.Column('requests', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('address_key', name=op.f('pk_password_reset_request')),
    )


def downgrade():
    op.drop_table('password_reset_request')
