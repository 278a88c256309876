"""Progress seen in the middle of a job, on both databases: for imports (whose SQLite
transaction holds the only write lock until it commits, all or nothing) and for exports.

The job is paused at a progress report by a hook the test controls (no sleeping), and
the status JSON and the page are read meanwhile from another signed-in client."""

from __future__ import annotations

import threading
from pathlib import Path

from caseflow.models import Case
from caseflow.transfers import progress
from tests.support.imports import csv_bytes, row, upload
from tests.support.queries import count


class Pause:
    """Stops the job at its first report strictly between 0 and the total, until released."""

    def __init__(self) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        self.token: str | None = None
        self.reports: list[tuple[int, int]] = []

    def __call__(self, token: str, done: int, total: int) -> None:
        self.reports.append((done, total))
        if 0 < done < total and not self.reached.is_set():
            self.token = token
            self.reached.set()
            assert self.release.wait(60), "the test never released the job"


def _while_paused(monkeypatch, start, look):
    """Run `start()` in a thread; once the job is paused mid-way, return `look(token)`."""
    pause = Pause()
    monkeypatch.setattr(progress, "observer", pause)
    answers: list = []
    worker = threading.Thread(target=lambda: answers.append(start()), daemon=True)
    worker.start()
    try:
        assert pause.reached.wait(60), "the job never reported progress mid-way"
        seen = look(pause.token)
    finally:
        pause.release.set()
        worker.join(60)
    assert answers, "the request did not finish"
    return seen, answers[0], pause


def test_import_progress_is_visible_mid_import_while_it_stays_all_or_nothing(
        app, team, signed_in, monkeypatch):
    asking, watching = signed_in(team.facilitator), signed_in(team.facilitator)
    rows = [row(nik=f"91710145088500{n:02d}", full_name=f"Klien {n}") for n in range(1, 4)]
    token = upload(asking, "register.csv", csv_bytes(*rows)).location.rstrip("/").split("/")[-1]

    def look(job_token):
        assert job_token == token
        # Nothing is committed yet: the import is still one open transaction.
        return (watching.get(f"/imports/{token}/status.json").get_json(),
                watching.get(f"/imports/{token}").text, count(Case))

    (state, page, cases_meanwhile), answer, _pause = _while_paused(
        monkeypatch, lambda: asking.post(f"/imports/{token}/apply"), look)
    assert state == {"status": "running", "done": 1, "total": 3, "message": ""}
    assert 'value="1"' in page and "data-job-status" in page
    assert cases_meanwhile == 0
    assert answer.status_code == 302
    final = watching.get(f"/imports/{token}/status.json").get_json()
    assert final["status"] == "done" and final["done"] == final["total"] == 3
    assert count(Case) == 3
    assert not list((Path(app.instance_path) / "job-progress").glob("*.json"))  # cleared at the end


def test_export_progress_is_visible_mid_job(app, team, make, signed_in, monkeypatch):
    for _ in range(5):
        make.case(team.facilitator)
    app.config.update(CASEFLOW_EXPORT_JOB_ROWS=2, CASEFLOW_EXPORT_PAGE_ROWS=2)
    asking, watching = signed_in(team.auditor), signed_in(team.auditor)

    def look(token):
        return (watching.get(f"/reports/exports/{token}/status.json").get_json(),
                watching.get(f"/reports/exports/{token}").text)

    (state, page), answer, pause = _while_paused(
        monkeypatch, lambda: asking.get("/reports/cases/recorded.csv"), look)
    assert state == {"status": "running", "done": 2, "total": 5, "message": ""}
    assert 'value="2"' in page and 'max="5"' in page and "data-job-status" in page
    assert '<noscript><meta http-equiv="refresh"' in page
    assert pause.reports == [(0, 5), (2, 5), (4, 5)]  # one report per page of two cases
    assert answer.status_code == 303
    final = watching.get(f"/reports/exports/{pause.token}/status.json").get_json()
    assert final == {"status": "done", "done": 5, "total": 5, "message": ""}
    assert not list((Path(app.instance_path) / "job-progress").glob("*.json"))
