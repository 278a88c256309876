"""loop clients: aftercare periods of resolved cases with their planned follow-up contacts
(aftercare, aftercare_contacts), referrals as records with their answers (referrals), and
an index on clients.created_by_id for the client lists

Revision ID: 0011_loop_clients
Revises: 0010_offline_outbox_keys
Create Date: 2026-12-02 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import caseflow.database

revision = '0011_loop_clients'
down_revision = '0010_offline_outbox_keys'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('aftercare',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('started_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('planned_end_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('ended_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_aftercare_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aftercare'))
    )
    with op.batch_alter_table('aftercare', schema=None) as batch_op:
        batch_op.create_index('ix_aftercare_case_started', ['case_id', 'started_at'], unique=False)
        batch_op.create_index('ix_aftercare_ended_at', ['ended_at', 'case_id'], unique=False)

    op.create_table('aftercare_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aftercare_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('opens_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('closes_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('made_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['aftercare_id'], ['aftercare.id'], name=op.f('fk_aftercare_contacts_aftercare_id_aftercare')),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_aftercare_contacts_step_id_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aftercare_contacts'))
    )
    with op.batch_alter_table('aftercare_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_aftercare_contacts_aftercare', ['aftercare_id', 'number'], unique=True)

    op.create_table('referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('destination_type', sa.String(length=24), nullable=False),
    sa.Column('institution', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=True),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('expected_answer_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=True),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_referrals_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_referrals_created_by_id_users')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_referrals_goal_id_goals')),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_referrals_step_id_steps')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_referrals_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_case', ['case_id', 'sent_on'], unique=False)
        batch_op.create_index('ix_referrals_sent_on', ['sent_on', 'destination_type', 'case_id'], unique=False)
        batch_op.create_index('ix_referrals_status_expected', ['status', 'expected_answer_on', 'case_id'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clients_created_by_id'), ['created_by_id'], unique=False)



def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clients_created_by_id'))

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('ix_referrals_status_expected')
        batch_op.drop_index('ix_referrals_sent_on')
        batch_op.drop_index('ix_referrals_case')

    op.drop_table('referrals')
    with op.batch_alter_table('aftercare_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_aftercare_contacts_aftercare')

    op.drop_table('aftercare_contacts')
    with op.batch_alter_table('aftercare', schema=None) as batch_op:
        batch_op.drop_index('ix_aftercare_ended_at')
        batch_op.drop_index('ix_aftercare_case_started')

    op.drop_table('aftercare')
