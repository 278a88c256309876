"""trust: audit rows append-only in the database itself; encrypted notes; delegations,
sign-off escalations and notifications

Revision ID: 0005_trust
Revises: 0004_reports
Create Date: 2026-11-23 10:30:00

Sensitive notes encrypted at rest (caseflow.security.fields.EncryptedText: ciphertext in a
TEXT column): clients.health_notes, assessments.protection_notes.

Audit events, checkpoints and checkpoint entries refuse UPDATE, DELETE (and on PostgreSQL
TRUNCATE) from the application, on both databases. Two things remain allowed:

- erasing an event's payload under the retention rules (before/after/context and the
  salt set to null, redacted_at set, every hashed field unchanged), so anonymisation keeps
  working and the chain stays verifiable;
- maintenance (test fixtures, a deliberate purge): on PostgreSQL a session that sets
  `caseflow.maintenance = 'on'` AND is a superuser or a member of the role
  `caseflow_maintenance` — the application's own role, setting the variable, is still
  refused; on SQLite, which has no roles, whoever can write the file can drop the
  triggers (caseflow.security.audit_guard.maintenance_connection does it inside one
  transaction).
"""
from alembic import op
import sqlalchemy as sa

import caseflow.database

revision = '0005_trust'
down_revision = '0004_reports'
branch_labels = None
depends_on = None

GUARDED = ("audit_events", "audit_checkpoints", "audit_checkpoint_entries")
# Fields an erasure must leave exactly as they were (the hash covers all of them).
KEPT = ("id", "chain", "seq", "prev_hash", "hash", "occurred_at", "actor_id", "actor_role",
        "origin_ip", "user_agent", "action", "case_id", "payload_digest")
MESSAGE = "caseflow: audit records are append-only"


def _erasure_condition(null_test) -> str:
    kept = " AND ".join(f'NEW."{c}" IS NOT DISTINCT FROM OLD."{c}"' for c in KEPT)
    erased = " AND ".join(null_test(f'NEW."{c}"') for c in ("before", "after", "context"))
    return (f"OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL AND NEW.payload_salt IS NULL "
            f"AND {erased} AND {kept}")


POSTGRES_UP = f"""
CREATE OR REPLACE FUNCTION caseflow_audit_maintenance() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('caseflow.maintenance', true), '') = 'on'
     AND (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper)
          OR EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'caseflow_maintenance'
                     AND pg_has_role(current_user, r.oid, 'MEMBER')))
$$;

CREATE OR REPLACE FUNCTION caseflow_audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF caseflow_audit_maintenance() THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND {_erasure_condition(lambda c: f"({c} IS NULL OR {c}::text = 'null')")} THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION caseflow_audit_readonly_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF caseflow_audit_maintenance() THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    IF TG_OP = 'TRUNCATE' THEN RETURN NULL; END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '{MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER caseflow_audit_events_guard BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION caseflow_audit_events_guard();
CREATE TRIGGER caseflow_audit_checkpoints_guard BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION caseflow_audit_readonly_guard();
CREATE TRIGGER caseflow_audit_checkpoint_entries_guard BEFORE UPDATE OR DELETE ON audit_checkpoint_entries
  FOR EACH ROW EXECUTE FUNCTION caseflow_audit_readonly_guard();
""" + "".join(
    f"CREATE TRIGGER caseflow_{table}_no_truncate BEFORE TRUNCATE ON {table} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION caseflow_audit_readonly_guard();\n"
    for table in GUARDED
)

POSTGRES_DOWN = "".join(
    f"DROP TRIGGER IF EXISTS caseflow_{table}_no_truncate ON {table};\n" for table in GUARDED
) + """
DROP TRIGGER IF EXISTS caseflow_audit_events_guard ON audit_events;
DROP TRIGGER IF EXISTS caseflow_audit_checkpoints_guard ON audit_checkpoints;
DROP TRIGGER IF EXISTS caseflow_audit_checkpoint_entries_guard ON audit_checkpoint_entries;
DROP FUNCTION IF EXISTS caseflow_audit_events_guard();
DROP FUNCTION IF EXISTS caseflow_audit_readonly_guard();
DROP FUNCTION IF EXISTS caseflow_audit_maintenance();
"""


def _sqlite_triggers() -> list[str]:
    raise_ = f"SELECT RAISE(ABORT, '{MESSAGE}');"
    erasure = _erasure_condition(lambda c: f"({c} IS NULL OR {c} = 'null')").replace(
        "IS NOT DISTINCT FROM", "IS")
    statements = [
        f"CREATE TRIGGER caseflow_audit_events_no_update BEFORE UPDATE ON audit_events "
        f"WHEN NOT ({erasure}) BEGIN {raise_} END",
        f"CREATE TRIGGER caseflow_audit_events_no_delete BEFORE DELETE ON audit_events BEGIN {raise_} END",
    ]
    for table in GUARDED[1:]:
        statements.append(f"CREATE TRIGGER caseflow_{table}_no_update BEFORE UPDATE ON {table} BEGIN {raise_} END")
        statements.append(f"CREATE TRIGGER caseflow_{table}_no_delete BEFORE DELETE ON {table} BEGIN {raise_} END")
    return statements


def upgrade():
    op.create_table('supervisor_delegations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supervisor_id', sa.Integer(), nullable=False),
    sa.Column('acting_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['acting_id'], ['users.id'], name=op.f('fk_supervisor_delegations_acting_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_supervisor_delegations_created_by_id_users')),
    sa.ForeignKeyConstraint(['supervisor_id'], ['users.id'], name=op.f('fk_supervisor_delegations_supervisor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervisor_delegations'))
    )
    with op.batch_alter_table('supervisor_delegations', schema=None) as batch_op:
        batch_op.create_index('ix_supervisor_delegations_acting', ['acting_id', 'starts_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervisor_delegations_supervisor_id'), ['supervisor_id'], unique=False)

    op.create_table('sign_off_escalations',
    sa.Column('sign_off_id', sa.Integer(), nullable=False),
    sa.Column('due_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('escalated_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('escalated_to_id', sa.Integer(), nullable=True),
    sa.Column('escalated_to_role', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['escalated_to_id'], ['users.id'], name=op.f('fk_sign_off_escalations_escalated_to_id_users')),
    sa.ForeignKeyConstraint(['sign_off_id'], ['sign_offs.id'], name=op.f('fk_sign_off_escalations_sign_off_id_sign_offs')),
    sa.PrimaryKeyConstraint('sign_off_id', name=op.f('pk_sign_off_escalations'))
    )
    with op.batch_alter_table('sign_off_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_off_escalations_escalated_to_id'), ['escalated_to_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('created_at', caseflow.database.UTCDateTime(), nullable=False),
    sa.Column('read_at', caseflow.database.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_notifications_case_id_cases')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_notes', sa.Text(), nullable=True))
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('protection_notes', sa.Text(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(POSTGRES_UP)
    elif bind.dialect.name == "sqlite":
        for statement in _sqlite_triggers():
            op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(POSTGRES_DOWN)
    elif bind.dialect.name == "sqlite":
        for table, action in [(t, a) for t in GUARDED for a in ("update", "delete")]:
            op.execute(f"DROP TRIGGER IF EXISTS caseflow_{table}_no_{action}")
    op.drop_table('notifications')
    op.drop_table('sign_off_escalations')
    op.drop_table('supervisor_delegations')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_column('protection_notes')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('health_notes')
