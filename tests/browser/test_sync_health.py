"""Sync health in a real browser (Indonesian), on the demo data: the supervisor's team page
marks a facilitator whose tablet has not synced for days and counts the work that reached
the server late; the late-work list names it; the facilitator cannot open the list.
Screenshots at 800 and 390 px wide, with nothing sticking out to the right."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from caseflow.database import utcnow, write_transaction
from caseflow.extensions import db
from caseflow.models import Case, LateArrival, SyncReport, User
from tests.support.browser import login, screenshot

pytestmark = pytest.mark.browser

# The page itself never scrolls sideways (a wide table scrolls inside its .table-wrap).
PAGE_WIDER_THAN_WINDOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def shots(page, name: str) -> None:
    """The page at 800 px (a tablet) and 390 px (a phone) wide."""
    size = page.viewport_size
    for width in (800, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(PAGE_WIDER_THAN_WINDOW) <= 1, f"{name} at {width} px is wider than the window"
        screenshot(page, f"{name}-{width}")
    page.set_viewport_size(size)


def test_the_supervisor_sees_who_is_working_blind_and_what_came_late(page, live_server):
    now = utcnow()
    with live_server.app.app_context():
        facilitator = db.session.execute(select(User).where(User.username == "pendamping")).scalar_one()
        case = db.session.execute(select(Case).where(Case.facilitator_id == facilitator.id)).scalars().first()
        name, number = facilitator.full_name, case.number
        with write_transaction():
            db.session.merge(SyncReport(user_id=facilitator.id, last_sync_at=now - timedelta(days=5), waiting=3,
                                        oldest_waiting_at=now - timedelta(days=6)))
            db.session.add(LateArrival(user_id=facilitator.id, case_id=case.id, kind="assessment",
                                       created_on_tablet_at=now - timedelta(days=8), reached_server_at=now))
        db.session.remove()

    login(page, "supervisor")
    page.goto("/team")
    expect(page.get_by_role("columnheader", name="Sinkron terakhir")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row.locator(".sync-blind")).to_contain_text("Bekerja tanpa sinkron?")
    expect(row).to_contain_text("Menunggu di tablet: 3, sejak")
    shots(page, "sync-health-team")
    row.get_by_role("link", name="Terlambat, perlu ditinjau: 1").click()
    expect(page.get_by_role("heading", name="Terlambat dari tablet")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=number)).to_contain_text("Asesmen")
    shots(page, "sync-health-late-work")

    page.get_by_role("button", name="Keluar").click()
    expect(page).to_have_url(re.compile(r"/login"))
    login(page, "pendamping")
    answer = page.goto("/team/late-work")
    assert answer.status == 403
