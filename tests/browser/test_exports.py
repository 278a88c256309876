"""A long case-list export in a real browser (tablet portrait, Indonesian): the auditor
asks for the list, the job page's progress bar follows the job (static/js/app.js polls
the status JSON while the job is held mid-way), then the download link appears and the
file has the auditor's masking. The live server's queue worker runs the job, as in
production."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from caseflow.transfers import progress
from tests.support.browser import SMALL_TARGETS_IN_MAIN as SMALL_TARGETS
from tests.support.browser import login, screenshot

pytestmark = pytest.mark.browser

ALL_TIME = "start=2000-01-01"


@pytest.fixture
def held_job(live_server, monkeypatch):
    """Export lists longer than 3 rows as jobs, read 4 cases a page; the first report
    strictly between 0 and the total waits until the test releases it."""
    live_server.app.config.update(CASEFLOW_EXPORT_JOB_ROWS=3, CASEFLOW_EXPORT_PAGE_ROWS=4)
    reached, release = threading.Event(), threading.Event()

    def observe(_token: str, done: int, total: int) -> None:
        if 0 < done < total and not reached.is_set():
            reached.set()
            release.wait(30)

    monkeypatch.setattr(progress, "observer", observe)
    try:
        yield reached, release
    finally:
        release.set()


def test_auditor_follows_a_long_export_and_downloads_it(page, live_server, held_job):
    from sqlalchemy import select

    from caseflow.extensions import db
    from caseflow.models import Client

    reached, release = held_job
    login(page, "auditor")
    page.goto(f"/reports/cases/recorded?{ALL_TIME}")
    page.get_by_role("link", name="CSV").click()
    expect(page.locator("h1")).to_contain_text("Ekspor")
    assert reached.wait(15), "the job never reported progress"
    bar = page.locator("progress[data-job-status]")
    expect(bar).to_have_attribute("value", "4")
    total = int(bar.get_attribute("max"))
    assert total > 4
    expect(page.locator("[data-job-count]")).to_have_text(f"4 / {total}")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "export-job-progress")

    release.set()  # the poller sees the job end and reloads the page
    link = page.get_by_role("link", name="Unduh caseflow-cases-recorded-")
    expect(link).to_be_visible(timeout=15_000)
    expect(page.locator("main")).to_contain_text(f"Berkas siap: {total} kasus")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "export-job-done")
    with page.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == total + 1 and rows[0][-1] == "NIK (disamarkan)" and "Klien" not in rows[0]
    with live_server.app.app_context():
        clients = db.session.execute(select(Client.full_name, Client.nik)).all()
        db.session.remove()
    for name, nik in clients:
        assert name not in text and (not nik or nik not in text)
