"""Long imports run as jobs whose state lives in `report_jobs`, so whichever worker
answers the progress poll knows how far the job is (no state shared in memory; the
progress itself lives where `transfers.progress` keeps it). Long exports: `export_jobs`.
Both run in a worker of the task queue (`caseflow.queue`); a job whose worker stopped is
retried or ended as failed by `recover_interrupted` (a periodic task), never left running.

The checked rows wait in the job until the user applies or discards them, and are
erased from it as soon as either happens (they hold personal data), or when nobody did
either within CASEFLOW_EXPORT_KEEP_HOURS (`expire_checked_imports`: before every new
import, and from `caseflow exports purge`). The job rows are written by
`services.transfers`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..database import utcnow
from ..errors import CaseflowError, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import ReportJob, User
from ..queue import enqueue_job
from ..queue import job as queue_job
from ..services import transfers as service
from ..services.context import Actor
from . import imports, progress


def create_import_job(actor: Actor, filename: str, checks: list[imports.RowCheck]) -> ReportJob:
    """Keep what applying the valid rows needs, and the problems of the first
    imports.ERRORS_KEPT invalid rows (the rest are counted): a file of junk rows costs the
    database a few kilobytes, not the file's size again."""
    expire_checked_imports()
    valid = [c for c in checks if c.valid]
    invalid = [c for c in checks if not c.valid]
    return service.create_job(actor.user_id, "import", "checked", len(valid), {
        "filename": filename[:200], "rows": [c.as_dict() for c in valid], "invalid": len(invalid),
        "errors": [c.as_dict() for c in invalid[:imports.ERRORS_KEPT]]})


def owned_job(user: User, token: str, kind: str, missing) -> ReportJob:
    """The `kind` job `token` of `user`; anyone else's looks like nothing (`missing`)."""
    job = db.session.execute(
        select(ReportJob).where(ReportJob.token == token, ReportJob.kind == kind)
    ).scalar_one_or_none()
    if job is None or job.user_id != user.id:
        raise NotFound(missing)
    return job


def get_job(user: User, token: str) -> ReportJob:
    return owned_job(user, token, "import", _l("No such import."))


def checks_of(job: ReportJob) -> list[imports.RowCheck]:
    """The valid rows a checked import waits to apply."""
    return [imports.RowCheck.from_dict(row) for row in (job.result or {}).get("rows", [])]


@dataclass(frozen=True)
class CheckSummary:
    checked: int  # rows read
    valid: int
    invalid: int
    errors: list[imports.RowCheck]  # the first invalid rows, with their problems

    @property
    def errors_not_listed(self) -> int:
        return self.invalid - len(self.errors)


def check_summary(job: ReportJob) -> CheckSummary:
    result = job.result or {}
    if "errors" not in result:  # checked before only the first errors were kept: rows held them all
        invalid_rows = [check for check in checks_of(job) if not check.valid]
        errors = invalid_rows[:imports.ERRORS_KEPT]
        invalid = len(invalid_rows)
    else:
        errors = [imports.RowCheck.from_dict(row) for row in result["errors"]]
        invalid = int(result.get("invalid", len(errors)))
    return CheckSummary(job.total + invalid, job.total, invalid, errors)


def _finish(job_id: int, status: str, message: str, summary: dict[str, Any], done: int | None = None) -> None:
    progress.clear(service.finish_job(job_id, status, message, summary, done))


def expire_checked_imports() -> int:
    """Erase the rows of checked imports left neither applied nor discarded for
    CASEFLOW_EXPORT_KEEP_HOURS: they hold the personal data of a whole register. Returns
    how many were expired."""
    keep = timedelta(hours=int(current_app.config.get("CASEFLOW_EXPORT_KEEP_HOURS", 24)))
    return service.expire_checked_imports(keep)


def _not_waiting(job: ReportJob) -> CaseflowError:
    if job.status == "expired":
        return CaseflowError(_l("This check has expired; upload the file again."))
    return CaseflowError(_l("This import has already started."))


def discard(user: User, token: str) -> ReportJob:
    job = get_job(user, token)
    if job.status != "checked":
        raise _not_waiting(job)
    _finish(job.id, "discarded", str(_l("Nothing was imported.")), {})
    return job


def start_import(actor: Actor, token: str) -> ReportJob:
    """Apply the job's valid rows in the background: a worker of the task queue (at once
    when testing)."""
    job = get_job(actor.user, token)
    origin = {"ip": actor.origin_ip, "agent": actor.user_agent, "via": actor.via}
    if not service.claim_job(job.id, "checked", origin=origin):
        db.session.refresh(job)
        raise _not_waiting(job)
    enqueue_job("import", job.id)
    return job


@queue_job("import")
def run_import_job(job_id: int) -> None:
    """Apply a started import's rows; whatever happens, the job ends with a message."""
    try:
        job_row = db.session.get(ReportJob, job_id)
        if job_row is None or job_row.status != "running":
            return  # already ended (recovered as interrupted, say)
        job_token, total, user_id = job_row.token, job_row.total, job_row.user_id
        origin = (job_row.result or {}).get("origin") or {}
        checks = checks_of(job_row)
        db.session.rollback()
        user = db.session.get(User, user_id)
        worker = Actor(user=user, origin_ip=origin.get("ip"), user_agent=origin.get("agent"),
                       via=origin.get("via") or "web")
        # Progress is kept outside the import's transaction (transfers.progress), so
        # the bar moves while the rows are applied, on SQLite too.
        applied = imports.apply_rows(worker, checks, all_or_nothing=False,
                                     progress=lambda n: progress.report(job_id, job_token, n, total))
        _finish(job_id, "done", str(_l("%(n)s cases imported.", n=len(applied))),
                {"applied": [{"row": row, "case": number} for row, number in applied]},
                done=len(applied))
    except Exception as exc:  # the job must end with a message, whatever happened
        db.session.rollback()
        current_app.logger.exception("import job %s failed", job_id)
        message = str(getattr(exc, "message", None) or _l("The import failed; nothing was imported."))
        _finish(job_id, "failed", message, {})


EXPORT_ATTEMPTS = 2  # an export whose worker stopped is tried once more


def recover_interrupted() -> tuple[int, int]:
    """Jobs left "running" by a worker that stopped (killed, recycled, the server
    restarted): nothing reported for CASEFLOW_JOB_STALE_MINUTES. An export is queued once
    more; an import (some rows may be in) and an export tried twice end as failed, saying
    so, and the rows an import held are erased. Returns (retried, failed)."""
    stale = timedelta(minutes=int(current_app.config.get("CASEFLOW_JOB_STALE_MINUTES", 30)))
    cutoff = utcnow() - stale
    retried = failed = 0
    for job in service.running_jobs(updated_before=cutoff):
        if progress.reported_since(job.token, cutoff):
            continue  # still moving (SQLite keeps progress in a file, not the row)
        attempts = int((job.result or {}).get("attempts", 1))
        if job.kind == "export" and attempts < EXPORT_ATTEMPTS:
            if service.requeue_job(job.id):
                enqueue_job("export", job.id)
                retried += 1
            continue
        message = (_l("The file could not be made. Try again.") if job.kind == "export" else
                   _l("The import was interrupted and stopped. Some rows may have been imported: "
                      "check the cases list before importing the file again."))
        progress.clear(service.fail_interrupted(job.id, str(message)))
        failed += 1
    return retried, failed
