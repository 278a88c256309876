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
from ..errors import Conflict, ValidationError
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


def dumps(payload) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
