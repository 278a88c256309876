"""Reading back what the requests and services committed, from the test's own session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine

from caseflow.extensions import db
from caseflow.models import AuditEvent, Case


def sync() -> None:
    """See what the requests committed: end the test's own read transaction."""
    db.session.rollback()
    db.session.expire_all()


def count(model, *where) -> int:
    sync()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def events(action: str, case_id: int | None = None, **where) -> list[AuditEvent]:
    """The audit events of `action` (of case `case_id`, with each column `where` names), oldest first."""
    sync()
    statement = select(AuditEvent).where(AuditEvent.action == action)
    if case_id is not None:
        statement = statement.where(AuditEvent.case_id == case_id)
    for name, value in where.items():
        statement = statement.where(getattr(AuditEvent, name) == value)
    return list(db.session.execute(statement.order_by(AuditEvent.id)).scalars())


def fresh(case) -> Case:
    """The case (or the case with this id) as committed now."""
    sync()
    return db.session.get(Case, getattr(case, "id", case))


def reload(record):
    """`record` as committed now."""
    sync()
    return db.session.get(type(record), record.id)


def raw(sql: str, **params):
    """One value read with plain SQL, as stored (encrypted fields stay encrypted)."""
    db.session.rollback()
    return db.session.execute(text(sql), params).scalar_one()


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent to any database while the block runs, in order (the query
    budgets of tests/test_query_budgets.py count them)."""
    seen: list[str] = []

    def note(_connection, _cursor, statement, _parameters, _context, _executemany):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)
