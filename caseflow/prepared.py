"""Statements a frequent write sends as SQLAlchemy would, without its work per execution.

`Connection.execute(statement)` finds the statement's compiled form in the cache (walking
and hashing its cache key), builds an execution context around it and a result: 30–50 µs
of Python for a small UPDATE on SQLite, 80–110 µs a statement on PostgreSQL with psycopg
(where it also makes and closes a cursor for each: 30 µs of that). A `Prepared` statement
is compiled once per dialect (and, for an INSERT, per set of values given, as SQLAlchemy
compiles it); its parameters go through the same bind processors (the column types'
conversions: aware times to UTC, JSON to text or to psycopg's Json, booleans to integers)
and the rows it returns through the same result processors. The same SQL and values, the
same engine events (`before_cursor_execute` and `after_cursor_execute`: the statement
counts, the logs), the same errors (wrapped by the connection as its own statements' are).

`execute` (SQLite's writes of a move) sends the statement with `exec_driver_sql`. `rows`
(any database) sends it on psycopg's cursor directly, one kept per database connection;
wherever that could differ from SQLAlchemy's own execution — another driver, no active
transaction on the connection, statement logging (echo), a listener of `before_execute`,
`after_execute` or the dialect's `do_execute` — it is `connection.execute(statement)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql.expression import Executable

# Connection record info key: the psycopg cursor `Prepared.rows` sends its statements on.
_CURSOR = "caseflow.prepared_cursor"


class _PostgreSQLForm:
    """A statement compiled for psycopg: its SQL, the bind processors by parameter name, and
    the result processors by column (made at its first execution, from the column types the
    server describes, as SQLAlchemy makes them)."""

    __slots__ = ("sql", "compiled", "processors", "column_types", "results")

    def __init__(self, statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> None:
        # As Connection.execute compiles it: an INSERT names the columns it is given values for.
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
        self.sql, self.compiled = compiled.string, compiled
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                      for bind, name in compiled.bind_names.items()}
        self.processors = tuple((name, process) for name, process in processors.items() if process is not None)
        # The columns it returns: a SELECT's, or those an INSERT or UPDATE names in RETURNING
        # (not the key SQLAlchemy adds to an INSERT without, which it keeps for itself).
        self.column_types = [column.type for column in getattr(statement, "exported_columns", ())]
        self.results: list[Callable[[Any], Any] | None] | None = None

    def values(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        values = self.compiled.construct_params(parameters)
        for name, process in self.processors:
            values[name] = process(values[name])
        return values

    def result_processors(self, dialect: Dialect, description) -> list[Callable[[Any], Any] | None]:
        if self.results is None:
            if len(description) != len(self.column_types):
                raise RuntimeError(f"{len(description)} columns returned, {len(self.column_types)} expected")
            self.results = [kind.dialect_impl(dialect).result_processor(dialect, column.type_code)
                            for kind, column in zip(self.column_types, description, strict=True)]
        return self.results


class Prepared:
    """`statement`, whose every value is a named bound parameter, compiled once per dialect
    (an application's engine has one)."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._forms: dict[Dialect, tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...], bool]] = {}
        self._postgresql: dict[tuple[Dialect, tuple[str, ...]], _PostgreSQLForm] = {}

    def _form(self, dialect: Dialect) -> tuple[str, tuple[tuple[str, Callable[[Any], Any] | None], ...], bool]:
        if dialect.name != "sqlite":
            raise ValueError(f"a prepared statement is executed on SQLite only, not on {dialect.name}: "
                             "elsewhere its rows are asked for")
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
        """Send the statement on SQLite (a write: its result has no rows)."""
        form = self._forms.get(connection.dialect) or self._form(connection.dialect)
        sql, binds, positional = form
        values = [parameters[name] if process is None else process(parameters[name]) for name, process in binds]
        if positional:
            return connection.exec_driver_sql(sql, tuple(values))
        return connection.exec_driver_sql(sql, {name: value for (name, _), value in zip(binds, values, strict=True)})

    def rows(self, connection: Connection, parameters: Mapping[str, Any]) -> list[tuple]:
        """Send the statement with `parameters`; the rows it returns, as tuples (none for a
        statement without RETURNING), their values converted as SQLAlchemy's result does."""
        if not _sent_directly(connection):
            result = connection.execute(self.statement, parameters)
            # All rows in one fetch: iterating the result fetches them one by one.
            return [tuple(row) for row in result.all()] if result.returns_rows else []
        key = (connection.dialect, tuple(parameters))
        form = self._postgresql.get(key)
        if form is None:
            form = self._postgresql[key] = _PostgreSQLForm(self.statement, connection.dialect, key[1])
        sql, values = form.sql, form.values(parameters)
        cursor = _cursor(connection)
        dispatch = connection.dispatch
        try:
            for before in dispatch.before_cursor_execute:
                sql, values = before(connection, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
            description = cursor.description
            found = cursor.fetchall() if description is not None and form.column_types else []
        except BaseException as error:
            # As the connection does with its own statements' errors: the driver's wrapped
            # (IntegrityError…), its handle_error listeners told, the connection invalidated if
            # it was lost (or the process is being interrupted). Without an execution context
            # it would wrap any other error too: given no statement, it leaves those as raised.
            from_driver = isinstance(error, connection.dialect.loaded_dbapi.Error)
            connection._handle_dbapi_exception(error, sql if from_driver else None, values, cursor, None)
        if not found:
            return found
        processors = form.result_processors(connection.dialect, description)
        if not any(processors):
            return found
        return [tuple(value if process is None else process(value) for process, value in zip(processors, row, strict=True))
                for row in found]

    def one_or_none(self, connection: Connection, parameters: Mapping[str, Any]) -> tuple | None:
        found = self.rows(connection, parameters)
        if len(found) > 1:
            raise ValueError("more than one row returned where one at most was expected")
        return found[0] if found else None

    def one(self, connection: Connection, parameters: Mapping[str, Any]) -> tuple:
        found = self.rows(connection, parameters)
        if len(found) != 1:
            raise ValueError(f"{len(found)} rows returned where one was expected")
        return found[0]


def _sent_directly(connection: Connection) -> bool:
    """The statement may go to psycopg's cursor without SQLAlchemy's execution: what that
    execution would add (autobegin, a refusal of an inactive transaction, the echo's log,
    the statement-level events and the dialect's) is not needed."""
    if connection.dialect.driver != "psycopg" or connection._echo or not connection.in_transaction():
        return False
    transaction, nested = connection.get_transaction(), connection.get_nested_transaction()
    if not transaction.is_active or (nested is not None and not nested.is_active):
        return False
    dispatch = connection.dispatch
    return not (dispatch.before_execute or dispatch.after_execute or connection.dialect.dispatch.do_execute)


def _cursor(connection: Connection):
    """The psycopg cursor kept with the database connection (made with the connection's
    cursor factory); a new one when it was closed (after an error) or the connection
    replaced."""
    proxied = connection.connection
    cursor = proxied.info.get(_CURSOR)
    driver = proxied.driver_connection
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = proxied.info[_CURSOR] = driver.cursor()
    return cursor
