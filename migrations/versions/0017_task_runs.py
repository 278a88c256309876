"""task runs: when each background task ran and how it ended (task_runs)

Revision ID: 0017_task_runs
Revises: 0011_loop_clients
Create Date: 2026-12-02 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import caseflow.database

revision = '0017_task_runs'
down_revision = '0015_agenda_targets'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('task_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('started_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('finished_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_runs'))
    )
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.create_index('ix_task_runs_name_started', ['name', 'started_at'], unique=False)


def downgrade():
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_task_runs_name_started')
    op.drop_table('task_runs')
