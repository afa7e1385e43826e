"""the dossier listing's order as an index: dossier_documents (account, category, state, sort date, id)

The listing pages newest first on coalesce(effective_at, filed_at), then id (storage/dossier.py page): without
an index on that expression every page sorted the whole category (bench/webmail.py: half a page's time).

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_dossier_listing', 'dossier_documents',
                    ['account_id', 'category', 'state', sa.text('coalesce(effective_at, filed_at)'), 'id'])
    op.create_index('ix_dossier_listing_all', 'dossier_documents',
                    ['account_id', 'state', sa.text('coalesce(effective_at, filed_at)'), 'id'])


def downgrade() -> None:
    op.drop_index('ix_dossier_listing_all', table_name='dossier_documents')
    op.drop_index('ix_dossier_listing', table_name='dossier_documents')
