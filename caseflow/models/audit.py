from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(db.Model):
    """One append-only entry of a hash chain (a chain per case, per user, or 'system')."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_audit_events_actor_time", "actor_id", "occurred_at"),
        Index("ix_audit_events_case_time", "case_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    origin_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    # Anything else worth proving later: device time of offline work, delegation, reason.
    context: Mapped[Any] = mapped_column(JSON, nullable=True)
    # The hash covers a salted digest of before/after/context, so retention can erase
    # the personal data in them (and the salt) and leave the chain verifiable.
    payload_salt: Mapped[str | None] = mapped_column(String(32))
    payload_digest: Mapped[str] = mapped_column(String(64))
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditChainHead(db.Model):
    """Last event of each chain: where the next event links, and what a checkpoint seals."""

    __tablename__ = "audit_chain_heads"
    __table_args__ = (Index("ix_audit_chain_heads_dirty", "checkpointed_seq", "seq"),)

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    checkpointed_seq: Mapped[int] = mapped_column(Integer, default=0)


class AuditCheckpoint(db.Model):
    """A signed seal over the heads that moved since the previous checkpoint.

    Each checkpoint links to the previous one's digest, so the checkpoints form a chain
    of their own, and a chain cut short after being sealed is detected.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)


class AuditCheckpointEntry(db.Model):
    __tablename__ = "audit_checkpoint_entries"

    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("audit_checkpoints.id"), primary_key=True
    )
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
