"""the catalogue of services and the patients' consents (catalogue_services, catalogue_consents)

Revision ID: 0011
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('catalogue_services',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('editor', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('urls', sa.JSON(), nullable=False),
    sa.Column('purposes', sa.JSON(), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('data_exchange', sa.Boolean(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mailbox')
    )
    op.create_table('catalogue_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('approved_version', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reapprove_by', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_id'], ['catalogue_services.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'service_id', name='uq_catalogue_consent')
    )
    with op.batch_alter_table('catalogue_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_consents_service_id'), ['service_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('catalogue_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_consents_service_id'))
    op.drop_table('catalogue_consents')
    op.drop_table('catalogue_services')
