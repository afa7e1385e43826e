"""the profil médical's index (profile_entries)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profile_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('blob_id', sa.String(length=32), nullable=False),
    sa.Column('entry_key', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hidden_from_professionals', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['blob_id'], ['blobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('blob_id')
    )
    with op.batch_alter_table('profile_entries', schema=None) as batch_op:
        batch_op.create_index('ix_profile_account_entry', ['account_id', 'entry_key', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('profile_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_account_entry')
    op.drop_table('profile_entries')
