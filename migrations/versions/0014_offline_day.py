"""offline day: attachments (photos, documents, consent signatures) of a case or a step,
their content stored encrypted outside the database, the row with its hash

Revision ID: 0014_offline_day
Revises: 0011_loop_clients
Create Date: 2026-12-02 12:00:00
"""
from alembic import op
import sqlalchemy as sa
import caseflow.database

revision = '0014_offline_day'
down_revision = '0011_loop_clients'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_name', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_attachments_case_id_cases')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_attachments_client_id_clients')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_attachments_created_by_id_users')),
    sa.ForeignKeyConstraint(['step_id'], ['steps.id'], name=op.f('fk_attachments_step_id_steps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    sa.UniqueConstraint('storage_name', name=op.f('uq_attachments_storage_name'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index('ix_attachments_case', ['case_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_client_id'), ['client_id'], unique=False)


def downgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_client_id'))
        batch_op.drop_index('ix_attachments_case')
    op.drop_table('attachments')
