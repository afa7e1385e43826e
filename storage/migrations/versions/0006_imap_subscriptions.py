"""imap: subscriptions that outlive their folder (RFC 3501 §6.3.6, LIST \\NonExistent)

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imap_subscriptions',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=400), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'name')
    )


def downgrade() -> None:
    op.drop_table('imap_subscriptions')
