"""report rollups: a sealed block may be the current month so far ('YYYY-MM-DD': from the
first of that month up to, not including, that day), so the label is ten characters; cases
open during a month are counted from the (closed_at, opened_at) index alone, and everyone's
caseload from a partial index of the open cases; sign-off times from their decision index;
stays that let a case enter a counted figure twice are marked when written (repeat_entry);
the stays entering a stage and the cases recorded in a period read from their indexes alone

Revision ID: 0008_month_so_far
Revises: 0007_report_rollups
Create Date: 2026-12-01 18:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008_month_so_far'
down_revision = '0007_report_rollups'
branch_labels = None
depends_on = None


def _final_stages() -> list[str]:
    from caseflow.services.runtime import engines

    return sorted({name for workflow in engines().values()
                   for name, state in workflow.definition.states.items() if state.final})


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_opened_at')
        batch_op.create_index('ix_cases_opened_at', ['opened_at'], unique=False, postgresql_include=['id'])
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.drop_index('ix_case_stage_history_stage_entered')
        batch_op.create_index('ix_case_stage_history_stage_entered', ['stage', 'entered_at', 'case_id'], unique=False)
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repeat_entry', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_case_stage_history_repeat', ['repeat_entry', 'entered_at', 'case_id'], unique=False)
    # A final stage or a reopening entered after an earlier reopening of the same case.
    history = sa.table('case_stage_history', sa.column('id'), sa.column('case_id'), sa.column('stage'),
                       sa.column('reopened'), sa.column('entered_at'), sa.column('repeat_entry'))
    earlier = history.alias('earlier')
    op.execute(history.update().where(
        sa.or_(history.c.reopened == sa.true(), history.c.stage.in_(_final_stages())),
        sa.exists().where(earlier.c.case_id == history.c.case_id, earlier.c.reopened == sa.true(),
                          earlier.c.entered_at < history.c.entered_at),
    ).values(repeat_entry=sa.true()))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_closed_at')
        batch_op.create_index('ix_cases_closed_at', ['closed_at', 'opened_at'], unique=False)
        batch_op.create_index('ix_cases_open_facilitator_client', ['facilitator_id', 'client_id'], unique=False,
                              postgresql_where=sa.text('closed_at IS NULL'), sqlite_where=sa.text('closed_at IS NULL'))
    with op.batch_alter_table('sign_offs', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_offs_decided_at')
        batch_op.create_index('ix_sign_offs_decided_at', ['decided_at', 'requested_at'], unique=False)
    with op.batch_alter_table('report_month_cells', schema=None) as batch_op:
        batch_op.alter_column('month', existing_type=sa.String(length=7), type_=sa.String(length=10),
                              existing_nullable=False)
    with op.batch_alter_table('report_sealed_months', schema=None) as batch_op:
        batch_op.alter_column('month', existing_type=sa.String(length=7), type_=sa.String(length=10),
                              existing_nullable=False)


def downgrade():
    with op.batch_alter_table('case_stage_history', schema=None) as batch_op:
        batch_op.drop_index('ix_case_stage_history_repeat')
        batch_op.drop_column('repeat_entry')
        batch_op.drop_index('ix_case_stage_history_stage_entered')
        batch_op.create_index('ix_case_stage_history_stage_entered', ['stage', 'entered_at'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_opened_at')
        batch_op.create_index('ix_cases_opened_at', ['opened_at'], unique=False)
    with op.batch_alter_table('sign_offs', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_offs_decided_at')
        batch_op.create_index('ix_sign_offs_decided_at', ['decided_at'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_open_facilitator_client')
        batch_op.drop_index('ix_cases_closed_at')
        batch_op.create_index('ix_cases_closed_at', ['closed_at'], unique=False)
    # Blocks of a month so far do not fit the old labels: they are dropped (the figures
    # are then computed from the raw tables for that part of the month).
    op.execute("DELETE FROM report_month_cells WHERE length(month) > 7")
    op.execute("DELETE FROM report_sealed_months WHERE length(month) > 7")
    with op.batch_alter_table('report_sealed_months', schema=None) as batch_op:
        batch_op.alter_column('month', existing_type=sa.String(length=10), type_=sa.String(length=7),
                              existing_nullable=False)
    with op.batch_alter_table('report_month_cells', schema=None) as batch_op:
        batch_op.alter_column('month', existing_type=sa.String(length=10), type_=sa.String(length=7),
                              existing_nullable=False)
