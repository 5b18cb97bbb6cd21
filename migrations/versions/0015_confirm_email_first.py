"""confirm email first

An assembly can ask new delegates to confirm their email address before they get a place:
the form is kept in pending_registration until the emailed link is confirmed, so registrations
with addresses nobody reads hold no place.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 03:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch): recreating the assembly table on SQLite would cascade its
    # implicit DELETE to every registration, and drop the triggers of migration 0008.
    op.add_column('assembly', sa.Column('confirm_email_first', sa.Boolean(), server_default=sa.false(),
                                        nullable=False))
    op.create_table(
        'pending_registration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assembly_id', sa.Integer(), nullable=False),
        sa.Column('full_name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('email_key', sa.String(length=254), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['assembly_id'], ['assembly.id'],
                                name=op.f('fk_pending_registration_assembly_id_assembly'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_registration')),
        sa.UniqueConstraint('assembly_id', 'email_key', name=op.f('uq_pending_registration_assembly_id_email_key')),
    )
    op.create_index(op.f('ix_pending_registration_created_at'), 'pending_registration', ['created_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_pending_registration_created_at'), table_name='pending_registration')
    op.drop_table('pending_registration')
    op.drop_column('assembly', 'confirm_email_first')
