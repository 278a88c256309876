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

`rows` (any database) sends it on the driver's cursor directly (psycopg's or sqlite3's), one
kept per database connection; wherever that could differ from SQLAlchemy's own execution —
another driver, no active transaction on the connection, statement logging (echo), a
listener of `before_execute`, `after_execute` or the dialect's `do_execute` — it is
`connection.execute(statement)`. `execute` (SQLite's writes of a move and of a read case's
audit head) is `rows` for a statement that returns nothing, refused on another database
(there one statement sends what SQLite needs several for).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.expression import Executable

# Connection record info key: the driver's cursor `Prepared.rows` sends its statements on.
_CURSOR = "caseflow.prepared_cursor"


class _DriverForm:
    """A statement compiled for the driver: its SQL, how each value it sends is found (in
    the order sqlite3 takes them by position, by name for psycopg) and converted, and the
    result processors by column (made at its first execution, from the column types the
    database describes, as SQLAlchemy makes them)."""

    __slots__ = ("sql", "compiled", "sent", "names", "column_types", "results")

    def __init__(self, statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> None:
        # As Connection.execute compiles it: an INSERT names the columns it is given values for.
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
        self.sql, self.compiled = compiled.string, compiled
        by_name = {}
        for bind, name in compiled.bind_names.items():
            # The dialect's own form of each type, as SQLAlchemy's execution converts with: a
            # TypeDecorator's bind_processor alone would hand SQLite a datetime to write itself
            # (without its microseconds when they are 0), not SQLAlchemy's text.
            by_name[compiled.escaped_bind_names.get(name, name)] = (
                bind.key, name, bind, bind.type.dialect_impl(dialect).bind_processor(dialect))
        # A name used twice in a positional statement is sent twice, in its places.
        self.names = None if compiled.positional else tuple(by_name)
        self.sent = tuple(by_name[name] for name in (compiled.positiontup if compiled.positional else by_name))
        # The columns it returns: a SELECT's, or those an INSERT or UPDATE names in RETURNING
        # (not the key SQLAlchemy adds to an INSERT without, which it keeps for itself).
        self.column_types = [column.type for column in getattr(statement, "exported_columns", ())]
        self.results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None

    def values(self, parameters: Mapping[str, Any]) -> dict[str, Any] | tuple:
        """What the driver is sent for `parameters`: the values `compiled.construct_params`
        finds (by the parameter's key, else its name, else the value built into the
        statement), each converted by its type."""
        values = []
        for key, name, bind, process in self.sent:
            if key in parameters:
                value = parameters[key]
            elif name in parameters:
                value = parameters[name]
            elif bind.required:
                self.compiled.construct_params(parameters)  # raises SQLAlchemy's error for it
                raise AssertionError(f"{key}: a value is required")
            else:
                value = bind.effective_value if bind.callable else bind.value
            values.append(value if process is None else process(value))
        return tuple(values) if self.names is None else dict(zip(self.names, values, strict=True))

    def result_processors(self, dialect: Dialect, description) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        """The columns whose values are converted, by their place in a row, with their
        converters (most columns need none: psycopg and sqlite3 give them as they are)."""
        if self.results is None:
            if len(description) != len(self.column_types):
                raise RuntimeError(f"{len(description)} columns returned, {len(self.column_types)} expected")
            processors = [kind.dialect_impl(dialect).result_processor(dialect, column[1])  # its type code
                          for kind, column in zip(self.column_types, description, strict=True)]
            self.results = tuple((place, process) for place, process in enumerate(processors) if process is not None)
        return self.results


class Prepared:
    """`statement`, whose every value is a named bound parameter, compiled once per dialect
    (an application's engine has one) and set of values given."""

    def __init__(self, statement: Executable):
        self.statement = statement
        self._forms: dict[tuple[Dialect, tuple[str, ...]], _DriverForm] = {}
        self._all_parameters = False  # every value found to be a parameter (execute)

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> None:
        """Send the statement on SQLite (a write that returns no rows)."""
        if connection.dialect.name != "sqlite":
            raise ValueError(f"a prepared statement is executed on SQLite only, not on {connection.dialect.name}: "
                             "elsewhere its rows are asked for")
        if not self._all_parameters:
            for name, bind in self.statement.compile(dialect=connection.dialect).binds.items():
                if not bind.required:
                    # A value built into the statement would have to be sent as SQLAlchemy sends it.
                    raise ValueError(f"{name}: a prepared statement takes every value as a parameter")
            self._all_parameters = True
        self.rows(connection, parameters)

    def rows(self, connection: Connection, parameters: Mapping[str, Any]) -> list[tuple]:
        """Send the statement with `parameters`; the rows it returns, as tuples (none for a
        statement without RETURNING), their values converted as SQLAlchemy's result does."""
        if not _sent_directly(connection):
            result = connection.execute(self.statement, parameters)
            # All rows in one fetch: iterating the result fetches them one by one.
            return [tuple(row) for row in result.all()] if result.returns_rows else []
        key = (connection.dialect, tuple(parameters))
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _DriverForm(self.statement, connection.dialect, key[1])
        found, description = _send(connection, form.sql, form.values(parameters), bool(form.column_types))
        if not found:
            return found
        converted = form.result_processors(connection.dialect, description)
        if not converted:
            return found
        rows = []
        for row in found:
            values = list(row)
            for place, process in converted:
                values[place] = process(values[place])
            rows.append(tuple(values))
        return rows

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


# The drivers whose cursor takes a statement as SQLAlchemy's execution hands it over
# (`cursor.execute(sql, parameters)`, the dialect's do_execute).
_DIRECT_DRIVERS = frozenset({"psycopg", "pysqlite"})


def _sent_directly(connection: Connection) -> bool:
    """The statement may go to the driver's cursor without SQLAlchemy's execution: what that
    execution would add (autobegin, a refusal of an inactive transaction, the echo's log,
    the statement-level events and the dialect's) is not needed."""
    if not connection.in_transaction():
        return False
    transaction, nested = connection.get_transaction(), connection.get_nested_transaction()
    if not transaction.is_active or (nested is not None and not nested.is_active):
        return False
    return _executed_as_sqlalchemy_would(connection)


def _executed_as_sqlalchemy_would(connection: Connection) -> bool:
    """Nothing on this connection would see SQLAlchemy's execution but its cursor's events:
    a driver that takes the statement as SQLAlchemy hands it over, no echo's log, no
    statement-level or dialect listener."""
    if connection.dialect.driver not in _DIRECT_DRIVERS or connection._echo:
        return False
    dispatch = connection.dispatch
    return not (dispatch.before_execute or dispatch.after_execute or connection.dialect.dispatch.do_execute)


def send_plain(connection: Connection, sql: str) -> None:
    """Send `sql`, a statement without values or rows (SQLite's BEGIN), on the driver's
    cursor as `Connection.exec_driver_sql` would, without its execution context and result:
    seen by the engine's events, its errors wrapped by the connection. Where SQLAlchemy's
    execution would add something, it is SQLAlchemy's to send."""
    if _executed_as_sqlalchemy_would(connection):
        _send(connection, sql, (), False)
    else:
        connection.exec_driver_sql(sql)


def _send(connection: Connection, sql: str, values: dict[str, Any] | tuple, fetch: bool) -> tuple[list, Any]:
    """Execute on the connection's kept cursor: the rows (when `fetch`) and their description."""
    proxied = connection.connection
    cursor = _cursor(proxied)
    dispatch = connection.dispatch
    try:
        for before in dispatch.before_cursor_execute:
            sql, values = before(connection, cursor, sql, values, None, False)
        cursor.execute(sql, values)
        dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
        description = cursor.description
        return (cursor.fetchall() if fetch and description is not None else []), description
    except BaseException as error:
        # The connection closes the cursor of a failed statement: the next takes a new one.
        proxied.info.pop(_CURSOR, None)
        # As the connection does with its own statements' errors: the driver's wrapped
        # (IntegrityError…), its handle_error listeners told, the connection invalidated if
        # it was lost (or the process is being interrupted). Without an execution context
        # it would wrap any other error too: given no statement, it leaves those as raised.
        from_driver = isinstance(error, connection.dialect.loaded_dbapi.Error)
        connection._handle_dbapi_exception(error, sql if from_driver else None, values, cursor, None)
        raise  # _handle_dbapi_exception always raises


def _cursor(proxied):
    """The driver's cursor kept with the database connection (made with the connection's
    cursor factory); a new one after an error, when it was closed (psycopg's say so;
    sqlite3's are only closed by an error here) or the connection replaced."""
    cursor = proxied.info.get(_CURSOR)
    driver = proxied.driver_connection
    if cursor is None or getattr(cursor, "closed", False) or cursor.connection is not driver:
        cursor = proxied.info[_CURSOR] = driver.cursor()
    return cursor
