"""Appending audit events, sealing checkpoints, and verifying everything.

Each case has its own chain (as has each user, for logins and account changes, and the
system), so writes to different cases never wait on one shared row.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..audit.chain import (
    CHECKPOINT_GENESIS,
    checkpoint_digest,
    compute_event_hash,
    genesis_hash,
    jsonable,
)
from ..audit.verify import (
    CheckpointRecord,
    VerificationReport,
    verify_chain_events,
    verify_checkpoints,
    verify_heads,
)
from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import (
    AuditChainHead,
    AuditCheckpoint,
    AuditCheckpointEntry,
    AuditEvent,
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
) -> AuditEvent:
    """Append one event to `chain`, linked to the chain's current head.

    Must run inside the service's write transaction: the event commits or vanishes with
    the change it describes.
    """
    session = db.session
    head = _lock_head(chain)
    actor = actor or Actor.system()
    context = dict(context or {})
    if actor.via != "web":
        context.setdefault("via", actor.via)
    if actor.device_time is not None:
        context["device_time"] = actor.device_time
    fields = {
        "chain": chain,
        "seq": head.seq + 1,
        "prev_hash": head.hash,
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
    fields["hash"] = compute_event_hash(fields)
    event = AuditEvent(**fields)
    session.add(event)
    head.seq = fields["seq"]
    head.hash = fields["hash"]
    return event


def _lock_head(chain: str) -> AuditChainHead:
    session = db.session
    statement = select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    head = session.execute(statement).scalar_one_or_none()
    if head is not None:
        return head
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(AuditChainHead)
        .values(chain=chain, seq=0, hash=genesis_hash(chain), checkpointed_seq=0)
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    return session.execute(statement).scalar_one()


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


def create_checkpoint(actor: Actor | None = None, *, force: bool = False) -> AuditCheckpoint | None:
    """Seal every chain head that moved since the last checkpoint with a signed digest."""
    with write_transaction():
        session = db.session
        dirty = (
            session.execute(
                select(AuditChainHead)
                .where(AuditChainHead.seq > AuditChainHead.checkpointed_seq)
                .order_by(AuditChainHead.chain)
                .with_for_update()
            )
            .scalars()
            .all()
        )
        if not dirty and not force:
            return None
        previous = session.execute(
            select(AuditCheckpoint.digest).order_by(AuditCheckpoint.id.desc()).limit(1)
        ).scalar_one_or_none()
        prev_digest = previous or CHECKPOINT_GENESIS
        now = utcnow()
        entries = [(head.chain, head.seq, head.hash) for head in dirty]
        digest = checkpoint_digest(prev_digest, now, entries)
        key = signing_key()
        checkpoint = AuditCheckpoint(
            created_at=now,
            prev_digest=prev_digest,
            digest=digest,
            entry_count=len(entries),
            signature=base64.b64encode(key.sign(digest.encode())).decode(),
            public_key=public_key_pem(),
        )
        session.add(checkpoint)
        session.flush()
        if entries:
            session.execute(
                AuditCheckpointEntry.__table__.insert(),
                [{"checkpoint_id": checkpoint.id, "chain": c, "seq": s, "hash": h} for c, s, h in entries],
            )
        for head in dirty:
            head.checkpointed_seq = head.seq
        return checkpoint


# --- verification ------------------------------------------------------------------

_EVENT_COLUMNS = [
    AuditEvent.id, AuditEvent.chain, AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash,
    AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_role, AuditEvent.origin_ip,
    AuditEvent.user_agent, AuditEvent.action, AuditEvent.case_id, AuditEvent.before,
    AuditEvent.after, AuditEvent.context,
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


def verify_everything() -> VerificationReport:
    """Walk every chain, the heads table and every checkpoint; list what does not hold."""
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
    recorded = db.session.execute(
        select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash).order_by(AuditChainHead.chain)
    ).all()
    verify_heads(heads, [tuple(row) for row in recorded if row[1] > 0], report)
    verify_checkpoints(
        checkpoints, lambda chain, seq: sealed.get((chain, seq)), report,
        trusted_public_key=public_key_pem(),
    )
    db.session.rollback()
    return report


def verify_case_chain(case_id: int) -> VerificationReport:
    report = VerificationReport()
    chain = case_chain(case_id)
    heads = verify_chain_events(event_dicts(AuditEvent.chain == chain), report)
    recorded = db.session.execute(
        select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash).where(
            AuditChainHead.chain == chain
        )
    ).all()
    verify_heads(heads, [tuple(row) for row in recorded], report)
    return report


