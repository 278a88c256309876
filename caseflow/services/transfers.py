"""What imports and exports write: a register's rows applied as clients and cases, the
jobs that carry long imports and exports (`report_jobs`), the files long exports are
written to (`report_files`), and the audit event of every list of cases that leaves the
server. Reading the files, checking the rows and running the jobs is `caseflow.transfers`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import delete, insert, select, update

from ..database import utcnow, write_transaction
from ..errors import CaseflowError, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import ReportFile, ReportFilePart, ReportJob
from .audit import append_event, user_chain
from .cases import open_case
from .clients import register_client
from .context import Actor

ACTIVE = ("pending", "running")  # a job being prepared
PART_BYTES = 1024 * 1024  # size of each stored piece of a file


class ImportRefused(CaseflowError):
    status = 409
    title = "Import refused"


# --- importing a register ------------------------------------------------------------------


def import_register(actor: Actor, rows: Iterable[tuple[int, dict[str, Any], dict[str, Any]]],
                    progress: Callable[[int], None] | None = None) -> list[tuple[int, str]]:
    """Register each row's client and open its case, all in one transaction: any failure
    leaves nothing behind. `rows` are (row number, client values, case values); returns
    (row number, case number) of each."""
    applied = []
    with write_transaction():
        for index, (number, client_values, case_values) in enumerate(rows):
            try:
                client = register_client(actor, client_values)
                case = open_case(actor, case_values | {"client_id": client.id})
            except ValidationError as exc:
                problems = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in (exc.fields or {}).items())
                raise ImportRefused(_l("Row %(row)s could not be imported (%(problems)s); nothing was imported.",
                                       row=number, problems=problems or str(exc))) from None
            applied.append((number, case.number))
            if progress is not None:
                progress(index + 1)
    return applied


# --- jobs ----------------------------------------------------------------------------------


def create_job(user_id: int, kind: str, status: str, total: int, result: dict[str, Any]) -> ReportJob:
    """A new job of `user_id`'s, known by a token only its owner is shown."""
    with write_transaction():
        job = ReportJob(token=secrets.token_hex(16), kind=kind, user_id=user_id, status=status,
                        total=total, done=0, message="", result=result, created_at=utcnow(), updated_at=utcnow())
        db.session.add(job)
        db.session.flush()
        return job


def claim_job(job_id: int, waiting: str, origin: dict[str, Any] | None = None) -> bool:
    """Mark the job running if it is still `waiting`; False if someone else started it.
    `origin` (where the person who started it was) is kept with it for the worker."""
    with write_transaction():
        claimed = bool(db.session.execute(
            update(ReportJob).where(ReportJob.id == job_id, ReportJob.status == waiting)
            .values(status="running", updated_at=utcnow())
        ).rowcount)
        if claimed and origin is not None:
            job = db.session.get(ReportJob, job_id)
            job.result = {**(job.result or {}), "origin": origin}
        return claimed


def running_jobs(updated_before: datetime) -> list[ReportJob]:
    """Jobs marked running that have reported nothing since `updated_before`."""
    return list(db.session.execute(select(ReportJob).where(
        ReportJob.status == "running", ReportJob.updated_at < updated_before)).scalars())


def requeue_job(job_id: int) -> bool:
    """Put an interrupted running job back to pending, counting the attempt."""
    with write_transaction():
        job = db.session.get(ReportJob, job_id, with_for_update=True)
        if job is None or job.status != "running":
            return False
        job.status, job.updated_at = "pending", utcnow()
        job.result = {**(job.result or {}), "attempts": int((job.result or {}).get("attempts", 1)) + 1}
        return True


def fail_interrupted(job_id: int, message: str) -> str:
    """End an interrupted job as failed; an import's rows (personal data) are erased.
    Returns its token."""
    with write_transaction():
        job = db.session.get(ReportJob, job_id)
        job.status, job.message, job.updated_at = "failed", message, utcnow()
        if job.kind == "import":
            job.result = {"filename": (job.result or {}).get("filename")}
        return job.token


def finish_job(job_id: int, status: str, message: str, summary: dict[str, Any] | None = None,
               done: int | None = None) -> str:
    """The job has ended with `status`; with a summary, its result becomes the file's name
    and the summary (the checked rows of an import are erased). Returns its token."""
    with write_transaction():
        job = db.session.get(ReportJob, job_id)
        job.status, job.message = status, message
        if summary is not None:
            job.result = {"filename": (job.result or {}).get("filename"), **summary}
        if done is not None:
            job.done = done
        job.updated_at = utcnow()
        return job.token


def record_progress(job_id: int, done: int, total: int) -> None:
    """How far a running job is, written on a connection of its own so pollers see it while
    the job's own transaction is still open (PostgreSQL)."""
    with db.engine.begin() as connection:
        connection.execute(update(ReportJob).where(ReportJob.id == job_id)
                           .values(done=done, total=total, updated_at=utcnow()))


def expire_checked_imports(keep: timedelta) -> int:
    """Erase the rows of checked imports left neither applied nor discarded for `keep`:
    they hold the personal data of a whole register. Returns how many were expired."""
    now = utcnow()
    with write_transaction():
        stale = list(db.session.execute(select(ReportJob).where(
            ReportJob.kind == "import", ReportJob.status == "checked",
            ReportJob.updated_at <= now - keep)).scalars())
        for job in stale:
            job.status = "expired"
            job.message = str(_l("This check has expired and its rows were erased; nothing was imported. "
                                 "Upload the file again."))
            job.result = {"filename": (job.result or {}).get("filename")}
            job.updated_at = now
    return len(stale)


# --- export files --------------------------------------------------------------------------


def record_export(actor: Actor, context: dict[str, Any]) -> None:
    """Personal data left the server: who took which list, how many rows, which file."""
    with write_transaction():
        append_event(chain=user_chain(actor.user_id), action="cases.exported", actor=actor, context=context)


def store_export_file(job_id: int, out: IO[bytes], *, filename: str, content_type: str, rows: int,
                      keep: timedelta) -> None:
    """Keep the finished file `out` in parts (whichever worker answers can serve it) until
    `keep` from now, and mark its job done."""
    out.seek(0)
    digest, size, now = hashlib.sha256(), 0, utcnow()
    with write_transaction():
        stored = ReportFile(job_id=job_id, filename=filename, content_type=content_type,
                            size=0, sha256="", created_at=now, expires_at=now + keep)
        db.session.add(stored)
        db.session.flush()
        seq = 0
        while chunk := out.read(PART_BYTES):
            digest.update(chunk)
            size += len(chunk)
            db.session.execute(insert(ReportFilePart).values(file_id=stored.id, seq=seq, data=chunk))
            seq += 1
        stored.size, stored.sha256 = size, digest.hexdigest()
        job = db.session.get(ReportJob, job_id)
        job.status, job.done, job.total, job.updated_at = "done", rows, rows, utcnow()
        job.result = {**job.result, "rows": rows, "expires_at": stored.expires_at.isoformat()}


def delete_export_file(job: ReportJob) -> None:
    """The owner no longer needs the file: it is deleted now."""
    with write_transaction():
        _delete_files(select(ReportFile.id).where(ReportFile.job_id == job.id))
        db.session.execute(update(ReportJob).where(ReportJob.id == job.id, ReportJob.status == "done")
                           .values(status="deleted", updated_at=utcnow()))
    db.session.refresh(job)


def _delete_files(file_ids) -> list[int]:
    """Delete the files (and their parts) whose ids `file_ids` selects; their jobs' ids."""
    ids = list(db.session.execute(file_ids).scalars())
    if not ids:
        return []
    job_ids = list(db.session.execute(select(ReportFile.job_id).where(ReportFile.id.in_(ids))).scalars())
    db.session.execute(delete(ReportFilePart).where(ReportFilePart.file_id.in_(ids)))
    db.session.execute(delete(ReportFile).where(ReportFile.id.in_(ids)))
    return job_ids


def purge_expired_files(keep: timedelta) -> int:
    """Delete every export file past its expiry; export jobs that never ended (their
    worker stopped) are marked failed once `keep` old. Returns how many files were deleted."""
    now = utcnow()
    with write_transaction():
        job_ids = _delete_files(select(ReportFile.id).where(ReportFile.expires_at <= now))
        if job_ids:
            db.session.execute(update(ReportJob).where(ReportJob.id.in_(job_ids))
                               .values(status="expired", updated_at=now))
        db.session.execute(
            update(ReportJob).where(ReportJob.kind == "export", ReportJob.status.in_(ACTIVE),
                                    ReportJob.created_at <= now - keep)
            .values(status="failed", message=str(_l("The file could not be made. Try again.")), updated_at=now)
        )
    return len(job_ids)
