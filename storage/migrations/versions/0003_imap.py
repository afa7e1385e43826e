"""imap: \\Recent bookkeeping on folders; ACL grants on folders; expunged UIDs (QRESYNC)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('folders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recent_uid', sa.BigInteger(), nullable=False, server_default='0'))
    op.create_table('imap_folder_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('folder_id', sa.Integer(), nullable=False),
    sa.Column('grantee_id', sa.Integer(), nullable=False),
    sa.Column('rights', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grantee_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('folder_id', 'grantee_id')
    )
    op.create_table('imap_expunged',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('folder_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('modseq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('imap_expunged', schema=None) as batch_op:
        batch_op.create_index('ix_imap_expunged_folder_modseq', ['folder_id', 'modseq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('imap_expunged', schema=None) as batch_op:
        batch_op.drop_index('ix_imap_expunged_folder_modseq')
    op.drop_table('imap_expunged')
    op.drop_table('imap_folder_grants')
    with op.batch_alter_table('folders', schema=None) as batch_op:
        batch_op.drop_column('recent_uid')
