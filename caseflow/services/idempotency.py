"""Exactly-once API writes: the Idempotency-Key is reserved in the same transaction as the
change it stands for.

The reservation is an INSERT … ON CONFLICT DO NOTHING on (user, key). A concurrent request
with the same key waits on that row (PostgreSQL: the unique index; SQLite: the database
write lock) until the first commits, then finds the stored result and returns it. If the
first request fails, its transaction rolls back with the reservation, so nothing is stored
and a retry runs afresh — nothing was changed the first time either.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..database import utcnow, write_transaction
from ..errors import CaseflowError, Conflict, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import IdempotencyRecord

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


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise ValidationError(
            _l("The Idempotency-Key header must be 1 to 255 printable characters."),
            fields={"Idempotency-Key": [_l("1 to 255 printable characters.")]},
        )
    return key


def run_once(user_id: int, key: str | None, request_fingerprint: str, method: str, path: str,
             work: Callable[[], tuple[int, str, str | None]]) -> StoredResult:
    """Run `work` (which returns status, JSON body, ETag) once per (user, key)."""
    if key is None:
        with write_transaction():
            status, body, etag = work()
        return StoredResult(status, body, etag, replayed=False)
    check_key(key)
    with write_transaction():
        return _once(user_id, key, request_fingerprint, method, path, work)


@dataclass(frozen=True)
class Item:
    """One write of a batch: what run_once takes, and the group (the case) it belongs to."""

    key: str
    fingerprint: str
    method: str
    path: str
    group: int | str
    work: Callable[[], tuple[int, str, str | None]]


def run_many(user_id: int, items: list[Item],
             refused: Callable[[Exception], tuple[int, str]]) -> list[StoredResult]:
    """Apply a tablet's queued writes in order, each exactly once, in one transaction (one
    disk sync for the lot) with a savepoint per item: a refused item changes nothing, and
    the later items of its group (its case, which they were based on) are held back with
    status 424. `refused` turns a typed error into (status, problem body)."""
    results: list[StoredResult] = []
    held: set[int | str] = set()
    with write_transaction():
        for item in items:
            if item.group in held:
                results.append(StoredResult(424, "", None, replayed=False))
                continue
            try:
                check_key(item.key)
                with db.session.begin_nested():
                    results.append(_once(user_id, item.key, item.fingerprint, item.method,
                                         item.path, item.work))
            except CaseflowError as error:
                status, body = refused(error)
                results.append(StoredResult(status, body, None, replayed=False))
                held.add(item.group)
    return results


def _once(user_id: int, key: str, request_fingerprint: str, method: str, path: str,
          work: Callable[[], tuple[int, str, str | None]]) -> StoredResult:
    connection = db.session.connection()
    table = IdempotencyRecord.__table__
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    reserved = connection.execute(
        dialect_insert(table)
        .values(user_id=user_id, key=key, fingerprint=request_fingerprint, method=method,
                path=path[:300], created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(table.c.id)
    ).scalar_one_or_none()
    if reserved is None:
        stored = connection.execute(
            select(table).where(table.c.user_id == user_id, table.c.key == key)
        ).one()
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
    status, body, etag = work()
    connection.execute(
        table.update().where(table.c.id == reserved)
        .values(status_code=status, body=body, etag=etag)
    )
    return StoredResult(status, body, etag, replayed=False)


def canonical_body(raw: bytes) -> bytes:
    """The same JSON document gives the same fingerprint however it was spaced or ordered
    (a request retried alone after being sent in a batch, or the other way round)."""
    try:
        document = json.loads(raw) if raw else None
    except ValueError:
        return raw
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def dumps(payload) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def created_id(user_id: int, key: str) -> int | None:
    """The id of what the write stored under (user, key) created or chose (a client, a case),
    or None while it has not been applied. A tablet names what it made offline by the key
    of the entry that made it (a provisional id), so later entries can follow it."""
    table = IdempotencyRecord.__table__
    row = db.session.connection().execute(
        select(table.c.status_code, table.c.body).where(table.c.user_id == user_id, table.c.key == key)
    ).one_or_none()
    if row is None or row.status_code is None or not 200 <= row.status_code < 300 or not row.body:
        return None
    try:
        value = json.loads(row.body).get("id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
