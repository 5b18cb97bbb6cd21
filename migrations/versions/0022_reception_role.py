"""reception role

Reception staff and volunteers check delegates in on the day: an account that opens the
check-in pages and nothing else, rather than an organiser's account lent to the desk.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-28 15:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_BEFORE = "role IN ('organiser', 'facilitator')"
_AFTER = "role IN ('organiser', 'facilitator', 'reception')"


def upgrade():
    with op.batch_alter_table('user_account') as batch_op:
        batch_op.drop_constraint(op.f('ck_user_account_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_user_account_role'), _AFTER)


def downgrade():
    # The old rule has no reception role. The accounts stay (their check-ins name them) but are
    # switched off, as facilitators of no workshop: they open nothing until an organiser decides.
    op.execute("UPDATE user_account SET role = 'facilitator', active = false WHERE role = 'reception'")
    with op.batch_alter_table('user_account') as batch_op:
        batch_op.drop_constraint(op.f('ck_user_account_role'), type_='check')
        batch_op.create_check_constraint(op.f('ck_user_account_role'), _BEFORE)
