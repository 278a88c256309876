"""The task queue: periodic tasks declared in code, every run recorded, a late task shown;
imports and exports whose worker stopped are retried or failed, never left running."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from caseflow import queue
from caseflow.database import utcnow
from caseflow.extensions import db
from caseflow.models import ReportJob, TaskRun
from caseflow.services import transfers as service
from caseflow.transfers import jobs


def test_every_periodic_task_runs_and_its_run_is_recorded(app):
    assert {"audit-checkpoint", "jobs-recover", "sign-offs-escalate", "exports-purge", "reports-seal",
            "privacy-retention", "agenda-remind"} <= set(queue.PERIODIC)
    assert all(item.late for item in queue.lateness())  # nothing ran yet: every task is late
    for name in queue.PERIODIC:
        queue.run_now(name)
    assert not any(item.late for item in queue.lateness())
    runs = db.session.query(TaskRun).all()
    assert {run.name for run in runs} == set(queue.PERIODIC) and {run.status for run in runs} == {"done"}


def test_a_failed_run_is_recorded_with_its_reason_and_the_task_stays_late(app, monkeypatch):
    def broken() -> str:
        raise RuntimeError("disk full")

    spec = queue.PERIODIC["exports-purge"]
    monkeypatch.setitem(queue.PERIODIC, "exports-purge", queue.Periodic(spec.name, spec.every, spec.schedule, broken))
    with pytest.raises(RuntimeError):
        queue.run_now("exports-purge")
    latest, success = queue.last_runs(["exports-purge"])["exports-purge"]
    assert latest.status == "failed" and "disk full" in latest.message and success is None
    assert {item.name: item.late for item in queue.lateness()}["exports-purge"]


def test_a_task_is_late_after_twice_its_period_without_success(app):
    queue.run_now("jobs-recover")
    db.session.execute(update(TaskRun).values(finished_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    assert {item.name: item.late for item in queue.lateness()}["jobs-recover"]


def _stale_job(team, kind: str, result: dict) -> ReportJob:
    job = service.create_job(team.facilitator.id, kind, "pending" if kind == "export" else "checked", 300, result)
    assert service.claim_job(job.id, job.status)
    db.session.execute(update(ReportJob).where(ReportJob.id == job.id)
                       .values(updated_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    return job


def test_an_import_whose_worker_stopped_fails_and_its_rows_are_erased(app, team):
    job = _stale_job(team, "import", {"filename": "register.xlsx", "rows": [{"nik": "9101014101900001"}]})
    assert jobs.recover_interrupted() == (0, 1)
    db.session.refresh(job)
    assert job.status == "failed" and job.message
    assert job.result == {"filename": "register.xlsx"}  # the register's rows are gone
    assert jobs.recover_interrupted() == (0, 0)  # nothing left running


def test_an_export_whose_worker_stopped_is_tried_once_more_then_failed(app, team, monkeypatch):
    queued = []
    monkeypatch.setattr(jobs, "enqueue_job", lambda kind, job_id: queued.append((kind, job_id)))
    job = _stale_job(team, "export", {"filename": "cases.csv", "list": {}})
    assert jobs.recover_interrupted() == (1, 0) and queued == [("export", job.id)]
    db.session.refresh(job)
    assert job.status == "pending" and job.result["attempts"] == 2
    assert service.claim_job(job.id, "pending")  # the worker takes it again … and stops again
    db.session.execute(update(ReportJob).where(ReportJob.id == job.id).values(updated_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    assert jobs.recover_interrupted() == (0, 1)
    db.session.refresh(job)
    assert job.status == "failed"


def test_a_running_job_that_reports_progress_is_left_alone(app, team):
    job = _stale_job(team, "import", {"filename": "register.xlsx", "rows": []})
    service.record_progress(job.id, 10, 300)  # PostgreSQL: the row; SQLite: see below
    jobs.progress.report(job.id, job.token, 10, 300)
    assert jobs.recover_interrupted() == (0, 0)
    db.session.refresh(job)
    assert job.status == "running"
