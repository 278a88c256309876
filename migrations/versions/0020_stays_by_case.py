"""stays by case: the stage history's (case_id, left_at) index goes; its (case_id, stage,
entered_at) index finds a case's stays as well, so that a move writes one index entry fewer

Revision ID: 0020_stays_by_case
Revises: 0019_partial_stay_indexes
Create Date: 2026-12-05 05:00:00
"""
from alembic import op

revision = '0020_stays_by_case'
down_revision = '0019_partial_stay_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.drop_index('ix_case_stage_history_case_left')


def downgrade():
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.create_index('ix_case_stage_history_case_left', ['case_id', 'left_at'], unique=False)
