"""outbox skipped status

An email the worker decides not to send, because what it says is no longer true by its turn
(the delegate cancelled meanwhile, say), gets a status of its own, "skipped", instead of
"failed" with a reason starting "Not sent: ". Those rows are converted, their reason kept.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-29 12:00:00

"""
import warnings
from contextlib import contextmanager

from alembic import op


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_BEFORE = "status IN ('pending', 'sent', 'failed')"
_AFTER = "status IN ('pending', 'sent', 'failed', 'skipped')"
# How the worker began the reason of such a row until now (and still does: the reason keeps its wording).
_NOT_SENT = "Not sent: "


@contextmanager
def _quiet():
    """As in 0013: SQLite rebuilds the table (batch mode), reflecting the registration table its foreign
    key names; SQLAlchemy warns that it cannot reflect that table's index on lower(full_name), which the
    rebuild of outbox_message never touches."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        yield


def upgrade():
    with _quiet(), op.batch_alter_table('outbox_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_message_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_message_status'), _AFTER)
    # substr rather than LIKE: case-sensitive on SQLite too, as the app's own check was.
    op.execute(f"UPDATE outbox_message SET status = 'skipped' "
               f"WHERE status = 'failed' AND substr(last_error, 1, {len(_NOT_SENT)}) = '{_NOT_SENT}'")


def downgrade():
    # Back to failed, with the reason's prefix by which the old code tells them from real failures.
    op.execute(f"UPDATE outbox_message SET last_error = '{_NOT_SENT}' || last_error "
               f"WHERE status = 'skipped' AND substr(last_error, 1, {len(_NOT_SENT)}) <> '{_NOT_SENT}'")
    op.execute("UPDATE outbox_message SET status = 'failed' WHERE status = 'skipped'")
    with _quiet(), op.batch_alter_table('outbox_message') as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_message_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_message_status'), _BEFORE)
