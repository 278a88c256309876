"""Backups and restores of the whole installation, as they are recorded in the system's
audit chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..audit import external
from ..audit.chain import format_time
from ..database import utcnow, write_transaction
from ..security.backup import backup_history
from .audit import SYSTEM_CHAIN, append_event, checkpoint_log_path, history_mark
from .context import Actor


def record_backup(actor: Actor, path: str | Path) -> None:
    """Recorded before the copy is taken, so the backup holds its own event."""
    with write_transaction():
        append_event(chain=SYSTEM_CHAIN, action="backup.created", actor=actor,
                     context={"file": Path(path).name})


@dataclass(frozen=True)
class Rollback:
    """What restoring an older backup over the live database would discard."""

    backup: str  # the backup file's name
    discarded_events: int
    newest_event_at: datetime | None
    lost_checkpoint: int | None  # the live database's newest checkpoint, if the backup lacks it
    lost_checkpoint_at: datetime | None

    def describe(self) -> str:
        lost = []
        if self.discarded_events:
            newest = f", the newest at {format_time(self.newest_event_at)}" if self.newest_event_at else ""
            lost.append(f"{self.discarded_events} audit event(s) recorded after the backup was taken{newest}")
        if self.lost_checkpoint is not None:
            sealed = f" sealed at {format_time(self.lost_checkpoint_at)}" if self.lost_checkpoint_at else ""
            lost.append(f"checkpoint {self.lost_checkpoint}{sealed}")
        return " and ".join(lost)

    def as_dict(self) -> dict[str, Any]:
        return {"backup": self.backup, "discarded_events": self.discarded_events,
                "newest_event_at": format_time(self.newest_event_at) if self.newest_event_at else None,
                "lost_checkpoint": self.lost_checkpoint}


def rollback_by_restoring(url: str, source: str | Path) -> Rollback | None:
    """Whether the live database holds audit history the backup in `source` lacks: events
    recorded after it was taken, or a checkpoint it does not hold. None if restoring it
    loses nothing that was acknowledged."""
    backup = backup_history(url, source)
    live = history_mark(backup.last_event_id)
    lost_checkpoint = (live.checkpoint_id if live.checkpoint_id is not None
                       and backup.checkpoints.get(live.checkpoint_id) != live.checkpoint_digest else None)
    if not live.events_after and lost_checkpoint is None:
        return None
    return Rollback(Path(source).name, live.events_after, live.newest_event_at, lost_checkpoint,
                    live.checkpoint_at if lost_checkpoint is not None else None)


def record_restore(actor: Actor, path: str | Path, chain_ok: bool, rollback: Rollback | None = None) -> None:
    """After a restore, the restored history says it was restored (and from what). A forced
    rollback is also written to the checkpoint log, outside the database, where `caseflow
    audit verify` reports it from then on."""
    context: dict[str, Any] = {"file": Path(path).name, "audit_chain_verified": chain_ok}
    if rollback is not None:
        context["forced_rollback"] = rollback.as_dict()
    with write_transaction():
        append_event(chain=SYSTEM_CHAIN, action="backup.restored", actor=actor, context=context)
    if rollback is not None:  # OSError: the caller says the log could not be written
        external.append(checkpoint_log_path(), {"kind": "rollback", "at": format_time(utcnow()),
                                                **rollback.as_dict()})
