"""assembly message

Organisers' emails to an assembly's delegates (all confirmed, the waiting list, or one
workshop's). The unique (assembly, send key) stops a double-clicked Send from emailing
everyone twice.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('assembly_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('send_key', sa.String(length=64), nullable=False),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=True),
    sa.Column('audience_label', sa.String(length=400), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("audience IN ('confirmed', 'waiting', 'registered', 'workshop')", name=op.f('ck_assembly_message_audience')),
    sa.ForeignKeyConstraint(['assembly_id'], ['assembly.id'], name=op.f('fk_assembly_message_assembly_id_assembly'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['user_account.id'], name=op.f('fk_assembly_message_sent_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshop.id'], name=op.f('fk_assembly_message_workshop_id_workshop'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assembly_message')),
    sa.UniqueConstraint('assembly_id', 'send_key', name=op.f('uq_assembly_message_assembly_id_send_key'))
    )
    op.create_index(op.f('ix_assembly_message_assembly_id'), 'assembly_message', ['assembly_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_assembly_message_assembly_id'), table_name='assembly_message')
    op.drop_table('assembly_message')
