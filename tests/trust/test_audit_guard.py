"""The database itself refuses to change or delete audit rows, on SQLite and PostgreSQL;
erasing a payload under the retention rules and deliberate maintenance still work."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from caseflow.extensions import db
from caseflow.models import AuditCheckpoint, AuditEvent
from caseflow.security.audit_guard import guard_installed, maintenance_connection
from caseflow.services.audit import create_checkpoint, verify_everything


@pytest.fixture
def case(make, team, prepared):
    return prepared("the guarded case", lambda: make.case(team.facilitator, to="planning"))


def attempt(sql: str, **params) -> None:
    """Raw SQL as the application's own database role, outside every service."""
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(text(sql), params)


def an_event_id(case) -> int:
    return db.session.execute(select(AuditEvent.id).where(AuditEvent.case_id == case.id)
                              .order_by(AuditEvent.id)).scalars().first()


def test_guard_is_installed_by_the_migration(app):
    with db.engine.connect() as connection:
        assert guard_installed(connection)


@pytest.mark.parametrize("sql", [
    "UPDATE audit_events SET action = 'case.viewed' WHERE id = :id",
    "UPDATE audit_events SET hash = 'x' WHERE id = :id",
    "DELETE FROM audit_events WHERE id = :id",
    "DELETE FROM audit_events",
])
def test_audit_events_cannot_be_updated_or_deleted(case, sql):
    event_id = an_event_id(case)
    with pytest.raises(DBAPIError, match="append-only"):
        attempt(sql, id=event_id)
    assert verify_everything().ok


@pytest.mark.parametrize("sql", [
    "UPDATE audit_checkpoints SET digest = 'x'",
    "DELETE FROM audit_checkpoints",
    "UPDATE audit_checkpoint_entries SET hash = 'x'",
    "DELETE FROM audit_checkpoint_entries",
])
def test_checkpoints_cannot_be_updated_or_deleted(case, sql):
    create_checkpoint(force=True)
    with pytest.raises(DBAPIError, match="append-only"):
        attempt(sql)
    assert db.session.execute(select(AuditCheckpoint)).scalars().first() is not None


def test_erasing_a_payload_with_a_forged_field_is_refused(case):
    """The retention erasure is allowed only in its exact shape: payload gone, every
    hashed field unchanged."""
    with pytest.raises(DBAPIError, match="append-only"):
        attempt("UPDATE audit_events SET before = NULL, after = NULL, context = NULL, payload_salt = NULL, "
                "redacted_at = '2026-01-01 00:00:00', actor_id = NULL WHERE id = :id", id=an_event_id(case))


def test_retention_erasure_is_still_allowed_and_the_chain_verifies(case):
    event_id = an_event_id(case)
    attempt("UPDATE audit_events SET before = NULL, after = NULL, context = NULL, payload_salt = NULL, "
            "redacted_at = :now WHERE id = :id", id=event_id, now="2026-01-01 00:00:00")
    db.session.rollback()
    assert db.session.get(AuditEvent, event_id).redacted_at is not None
    assert verify_everything().ok


def test_maintenance_connection_may_change_audit_rows_and_the_guard_returns(case):
    event_id = an_event_id(case)
    db.session.rollback()
    with maintenance_connection(db.engine) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})
    assert not verify_everything().ok
    with pytest.raises(DBAPIError, match="append-only"):
        attempt("DELETE FROM audit_events")
    with db.engine.connect() as connection:
        assert guard_installed(connection)


def test_postgres_truncate_is_refused(case):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    for table in ("audit_events", "audit_checkpoints", "audit_checkpoint_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            attempt(f"TRUNCATE {table} CASCADE")


def test_postgres_application_role_cannot_lift_the_guard_itself(case):
    """A role that is neither superuser nor in caseflow_maintenance sets the variable in
    vain — even with every table privilege granted."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("roles exist on PostgreSQL only")
    role = f"caseflow_app_{uuid.uuid4().hex[:8]}"
    event_id = an_event_id(case)
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN')
        connection.exec_driver_sql(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        with db.engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"), \
                connection.begin():
            connection.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
            connection.exec_driver_sql("SET LOCAL caseflow.maintenance = 'on'")
            connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": event_id})
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
            connection.exec_driver_sql(f'DROP ROLE "{role}"')
    assert verify_everything().ok


def test_sqlite_guard_is_a_real_trigger_in_the_file(app, case, tmp_path):
    """A copied database file opened with plain sqlite3 refuses too."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite file")
    import sqlite3

    db.session.rollback()
    raw = sqlite3.connect(sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute("DELETE FROM audit_events")
    finally:
        raw.close()
