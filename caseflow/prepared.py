"""Statements a frequent write sends as SQLAlchemy would, without its work per execution.

`Connection.execute(statement)` finds the statement's compiled form in the cache (walking
and hashing its cache key), builds an execution context around it and a result: 30–50 µs
of Python for a small UPDATE, more than SQLite takes to run it. A `Prepared` statement is
compiled once per dialect; its parameters go through the same bind processors (the column
types' conversions: aware times to UTC, JSON to text, booleans to integers) and are sent
with `Connection.exec_driver_sql`: the same SQL and values, the same engine events (the
statement counts, the logs), the same errors.

SQLite only: PostgreSQL's driver is given some values to adapt itself (psycopg's JSON),
and SQLAlchemy asks it for the inserted key (RETURNING) as it executes an INSERT; both
are arranged per execution, not in the compiled statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql.expression import Executable


class Prepared:
    """`statement`, whose every value is a named bound parameter, compiled once per SQLite
    dialect (an application's engine has one)."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._forms: dict[Dialect, tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...], bool]] = {}

    def _form(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...], bool]:
        if dialect.name != "sqlite":
            raise ValueError(f"a prepared statement is sent to SQLite only, not to {dialect.name}")
        compiled = self.statement.compile(dialect=dialect)
        for name, bind in compiled.binds.items():
            if not bind.required:
                # A value built into the statement would have to be sent as SQLAlchemy sends it.
                raise ValueError(f"{name}: a prepared statement takes every value as a parameter")
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        # The dialect's own form of each type, as SQLAlchemy's execution converts with: a
        # TypeDecorator's bind_processor alone would hand SQLite a datetime to write itself
        # (without its microseconds when they are 0), not SQLAlchemy's text.
        form = (compiled.string, tuple((name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
                                       for name in names),
                compiled.positional)
        self._forms[dialect] = form
        return form

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> CursorResult:
        form = self._forms.get(connection.dialect) or self._form(connection.dialect)
        sql, binds, positional = form
        values = [parameters[name] if process is None else process(parameters[name]) for name, process in binds]
        if positional:
            return connection.exec_driver_sql(sql, tuple(values))
        return connection.exec_driver_sql(sql, {name: value for (name, _), value in zip(binds, values, strict=True)})
