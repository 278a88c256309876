"""report rollups: sealed months' figures per province and category, and the indexes that
let the rest of a period (the current month) be read by time range

Revision ID: 0007_report_rollups
Revises: 0006_export_files
Create Date: 2026-12-01 16:00:00

The cells are filled by `caseflow reports seal` (and lazily by the first dashboard of a
new month); an empty table only means figures are computed from the raw tables.
"""
from alembic import op
import sqlalchemy as sa

import caseflow.database

revision = '0007_report_rollups'
down_revision = '0006_export_files'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_month_cells',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('figure', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('category_code', sa.String(length=8), nullable=False),
    sa.Column('bin', sa.Integer(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_month_cells'))
    )
    with op.batch_alter_table('report_month_cells', schema=None) as batch_op:
        batch_op.create_index('ix_report_month_cells_figure_month',
                              ['figure', 'month', 'province_code', 'category_code', 'key', 'bin',
                               'cases', 'seconds'], unique=False)
    op.create_table('report_sealed_months',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('sealed_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_report_sealed_months'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_facilitator_state')
        batch_op.create_index('ix_cases_facilitator_state', ['facilitator_id', 'state', 'client_id'], unique=False)
        batch_op.drop_index('ix_cases_state_due')
        batch_op.create_index('ix_cases_state_due', ['state', 'stage_due_at', 'province_code', 'ppks_category_code'],
                              unique=False)
        batch_op.create_index('ix_cases_opened_at', ['opened_at'], unique=False)
        batch_op.create_index('ix_cases_closed_at', ['closed_at'], unique=False)
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.create_index('ix_steps_occurred_at', ['occurred_at'], unique=False)
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.create_index('ix_case_stage_history_case_stage', ['case_id', 'stage', 'entered_at'], unique=False)
        batch_op.drop_index('ix_case_stage_history_reopened')
        batch_op.create_index('ix_case_stage_history_reopened', ['reopened', 'entered_at', 'case_id'], unique=False)
    with op.batch_alter_table('sign_offs', schema=None) as batch_op:
        batch_op.create_index('ix_sign_offs_decided_at', ['decided_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sign_offs', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_offs_decided_at')
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.drop_index('ix_case_stage_history_case_stage')
        batch_op.drop_index('ix_case_stage_history_reopened')
        batch_op.create_index('ix_case_stage_history_reopened', ['reopened', 'entered_at'], unique=False)
    with op.batch_alter_table('steps', schema=None) as batch_op:
        batch_op.drop_index('ix_steps_occurred_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_closed_at')
        batch_op.drop_index('ix_cases_opened_at')
        batch_op.drop_index('ix_cases_state_due')
        batch_op.create_index('ix_cases_state_due', ['state', 'stage_due_at'], unique=False)
        batch_op.drop_index('ix_cases_facilitator_state')
        batch_op.create_index('ix_cases_facilitator_state', ['facilitator_id', 'state'], unique=False)
    op.drop_table('report_sealed_months')
    with op.batch_alter_table('report_month_cells', schema=None) as batch_op:
        batch_op.drop_index('ix_report_month_cells_figure_month')
    op.drop_table('report_month_cells')
