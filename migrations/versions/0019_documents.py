"""documents

Files an organiser attaches to an assembly (agenda, slides, the agreement), kept in the
database so every app process and every backup has them. Adding, changing or deleting one
gives its assembly a new content version, as agenda items do (0008): the public page lists
the public ones and is cached by that version.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 13:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

SQLITE_BUMP = "UPDATE assembly SET content_version = random() WHERE id {where};"
SQLITE_TRIGGERS = {
    "document_page_version_insert": f"AFTER INSERT ON document BEGIN {SQLITE_BUMP.format(where='= NEW.assembly_id')} END",
    "document_page_version_update": f"""AFTER UPDATE ON document BEGIN
          {SQLITE_BUMP.format(where='IN (OLD.assembly_id, NEW.assembly_id)')} END""",
    "document_page_version_delete": f"AFTER DELETE ON document BEGIN {SQLITE_BUMP.format(where='= OLD.assembly_id')} END",
}
PG_VERSION = "floor(random() * 9007199254740991)::bigint"
PG_FUNCTION = f"""
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE assembly SET content_version = {PG_VERSION} WHERE id = OLD.assembly_id;
          END IF;
          IF TG_OP IN ('UPDATE', 'INSERT') THEN
            UPDATE assembly SET content_version = {PG_VERSION} WHERE id = NEW.assembly_id;
          END IF;
          RETURN NULL;
        END"""


def upgrade():
    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('visibility', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("visibility IN ('public', 'delegates')", name=op.f('ck_document_visibility')),
    sa.CheckConstraint('size >= 0', name=op.f('ck_document_size_non_negative')),
    sa.ForeignKeyConstraint(['assembly_id'], ['assembly.id'], name=op.f('fk_document_assembly_id_assembly'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_document_uploaded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('assembly_id', 'sha256', name=op.f('uq_document_assembly_id_sha256'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_assembly_id'), ['assembly_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION document_page_version() RETURNS trigger LANGUAGE plpgsql AS $${PG_FUNCTION}$$")
        op.execute("CREATE TRIGGER document_page_version AFTER INSERT OR UPDATE OR DELETE ON document "
                   "FOR EACH ROW EXECUTE FUNCTION document_page_version()")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER document_page_version ON document")
        op.execute("DROP FUNCTION document_page_version()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_assembly_id'))
    op.drop_table('document')
