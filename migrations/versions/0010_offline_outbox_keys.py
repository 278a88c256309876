"""offline outbox keys: each person's key sealing the work a tablet keeps unsent
(users.offline_key, encrypted at rest like the other sensitive fields, made when first
needed); the tablet holds it only while that person's session lives

Revision ID: 0010_offline_outbox_keys
Revises: 0009_account_changes
Create Date: 2026-12-02 12:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_offline_outbox_keys'
down_revision = '0009_account_changes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offline_key', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('offline_key')
