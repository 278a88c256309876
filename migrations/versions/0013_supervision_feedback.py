"""supervision feedback: supervision sessions (individual or group) held by a supervisor with
facilitators about cases, their notes, and action points with an owner and a due date that
are ticked off on the case page

Revision ID: 0013_supervision_feedback
Revises: 0011_loop_clients
Create Date: 2026-12-02 06:26:40.835975

"""
from alembic import op
import sqlalchemy as sa
import caseflow.database


# revision identifiers, used by Alembic.
revision = '0013_supervision_feedback'
down_revision = '0011_loop_clients'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('supervision_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supervisor_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['supervisor_id'], ['users.id'], name=op.f('fk_supervision_sessions_supervisor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_sessions'))
    )
    with op.batch_alter_table('supervision_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_sessions_supervisor_held', ['supervisor_id', 'held_on'], unique=False)

    op.create_table('supervision_session_facilitators',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['supervision_sessions.id'], name=op.f('fk_supervision_session_facilitators_session_id_supervision_sessions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_supervision_session_facilitators_user_id_users')),
    sa.PrimaryKeyConstraint('session_id', 'user_id', name=op.f('pk_supervision_session_facilitators'))
    )
    with op.batch_alter_table('supervision_session_facilitators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_session_facilitators_user_id'), ['user_id'], unique=False)

    op.create_table('supervision_action_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('done_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_supervision_action_points_case_id_cases')),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_supervision_action_points_done_by_id_users')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_supervision_action_points_owner_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['supervision_sessions.id'], name=op.f('fk_supervision_action_points_session_id_supervision_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_action_points'))
    )
    with op.batch_alter_table('supervision_action_points', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_action_points_case', ['case_id', 'done_at'], unique=False)
        batch_op.create_index('ix_supervision_action_points_owner', ['owner_id', 'done_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_action_points_session_id'), ['session_id'], unique=False)

    op.create_table('supervision_session_cases',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_supervision_session_cases_case_id_cases')),
    sa.ForeignKeyConstraint(['session_id'], ['supervision_sessions.id'], name=op.f('fk_supervision_session_cases_session_id_supervision_sessions')),
    sa.PrimaryKeyConstraint('session_id', 'case_id', name=op.f('pk_supervision_session_cases'))
    )
    with op.batch_alter_table('supervision_session_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_session_cases_case_id'), ['case_id'], unique=False)



def downgrade():
    with op.batch_alter_table('supervision_session_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_session_cases_case_id'))

    op.drop_table('supervision_session_cases')
    with op.batch_alter_table('supervision_action_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_action_points_session_id'))
        batch_op.drop_index('ix_supervision_action_points_owner')
        batch_op.drop_index('ix_supervision_action_points_case')

    op.drop_table('supervision_action_points')
    with op.batch_alter_table('supervision_session_facilitators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_session_facilitators_user_id'))

    op.drop_table('supervision_session_facilitators')
    with op.batch_alter_table('supervision_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_sessions_supervisor_held')

    op.drop_table('supervision_sessions')
