"""Changing audit rows behind the application's back, as an attacker with database access would."""

from __future__ import annotations

from sqlalchemy import text

from caseflow.extensions import db


def tamper(sql: str, **params) -> None:
    """Run raw SQL in its own committed transaction, outside every service."""
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(text(sql), params)
