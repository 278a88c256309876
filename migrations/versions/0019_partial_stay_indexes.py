"""partial stay indexes: the stage history's indexes of reopenings, repeat entries and ended
stays hold only those stays, so that a move writes three index entries fewer

Revision ID: 0019_partial_stay_indexes
Revises: 0018_sync_health
Create Date: 2026-12-04 23:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0019_partial_stay_indexes'
down_revision = '0018_sync_health'
branch_labels = None
depends_on = None

_INDEXES = (
    ('ix_case_stage_history_reopened', ['reopened', 'entered_at', 'case_id'], 'reopened', 'reopened = 1'),
    ('ix_case_stage_history_repeat', ['repeat_entry', 'entered_at', 'case_id'], 'repeat_entry', 'repeat_entry = 1'),
    ('ix_case_stage_history_left_stage', ['left_at', 'stage', 'duration_seconds'], 'left_at IS NOT NULL',
     'left_at IS NOT NULL'),
)


def upgrade():
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        for name, columns, postgresql, sqlite in _INDEXES:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False,
                                  postgresql_where=sa.text(postgresql), sqlite_where=sa.text(sqlite))


def downgrade():
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        for name, columns, _postgresql, _sqlite in _INDEXES:
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
