"""the patient's dossier: index of filed documents, quarantine, access rules, emergency accesses

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dossier_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('blob_id', sa.String(length=32), nullable=False),
    sa.Column('source_blob_id', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=8), nullable=False),
    sa.Column('effective_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('set_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('structure_key', sa.String(length=64), nullable=False),
    sa.Column('author_key', sa.String(length=64), nullable=False),
    sa.Column('confidentiality', sa.String(length=120), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('hidden_from_professionals', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('blob_id')
    )
    with op.batch_alter_table('dossier_documents', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_account_category', ['account_id', 'category', 'state', 'effective_at'],
                              unique=False)
        batch_op.create_index('ix_dossier_account_set', ['account_id', 'set_key'], unique=False)
        batch_op.create_index('ix_dossier_source', ['source_blob_id'], unique=False)
    op.create_table('dossier_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('blob_id', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=4), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dossier_quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_quarantine_held', ['held_at'], unique=False)


    op.create_table('dossier_access_rules',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('rule', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'address')
    )
    op.create_table('dossier_emergency',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dossier_emergency', schema=None) as batch_op:
        batch_op.create_index('ix_dossier_emergency_pair', ['account_id', 'address', 'opened_at'], unique=False)

    op.create_table('dossier_imports',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('dossier_imports')
    with op.batch_alter_table('dossier_emergency', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_emergency_pair')
    op.drop_table('dossier_emergency')
    op.drop_table('dossier_access_rules')
    with op.batch_alter_table('dossier_quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_quarantine_held')
    op.drop_table('dossier_quarantine')
    with op.batch_alter_table('dossier_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_dossier_source')
        batch_op.drop_index('ix_dossier_account_set')
        batch_op.drop_index('ix_dossier_account_category')
    op.drop_table('dossier_documents')
