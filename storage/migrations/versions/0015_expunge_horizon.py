"""QRESYNC's expunged UIDs forgotten past a horizon (imap_expunged.expunged_at, imap_expunge_horizons)

Revision ID: 0015
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot ADD COLUMN with a non-constant default: the table is copied there (it is small: expunges).
    recreate = 'always' if op.get_bind().dialect.name == 'sqlite' else 'auto'
    with op.batch_alter_table('imap_expunged', schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(sa.Column('expunged_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                                      nullable=False))
    op.create_table('imap_expunge_horizons',
    sa.Column('folder_id', sa.Integer(), nullable=False),
    sa.Column('modseq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['folder_id'], ['folders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('folder_id')
    )


def downgrade() -> None:
    op.drop_table('imap_expunge_horizons')
    with op.batch_alter_table('imap_expunged', schema=None) as batch_op:
        batch_op.drop_column('expunged_at')
