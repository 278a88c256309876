"""Long case-list exports run as jobs with a progress bar; progress shows mid-job on both
databases, for exports and for imports (whose SQLite transaction holds the write lock)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from caseflow.database import simulated_time, utcnow, write_transaction
from caseflow.extensions import db
from caseflow.models import AuditEvent, ReportFile, ReportFilePart, ReportJob, User
from caseflow.reports import figures as fg
from caseflow.services.context import Actor
from caseflow.transfers import export_jobs
from tests.support.imports import csv_bytes, row, upload
from tests.support.programme import advance, opened, walked
from tests.support.queries import count, events


def token_of(response) -> str:
    assert response.status_code == 303, response.status_code
    assert "/reports/exports/" in response.location
    return response.location.rstrip("/").split("/")[-1]


def exported_events(user) -> list[AuditEvent]:
    return events("cases.exported", actor_id=user.id)


@pytest.fixture
def hostile_team(team, make):
    """Five cases of one facilitator whose name a spreadsheet would run as a formula; three
    opened at the very same instant, so paging must break ties by id."""
    with write_transaction():
        db.session.get(User, team.facilitator.id).full_name = '=HYPERLINK("http://evil","x")'
    same_moment = utcnow() - timedelta(days=3)
    cases = [make.case(team.facilitator), make.case(team.facilitator)]
    with simulated_time(same_moment):
        cases += [make.case(team.facilitator) for _ in range(3)]
    team.cases = cases
    return team


def _direct(app, client, path: str) -> bytes:
    app.config["CASEFLOW_EXPORT_JOB_ROWS"] = 10_000
    response = client.get(path)
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    return response.data


def _as_job(app, client, path: str) -> tuple[str, bytes]:
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=2, CASEFLOW_EXPORT_PAGE_ROWS=2)
    token = token_of(client.get(path))
    state = client.get(f"/reports/exports/{token}/status.json").get_json()
    assert state["status"] == "done" and state["done"] == state["total"] == 5
    page = client.get(f"/reports/exports/{token}")
    assert page.status_code == 200 and f"/reports/exports/{token}/file" in page.text
    response = client.get(f"/reports/exports/{token}/file")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="caseflow-cases-recorded-')
    return token, response.data


def test_a_long_csv_export_is_a_job_whose_file_is_the_direct_export(app, hostile_team, signed_in):
    t = hostile_team
    client = signed_in(t.auditor)
    direct = _direct(app, client, "/reports/cases/recorded.csv")
    token, from_job = _as_job(app, client, "/reports/cases/recorded.csv")
    assert from_job == direct
    rows = list(csv.reader(io.StringIO(from_job.decode("utf-8-sig"))))
    assert len(rows) == 6 and "Klien" not in rows[0] and rows[0][-1] == "NIK (disamarkan)"
    numbers = [r[0] for r in rows[1:]]
    assert sorted(numbers) == sorted(c.number for c in t.cases)  # each case once, ties included
    for case in t.cases:
        assert case.client.full_name not in from_job.decode("utf-8-sig")
        assert case.client.nik not in from_job.decode("utf-8-sig")
    assert rows[1][4] == "'" + '=HYPERLINK("http://evil","x")'  # neutralised
    assert rows[1][-1].startswith(t.cases[0].client.nik[:4] + "*" * 10)


def test_a_long_xlsx_export_is_a_job_whose_sheet_is_the_direct_export(app, hostile_team, signed_in):
    client = signed_in(hostile_team.facilitator)

    def cells(data: bytes) -> list[list]:
        sheet = load_workbook(io.BytesIO(data)).worksheets[-1]  # after the "about" sheet
        return [[(c.value, c.data_type) for c in r] for r in sheet.iter_rows()]

    direct = cells(_direct(app, client, "/reports/cases/recorded.xlsx"))
    _token, from_job = _as_job(app, client, "/reports/cases/recorded.xlsx")
    assert cells(from_job) == direct
    assert direct[0][-2][0] == "Klien" and direct[1][4] == ("'" + '=HYPERLINK("http://evil","x")', "s")
    assert {r[-2][0] for r in direct[1:]} == {c.client.full_name for c in hostile_team.cases}


def test_short_lists_still_download_at_once_and_every_export_is_audited(app, hostile_team, signed_in):
    t = hostile_team
    client = signed_in(t.supervisor)
    _direct(app, client, "/reports/cases/recorded.csv")
    assert count(ReportJob) == 0
    token, from_job = _as_job(app, client, "/reports/cases/recorded.csv")
    client.get(f"/reports/exports/{token}/file")  # a second download is recorded too
    events = exported_events(t.supervisor)
    assert len(events) == 3
    job = db.session.execute(select(ReportJob).where(ReportJob.token == token)).scalar_one()
    first, second, third = (e.context for e in events)
    assert first["job_id"] is None and first["rows"] == 5 and first["format"] == "csv"
    assert second["job_id"] == third["job_id"] == job.id and second["rows"] == 5
    import hashlib

    assert second["sha256"] == hashlib.sha256(from_job).hexdigest()
    assert first["figure"] == "recorded" and first["filters"]["start"]


def test_nobody_else_reaches_the_job_and_managers_start_no_case_export(app, hostile_team, signed_in):
    t = hostile_team
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=2)
    token = token_of(signed_in(t.facilitator).get("/reports/cases/recorded.csv"))
    for other in (t.facilitator2, t.supervisor, t.auditor):
        client = signed_in(other)
        for path in ("", "/status.json", "/file"):
            assert client.get(f"/reports/exports/{token}{path}").status_code == 404, (other.username, path)
        assert client.post(f"/reports/exports/{token}/delete").status_code == 404
    manager = signed_in(t.manager)
    assert manager.get("/reports/cases/recorded.csv").status_code == 403
    assert manager.get("/reports/cases/recorded.xlsx").status_code == 403
    assert manager.get(f"/reports/exports/{token}/file").status_code == 403
    assert count(ReportJob) == 1 and exported_events(t.facilitator2) == []


def test_an_import_token_is_not_an_export_and_the_other_way_round(app, hostile_team, signed_in):
    client = signed_in(hostile_team.facilitator)
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=2)
    export_token = token_of(client.get("/reports/cases/recorded.csv"))
    import_token = upload(client, "r.csv", csv_bytes(row())).location.rstrip("/").split("/")[-1]
    assert client.get(f"/imports/{export_token}/status.json").status_code == 404
    assert client.get(f"/reports/exports/{import_token}/status.json").status_code == 404


def test_the_file_is_deleted_after_its_expiry(app, hostile_team, signed_in):
    t = hostile_team
    client = signed_in(t.facilitator)
    _token, _data = _as_job(app, client, "/reports/cases/recorded.csv")
    token = _token
    assert count(ReportFile) == 1 and count(ReportFilePart) >= 1
    with simulated_time(utcnow() + timedelta(hours=23)):
        assert export_jobs.purge_expired() == 0
    assert count(ReportFilePart) >= 1
    with simulated_time(utcnow() + timedelta(hours=24, minutes=1)):
        result = app.test_cli_runner().invoke(args=["exports", "purge"])
    assert result.exit_code == 0 and "1 expired export file(s) deleted" in result.output
    assert count(ReportFile) == 0 and count(ReportFilePart) == 0
    job = db.session.execute(select(ReportJob).where(ReportJob.token == token)).scalar_one()
    assert job.status == "expired"
    response = client.get(f"/reports/exports/{token}/file")
    assert response.status_code == 303 and response.location.endswith(f"/reports/exports/{token}")
    assert "tidak disimpan lagi" in client.get(f"/reports/exports/{token}").text
    assert len(exported_events(t.facilitator)) == 1  # only the download that happened


# The test client runs each request in a context of its own, without the simulated clock:
# these two call the services directly.


def test_an_expired_file_is_not_served_even_before_the_purge(app, hostile_team, signed_in):
    me = Actor(user=hostile_team.facilitator)
    token, _data = _as_job(app, signed_in(hostile_team.facilitator), "/reports/cases/recorded.csv")
    db.session.rollback()  # this test's session still reads from before the request
    assert export_jobs.download(me, token) is not None
    with simulated_time(utcnow() + timedelta(hours=25)):
        assert export_jobs.download(me, token) is None
    assert count(ReportFile) == 1  # still there, until the purge


def test_a_new_export_job_first_deletes_expired_files(app, hostile_team, signed_in):
    _as_job(app, signed_in(hostile_team.facilitator), "/reports/cases/recorded.csv")
    with simulated_time(utcnow() + timedelta(hours=25)):
        job = export_jobs.export_cases(Actor(user=hostile_team.facilitator),
                                       export_jobs.CaseList("recorded", fg.Filters(), fmt="xlsx"))
    assert isinstance(job, ReportJob) and job.status == "pending"
    db.session.rollback()
    files = db.session.execute(select(ReportFile)).scalars().all()
    assert [f.job_id for f in files] == [job.id]  # the new one only


def test_the_owner_deletes_the_file_at_once(app, hostile_team, signed_in):
    client = signed_in(hostile_team.facilitator)
    token, _data = _as_job(app, client, "/reports/cases/recorded.csv")
    response = client.post(f"/reports/exports/{token}/delete")
    assert response.status_code == 303
    assert count(ReportFile) == 0 and count(ReportFilePart) == 0
    assert "tidak disimpan lagi" in client.get(f"/reports/exports/{token}").text
    assert client.get(f"/reports/exports/{token}/file").status_code == 303


def test_a_job_that_fails_says_so_and_keeps_nothing(app, hostile_team, signed_in, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_jobs, "write_csv", broken)
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=2)
    client = signed_in(hostile_team.facilitator)
    token = token_of(client.get("/reports/cases/recorded.csv"))
    assert client.get(f"/reports/exports/{token}/status.json").get_json()["status"] == "failed"
    assert "tidak dapat dibuat" in client.get(f"/reports/exports/{token}").text
    assert count(ReportFile) == 0


def test_asking_again_joins_the_running_job_and_one_person_runs_at_most_two(app, hostile_team, signed_in,
                                                                            monkeypatch):
    """A reload or a second click while a list is prepared is the same job; a third list
    while two are running is refused with a message, and starts nothing."""
    monkeypatch.setattr(export_jobs, "enqueue_job", lambda _kind, _job_id: None)  # jobs stay pending
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=2)
    client = signed_in(hostile_team.facilitator)
    first = token_of(client.get("/reports/cases/recorded.csv"))
    assert token_of(client.get("/reports/cases/recorded.csv")) == first
    second = token_of(client.get("/reports/cases/recorded.xlsx"))
    assert second != first
    refused = client.get("/reports/cases/in_progress.csv")
    assert refused.status_code == 429
    assert "2 ekspor Anda masih disiapkan" in refused.text
    assert count(ReportJob) == 2
    # Someone else's jobs do not count against this person.
    assert token_of(signed_in(hostile_team.supervisor).get("/reports/cases/in_progress.csv"))


def test_an_exported_list_is_in_the_order_of_its_pages_with_each_case_once(app, programme, make, signed_in):
    """Resolutions are listed most recent first: F, recorded last, was resolved first; E
    was resolved twice (reopened in between) and is listed once, at its latest resolution."""
    t = programme.team
    f = advance(opened(make, t.facilitator, 30), t.facilitator, t.supervisor, walked(31, 32, 33, 40, 45, 50))
    e = advance(programme.e, t.facilitator, t.supervisor, {
        "planning": 161, "intervention": 162, "evaluation": 170, "termination_review": 175, "resolved": 180})
    expected = [e.number, programme.a.number, f.number]
    client = signed_in(t.auditor)
    path = "/reports/cases/resolved{}?start=2026-01-01&end=2026-12-01"
    page = client.get(path.format(""), headers={"Accept-Language": "en"}).text
    shown = [n for n in re.findall(r">(\d{2}-\d{4}-\d{6})<", page) if n in expected]
    assert shown == expected, (shown, expected)

    def numbers(data: bytes) -> list[str]:
        return [r[0] for r in list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]]

    app.config["CASEFLOW_EXPORT_JOB_ROWS"] = 10_000
    direct = numbers(client.get(path.format(".csv")).data)
    assert direct == expected, (direct, expected)
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=1, CASEFLOW_EXPORT_PAGE_ROWS=1)
    token = token_of(client.get(path.format(".csv")))
    assert numbers(client.get(f"/reports/exports/{token}/file").data) == expected
