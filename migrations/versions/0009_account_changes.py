"""account changes: privileged changes to accounts (a new supervisor, auditor or admin, a
reactivation, a new supervisor or auditor scope, facilitators put in a team) wait here for
a second administrator; every one of them stays listed for auditors

Revision ID: 0009_account_changes
Revises: 0008_month_so_far
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import caseflow.database

revision = '0009_account_changes'
down_revision = '0008_month_so_far'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target_user_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_via', sa.String(length=8), nullable=False),
    sa.Column('requested_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_via', sa.String(length=8), nullable=True),
    sa.Column('decided_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_account_changes_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_account_changes_requested_by_id_users')),
    sa.ForeignKeyConstraint(['target_user_id'], ['users.id'], name=op.f('fk_account_changes_target_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_changes'))
    )
    with op.batch_alter_table('account_changes', schema=None) as batch_op:
        batch_op.create_index('ix_account_changes_requested_at', ['requested_at'], unique=False)
        batch_op.create_index('ix_account_changes_status_target', ['status', 'target_user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('account_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_account_changes_status_target')
        batch_op.drop_index('ix_account_changes_requested_at')
    op.drop_table('account_changes')
