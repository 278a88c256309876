"""Where a running job's progress lives, so whichever worker answers the poll can read it.

PostgreSQL: the job's own row, updated on a connection of its own, so pollers see it
while the job's transaction is still open.

SQLite: an import holds the database's only write lock for its whole all-or-nothing
transaction, so no row can be updated until it commits. There, progress goes to a small
file per job in the instance folder (an SQLite deployment is one server whose workers
share that folder), replaced atomically so a reader never sees half of one. The file
holds two numbers, nothing personal, and is removed when the job ends.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flask import current_app

from ..database import is_sqlite
from ..extensions import db
from ..models import ReportJob
from ..services.transfers import ACTIVE, record_progress

# Called after every report with (job token, done, total). Tests use it to look at a job
# in the middle of its work; nothing else sets it.
observer: Callable[[str, int, int], None] | None = None


def _in_files() -> bool:
    return is_sqlite(db.engine)


def _directory() -> Path:
    return Path(current_app.instance_path) / "job-progress"


def _path(token: str) -> Path:
    if not token.isalnum():  # tokens are hex; never a path of someone's choosing
        raise ValueError("not a job token")
    return _directory() / f"{token}.json"


def report(job_id: int, token: str, done: int, total: int) -> None:
    """Record that `done` of `total` items are finished."""
    if _in_files():
        _write_file(token, done, total)
    else:
        record_progress(job_id, done, total)
    if observer is not None:
        observer(token, done, total)


def _write_file(token: str, done: int, total: int) -> None:
    path = _path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump({"done": done, "total": total}, handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read(job: ReportJob) -> tuple[int, int]:
    """(done, total) of `job`, from wherever its progress lives now."""
    if job.status in ACTIVE and _in_files():
        try:
            found = json.loads(_path(job.token).read_text())
            return int(found["done"]), int(found["total"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not started yet, or already ended: the row says
    return job.done, job.total


def clear(token: str) -> None:
    """The job has ended: its row holds the final numbers."""
    if _in_files():
        _path(token).unlink(missing_ok=True)


def reported_since(token: str, moment: datetime) -> bool:
    """Whether a running job reported progress to its file after `moment` (SQLite)."""
    if not _in_files():
        return False
    try:
        return _path(token).stat().st_mtime > moment.timestamp()
    except OSError:
        return False


def purge_stale(older_than_seconds: float) -> int:
    """Remove progress files left by jobs that died (a worker killed mid-job)."""
    directory = _directory()
    if not directory.exists():
        return 0
    limit = time.time() - older_than_seconds
    removed = 0
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed
