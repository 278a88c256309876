"""Database plumbing shared by every model and service: UTC times, SQLite durability
settings and the write transaction that makes each service call all-or-nothing."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from .errors import StorageUnavailable
from .extensions import db
from .i18n import _l
from .prepared import send_plain

# Set while a service transaction is being opened, so the SQLite "begin" hook knows to
# take the write lock at once (BEGIN IMMEDIATE) instead of failing later on a stale snapshot.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)
_transaction_depth: contextvars.ContextVar[int] = contextvars.ContextVar("tx_depth", default=0)
# The session's connection while an outermost write transaction is open (session_connection).
_write_connection: contextvars.ContextVar[Any] = contextvars.ContextVar("write_connection", default=None)
# Work to run in transactions of its own once the outermost one has ended (after_transaction).
_afterwards: contextvars.ContextVar[list | None] = contextvars.ContextVar("afterwards", default=None)


_clock: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("clock", default=None)


def utcnow() -> datetime:
    """Now, in UTC. Demo seeding and tests may set a simulated clock (see `simulated_time`)."""
    return _clock.get() or datetime.now(UTC)


@contextmanager
def simulated_time(moment: datetime) -> Iterator[None]:
    """Run service calls as if it were `moment` (seeding history, deadline tests)."""
    token = _clock.set(moment)
    try:
        yield
    finally:
        _clock.reset(token)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Caseflow stores aware UTC times only")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_OPTIMIZE_EVERY_SECONDS = 3600


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# A database connection that waited in the pool longer than this is pinged before it is
# used again (see _ping_after_idle); one used a moment ago is not.
PING_AFTER_IDLE_SECONDS = 10.0
# record.info key: when the connection was last given back to the pool (or made).
_IDLE_SINCE = "caseflow.idle_since"


class _Description(Sequence):
    """psycopg's cursor.description, its columns made when first looked at. psycopg makes a
    Column per result column at every statement (about 1 µs each: the name decoded, the
    type looked up); SQLAlchemy, once a statement's result metadata is cached (every
    statement after its first), only asks whether there is a description. Made from the
    result it describes: asked once the cursor has gone on to another, it says so rather
    than describe the wrong one."""

    __slots__ = ("_cursor", "_result", "_count", "_columns", "_describe")

    def __init__(self, cursor, result, count: int, describe: Callable) -> None:
        self._cursor, self._result, self._count, self._describe = cursor, result, count, describe
        self._columns: list | None = None

    def _made(self) -> list:
        if self._columns is None:
            if self._cursor.pgresult is not self._result:
                raise RuntimeError("this description is of a result the cursor has moved on from")
            self._columns = self._describe(self._cursor)  # psycopg's own
            self._cursor = self._result = None
        return self._columns

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self._made()[index]

    def __iter__(self):
        return iter(self._made())

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __repr__(self) -> str:
        return repr(self._made())


def _lazily_described_cursor():
    """psycopg's client cursor, whose description's columns are made when first used."""
    described = psycopg.Cursor.description.fget
    # The results with rows, as psycopg's own description tells them.
    with_rows = frozenset(getattr(ExecStatus, name) for name in ("TUPLES_OK", "SINGLE_TUPLE", "TUPLES_CHUNK")
                          if hasattr(ExecStatus, name))

    class Cursor(psycopg.Cursor):
        @property
        def description(self):
            result = self.pgresult
            if result and (result.nfields or result.status in with_rows):
                return _Description(self, result, result.nfields, described)
            return None

    return Cursor


def read_one_before_begin(connection: Connection, statement: Any, parameters: dict[str, Any]) -> Any:
    """`connection.execute(statement, parameters).one_or_none()`, sent on PostgreSQL outside
    any transaction when none has begun on the connection yet (psycopg then sends no BEGIN
    before it). A request whose only statement is this read — the signed-in user's, at every
    request — then ends without a ROLLBACK either: two of its three round trips (about 35 µs
    of client CPU each) saved. What follows begins its transaction as before, with its own
    first statement. At READ COMMITTED a read sees what is committed when it starts, inside a
    transaction or not; and a plain read takes no lock a transaction would keep. Anywhere
    else (SQLite, a transaction already begun, another driver) it runs as usual. `statement`
    may be a `prepared.Prepared` (its row a tuple)."""
    driver = connection.connection.driver_connection
    if (connection.dialect.driver != "psycopg" or driver.autocommit
            or driver.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE):
        return _one_or_none(connection, statement, parameters)
    driver.autocommit = True
    try:
        return _one_or_none(connection, statement, parameters)
    finally:
        # Always back: every later statement on the connection belongs in a transaction.
        driver.autocommit = False


def _one_or_none(connection: Connection, statement: Any, parameters: dict[str, Any]) -> Any:
    one_or_none = getattr(statement, "one_or_none", None)  # a prepared.Prepared
    if one_or_none is not None:
        return one_or_none(connection, parameters)
    return connection.execute(statement, parameters).one_or_none()


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Durability and locking settings that every connection must carry."""
    if engine.dialect.name == "postgresql":
        cursor_class = _lazily_described_cursor() if engine.dialect.driver == "psycopg" else None

        @event.listens_for(engine, "connect")
        def _postgresql_settings(dbapi_connection, record):
            # Many short queries: compiling them (JIT) costs more than it saves.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET jit = off")
            dbapi_connection.commit()
            record.info[_IDLE_SINCE] = time.monotonic()
            if cursor_class is not None:
                dbapi_connection.cursor_factory = cursor_class

        @event.listens_for(engine, "checkin")
        def _note_idle_since(_dbapi_connection, record):
            record.info[_IDLE_SINCE] = time.monotonic()

        @event.listens_for(engine, "checkout")
        def _ping_after_idle(dbapi_connection, record, _proxy):
            # pool_pre_ping would ping at every checkout: a round trip and a good part of a
            # small request's CPU, while a busy worker's connection was used milliseconds
            # ago. Connections die while they wait (a restarted server, a firewall's or
            # pooler's idle timeout): those are pinged, and a dead one is replaced before
            # the request sees it (the pool tries another on DisconnectionError).
            since = record.info.get(_IDLE_SINCE)
            if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
                return
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as error:
                raise DisconnectionError("the connection died while it waited in the pool") from error

        return
    if not is_sqlite(engine):
        return

    @event.listens_for(engine, "do_connect")
    def _sqlite_private_file(_dialect, _record, _cargs, _cparams):
        # The file holds personal data: create it owner-only before SQLite does (with the
        # umask's usual 0644). SQLite gives its -wal and -shm files the database's mode.
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            with contextlib.suppress(OSError):  # exists already, or SQLite will say what is wrong
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a confirmed save survives a power cut, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # Bounded statistics gathering for PRAGMA optimize (below).
        cursor.execute("PRAGMA analysis_limit=1000")
        cursor.close()

    @event.listens_for(engine, "checkin")
    def _sqlite_optimize(dbapi_connection, record):
        # SQLite's planner needs statistics (ANALYZE) as the tables grow; its documentation
        # asks long-lived connections to run PRAGMA optimize every few hours.
        now = time.monotonic()
        last = record.info.setdefault("optimized_at", now)
        if now - last >= _OPTIMIZE_EVERY_SECONDS:
            record.info["optimized_at"] = now
            # Statistics are an optimisation, never an error.
            with contextlib.suppress(Exception):
                dbapi_connection.execute("PRAGMA optimize")

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        # On the driver's cursor (prepared.send_plain): exec_driver_sql's execution context
        # and result cost more than SQLite's BEGIN itself.
        send_plain(connection, "BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextmanager
def write_transaction() -> Iterator[None]:
    """One service call, one transaction: commit on success, roll back on any error.

    Nested calls join the outer transaction, so a service may use another service and
    the whole use case still commits or fails as one.
    """
    depth = _transaction_depth.get()
    if depth:
        token = _transaction_depth.set(depth + 1)
        try:
            yield
        finally:
            _transaction_depth.reset(token)
        return
    session = db.session()
    # Whatever the request read before belongs to a read snapshot; a write starts fresh
    # so it sees (and locks) the current rows.
    if session.in_transaction():
        _end_read_transaction(session)
    intent = _write_intent.set(True)
    depth_token = _transaction_depth.set(1)
    afterwards_token = _afterwards.set([])
    connection_token = None
    committed = False
    try:
        # Begins now, with the write lock on SQLite.
        connection_token = _write_connection.set(session.connection())
        _write_intent.reset(intent)
        intent = None
        yield
        session.commit()
        committed = True
    except DBAPIError as exc:
        session.rollback()
        problem = _storage_problem(exc)
        if problem is None:
            raise
        raise StorageUnavailable(problem) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        if intent is not None:
            _write_intent.reset(intent)
        if connection_token is not None:
            _write_connection.reset(connection_token)
        _transaction_depth.reset(depth_token)
        afterwards = _afterwards.get()
        _afterwards.reset(afterwards_token)
        _run_afterwards(afterwards, raise_errors=committed)


def session_connection() -> Any:
    """`db.session.connection()`: in a write transaction the one it began with, without
    asking the session again (its lookup of the transaction's bind and connection, 3 µs at
    each of a step's half a dozen statements, ten times that in an outbox of ten). Asked of
    the session when its transaction has ended (the connection given back, or on SQLite
    kept by the session with no transaction on it: a statement there would begin one
    outside the session's)."""
    found = _write_connection.get()
    if found is not None and found.in_transaction():
        return found
    return db.session.connection()


# session.info key: the objects a request read first (its signed-in user and province).
_KEPT = "caseflow.kept_through_writes"
# session.info key: something was flushed since the transaction began.
_FLUSHED = "caseflow.flushed"


def keep_through_writes(*objects: object) -> None:
    """The signed-in user (and province) read at the request's start stay loaded when a
    write begins: every write would otherwise read them again. Cleared with `forget_kept`."""
    db.session.info[_KEPT] = [o for o in objects if o is not None]


def forget_kept() -> None:
    if db.session.registry.has():  # else no session was made: nothing kept, none to make now
        db.session.info.pop(_KEPT, None)


def _end_read_transaction(session) -> None:
    """End the read before a write. Something written in the read (flushed or waiting)
    is rolled back, which expires every loaded object, so the write reads them again.
    Otherwise every object but those kept is expired, so the write still reads everything
    else fresh, and on PostgreSQL at READ COMMITTED the transaction simply goes on: each
    statement there reads the rows as committed when it starts, and SELECT … FOR UPDATE
    locks their newest version, so the write sees and locks exactly what it would in a
    transaction of its own — without a COMMIT, a return of the connection to the pool, a
    checkout (with its ping) and a BEGIN: three round trips and a good part of a small
    write's CPU. Elsewhere (SQLite, whose write needs BEGIN IMMEDIATE; another isolation
    level, whose snapshot would be the read's) the read is ended with a commit, which
    expires nothing, or with a rollback when no object is kept."""
    kept = session.info.get(_KEPT)
    if session.info.get(_FLUSHED) or session.new or session.dirty or session.deleted:
        session.rollback()
        return
    if not _reads_committed(session):
        if not kept:
            session.rollback()
            return
        session.commit()
    else:
        for forget in _PER_TRANSACTION_FORGETTERS:
            forget(session)
    kept_ids = {id(o) for o in kept or ()}
    for instance in list(session.identity_map.values()):
        if id(instance) not in kept_ids:
            session.expire(instance)


# What is remembered for one transaction (a dashboard's answers) and forgotten at its end:
# forgotten too when a write goes on in the read's transaction, as the read's commit did.
_PER_TRANSACTION_FORGETTERS: list[Callable[[Session], None]] = []


def forget_when_a_read_ends(forget: Callable[[Session], None]) -> None:
    """`forget(session)` runs where a read's transaction would have ended before a write
    (it goes on, on PostgreSQL): a memo kept per transaction is not carried into the write."""
    if forget not in _PER_TRANSACTION_FORGETTERS:
        _PER_TRANSACTION_FORGETTERS.append(forget)


# Connection.info key (kept with the database connection while it lives): its isolation level.
_ISOLATION = "caseflow.isolation_level"


def _reads_committed(session) -> bool:
    """The session's transaction is on PostgreSQL at READ COMMITTED: the server's default,
    which Caseflow does not change — but an operator may have (for the database or the
    role), so the level is asked once per database connection."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return False
    level = connection.get_execution_options().get("isolation_level")
    if level is None:
        level = connection.info.get(_ISOLATION)
        if level is None:
            level = connection.info[_ISOLATION] = connection.get_isolation_level()
    return level == "READ COMMITTED"


@event.listens_for(Session, "after_flush")
def _note_flush(session, _context) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flush(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_FLUSHED, None)


def end_read() -> None:
    """End a page's read with a COMMIT, not the ROLLBACK the session's close would send.

    The two are the same to the server for a transaction that wrote nothing, but psycopg
    forgets every statement it prepared on the connection at a rollback (and has the server
    DEALLOCATE ALL): a read-only request ending in a rollback sends the worker's next
    requests back to planning each statement anew — a third of the PostgreSQL CPU of my
    cases and a case page taking turns (11–13 ms → 3–3.5 ms a pair). Called at every
    request's end (end_request_read); anything written or flushed in the read is left to
    be rolled back, as before. Outside a transaction, or inside a write: nothing."""
    if not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or _transaction_depth.get():
        return
    if session.info.get(_FLUSHED) or session.new or session.dirty or session.deleted:
        return
    session.commit()


def end_request_read(exception: BaseException | None = None) -> None:
    """At every request's end (a teardown): its read, if it wrote nothing, ends with
    end_read's COMMIT rather than the session close's ROLLBACK, so that no request — a
    page, an API read, the session question, a refusal answered with 4xx — makes psycopg
    forget the worker's prepared statements. A request that raised is left to the rollback,
    as is a transaction that cannot commit (a statement in it failed)."""
    if exception is not None:
        return
    try:
        end_read()
    except SQLAlchemyError:
        db.session.rollback()


def after_transaction(work: Callable[[], None]) -> None:
    """Run `work` in a write transaction of its own once the current one has ended, be it
    committed or rolled back: the evidence of a refusal (who tried what) must outlive the
    refused change, however deeply the refusing service was nested. Outside any write
    transaction, `work` runs at once."""
    pending = _afterwards.get()
    if pending is None or not in_write_transaction():
        with write_transaction():
            work()
        return
    pending.append(work)


def _run_afterwards(works: list, *, raise_errors: bool) -> None:
    for work in works or ():
        try:
            with write_transaction():
                work()
        except Exception:
            if raise_errors:
                raise
            # The refusal being reported matters more than its evidence: log, do not mask it.
            logging.getLogger(__name__).exception("could not record the evidence of a refusal")


_STORAGE_MESSAGES = (
    (("readonly database", "read-only transaction", "read only"),
     _l("The database is read-only at the moment. Nothing was saved; ask your administrator.")),
    (("disk is full", "database or disk is full", "no space left", "disk full"),
     _l("The server's disk is full. Nothing was saved; ask your administrator.")),
    (("database is locked", "lock timeout", "could not obtain lock"),
     _l("The database is busy. Nothing was saved; try again in a moment.")),
)


def _storage_problem(exc: DBAPIError):
    text = str(exc.orig if getattr(exc, "orig", None) is not None else exc).lower()
    for needles, message in _STORAGE_MESSAGES:
        if any(needle in text for needle in needles):
            return message
    return None


def in_write_transaction() -> bool:
    return _transaction_depth.get() > 0


class HeldStatement:
    """A service's last statement, held back for its caller (`last_statement_held`)."""

    __slots__ = ("depth", "statement", "params")

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.statement: Any = None
        self.params: dict[str, Any] | None = None

    def take(self) -> tuple[Any, dict[str, Any]] | None:
        """The statement held and its parameters, now the caller's to send (or None)."""
        if self.statement is None:
            return None
        taken = self.statement, self.params
        self.statement = self.params = None
        return taken


_held_statement: contextvars.ContextVar[HeldStatement | None] = contextvars.ContextVar(
    "held_statement", default=None)


@contextmanager
def last_statement_held() -> Iterator[HeldStatement]:
    """While the block runs, the service it calls directly (its write transaction one level
    deeper than this one) may leave its last statement to the caller (`send_last`), who
    sends it with a statement of its own in one round trip (PostgreSQL: WITH clauses). An
    exactly-once write stores its answer so, with the step's audit event and case head: one
    round trip fewer for the most frequent write. What the caller did not take is sent
    when the block ends; an error drops it (the transaction rolls back)."""
    held = HeldStatement(_transaction_depth.get())
    token = _held_statement.set(held)
    try:
        yield held
    finally:
        _held_statement.reset(token)
    taken = held.take()
    if taken is not None:
        session_connection().execute(*taken)


def send_last(statement: Any, params: dict[str, Any]) -> None:
    """Execute `statement`, the last of the calling service's transaction: nothing of that
    transaction may follow it but what its caller does. Held for the caller instead when
    the service runs directly in a `last_statement_held` block on PostgreSQL (which takes a
    data-modifying statement as a WITH clause of another)."""
    held = _held_statement.get()
    connection = session_connection()
    if (held is None or held.depth + 1 != _transaction_depth.get()
            or connection.dialect.name != "postgresql"):
        connection.execute(statement, params)
        return
    if held.statement is not None:  # a second last statement: the first goes now, in order
        connection.execute(held.statement, held.params)
    held.statement, held.params = statement, params


def take_held(accept: Callable[[Any, dict[str, Any]], bool]) -> tuple[Any, dict[str, Any]] | None:
    """The statement a service before this one left for their caller (`send_last`), now
    this service's to send with its own first write, if `accept(statement, params)`: a
    tablet's outbox writes a step's case head with the next step of the case."""
    held = _held_statement.get()
    if (held is None or held.statement is None or held.depth + 1 != _transaction_depth.get()
            or not accept(held.statement, held.params)):
        return None
    return held.take()
