"""Operations on the installation as a whole that belong in the audit trail: backups
and restores."""

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


def reencrypt_fields(actor: Actor, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value that is not under the current (first) key, in
    batches of one transaction each; return how many values per column. Safe to run again
    after an interruption: values already under the current key are skipped."""
    import sqlalchemy as sa

    from ..extensions import db
    from ..security.fields import ENCRYPTED_COLUMNS, forget_keys, keyring

    forget_keys()
    ring = keyring()
    current = f"cf1:{ring.current_id}:"
    counts: dict[str, int] = {}
    for table_name, pk_name, column_name in ENCRYPTED_COLUMNS:
        # A lightweight table with a plain TEXT column: the stored ciphertext, untouched.
        table = sa.table(table_name, sa.column(pk_name, sa.Integer), sa.column(column_name, sa.Text))
        pk, column = table.c[pk_name], table.c[column_name]
        context = f"{table_name}.{column_name}"
        done, last_id = 0, 0
        while True:
            with write_transaction():
                rows = db.session.execute(
                    sa.select(pk, column).where(pk > last_id, column.is_not(None),
                                                sa.not_(column.startswith(current)))
                    .order_by(pk).limit(batch_size)
                ).all()
                for row_id, stored in rows:
                    db.session.execute(
                        sa.update(table).where(pk == row_id)
                        .values({column_name: ring.encrypt(ring.decrypt(stored, context), context)})
                    )
            if not rows:
                break
            done += len(rows)
            last_id = rows[-1][0]
        counts[context] = done
    with write_transaction():
        append_event(chain=SYSTEM_CHAIN, action="keys.rotated", actor=actor,
                     context={"key_id": ring.current_id, "reencrypted": counts})
    return counts
