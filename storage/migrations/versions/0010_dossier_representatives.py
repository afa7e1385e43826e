"""legal representatives, APP mailboxes' OpenPGP keys, the patient's general practitioner, signature state

Revision ID: 0010
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('legal_representatives',
    sa.Column('representative_id', sa.Integer(), nullable=False),
    sa.Column('dependant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dependant_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['representative_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('representative_id', 'dependant_id')
    )
    with op.batch_alter_table('legal_representatives', schema=None) as batch_op:
        batch_op.create_index('ix_legal_representatives_dependant', ['dependant_id'], unique=False)
    op.create_table('account_openpgp_keys',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=40), nullable=False),
    sa.Column('armored', sa.Text(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'fingerprint')
    )
    op.create_table('patient_general_practitioners',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    with op.batch_alter_table('dossier_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature', sa.String(length=8), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('dossier_documents', schema=None) as batch_op:
        batch_op.drop_column('signature')
    op.drop_table('patient_general_practitioners')
    op.drop_table('account_openpgp_keys')
    with op.batch_alter_table('legal_representatives', schema=None) as batch_op:
        batch_op.drop_index('ix_legal_representatives_dependant')
    op.drop_table('legal_representatives')
