"""Case lists as files: short ones written in the request, long ones by a background job
with a progress bar (`report_jobs`, kind "export").

Both ways write the same table with the same functions — `reports.tables.case_table`
(each role's masking) and `exports.write_csv` / `write_xlsx` (formula neutralisation) —
and every download, direct or from a job, appends a "cases.exported" event to the
downloader's audit chain. What is written (the job, the file, the event) is written by
`services.transfers`.

The job reads the list a page at a time (keyset on the list's own order, so memory stays
flat however long it is), reports its progress after each page (`transfers.progress`),
writes the file to an unnamed temporary file and then into the database in parts
(`report_files`, `report_file_parts`), so whichever worker answers can serve it. The file
holds personal data: only the person who asked may download it, they may delete it at
once, and it is deleted CASEFLOW_EXPORT_KEEP_HOURS after it was made (`purge_expired`:
`caseflow exports purge` from cron, and before every new export job).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..database import utcnow
from ..errors import NotAllowed, TooMany
from ..extensions import db
from ..i18n import _l
from ..models import Case, ReportFile, ReportFilePart, ReportJob, Role, User
from ..queue import enqueue_job
from ..queue import job as queue_job
from ..reports import figures as fg
from ..reports.tables import Table, about_table, case_table
from ..services import transfers as service
from ..services.context import Actor
from . import progress
from .exports import to_csv, to_xlsx, write_csv, write_xlsx
from .jobs import expire_checked_imports, owned_job, recover_interrupted

CASE_READERS = (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR)
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
PAGE_ROWS = 1000  # cases read at a time (CASEFLOW_EXPORT_PAGE_ROWS)


@dataclass(frozen=True)
class CaseList:
    """Which list to export, as the web layer read it from the request."""

    figure: str
    filters: fg.Filters
    key: Any = None
    by: str | None = None
    fmt: str = "csv"
    locale: str = "id"
    zone: str = "Asia/Jakarta"
    title: str = ""
    made_on: date = field(default_factory=lambda: utcnow().date())

    @property
    def filename(self) -> str:
        return f"caseflow-cases-{self.figure}-{self.made_on:%Y%m%d}.{self.fmt}"

    def statement(self, user: User):
        return fg.drill(self.figure, self.filters, user, key=self.key, by=self.by)

    def pages(self, user: User, size: int) -> Iterator[list[Case]]:
        """The cases in the order the list shows them, `size` at a time."""
        return fg.drill_pages(self.figure, self.filters, user, key=self.key, by=self.by, size=size, options=SHOWN)

    def as_dict(self) -> dict[str, Any]:
        filters = {name: getattr(self.filters, name) for name in _FILTER_FIELDS}
        return {
            "figure": self.figure, "key": self.key, "by": self.by, "fmt": self.fmt,
            "locale": self.locale, "zone": self.zone, "title": self.title,
            "made_on": self.made_on.isoformat(),
            "filters": {k: v.isoformat() if isinstance(v, date) else v for k, v in filters.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseList:
        values = dict(data["filters"])
        for name in ("start", "end"):
            values[name] = date.fromisoformat(values[name]) if values.get(name) else None
        values["as_of"] = datetime.fromisoformat(values["as_of"]) if values.get("as_of") else None
        return cls(figure=data["figure"], filters=fg.Filters(**values), key=data.get("key"), by=data.get("by"),
                   fmt=data["fmt"], locale=data["locale"], zone=data["zone"], title=data.get("title", ""),
                   made_on=date.fromisoformat(data["made_on"]))


_FILTER_FIELDS = ("province", "category", "facilitator_id", "supervisor_id", "start", "end", "as_of")


@dataclass(frozen=True)
class DirectExport:
    body: bytes
    filename: str


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    size: int
    parts: Iterator[bytes]


def _reader(actor: Actor) -> User:
    user = actor.user
    if user is None or user.role not in CASE_READERS:
        raise NotAllowed(_l("Case lists are for facilitators, supervisors and auditors."))
    return user


def _settings() -> tuple[int, int, timedelta]:
    config = current_app.config
    return (int(config.get("CASEFLOW_EXPORT_JOB_ROWS", 2000)), int(config.get("CASEFLOW_EXPORT_PAGE_ROWS", PAGE_ROWS)),
            timedelta(hours=int(config.get("CASEFLOW_EXPORT_KEEP_HOURS", 24))))


def _count(statement) -> int:
    return db.session.execute(select(func.count()).select_from(statement.subquery())).scalar_one()


SHOWN = (selectinload(Case.client), selectinload(Case.facilitator),
         selectinload(Case.ppks_category), selectinload(Case.province))  # what each row shows


def export_cases(actor: Actor, wanted: CaseList) -> DirectExport | ReportJob:
    """A list of at most CASEFLOW_EXPORT_JOB_ROWS cases is written now and its export
    recorded; a longer one becomes an export job (whose download is recorded)."""
    user = _reader(actor)
    statement = wanted.statement(user)
    threshold = _settings()[0]
    total = _count(statement)
    if total > threshold:
        return start_export_job(actor, wanted, total)
    cases = [case for page in wanted.pages(user, threshold + 1) for case in page]
    table = case_table(cases, user, wanted.locale, title=wanted.title or None)
    body = to_csv(table, wanted.zone) if wanted.fmt == "csv" else to_xlsx([table], wanted.zone, _about(wanted, user))
    _record_export(actor, wanted, rows=len(cases), sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    return DirectExport(body, wanted.filename)


def _about(wanted: CaseList, user: User) -> Table:
    """The workbook's first sheet: which list, for whom, its filters, when it was made."""
    return about_table(wanted.title or _l("Cases"), user, wanted.filters, utcnow(), wanted.locale)


def _record_export(actor: Actor, wanted: CaseList, *, rows: int, sha256: str, size: int,
                   job_id: int | None = None) -> None:
    """Personal data left the server: who took which list, how many rows, which file."""
    service.record_export(actor, {
        "figure": wanted.figure, "key": wanted.key, "by": wanted.by, "format": wanted.fmt,
        "filters": wanted.as_dict()["filters"], "rows": rows, "sha256": sha256, "bytes": size,
        "job_id": job_id,
    })


# --- the job ---------------------------------------------------------------------------


def start_export_job(actor: Actor, wanted: CaseList, total: int) -> ReportJob:
    """Create the job (after deleting every expired file) and run it in the background.
    The same list asked again while it is being prepared (a reload, a second click) is the
    same job; one person has at most CASEFLOW_EXPORT_JOBS_PER_USER jobs running at once."""
    user = _reader(actor)
    purge_expired()
    active = list(db.session.execute(select(ReportJob).where(
        ReportJob.kind == "export", ReportJob.user_id == user.id,
        ReportJob.status.in_(progress.ACTIVE))).scalars())
    for job in active:
        if (job.result or {}).get("list") == wanted.as_dict():
            return job
    limit = int(current_app.config.get("CASEFLOW_EXPORT_JOBS_PER_USER", 2))
    if len(active) >= limit:
        db.session.rollback()
        raise TooMany(_l("%(n)s of your exports are still being prepared. Wait for one to finish, "
                         "then export this list.", n=len(active)))
    job = service.create_job(user.id, "export", "pending", total,
                             {"list": wanted.as_dict(), "filename": wanted.filename})
    enqueue_job("export", job.id)
    return job


@queue_job("export")
def run_queued_export(job_id: int) -> None:
    """The task queue's entry: the job ends with a message, whatever happened."""
    try:
        run_export_job(job_id)
    except Exception:
        db.session.rollback()
        current_app.logger.exception("export job %s failed", job_id)
        _end(job_id, "failed", str(_l("The file could not be made. Try again.")))


def run_export_job(job_id: int) -> None:
    """Write the job's list to a file in the database; progress after every page."""
    if not service.claim_job(job_id, "pending"):
        return
    job = db.session.get(ReportJob, job_id)
    token, wanted = job.token, CaseList.from_dict(job.result["list"])
    user = db.session.get(User, job.user_id)
    if user is None or not user.active:
        _end(job_id, "failed", str(_l("The file could not be made. Try again.")))
        return
    _threshold, page_rows, keep = _settings()
    with force_locale(wanted.locale), tempfile.TemporaryFile() as out:
        statement = wanted.statement(user)
        total = _count(statement)  # again: the list may have changed since it was asked for
        progress.report(job_id, token, 0, total)

        def on_page(done: int) -> None:
            progress.report(job_id, token, done, max(done, total))

        cases = _Pages(wanted, user, page_rows, on_page)
        table = case_table(cases, user, wanted.locale, title=wanted.title or None, lazy=True)
        if wanted.fmt == "csv":
            write_csv(table, out, wanted.zone)
        else:
            write_xlsx([table], out, wanted.zone, _about(wanted, user))
        service.store_export_file(job_id, out, filename=wanted.filename, content_type=CONTENT_TYPES[wanted.fmt],
                                  rows=cases.done, keep=keep)
    progress.clear(token)


class _Pages:
    """The list's cases in the order of its pages on screen, read `size` at a time by
    keyset; each page is let go (expunged) before the next is read."""

    def __init__(self, wanted: CaseList, user: User, size: int, on_page: Callable[[int], None]) -> None:
        self.wanted, self.user, self.size, self.on_page, self.done = wanted, user, size, on_page, 0

    def __iter__(self) -> Iterator[Case]:
        for page in self.wanted.pages(self.user, self.size):
            yield from page
            self.done += len(page)
            db.session.expunge_all()
            if len(page) >= self.size:  # the last page's progress is the finished file's
                self.on_page(self.done)


def _end(job_id: int, status: str, message: str) -> None:
    progress.clear(service.finish_job(job_id, status, message))


# --- reading, downloading, deleting ------------------------------------------------------------


def get_export_job(user: User, token: str) -> ReportJob:
    """The export job `token` of `user`; anyone else's looks like nothing."""
    return owned_job(user, token, "export", _l("No such export."))


def stored_file(job: ReportJob) -> ReportFile | None:
    """The job's file while it may still be downloaded."""
    found = db.session.execute(select(ReportFile).where(ReportFile.job_id == job.id)).scalar_one_or_none()
    if found is None or job.status != "done" or found.expires_at <= utcnow():
        return None
    return found


def case_list(job: ReportJob) -> CaseList:
    return CaseList.from_dict(job.result["list"])


def download(actor: Actor, token: str) -> Download | None:
    """The job's file, for the person who asked for it, and the download recorded; None
    when there is no file (not made yet, deleted, or expired)."""
    job = get_export_job(_reader(actor), token)
    found = stored_file(job)
    if found is None:
        return None
    _record_export(actor, case_list(job), rows=job.done, sha256=found.sha256, size=found.size, job_id=job.id)
    file_id = found.id
    seqs = list(db.session.execute(
        select(ReportFilePart.seq).where(ReportFilePart.file_id == file_id).order_by(ReportFilePart.seq)
    ).scalars())

    engine = db.engine

    def parts() -> Iterator[bytes]:
        # Read while the response is being sent, one part at a time, each on a short
        # connection of its own (no request context needed by then).
        for seq in seqs:
            with engine.connect() as connection:
                data = connection.execute(
                    select(ReportFilePart.data).where(ReportFilePart.file_id == file_id, ReportFilePart.seq == seq)
                ).scalar_one_or_none()
            if data is None:
                return  # deleted meanwhile
            yield data

    return Download(found.filename, found.content_type, found.size, parts())


def delete_file(actor: Actor, token: str) -> ReportJob:
    """The owner no longer needs the file: it is deleted now."""
    job = get_export_job(_reader(actor), token)
    service.delete_export_file(job)
    return job


def purge_expired() -> int:
    """Delete every export file past its expiry; jobs that never ended (their worker
    stopped) are marked failed once as old. Returns how many files were deleted."""
    keep = _settings()[2]
    deleted = service.purge_expired_files(keep)
    progress.purge_stale(keep.total_seconds())
    # Checked imports wait the same time for their owner (they hold a register's rows), and
    # a job whose worker stopped ends (an import's rows erased) even without the scheduler.
    expire_checked_imports()
    recover_interrupted()
    return deleted
