"""password-reset requests per address

A row per address typed on the forgotten-password form (a keyed hash of it, never the address),
written for every request whether or not the address has an account (so the time taken does not
tell accounts apart), counting the day's requests for that address.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-29 10:10:00

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
