"""What the background tasks record about their own runs (`task_runs`): one row per run of a
periodic task, so a task that stopped running shows on the administrator's page, in
/readyz and in the metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import TaskRun

MESSAGE_CHARS = 500


def start_run(name: str) -> int:
    """A run of task `name` has started; returns its id."""
    with write_transaction():
        run = TaskRun(name=name, status="running", message="", started_at=utcnow())
        db.session.add(run)
        db.session.flush()
        return run.id


def finish_run(run_id: int, status: str, message: str) -> None:
    """The run has ended: `done`, or `failed` with the reason."""
    with write_transaction():
        run = db.session.get(TaskRun, run_id)
        run.status, run.message, run.finished_at = status, message[:MESSAGE_CHARS], utcnow()


def last_runs(names: list[str]) -> dict[str, tuple[TaskRun | None, TaskRun | None]]:
    """Per task name: (its latest run, its latest successful run)."""
    found: dict[str, tuple[TaskRun | None, TaskRun | None]] = {}
    for name in names:
        latest = select(TaskRun).where(TaskRun.name == name).order_by(TaskRun.started_at.desc(), TaskRun.id.desc())
        found[name] = (db.session.execute(latest.limit(1)).scalar_one_or_none(),
                       db.session.execute(latest.where(TaskRun.status == "done").limit(1)).scalar_one_or_none())
    return found


def last_success(name: str) -> datetime | None:
    return db.session.execute(select(func.max(TaskRun.finished_at)).where(
        TaskRun.name == name, TaskRun.status == "done")).scalar_one()


def prune_runs(keep: timedelta) -> int:
    """Forget runs that ended longer than `keep` ago (the latest of each task stays newer)."""
    with write_transaction():
        return db.session.execute(delete(TaskRun).where(TaskRun.finished_at < utcnow() - keep)).rowcount
