"""Backups and restores of the whole installation, as they are recorded in the system's
audit chain."""

from __future__ import annotations

from pathlib import Path

from ..database import write_transaction
from .audit import SYSTEM_CHAIN, append_event
from .context import Actor


def record_backup(actor: Actor, path: str | Path) -> None:
    """Recorded before the copy is taken, so the backup holds its own event."""
    with write_transaction():
        append_event(chain=SYSTEM_CHAIN, action="backup.created", actor=actor,
                     context={"file": Path(path).name})


def record_restore(actor: Actor, path: str | Path, chain_ok: bool) -> None:
    """After a restore, the restored history says it was restored (and from what)."""
    with write_transaction():
        append_event(chain=SYSTEM_CHAIN, action="backup.restored", actor=actor,
                     context={"file": Path(path).name, "audit_chain_verified": chain_ok})
