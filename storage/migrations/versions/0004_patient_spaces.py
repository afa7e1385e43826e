"""patient spaces schema: traits, activation codes, conversations, notifications, archives,
professionals' inactivity warnings

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pharmacies',
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.PrimaryKeyConstraint('address')
    )
    op.create_table('inactivity_warnings',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('patient_activation_codes',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.LargeBinary(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('patient_archives',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('sealed_archive_key', sa.LargeBinary(), nullable=False),
    sa.Column('sealed_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purge_after', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_table('patient_contacts',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('opened_by', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('pharmacy', sa.Boolean(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'address')
    )
    with op.batch_alter_table('patient_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_patient_contacts_opened_by', ['patient_id', 'opened_by'], unique=False)

    op.create_table('patient_notifications',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.String(length=100), nullable=False),
    sa.Column('pending', sa.String(length=100), nullable=False),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    with op.batch_alter_table('patient_notifications', schema=None) as batch_op:
        batch_op.create_index('ix_patient_notifications_pending', ['pending'], unique=False)

    op.create_table('patient_profiles',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('traits', sa.LargeBinary(), nullable=False),
    sa.Column('objection_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deletion_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    with op.batch_alter_table('patient_profiles', schema=None) as batch_op:
        batch_op.create_index('ix_patient_profiles_deletion', ['deletion_due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('patient_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_profiles_deletion')

    op.drop_table('patient_profiles')
    with op.batch_alter_table('patient_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_notifications_pending')

    op.drop_table('patient_notifications')
    with op.batch_alter_table('patient_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_contacts_opened_by')

    op.drop_table('patient_contacts')
    op.drop_table('patient_archives')
    op.drop_table('patient_activation_codes')
    op.drop_table('inactivity_warnings')
    op.drop_table('pharmacies')
