"""Changing audit rows behind the application's back, as an attacker with database access would."""

from __future__ import annotations

from sqlalchemy import text

from caseflow.extensions import db


def maintenance_connection():
    """A committed transaction in which the database's append-only guard on audit rows
    (migration 0005_trust) is lifted, as an attacker with full database access could."""
    from caseflow.security.audit_guard import maintenance_connection as guarded

    return guarded(db.engine)


def tamper(sql: str, **params) -> None:
    """Run raw SQL in its own committed transaction, outside every service."""
    db.session.rollback()
    with maintenance_connection() as connection:
        connection.execute(text(sql), params)
