"""what the hub knows of a local professional, shown beside their name to patients: accounts.profession, structure

Revision ID: 0016
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profession', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('structure', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('structure')
        batch_op.drop_column('profession')
