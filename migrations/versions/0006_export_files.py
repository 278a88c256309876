"""export files: what a long case-list export produced, kept in the database for its owner

Revision ID: 0006_export_files
Revises: 0005_trust
Create Date: 2026-12-01 15:13:06

An export job (report_jobs.kind = 'export') writes its file here, in parts of about a
megabyte, so any worker can serve the download and neither writing nor serving it holds the
whole file in memory. The files hold personal data: they are deleted when they expire
(`caseflow exports purge`, and on every new export job).
"""
from alembic import op
import sqlalchemy as sa

import caseflow.database

revision = '0006_export_files'
down_revision = '0005_trust'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('expires_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['report_jobs.id'], name=op.f('fk_report_files_job_id_report_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_files')),
    sa.UniqueConstraint('job_id', name=op.f('uq_report_files_job_id'))
    )
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_files_expires_at'), ['expires_at'], unique=False)

    op.create_table('report_file_parts',
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['report_files.id'], name=op.f('fk_report_file_parts_file_id_report_files')),
    sa.PrimaryKeyConstraint('file_id', 'seq', name=op.f('pk_report_file_parts'))
    )


def downgrade():
    op.drop_table('report_file_parts')
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_files_expires_at'))
    op.drop_table('report_files')
