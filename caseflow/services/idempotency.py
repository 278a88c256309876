"""Exactly-once API writes: the Idempotency-Key is reserved in the same transaction as the
change it stands for.

The reservation is an INSERT … ON CONFLICT DO NOTHING on (user, key). A concurrent request
with the same key waits on that row (PostgreSQL: the unique index; SQLite: the database
write lock) until the first commits, then finds the stored result and returns it. If the
first request fails, its transaction rolls back with the reservation, so nothing is stored
and a retry runs afresh — nothing was changed the first time either.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, event, func, select, true
from sqlalchemy.dialects import postgresql, sqlite

from ..database import (
    HeldStatement,
    last_statement_held,
    session_connection,
    utcnow,
    write_transaction,
)
from ..errors import CaseflowError, Conflict, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import IdempotencyRecord
from ..prepared import Prepared

KEY_MAX = 255


@dataclass(frozen=True)
class StoredResult:
    status: int
    body: str
    etag: str | None
    replayed: bool


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _usable(key: str) -> bool:
    return bool(key) and len(key) <= KEY_MAX and key.isprintable()


def check_key(key: str) -> str:
    if not _usable(key):
        raise ValidationError(
            _l("The Idempotency-Key header must be 1 to 255 printable characters."),
            fields={"Idempotency-Key": [_l("1 to 255 printable characters.")]},
        )
    return key


@dataclass(frozen=True)
class LockAlong:
    """The lock `work` takes first, taken with the key's reservation: on PostgreSQL in the
    same statement, one round trip fewer (elsewhere it is not used: SQLite's write
    transaction holds the database's lock already, and `work` locks as it would anyway).

    `statement`: a SELECT … FOR UPDATE of at most one row, built once per process, run with
    `params`; `take` is given its row (None: no row) once the key is reserved, before
    `work` runs. A key already used locks nothing: its stored result is answered."""

    statement: Select
    params: dict[str, Any]
    take: Callable[[tuple | None], None]


def run_once(user_id: int, key: str | None, request_fingerprint: str, method: str, path: str,
             work: Callable[[], tuple[int, str, str | None]],
             lock_along: Callable[[], LockAlong | None] | None = None) -> StoredResult:
    """Run `work` (which returns status, JSON body, ETag) once per (user, key).
    `lock_along`, called in the write transaction, says what lock `work` takes first, to be
    taken with the key's reservation (`LockAlong`), or None."""
    if key is None:
        with write_transaction():
            status, body, etag = work()
        return StoredResult(status, body, etag, replayed=False)
    check_key(key)
    with write_transaction():
        return _once(user_id, key, request_fingerprint, method, path, work, lock_along)


@dataclass(frozen=True)
class Item:
    """One write of a batch: what run_once takes, and the group (the case) it belongs to."""

    key: str
    fingerprint: str
    method: str
    path: str
    group: int | str
    work: Callable[[], tuple[int, str, str | None]]
    # False: `work` refuses (raises a typed error) only before it has written anything, as
    # logging a step does, so it runs without a savepoint of its own (two statements and
    # a nested transaction fewer). Should it ever refuse after writing, the whole batch
    # fails instead (Batch._unsaved): nothing of it is kept, the tablet sends it again.
    savepoint: bool = True


class Batch:
    """A tablet's queued writes, applied in order in one transaction (one disk sync for the
    lot), each exactly once by its key, with a savepoint each: a refused item changes
    nothing, and the later items of its group (its case, which they were based on) are held
    back with status 424.

    The rows are the ones `run_once` writes, written in fewer statements: the batch's keys
    are reserved together before the first item runs (those already used are read in one
    more statement), and the results stored together after the last. A reservation whose
    item was not applied (refused, held back) is deleted before the commit, as a savepoint
    would have taken it along: a retry runs afresh. A retry racing the batch waits on the
    reserved rows, then finds the stored results."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self._stored: dict[str, Any] = {}  # key → its row's fingerprint and result (before or in this batch)
        self._reserved: dict[str, int] = {}  # key → the row reserved for it, while nothing was applied
        self._results: list[dict[str, Any]] = []  # what the rows reserved here store at the end
        self._writes: _Writes | None = None  # the batch's writes, counted for items without a savepoint
        # The last statement an item without a savepoint left (database.send_last: a step's
        # case head): the next item without a savepoint, of any group, may send it with its
        # own first write (database.take_held), which comes after its last refusal; before an
        # item with a savepoint it is sent alone.
        self._held: HeldStatement | None = None

    def run(self, items: list[Item],
            refused: Callable[[Exception, Item], tuple[int, str]]) -> list[StoredResult]:
        """Each item's answer, in order. `refused` turns a typed error (and its item) into
        (status, problem body)."""
        results: list[StoredResult] = []
        held: set[int | str] = set()
        with write_transaction():
            if not all(item.savepoint for item in items):
                self._writes = _Writes(session_connection())
            try:
                self._reserve(items)
                with last_statement_held() as self._held:
                    for item in items:
                        if item.group in held:
                            results.append(StoredResult(424, "", None, replayed=False))
                            continue
                        try:
                            check_key(item.key)
                            results.append(self._once(item))
                        except CaseflowError as error:
                            status, body = refused(error, item)
                            results.append(StoredResult(status, body, None, replayed=False))
                            held.add(item.group)
                    self._store(self._held.take())
            finally:
                if self._writes is not None:
                    self._writes.stop()  # the connection may serve the rest of the request
        return results

    def created_id(self, key: str) -> int | None:
        """`created_id`, for this batch's user, knowing what this batch applied so far."""
        if key in self._stored:
            return _id_in(self._stored[key].status_code, self._stored[key].body)
        if key in self._reserved:
            return None
        return created_id(self.user_id, key)

    def pending(self, key: str) -> bool:
        """Whether the item of `key` is to be applied by this batch and has not been yet."""
        return key in self._reserved

    def _reserve(self, items: list[Item]) -> None:
        firsts: dict[str, Item] = {}
        for item in items:
            if item.key not in firsts and _usable(item.key):
                firsts[item.key] = item
        if not firsts:
            return
        connection = session_connection()
        now = utcnow()
        if connection.dialect.name == "postgresql":
            reserved = connection.execute(_RESERVE_LISTED, {
                "user_id": self.user_id, "keys": list(firsts), "created_at": now,
                "fingerprints": [item.fingerprint for item in firsts.values()],
                "methods": [item.method for item in firsts.values()],
                "paths": [item.path[:300] for item in firsts.values()]})
        else:
            reserved = connection.execute(_reserve_statement(connection.dialect.name), [
                {"user_id": self.user_id, "key": key, "fingerprint": item.fingerprint, "method": item.method,
                 "path": item.path[:300], "created_at": now} for key, item in firsts.items()])
        self._reserved = dict(reserved.all())
        used = [key for key in firsts if key not in self._reserved]
        if used:
            table = IdempotencyRecord.__table__
            self._stored = {row.key: row for row in connection.execute(
                select(table.c.key, table.c.fingerprint, table.c.status_code, table.c.body, table.c.etag)
                .where(table.c.user_id == self.user_id, table.c.key.in_(used)))}

    def _once(self, item: Item) -> StoredResult:
        stored = self._stored.get(item.key)
        if stored is not None:
            return _replayed(stored, item.fingerprint)
        row_id = self._reserved.get(item.key)
        unsaved = row_id is not None and not item.savepoint
        if not unsaved:
            self._send_held()  # before the item's savepoint: never undone with it
        if unsaved:
            status, body, etag = self._unsaved(item)
        else:
            # What the item leaves (send_last) is sent in its savepoint, before it ends.
            with db.session.begin_nested(), last_statement_held():
                if row_id is None:  # its row was deleted since the batch began: reserved alone
                    return _once(self.user_id, item.key, item.fingerprint, item.method, item.path, item.work)
                status, body, etag = item.work()
        del self._reserved[item.key]
        self._stored[item.key] = _Stored(item.fingerprint, status, body, etag)
        self._results.append({"row_id": row_id, "new_fingerprint": item.fingerprint, "new_method": item.method,
                              "new_path": item.path[:300], "new_status": status, "new_body": body,
                              "new_etag": etag})
        return StoredResult(status, body, etag, replayed=False)

    def _send_held(self) -> None:
        taken = self._held.take() if self._held is not None else None
        if taken is not None:
            session_connection().execute(*taken)

    def _unsaved(self, item: Item) -> tuple[int, str, str | None]:
        """Run an item that refuses before it writes, without a savepoint: a refusal leaves
        nothing to undo. One that comes after a statement other than a read, or with a
        change waiting in the session, could not be undone alone: it ends the batch."""
        written = self._writes.count
        try:
            return item.work()
        except CaseflowError as error:
            session = db.session()
            if self._writes.count != written or session.new or session.dirty or session.deleted:
                raise RefusedAfterWriting(f"{item.method} {item.path} refused after writing: {error!r}") from error
            raise

    def _store(self, last: tuple[Any, dict[str, Any]] | None) -> None:
        """Store the results; `last`: what the last item left (a step's case head), sent
        first, or on PostgreSQL with the results in one statement."""
        connection = session_connection()
        if connection.dialect.name == "postgresql" and self._results:
            listed = {"answers_" + name: [result["new_" + name] for result in self._results]
                      for name in _STORED_COLUMNS}
            listed["answers_row_id"] = [result["row_id"] for result in self._results]
            if last is None:
                connection.execute(_STORE_LISTED, listed)
            else:
                statement, params = last
                connection.execute(_with_listed_answers(statement), params | listed)
            last = None
        if last is not None:
            connection.execute(*last)
        if self._results and connection.dialect.name != "postgresql":
            connection.execute(_STORE_RESULT, self._results)
        if self._reserved:
            table = IdempotencyRecord.__table__
            connection.execute(table.delete().where(table.c.id.in_(list(self._reserved.values()))))


class RefusedAfterWriting(RuntimeError):
    """An item run without a savepoint (Item.savepoint) was refused after it had written:
    not a refusal to answer, an error that rolls the whole batch back."""


class _Writes:
    """How many statements other than reads a connection has sent since this was made."""

    def __init__(self, connection) -> None:
        self.count = 0
        self._connection = connection
        event.listen(connection, "before_cursor_execute", self._note)

    def stop(self) -> None:
        event.remove(self._connection, "before_cursor_execute", self._note)

    def _note(self, _connection, _cursor, statement: str, *_args) -> None:
        if statement.lstrip()[:6].upper() != "SELECT":
            self.count += 1


@dataclass(frozen=True)
class _Stored:
    """A result this batch stored, as a replay reads it."""

    fingerprint: str
    status_code: int
    body: str
    etag: str | None


@functools.cache
def _reserve_statement(dialect_name: str):
    table = IdempotencyRecord.__table__
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return (dialect_insert(table).on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(table.c.key, table.c.id))


def _listed(column):
    return bindparam(column.name + "s", type_=postgresql.ARRAY(column.type))


# PostgreSQL: a batch's keys reserved with one array per column, unnested. As rows of
# parameters (six a key) the statement's text changed with the number of keys and had more
# parameters than psycopg keeps converted (50): it was converted again at every batch.
_table = IdempotencyRecord.__table__
_RESERVE_ROWS = func.unnest(*(_listed(_table.c[name]) for name in ("key", "fingerprint", "method", "path"))
                            ).table_valued("key", "fingerprint", "method", "path").render_derived("listed")
_RESERVE_LISTED = (
    postgresql.insert(_table)
    .from_select(["user_id", "key", "fingerprint", "method", "path", "created_at"],
                 select(bindparam("user_id", type_=_table.c.user_id.type), _RESERVE_ROWS.c.key,
                        _RESERVE_ROWS.c.fingerprint, _RESERVE_ROWS.c.method, _RESERVE_ROWS.c.path,
                        bindparam("created_at", type_=_table.c.created_at.type)))
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(_table.c.key, _table.c.id)
)


# PostgreSQL: the batch's results stored with one array per column, unnested, as a WITH
# clause of the last item's statement when it left one (a step's case head).
_STORED_COLUMNS = {"fingerprint": "fingerprint", "method": "method", "path": "path", "status": "status_code",
                   "body": "body", "etag": "etag"}
_ANSWERS = func.unnest(
    bindparam("answers_row_id", type_=postgresql.ARRAY(_table.c.id.type)),
    *(bindparam(f"answers_{name}", type_=postgresql.ARRAY(_table.c[column].type))
      for name, column in _STORED_COLUMNS.items()),
).table_valued("row_id", *_STORED_COLUMNS).render_derived("answers")
_STORE_LISTED = (
    _table.update().where(_table.c.id == _ANSWERS.c.row_id)
    .values({column: _ANSWERS.c[name] for name, column in _STORED_COLUMNS.items()})
)


@functools.cache
def _with_listed_answers(statement):
    """`statement` (built once per process, as every held one is) storing the answers too."""
    return statement.add_cte(_STORE_LISTED.cte("stored_answers"))


_STORE_RESULT = (
    IdempotencyRecord.__table__.update()
    .where(IdempotencyRecord.__table__.c.id == bindparam("row_id"))
    .values(fingerprint=bindparam("new_fingerprint"), method=bindparam("new_method"), path=bindparam("new_path"),
            status_code=bindparam("new_status"), body=bindparam("new_body"), etag=bindparam("new_etag"))
)


def _replayed(stored, request_fingerprint: str) -> StoredResult:
    """The stored result of an earlier request with the same key (`stored`: its row)."""
    if stored.fingerprint != request_fingerprint:
        raise ValidationError(
            _l("This Idempotency-Key was already used for a different request; "
               "nothing was applied. Use a new key for a new request."),
            fields={"Idempotency-Key": [_l("Already used for a different request.")]},
        )
    if stored.status_code is None:  # only visible if a writer commits without a result
        raise Conflict(_l("A request with this Idempotency-Key is still in progress; "
                          "retry in a moment."), in_progress=True)
    return StoredResult(stored.status_code, stored.body, stored.etag, replayed=True)


def _once(user_id: int, key: str, request_fingerprint: str, method: str, path: str,
          work: Callable[[], tuple[int, str, str | None]],
          lock_along: Callable[[], LockAlong | None] | None = None) -> StoredResult:
    connection = session_connection()
    reservation = {"user_id": user_id, "key": key, "fingerprint": request_fingerprint, "method": method,
                   "path": path[:300], "created_at": utcnow()}
    along = lock_along() if lock_along is not None and connection.dialect.name == "postgresql" else None
    if along is None:
        reserved = _reserve_one_statement(connection.dialect.name).one_or_none(connection, reservation)
        row_id = reserved[0] if reserved is not None else None
    else:
        row = _reserved_with_lock(along.statement).one(connection, reservation | along.params)
        row_id = row[0]
        if row_id is not None:
            along.take(row[1:] if row[1] is not None else None)
    if row_id is None:
        stored = connection.execute(_STORED, {"user_id": user_id, "key": key}).one()
        return _replayed(stored, request_fingerprint)
    with last_statement_held() as held:
        status, body, etag = work()
        last = held.take()
    answer = {"row_id": row_id, "new_status": status, "new_body": body, "new_etag": etag}
    if last is None:
        _STORE_ONE_RESULT.rows(connection, answer)
    else:  # the change's last statement (a step's audit event and case head), the answer with it
        statement, params = last
        _with_answer(statement).rows(connection, params | _answer_params(answer))
    return StoredResult(status, body, etag, replayed=False)


# Every API write runs these: built once per process, with bound parameters, and prepared
# (caseflow.prepared: without SQLAlchemy's work per execution).
@functools.cache
def _reserve_one_statement(dialect_name: str) -> Prepared:
    table = IdempotencyRecord.__table__
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return Prepared(dialect_insert(table).on_conflict_do_nothing(index_elements=["user_id", "key"])
                    .returning(table.c.id))


# PostgreSQL: the key reserved and the work's first lock taken in one statement. The
# reservation's id is the outer row, the lock a LATERAL subquery that depends on it, so the
# key is reserved (or its concurrent holder waited for) before the row is locked, as with
# two statements: a tablet's outbox, which reserves its keys before it locks its cases, can
# never wait on such a request the other way round. A key already used locks nothing.
_RESERVED_KEY = (
    postgresql.insert(_table)
    .values({name: bindparam(name, type_=_table.c[name].type)
             for name in ("user_id", "key", "fingerprint", "method", "path", "created_at")})
    .on_conflict_do_nothing(index_elements=["user_id", "key"])
    .returning(_table.c.id)
    .cte("reserved_key")
)
_RESERVATION = select(select(_RESERVED_KEY.c.id).scalar_subquery().label("key_id")).subquery("reservation")


@functools.cache
def _reserved_with_lock(statement: Select) -> Prepared:
    """`statement` (a LockAlong's, built once per process) taken with the reservation: one
    row, the reserved row's id (None: the key was used) then the locked row's columns (all
    None when there is no such row or the key was used)."""
    locked = statement.where(_RESERVATION.c.key_id.is_not(None)).lateral("locked")
    return Prepared(select(_RESERVATION.c.key_id, *locked.c)
                    .select_from(_RESERVATION.outerjoin(locked, true())).add_cte(_RESERVED_KEY))


_STORED = select(IdempotencyRecord.__table__).where(
    IdempotencyRecord.__table__.c.user_id == bindparam("user_id"),
    IdempotencyRecord.__table__.c.key == bindparam("key"))
_STORE_ONE_RESULT = Prepared(
    IdempotencyRecord.__table__.update()
    .where(IdempotencyRecord.__table__.c.id == bindparam("row_id"))
    .values(status_code=bindparam("new_status"), body=bindparam("new_body"), etag=bindparam("new_etag"))
)


# The answer stored as a WITH clause of the change's last statement (PostgreSQL), its
# parameters named apart from the statement's own.
_ANSWER_PARAMS = {"row_id": "answer_row_id", "new_status": "answer_status", "new_body": "answer_body",
                  "new_etag": "answer_etag"}
_STORE_ANSWER_UNDER = (
    IdempotencyRecord.__table__.update()
    .where(IdempotencyRecord.__table__.c.id == bindparam("answer_row_id"))
    .values(status_code=bindparam("answer_status"), body=bindparam("answer_body"),
            etag=bindparam("answer_etag"))
)


@functools.cache
def _with_answer(statement) -> Prepared:
    """`statement` (built once per process, as every held one is) storing the answer too."""
    return Prepared(statement.add_cte(_STORE_ANSWER_UNDER.cte("stored_answer")))


def _answer_params(answer: dict[str, Any]) -> dict[str, Any]:
    return {_ANSWER_PARAMS[name]: value for name, value in answer.items()}


def canonical_body(raw: bytes) -> bytes:
    """The same JSON document gives the same fingerprint however it was spaced or ordered
    (a request retried alone after being sent in a batch, or the other way round)."""
    try:
        document = json.loads(raw) if raw else None
    except ValueError:
        return raw
    return canonical_json(document)


# Made once (json.dumps with options makes a new encoder at every call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_json(document) -> bytes:
    """`canonical_body` of a document already parsed (an outbox entry's body)."""
    return _CANONICAL.encode(document).encode()


def dumps(payload) -> str:
    return _COMPACT.encode(payload)


def created_id(user_id: int, key: str) -> int | None:
    """The id of what the write stored under (user, key) created or chose (a client, a case),
    or None while it has not been applied. A tablet names what it made offline by the key
    of the entry that made it (a provisional id), so later entries can follow it."""
    table = IdempotencyRecord.__table__
    row = session_connection().execute(
        select(table.c.status_code, table.c.body).where(table.c.user_id == user_id, table.c.key == key)
    ).one_or_none()
    return None if row is None else _id_in(row.status_code, row.body)


def _id_in(status: int | None, body: str | None) -> int | None:
    if status is None or not 200 <= status < 300 or not body:
        return None
    try:
        value = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
