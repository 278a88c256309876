"""Checkpoints kept outside the database, so that a database put back to an older copy
is noticed.

The hash chains and the checkpoints inside the database prove that its history was not
altered — but an older copy of the database (a backup restored over newer work) is a
perfectly consistent history too, only shorter. What exposes it is a record of later
checkpoints held somewhere else:

- the **checkpoint log**, an append-only file of JSON lines beside the instance (one
  line for every checkpoint sealed: its id, time, digest — which covers every chain head
  it sealed — and the previous digest; and one line for every rollback forced with
  `caseflow restore --force`);
- the last checkpoint of an **evidence package** exported earlier.

This module reads and writes that file and compares it with the database's checkpoints;
it knows nothing of Flask or SQLAlchemy.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .chain import format_time
from .verify import Problem, VerificationReport


@dataclass(frozen=True)
class ExternalCheckpoint:
    id: int
    digest: str
    created_at: str
    source: str  # where it was found, for the message ("checkpoint log line 12")


@dataclass
class ExternalRecord:
    checkpoints: list[ExternalCheckpoint] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def checkpoint_line(checkpoint_id: int, created_at: datetime, digest: str, prev_digest: str,
                    heads: int) -> dict[str, Any]:
    return {"kind": "checkpoint", "id": checkpoint_id, "created_at": format_time(created_at),
            "digest": digest, "prev_digest": prev_digest, "heads": heads}


def append(path: str | Path, record: dict[str, Any]) -> None:
    """Add one line to the log: created owner-only (0600), opened for appending only, the
    line written with a single call so that lines from several processes never mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_log(path: str | Path) -> ExternalRecord:
    record = ExternalRecord()
    path = Path(path)
    if not path.exists():
        return record
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                line = json.loads(raw)
                if line.get("kind") == "rollback":
                    record.rollbacks.append({**line, "source": where})
                    continue
                record.checkpoints.append(ExternalCheckpoint(
                    int(line["id"]), str(line["digest"]), str(line.get("created_at", "")), where))
            except (ValueError, KeyError, TypeError, AttributeError):
                record.unreadable.append(where)
    return record


def package_checkpoint(checkpoints: list[dict[str, Any]], source: str) -> ExternalCheckpoint | None:
    """The newest checkpoint an evidence package carries (already verified by the caller)."""
    readable = [c for c in checkpoints if isinstance(c, dict) and "id" in c and "digest" in c]
    if not readable:
        return None
    newest = max(readable, key=lambda c: int(c["id"]))
    return ExternalCheckpoint(int(newest["id"]), str(newest["digest"]), str(newest.get("created_at", "")), source)


def verify_against_external(database: Mapping[int, str], external: ExternalRecord,
                            report: VerificationReport) -> None:
    """Every checkpoint recorded outside must still be in the database, unchanged; every
    forced rollback recorded outside is reported.

    `database` maps each checkpoint id in the database to its digest.
    """
    for unreadable in external.unreadable:
        report.problems.append(Problem(
            "rollback", None, None, None,
            f"{unreadable}: not readable — the checkpoint log was damaged or altered",
        ))
    for rollback in external.rollbacks:
        report.problems.append(Problem("rollback", None, None, None, rollback_message(rollback)))
    newest_in_database = max(database, default=0)
    missing, different = [], []
    for checkpoint in external.checkpoints:
        digest = database.get(checkpoint.id)
        if digest is None:
            missing.append(checkpoint)
        elif digest != checkpoint.digest:
            different.append(checkpoint)
    if different:
        first = different[0]
        report.problems.append(Problem(
            "rollback", None, None, None,
            f"checkpoint {first.id}: the database holds a different checkpoint {first.id} than the one "
            f"sealed at {first.created_at} ({first.source})"
            + (f", and {len(different) - 1} more differ" if len(different) > 1 else "")
            + " — the database was put back to an older copy and checkpoints were sealed again since, "
            "or its checkpoints were rewritten",
        ))
    beyond = [c for c in missing if c.id > newest_in_database]
    if beyond:
        newest = max(beyond, key=lambda c: c.id)
        report.problems.append(Problem(
            "rollback", None, None, None,
            f"the database's newest checkpoint is {newest_in_database or 'none'}, but checkpoint {newest.id} "
            f"was sealed at {newest.created_at} ({newest.source}) — the database was put back to an older "
            "copy (restored from a backup or rolled back); what was recorded after its newest checkpoint "
            "is lost",
        ))
    removed = [c for c in missing if c.id <= newest_in_database]
    if removed:
        first = removed[0]
        report.problems.append(Problem(
            "rollback", None, None, None,
            f"checkpoint {first.id}, sealed at {first.created_at} ({first.source}), is missing from the "
            "database" + (f", and {len(removed) - 1} more" if len(removed) > 1 else "")
            + " — checkpoints were removed",
        ))


def rollback_message(rollback: Mapping[str, Any]) -> str:
    lost = []
    if rollback.get("discarded_events"):
        lost.append(f"{rollback['discarded_events']} audit event(s) recorded after the backup"
                    + (f" (the newest at {rollback['newest_event_at']})" if rollback.get("newest_event_at") else ""))
    if rollback.get("lost_checkpoint"):
        lost.append(f"checkpoint {rollback['lost_checkpoint']}")
    return (f"at {rollback.get('at', '?')} the database was replaced with the older backup "
            f"{rollback.get('backup', '?')} (`caseflow restore --force`, {rollback.get('source', 'checkpoint log')}): "
            + (" and ".join(lost) if lost else "newer history") + " were discarded")


def external_checkpoints(records: Iterable[ExternalRecord]) -> ExternalRecord:
    merged = ExternalRecord()
    for record in records:
        merged.checkpoints += record.checkpoints
        merged.rollbacks += record.rollbacks
        merged.unreadable += record.unreadable
    return merged
