"""The task queue: Huey, storing its queue in an SQLite file in the instance folder by
default (`make run` needs nothing else) or in Redis when CASEFLOW_TASKS_URL is a
`redis://` address (several servers). `caseflow worker` runs the consumer.

Two kinds of work go through it:
- jobs (`job(kind)`): a long import or export whose state lives in `report_jobs`; the web
  request creates the row and enqueues (kind, job id), whichever worker runs it;
- periodic tasks (`periodic(name, every, …crontab)`): the schedule is declared in code, next
  to the task (caseflow/tasks.py: checkpoints, escalation, sealing, purging, retention). Every
  run is recorded in `task_runs` (services.task_runs); a task without a successful run for
  twice its period is late, and says so on the administrator's page, in /readyz and in the
  metrics. Another area adds its own periodic task (a reminder, say) with the decorator, in a
  module create_app imports before `init_app` (see caseflow/tasks.py).

When testing (or with CASEFLOW_JOBS_INLINE=1) tasks run at once, in the caller's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

from .database import utcnow
from .extensions import db
from .services import task_runs

NAME = "caseflow"


@dataclass(frozen=True)
class Periodic:
    name: str
    every: timedelta  # how often it should run: late after twice this without a success
    schedule: Callable  # huey.crontab(...)
    run: Callable[[], str | None]  # does the work; returns one line saying what it did


PERIODIC: dict[str, Periodic] = {}
JOBS: dict[str, Callable[[int], None]] = {}


def periodic(name: str, every: timedelta, **when: str) -> Callable:
    """Declare `function` a periodic task run at the crontab fields `when` (UTC)."""
    def register(function: Callable[[], str | None]) -> Callable[[], str | None]:
        PERIODIC[name] = Periodic(name, every, crontab(**when), function)
        return function
    return register


def job(kind: str) -> Callable:
    """Declare `function(job_id)` the runner of `report_jobs` rows of `kind`."""
    def register(function: Callable[[int], None]) -> Callable[[int], None]:
        JOBS[kind] = function
        return function
    return register


def make_huey(config: dict, instance_path: str) -> Huey:
    url = config.get("CASEFLOW_TASKS_URL") or ""
    if config.get("TESTING") or config.get("CASEFLOW_JOBS_INLINE") or url == "memory://":
        return MemoryHuey(NAME, immediate=bool(config.get("TESTING") or config.get("CASEFLOW_JOBS_INLINE")))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(NAME, url=url)
    path = Path(url.removeprefix("sqlite:///")) if url else Path(instance_path) / "tasks.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(NAME, filename=str(path))


def init_app(app: Flask) -> None:
    huey = make_huey(app.config, app.instance_path)
    app.extensions["caseflow.huey"] = huey

    @huey.task(name="caseflow.job")
    def run_job(kind: str, job_id: int) -> None:
        with app.app_context():
            try:
                JOBS[kind](job_id)
            finally:
                db.session.remove()

    app.extensions["caseflow.run_job"] = run_job
    app.extensions["caseflow.periodic"] = {
        spec.name: huey.periodic_task(spec.schedule, retries=2, retry_delay=60, name=spec.name)(_recorded(app, spec))
        for spec in PERIODIC.values()}


def enqueue_late() -> list[str]:
    """Queue every late periodic task now (a worker starting after a stop catches up at
    once instead of at each task's next scheduled time). Returns their names."""
    late = [item.name for item in lateness() if item.late]
    for name in late:
        current_app.extensions["caseflow.periodic"][name]()
    return late


def _recorded(app: Flask, spec: Periodic) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                run_now(spec.name)
            finally:
                db.session.remove()
    return run


def run_now(name: str) -> str:
    """Run periodic task `name` here and now, recording the run; re-raises its failure
    (the consumer retries it)."""
    spec = PERIODIC[name]
    run_id = task_runs.start_run(name)
    try:
        message = spec.run() or ""
    except Exception as exc:
        db.session.rollback()
        task_runs.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    task_runs.finish_run(run_id, "done", message)
    return message


def enqueue_job(kind: str, job_id: int) -> None:
    """Have a worker run job `job_id` (at once when testing)."""
    current_app.extensions["caseflow.run_job"](kind, job_id)


def huey() -> Huey:
    return current_app.extensions["caseflow.huey"]


@dataclass(frozen=True)
class Lateness:
    name: str
    every: timedelta
    last_success_age: timedelta | None  # None: never ran successfully

    @property
    def late(self) -> bool:
        return self.last_success_age is None or self.last_success_age > 2 * self.every


def lateness() -> list[Lateness]:
    """Every periodic task, with how long ago it last succeeded."""
    now = utcnow()
    found = []
    for name, spec in sorted(PERIODIC.items()):
        last = task_runs.last_success(name)
        found.append(Lateness(name, spec.every, None if last is None else now - last))
    return found


def last_runs(names: list[str]):
    """Per periodic task name: (its latest run, its latest successful run)."""
    return task_runs.last_runs(names)


def pending_count() -> int:
    """Tasks waiting in the queue (not the scheduled ones)."""
    return huey().pending_count()
