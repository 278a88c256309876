"""A prepared statement (caseflow.prepared) sends what SQLAlchemy would send: the same SQL,
the values converted by the same column types, seen by the same engine events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select

from caseflow.extensions import db
from caseflow.models import AuditEvent
from caseflow.prepared import Prepared, _sent_directly
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


# --- rows: sent on psycopg's cursor directly (PostgreSQL), elsewhere as SQLAlchemy sends them ---

_STEP_COLUMNS = ("step_type", "occurred_at", "occurred_timezone", "recorded_at", "location", "notes", "goal_id",
                 "recorded_by_id")


def _as_stored(connection, table, where) -> list[tuple]:
    """Every column of the rows, as the database itself writes them out (PostgreSQL's text of
    each value: the times to the microsecond with their offset, the JSON as it was sent)."""
    if connection.dialect.name == "postgresql":
        columns = ", ".join(f"{column.name}::text" for column in table.c if column.name != "id")
    else:
        columns = ", ".join(f"CAST({column.name} AS TEXT)" for column in table.c if column.name != "id")
    return [tuple(row) for row in connection.exec_driver_sql(
        f"SELECT {columns} FROM {table.name} WHERE {where} ORDER BY id").all()]


@pytest.mark.parametrize("microsecond", [890123, 0])
def test_prepared_rows_write_and_return_what_sqlalchemy_does(app, team, make, microsecond):
    """The step's INSERT … RETURNING, the audit event's JSON and times, a locked case's row:
    the same statements seen by the engine's events, the same bytes stored, the same values
    (of the same types) returned."""
    from caseflow.models import Step
    from caseflow.services.cases import _INSERT_STEP_STATEMENT
    from caseflow.services.locking import _LOCK_CASE_ROW_OF_CLIENT

    case = make.case(team.facilitator, to="planning")
    connection = db.session.connection()
    moment = datetime(2026, 3, 4, 5, 6, 7, microsecond, tzinfo=UTC)
    step = {"case_id": case.id, "step_type": "home_visit", "occurred_at": moment, "occurred_timezone": "Asia/Jakarta",
            "recorded_at": moment, "location": None, "notes": "é ' \" \\ ;", "goal_id": None,
            "recorded_by_id": team.facilitator.id, "visit_case_id": case.id, "visit_step_type": "home_visit"}
    with statements() as executed:
        by_sqlalchemy = connection.execute(_INSERT_STEP_STATEMENT, step).one()
        connection.execute(_INSERT, _event("test:executed", microsecond))
        locked_by_sqlalchemy = connection.execute(_LOCK_CASE_ROW_OF_CLIENT.statement, {"case_id": case.id}).one()
    with statements() as prepared:
        by_prepared = Prepared(_INSERT_STEP_STATEMENT).one(connection, step)
        Prepared(_INSERT).rows(connection, _event("test:prepared", microsecond))
        locked_prepared = _LOCK_CASE_ROW_OF_CLIENT.one(connection, {"case_id": case.id})
    assert prepared == executed and len(prepared) == 3
    assert _sent_directly(connection)  # the driver's cursor
    assert by_prepared[0] != by_sqlalchemy[0] and by_prepared[1] is by_sqlalchemy[1] is False
    assert locked_prepared == tuple(locked_by_sqlalchemy)
    assert [type(value) for value in locked_prepared] == [type(value) for value in locked_by_sqlalchemy]
    assert all(value.tzinfo is UTC for value in locked_prepared if isinstance(value, datetime))
    steps = _as_stored(connection, Step.__table__, f"id IN ({by_sqlalchemy[0]}, {by_prepared[0]})")
    assert len(steps) == 2 and steps[0] == steps[1]
    events = _as_stored(connection, AuditEvent.__table__, "chain IN ('test:executed', 'test:prepared')")
    assert len(events) == 2 and events[0][1:] == events[1][1:]  # all but the chain's name
    db.session.rollback()


def test_prepared_rows_raise_the_errors_sqlalchemy_raises(app, team, make):
    """A unique key taken: the IntegrityError SQLAlchemy wraps psycopg's (or sqlite3's) in,
    which callers catch; the connection goes on once the transaction is rolled back."""
    from sqlalchemy.exc import IntegrityError

    from caseflow.services.idempotency import _reserve_one_statement

    connection = db.session.connection()
    row = {"user_id": team.facilitator.id, "key": "k", "fingerprint": "f", "method": "POST", "path": "/x",
           "created_at": datetime(2026, 3, 4, tzinfo=UTC)}
    reserve = _reserve_one_statement(connection.dialect.name)
    assert reserve.one_or_none(connection, row) is not None
    assert reserve.one_or_none(connection, row) is None  # ON CONFLICT DO NOTHING: no row
    insert_event = Prepared(_INSERT)
    values = _event("test:twice")
    insert_event.rows(connection, values)
    with pytest.raises(IntegrityError) as raised:
        insert_event.rows(connection, values)  # the same chain and seq
    assert raised.value.orig is not None and raised.value.statement == _INSERT.compile(dialect=connection.dialect).string
    db.session.rollback()
    assert db.session.connection().exec_driver_sql("SELECT 1").scalar() == 1
    # The failed statement's cursor is not used again: the next prepared one gets a new one.
    with statements() as sent:
        insert_event.rows(db.session.connection(), _event("test:after"))
    assert len(sent) == 1
    db.session.rollback()


def test_an_error_of_a_listener_is_raised_as_it_is(app):
    from sqlalchemy import event

    connection = db.session.connection()

    def refuse(*_args) -> None:
        raise LookupError("refused")

    event.listen(connection, "before_cursor_execute", refuse)
    try:
        with pytest.raises(LookupError):
            Prepared(select(AuditEvent.id).where(AuditEvent.id == bindparam("event_id"))).rows(
                connection, {"event_id": -1})
    finally:
        event.remove(connection, "before_cursor_execute", refuse)
    db.session.rollback()


def test_prepared_rows_go_through_sqlalchemy_where_its_execution_adds_something(app, team):
    """Outside a transaction, with the echo's log or a `before_execute` listener, the
    statement is SQLAlchemy's to send (and the private names the direct path reads exist)."""
    from sqlalchemy import event

    statement = Prepared(select(AuditEvent.id).where(AuditEvent.id == bindparam("event_id")))
    connection = db.session.connection()
    assert hasattr(connection, "_echo") and callable(connection._handle_dbapi_exception)
    seen = []

    def note(_connection, clause, *_args) -> None:
        seen.append(clause)

    event.listen(connection, "before_execute", note)
    try:
        assert statement.rows(connection, {"event_id": -1}) == []
    finally:
        event.remove(connection, "before_execute", note)
    assert seen == [statement.statement]
    db.session.rollback()


def test_a_case_page_reads_the_values_sqlalchemy_reads(app, team, make):
    """The case page's readings (services.cases: the case with its records and extras, its
    sign-offs, its evaluation's ratings, its latest steps with their recorders), sent prepared:
    the same rows, of the same types, as SQLAlchemy's execution gives."""
    from caseflow.models import Case
    from caseflow.services import cases
    from caseflow.services.context import Actor
    from tests.support.factories import rate_all

    me = Actor(user=team.facilitator)
    case = make.case(team.facilitator, to="evaluation")
    cases.save_evaluation(me, case.id, rate_all(case, "achieved"))
    cases.save_termination_request(me, case.id, {"outcome": "resolved", "aftercare_plan": "Kunjungan bulanan"})
    cases.fire_trigger(me, case.id, "request_termination")
    evaluation_id = db.session.get(Case, case.id).evaluation.id
    page = cases._reading_statements(True, True, False, cases._step_check_states())
    steps = cases._reading_statements(False, False, False)
    connection = db.session.connection()
    for prepared, parameters in (
        (page["case"], {"case_id": case.id, "user_id": team.facilitator.id}),
        (page["sign_offs"], {"case_id": case.id}),
        (page["ratings"], {"evaluation_id": evaluation_id}),
        (steps["steps_shown"], {"case_id": case.id, "limit": 21}),
    ):
        by_sqlalchemy = [tuple(row) for row in connection.execute(prepared.statement, parameters).all()]
        with statements() as sent:
            by_prepared = prepared.rows(connection, parameters)
        assert len(sent) == 1 and by_prepared and by_prepared == by_sqlalchemy
        assert [[type(value) for value in row] for row in by_prepared] == [
            [type(value) for value in row] for row in by_sqlalchemy]
    assert _sent_directly(connection)
    db.session.rollback()


def test_a_missing_value_is_refused_as_sqlalchemy_refuses_it(app):
    """A parameter the statement needs and was not given: SQLAlchemy's own error, naming it,
    and nothing sent; a value built into the statement is sent as it was built."""
    from sqlalchemy import literal
    from sqlalchemy.exc import SQLAlchemyError

    statement = Prepared(select(AuditEvent.id, literal(7)).where(AuditEvent.id == bindparam("event_id")))
    connection = db.session.connection()
    with statements() as sent, pytest.raises(SQLAlchemyError, match="event_id"):
        statement.rows(connection, {"other": 1})
    assert sent == []
    assert statement.rows(connection, {"event_id": -1}) == []
    db.session.rollback()


def test_a_plain_statement_goes_through_sqlalchemy_where_its_execution_adds_something(app):
    """SQLite's BEGIN (prepared.send_plain): on the driver's cursor, seen by the cursor's
    events without an execution context; with a statement-level listener on the connection,
    SQLAlchemy's to send (with its execution context)."""
    from sqlalchemy import event

    from caseflow.prepared import send_plain

    connection = db.session.connection()
    contexts = []

    def cursor_event(_connection, _cursor, statement, _parameters, context, _executemany) -> None:
        contexts.append((statement, context is not None))

    def statement_event(*_args) -> None:
        pass

    event.listen(connection, "before_cursor_execute", cursor_event)
    try:
        send_plain(connection, "SELECT 1")
        event.listen(connection, "before_execute", statement_event)
        send_plain(connection, "SELECT 2")
        event.remove(connection, "before_execute", statement_event)
    finally:
        event.remove(connection, "before_cursor_execute", cursor_event)
    assert contexts == [("SELECT 1", False), ("SELECT 2", True)]
    db.session.rollback()
