"""sync health: each person's last outbox sync and late arrivals (sync_reports, late_arrivals)

Revision ID: 0018_sync_health
Revises: 0017_task_runs
Create Date: 2026-12-02 08:00:00
"""
from alembic import op
import sqlalchemy as sa
import caseflow.database

revision = '0018_sync_health'
down_revision = '0017_task_runs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_reports',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('last_sync_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('waiting', sa.Integer(), nullable=True),
    sa.Column('oldest_waiting_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sync_reports_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_sync_reports'))
    )
    op.create_table('late_arrivals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_on_tablet_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('reached_server_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_late_arrivals_case_id_cases')),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_late_arrivals_step_id_steps')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_late_arrivals_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_late_arrivals'))
    )
    with op.batch_alter_table('late_arrivals', schema=None) as batch_op:
        batch_op.create_index('ix_late_arrivals_user', ['user_id', 'reached_server_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_late_arrivals_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_late_arrivals_step_id'), ['step_id'], unique=False)


def downgrade():
    with op.batch_alter_table('late_arrivals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_late_arrivals_step_id'))
        batch_op.drop_index(batch_op.f('ix_late_arrivals_case_id'))
        batch_op.drop_index('ix_late_arrivals_user')
    op.drop_table('late_arrivals')
    op.drop_table('sync_reports')
