"""reports: stage history for monitoring figures, background job state

Revision ID: 0004_reports
Revises: 0003_api
Create Date: 2026-11-23 10:25:00

"""
from alembic import op
import sqlalchemy as sa

import caseflow.database


revision = '0004_reports'
down_revision = '0003_api'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_stage_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=True),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.Column('entered_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('due_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.Column('left_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('closure_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_stage_history_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_stage_history'))
    )
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.create_index('ix_case_stage_history_case_left', ['case_id', 'left_at'], unique=False)
        batch_op.create_index('ix_case_stage_history_stage_entered', ['stage', 'entered_at'], unique=False)
        batch_op.create_index('ix_case_stage_history_stage_left', ['stage', 'left_at'], unique=False)
        batch_op.create_index('ix_case_stage_history_reopened', ['reopened', 'entered_at'], unique=False)
        batch_op.create_index('ix_case_stage_history_left_stage', ['left_at', 'stage', 'duration_seconds'], unique=False)

    op.create_table('report_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('updated_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_report_jobs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_jobs')),
    sa.UniqueConstraint('token', name=op.f('uq_report_jobs_token'))
    )
    with op.batch_alter_table('report_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_jobs_user_id'), ['user_id'], unique=False)

    op.create_table('report_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_snapshots')),
    sa.UniqueConstraint('key', name=op.f('uq_report_snapshots_key'))
    )

    # Cases opened before this table existed get one stay: the stage they are in now.
    op.execute(
        "INSERT INTO case_stage_history (case_id, stage, reopened, entered_at, due_at, closure_reason) "
        "SELECT id, state, false, stage_entered_at, stage_due_at, closure_reason FROM cases"
    )


def downgrade():
    op.drop_table('report_snapshots')
    with op.batch_alter_table('report_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_jobs_user_id'))
    op.drop_table('report_jobs')
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.drop_index('ix_case_stage_history_left_stage')
        batch_op.drop_index('ix_case_stage_history_reopened')
        batch_op.drop_index('ix_case_stage_history_stage_left')
        batch_op.drop_index('ix_case_stage_history_stage_entered')
        batch_op.drop_index('ix_case_stage_history_case_left')
    op.drop_table('case_stage_history')
