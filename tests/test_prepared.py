"""A prepared statement (caseflow.prepared) sends what SQLAlchemy would send: the same SQL,
the values converted by the same column types, seen by the same engine events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select

from caseflow.extensions import db
from caseflow.models import AuditEvent
from caseflow.prepared import Prepared
from caseflow.services.audit import event_params, insert_event_under
from tests.support.queries import statements

_INSERT = insert_event_under("event_")


def _event(chain: str, microsecond: int = 890123) -> dict:
    return event_params({
        "chain": chain, "seq": 1, "prev_hash": "0" * 64, "hash": "1" * 64,
        "occurred_at": datetime(2026, 3, 4, 5, 6, 7, microsecond, tzinfo=UTC), "actor_id": None,
        "actor_role": "facilitator", "origin_ip": None, "user_agent": "tablet", "action": "case.transition",
        "case_id": None, "before": {"state": "recorded", "n": [1, "é"]}, "after": {"state": "assessment"},
        "context": None, "payload_salt": "2" * 32, "payload_digest": "3" * 64,
    }, "event_")


# A time on the second is where sqlite3's own datetime adapter and SQLAlchemy's text differ.
@pytest.mark.parametrize("microsecond", [890123, 0])
def test_a_prepared_statement_sends_and_stores_what_sqlalchemy_does(app, microsecond):
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        with pytest.raises(ValueError, match="SQLite only"):
            Prepared(_INSERT).execute(connection, _event("test:prepared"))
        return
    with statements() as executed:
        connection.execute(_INSERT, _event("test:executed", microsecond))
    with statements() as prepared:
        Prepared(_INSERT).execute(connection, _event("test:prepared", microsecond))
    assert prepared == executed and len(prepared) == 1
    columns = [c for c in AuditEvent.__table__.c if c.name not in ("id", "chain")]
    # As stored, before any conversion back: the database's own text for the times and JSON.
    stored = {chain: row for chain, *row in connection.exec_driver_sql(
        str(select(AuditEvent.chain, *columns).compile(dialect=connection.dialect))).all()}
    assert stored["test:prepared"] == stored["test:executed"]
    db.session.rollback()


def test_a_value_built_into_the_statement_is_refused(app):
    if db.engine.dialect.name != "sqlite":
        return
    statement = AuditEvent.__table__.update().where(AuditEvent.id == bindparam("event_id")).values(seq=5)
    with pytest.raises(ValueError, match="every value as a parameter"):
        Prepared(statement).execute(db.session.connection(), {"event_id": 1})
    db.session.rollback()
