"""two-step sign-in

An authenticator-app secret (TOTP) per staff account, the last accepted time step (so a code
works once), hashed single-use recovery codes, and a count of wrong codes in a row.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-29 02:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('two_step_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recovery_codes', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('two_step_failures', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('two_step_failed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('two_step_failed_at')
        batch_op.drop_column('two_step_failures')
        batch_op.drop_column('recovery_codes')
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('two_step_since')
        batch_op.drop_column('totp_secret')
