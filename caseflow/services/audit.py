"""Appending audit events, sealing checkpoints, and verifying everything.

Each case has its own chain (as has each user, for logins and account changes, and the
system), so writes to different cases never wait on one shared row.
"""

from __future__ import annotations

import base64
import contextvars
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy import event as orm_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..audit import external
from ..audit.chain import (
    CHECKPOINT_GENESIS,
    checkpoint_digest,
    genesis_hash,
    jsonable,
    seal_event,
)
from ..audit.verify import (
    CheckpointRecord,
    VerificationReport,
    verify_chain_events,
    verify_checkpoints,
    verify_heads,
)
from ..database import in_write_transaction, session_connection, utcnow, write_transaction
from ..extensions import db
from ..logs import current_request_id
from ..models import (
    ApiToken,
    AuditChainHead,
    AuditCheckpoint,
    AuditCheckpointEntry,
    AuditEvent,
    Case,
)
from .context import Actor


def case_chain(case_id: int) -> str:
    return f"case:{case_id}"


def user_chain(user_id: int) -> str:
    return f"user:{user_id}"


SYSTEM_CHAIN = "system"


def append_event(
    *,
    chain: str,
    action: str,
    actor: Actor | None,
    case_id: int | None = None,
    before: Any = None,
    after: Any = None,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Append one event to a user's or the system's chain; return its fields.

    Must run inside the service's write transaction: the event commits or vanishes with
    the change it describes. Case events go through `append_case_event`.
    """
    if chain.startswith("case:"):
        raise ValueError("case events are appended with append_case_event(case, …)")
    seq, prev_hash = _lock_head(chain)
    fields = _event_fields(chain, seq, prev_hash, action, actor, case_id, before, after, context, now)
    connection = session_connection()
    connection.execute(_INSERT_EVENT, fields)
    connection.execute(_UPDATE_HEAD, {"head_chain": chain, "head_seq": fields["seq"], "head_hash": fields["hash"]})
    return fields


def append_case_event(
    case: Case,
    *,
    action: str,
    actor: Actor | None,
    before: Any = None,
    after: Any = None,
    context: dict[str, Any] | None = None,
    now: datetime | None = None,
    deferred: bool = False,
) -> dict[str, Any]:
    """Append one event to the case's own chain, whose head lives on the case row.

    The caller holds the case locked (services load it with `locking.lock_case`), so no other
    transaction can link to the same head. With `deferred`, the event is linked into the
    chain now but its row is left for the caller to write with its own last statement
    (`take_deferred_case_event`); an event appended to the case meanwhile writes it first,
    so the rows are inserted in their chain's order.
    """
    write_deferred_case_event(case)
    chain = case_chain(case.id)
    if case.audit_hash is None:
        case.audit_seq, case.audit_hash = 0, genesis_hash(chain)
    fields = _event_fields(
        chain, case.audit_seq, case.audit_hash, action, actor, case.id, before, after, context, now
    )
    if deferred:
        case.__dict__[_DEFERRED_EVENT] = fields
    else:
        session_connection().execute(_INSERT_EVENT, fields)
    case.audit_seq, case.audit_hash = fields["seq"], fields["hash"]
    return fields


# Where a case keeps the fields of its deferred event until they are written.
_DEFERRED_EVENT = "_caseflow_deferred_event"


def take_deferred_case_event(case: Case) -> dict[str, Any] | None:
    """The case's deferred event, now the caller's to write in the same transaction."""
    return case.__dict__.pop(_DEFERRED_EVENT, None)


def write_deferred_case_event(case: Case) -> None:
    """Insert the case's deferred event, if it has one still unwritten."""
    fields = take_deferred_case_event(case)
    if fields is not None:
        session_connection().execute(_INSERT_EVENT, fields)


# The personal access tokens whose use an audit event of the current request named.
_token_uses: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar("token_uses", default=None)


def count_token_uses() -> None:
    """A request with a token starts: no use of it recorded yet."""
    _token_uses.set(set())


def token_use_recorded(token_id: int) -> bool:
    return token_id in (_token_uses.get() or ())


def note_token_use(token_id: int) -> None:
    """In the current write transaction: the token was used now (its last use, in the same
    transaction as the event that names it). On the connection: the session's changes
    waiting to be written are not flushed first (a step's case version would be written
    twice: here, and with its audit head)."""
    session_connection().execute(ApiToken.__table__.update().where(ApiToken.__table__.c.id == token_id)
                       .values(last_used_at=utcnow()))
    uses = _token_uses.get()
    if uses is not None:
        uses.add(token_id)


def _event_fields(chain, seq, prev_hash, action, actor, case_id, before, after, context, now) -> dict[str, Any]:
    actor = actor or Actor.system()
    context = dict(context or {})
    if actor.via != "web":
        context.setdefault("via", actor.via)
    if actor.token_id is not None and "token_id" not in context:
        context["token_id"] = actor.token_id
        if not token_use_recorded(actor.token_id):
            note_token_use(actor.token_id)
    if (request_id := current_request_id()) is not None:
        context.setdefault("request_id", request_id)
    if actor.device_time is not None:
        context["device_time"] = actor.device_time
    fields = {
        "chain": chain,
        "seq": seq + 1,
        "prev_hash": prev_hash,
        "occurred_at": now or utcnow(),
        "actor_id": actor.user_id,
        "actor_role": actor.role,
        "origin_ip": actor.origin_ip,
        "user_agent": (actor.user_agent or None) and actor.user_agent[:300],
        "action": action,
        "case_id": case_id,
        "before": jsonable(before),
        "after": jsonable(after),
        "context": jsonable(context) or None,
    }
    return seal_event(fields)


_events = AuditEvent.__table__
_heads = AuditChainHead.__table__
_INSERT_EVENT = _events.insert()
# The columns an appended event writes (the fields _event_fields gives).
_EVENT_FIELDS = ("chain", "seq", "prev_hash", "occurred_at", "actor_id", "actor_role", "origin_ip", "user_agent",
                 "action", "case_id", "before", "after", "context", "payload_salt", "payload_digest", "hash")


def insert_event_under(prefix: str) -> Any:
    """An INSERT of one event whose values are bound as `prefix` + field name (`event_params`),
    for a statement that sends it with others (a WITH clause on PostgreSQL)."""
    return _events.insert().values({name: bindparam(prefix + name) for name in _EVENT_FIELDS})


def event_params(fields: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {prefix + name: fields[name] for name in _EVENT_FIELDS}
_UPDATE_HEAD = (
    _heads.update()
    .where(_heads.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
_SELECT_HEAD = select(_heads.c.seq, _heads.c.hash).where(_heads.c.chain == bindparam("chain")).with_for_update()


def _lock_head(chain: str) -> tuple[int, str]:
    """The chain's head, locked until the transaction ends (PostgreSQL row lock; SQLite
    holds the database write lock already)."""
    connection = session_connection()
    row = connection.execute(_SELECT_HEAD, {"chain": chain}).first()
    if row is not None:
        return row.seq, row.hash
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        dialect_insert(_heads)
        .values(chain=chain, seq=0, hash=genesis_hash(chain), checkpointed_seq=0)
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    row = connection.execute(_SELECT_HEAD, {"chain": chain}).one()
    return row.seq, row.hash


# --- checkpoints -------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    path = Path(current_app.config["CASEFLOW_AUDIT_KEY_PATH"])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        except FileExistsError:
            pass
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem() -> str:
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def checkpoint_log_path() -> Path:
    return Path(current_app.config["CASEFLOW_CHECKPOINT_LOG"])


def _log_checkpoint(line: dict[str, Any]) -> None:
    """Record a committed checkpoint outside the database (audit.external). A log that
    cannot be written must not undo the checkpoint nor fail an auditor's export: it is
    reported to the operator's log instead."""
    try:
        external.append(checkpoint_log_path(), line)
    except OSError as exc:
        current_app.logger.error("checkpoint %s sealed but not written to the checkpoint log %s: %s",
                                 line["id"], checkpoint_log_path(), exc)


_AFTER_COMMIT = "caseflow.after_commit"


def _after_commit(action) -> None:
    """Run `action` once the current write transaction has committed (never if it rolls back)."""
    db.session().info.setdefault(_AFTER_COMMIT, []).append(action)


@orm_event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, []):
        action()


@orm_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)


def create_checkpoint(actor: Actor | None = None, *, force: bool = False) -> AuditCheckpoint | None:
    """Seal every chain head that moved since the last checkpoint with a signed digest,
    and record it in the checkpoint log once it is committed.

    Heads live in two places (case chains on the case row, the others in
    audit_chain_heads); both are locked while they are sealed.
    """
    nested = in_write_transaction()
    checkpoint = _seal_checkpoint(force)
    if checkpoint is not None:
        line = external.checkpoint_line(checkpoint.id, checkpoint.created_at, checkpoint.digest,
                                        checkpoint.prev_digest, checkpoint.entry_count)
        if nested:
            _after_commit(lambda: _log_checkpoint(line))
        else:
            _log_checkpoint(line)
    return checkpoint


def _seal_checkpoint(force: bool) -> AuditCheckpoint | None:
    with write_transaction():
        session = db.session
        dirty_heads = session.execute(
            select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash)
            .where(AuditChainHead.seq > AuditChainHead.checkpointed_seq)
            .with_for_update()
        ).all()
        dirty_cases = session.execute(
            select(Case.id, Case.audit_seq, Case.audit_hash)
            .where(Case.audit_seq > Case.audit_checkpointed_seq)
            .with_for_update()
        ).all()
        entries = sorted(
            [(row.chain, row.seq, row.hash) for row in dirty_heads]
            + [(case_chain(row.id), row.audit_seq, row.audit_hash) for row in dirty_cases]
        )
        if not entries and not force:
            return None
        previous = session.execute(
            select(AuditCheckpoint.digest).order_by(AuditCheckpoint.id.desc()).limit(1)
        ).scalar_one_or_none()
        prev_digest = previous or CHECKPOINT_GENESIS
        now = utcnow()
        digest = checkpoint_digest(prev_digest, now, entries)
        checkpoint = AuditCheckpoint(
            created_at=now,
            prev_digest=prev_digest,
            digest=digest,
            entry_count=len(entries),
            signature=base64.b64encode(signing_key().sign(digest.encode())).decode(),
            public_key=public_key_pem(),
        )
        session.add(checkpoint)
        session.flush()
        connection = session.connection()
        if entries:
            connection.execute(
                AuditCheckpointEntry.__table__.insert(),
                [{"checkpoint_id": checkpoint.id, "chain": c, "seq": s, "hash": h} for c, s, h in entries],
            )
        if dirty_heads:
            connection.execute(
                _heads.update().where(_heads.c.chain == bindparam("head_chain"))
                .values(checkpointed_seq=bindparam("head_seq")),
                [{"head_chain": row.chain, "head_seq": row.seq} for row in dirty_heads],
            )
        if dirty_cases:
            cases = Case.__table__
            connection.execute(
                cases.update().where(cases.c.id == bindparam("case_id"))
                .values(audit_checkpointed_seq=bindparam("case_seq")),
                [{"case_id": row.id, "case_seq": row.audit_seq} for row in dirty_cases],
            )
        return checkpoint


def recorded_heads(chain: str | None = None) -> list[tuple[str, int, str]]:
    """Every chain's head as the application recorded it (case rows and the heads table)."""
    heads = select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.seq > 0)
    cases = select(Case.id, Case.audit_seq, Case.audit_hash).where(Case.audit_seq > 0)
    if chain is not None:
        heads = heads.where(AuditChainHead.chain == chain)
        cases = cases.where(Case.id == int(chain.split(":", 1)[1])) if chain.startswith("case:") else None
    rows = [tuple(row) for row in db.session.execute(heads)]
    if cases is not None:
        rows += [(case_chain(row.id), row.audit_seq, row.audit_hash) for row in db.session.execute(cases)]
    return sorted(rows)


# --- verification ------------------------------------------------------------------

_EVENT_COLUMNS = [
    AuditEvent.id, AuditEvent.chain, AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash,
    AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.origin_ip,
    AuditEvent.user_agent, AuditEvent.action, AuditEvent.case_id, AuditEvent.before,
    AuditEvent.after, AuditEvent.context, AuditEvent.payload_salt, AuditEvent.payload_digest,
    AuditEvent.redacted_at,
]


def event_dicts(*conditions) -> Iterator[dict[str, Any]]:
    statement = select(*_EVENT_COLUMNS).order_by(AuditEvent.chain, AuditEvent.seq)
    if conditions:
        statement = statement.where(*conditions)
    result = db.session.execute(statement.execution_options(yield_per=5000))
    for row in result.mappings():
        yield dict(row)


def load_checkpoints() -> list[CheckpointRecord]:
    session = db.session
    entries: dict[int, list[tuple[str, int, str]]] = {}
    for entry in session.execute(select(AuditCheckpointEntry)).scalars():
        entries.setdefault(entry.checkpoint_id, []).append((entry.chain, entry.seq, entry.hash))
    return [
        CheckpointRecord(
            id=c.id, created_at=c.created_at, prev_digest=c.prev_digest, digest=c.digest,
            signature=c.signature, public_key=c.public_key, entries=entries.get(c.id, []),
        )
        for c in session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).scalars()
    ]


def verify_everything(*, outside: bool = True,
                      evidence: list[external.ExternalRecord] | None = None) -> VerificationReport:
    """Walk every chain, the heads table and every checkpoint; list what does not hold.

    With `outside`, also compare the database's checkpoints with those recorded outside
    it (the checkpoint log, and the newest checkpoint of any `evidence` package given), so
    that a database put back to an older copy is reported, not only a tampered one.
    """
    report = VerificationReport()
    checkpoints = load_checkpoints()
    wanted = {(chain, seq) for c in checkpoints for chain, seq, _ in c.entries}
    sealed: dict[tuple[str, int], str] = {}

    def remember_sealed(events: Iterator[dict]) -> Iterator[dict]:
        for event in events:
            key = (event["chain"], event["seq"])
            if key in wanted:
                sealed[key] = event["hash"]
            yield event

    heads = verify_chain_events(remember_sealed(event_dicts()), report)
    verify_heads(heads, recorded_heads(), report)
    verify_checkpoints(
        checkpoints, lambda chain, seq: sealed.get((chain, seq)), report,
        trusted_public_key=public_key_pem(),
    )
    if outside:
        recorded = external.external_checkpoints([external.read_log(checkpoint_log_path()), *(evidence or [])])
        external.verify_against_external({c.id: c.digest for c in checkpoints}, recorded, report)
    db.session.rollback()
    return report


@dataclass(frozen=True)
class HistoryMark:
    """How far the live database's audit history goes beyond a given event id."""

    events_after: int
    newest_event_at: datetime | None
    checkpoint_id: int | None
    checkpoint_digest: str | None
    checkpoint_at: datetime | None


def history_mark(after_event_id: int) -> HistoryMark:
    """The live history beyond event `after_event_id`, and the newest checkpoint. A database
    without the audit tables (a new installation) has no history to lose."""
    try:
        count, newest = db.session.execute(
            select(func.count(), func.max(AuditEvent.occurred_at)).where(AuditEvent.id > after_event_id)
        ).one()
        checkpoint = db.session.execute(
            select(AuditCheckpoint.id, AuditCheckpoint.digest, AuditCheckpoint.created_at)
            .order_by(AuditCheckpoint.id.desc()).limit(1)
        ).first()
    except SQLAlchemyError:
        count, newest, checkpoint = 0, None, None
    finally:
        db.session.rollback()
    return HistoryMark(count, newest, *(tuple(checkpoint) if checkpoint else (None, None, None)))


def verify_case_chain(case_id: int) -> VerificationReport:
    report = VerificationReport()
    chain = case_chain(case_id)
    heads = verify_chain_events(event_dicts(AuditEvent.chain == chain), report)
    verify_heads(heads, recorded_heads(chain), report)
    return report


