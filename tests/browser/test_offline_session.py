"""The tablet's offline cache belongs to one person's one session, in Chromium. When the
session ends on the server (idle timeout) the cached cases are hidden at once and removed,
and unsent work stays on the tablet sealed; the next person to sign in on the same browser
sees nothing of it; the same person signing in again gets it sent. Offline, the cache shows
only until the session's own absolute end."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import Case, Client, Step, User
from tests.support.browser import login, offline_app_without_signal, offline_ready, screenshot

pytestmark = pytest.mark.browser

DUMP_STORES = """async () => {
    const out = {};
    for (const name of ['cases', 'outbox', 'notes', 'meta']) {
        out[name] = await window.CaseflowStore.all(name);
    }
    return out;
}"""
DUMP_TEXT = """async () => {
    const parts = [];
    for (const name of ['cases', 'outbox', 'notes', 'meta']) {
        parts.push(JSON.stringify(await window.CaseflowStore.all(name)));
    }
    return parts.join('\\n');
}"""


def _client_names(live_server, username: str) -> set[str]:
    with live_server.app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        names = set(db.session.execute(select(Client.full_name).join(Case, Case.client_id == Client.id)
                                       .where(Case.facilitator_id == user.id)).scalars())
        db.session.remove()
        return names


def _case_in(live_server, username: str, state: str) -> int:
    with live_server.app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        case_id = db.session.execute(select(Case.id).where(
            Case.facilitator_id == user.id, Case.state == state).order_by(Case.id)).scalars().first()
        db.session.remove()
        return case_id


def _steps(live_server, notes: str) -> int:
    with live_server.app.app_context():
        count = len(db.session.execute(select(Step.id).where(Step.notes == notes)).all())
        db.session.remove()
        return count


def _shows_none_of(page, names: set[str]) -> None:
    text = page.locator("body").inner_text()
    assert not [name for name in names if name in text]


def test_an_ended_session_hides_the_cache_and_only_the_same_person_gets_the_work_back(page, live_server):
    mine = _client_names(live_server, "pendamping")
    theirs = _client_names(live_server, "pendamping2")
    only_mine = mine - theirs
    case_id = _case_in(live_server, "pendamping", "assessment")
    login(page, "pendamping")
    page.goto(f"/offline/#case-{case_id}")
    offline_ready(page)
    title = page.locator("[data-case-title]")
    expect(title).to_be_visible()
    assert any(name in title.inner_text() for name in mine)

    # Work done without a signal; meanwhile the session ends on the server (idle timeout).
    page.context.set_offline(True)
    form = page.locator("form[data-offline-form=step]")
    form.locator("select[name=step_type]").select_option("home_visit")
    form.locator("textarea[name=notes]").fill("Langkah A belum terkirim")
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("1")
    config = live_server.app.config
    idle = config["CASEFLOW_IDLE_TIMEOUT_MINUTES"]
    config["CASEFLOW_IDLE_TIMEOUT_MINUTES"] = 0
    try:
        # The signal returns; the page's next call to the server meets the ended session.
        with page.expect_response(lambda r: "/api/v1/" in r.url and r.status == 401, timeout=20_000):
            page.context.set_offline(False)
    finally:
        config["CASEFLOW_IDLE_TIMEOUT_MINUTES"] = idle
    expect(title).to_be_hidden()
    app = page.locator("#offline-app")
    for name in mine:
        expect(app).not_to_contain_text(name)
    expect(app).not_to_contain_text("Langkah A belum terkirim")
    expect(page.locator("[data-outbox-count]")).to_have_text("1")  # how much waits, not what
    expect(page.locator("[data-session-ended]")).to_be_visible()
    expect(app).to_have_attribute("data-session-state", "ended")
    screenshot(page, "offline-session-ended")
    stored = page.evaluate(DUMP_STORES)
    assert stored["cases"] == [] and [m["key"] for m in stored["meta"]] == []
    assert [(e["status"], "body" in e, "sealed" in e) for e in stored["outbox"]] == [("waiting", False, True)]
    text = page.evaluate(DUMP_TEXT)
    assert "Langkah A belum terkirim" not in text and not [n for n in mine if n in text]
    assert _steps(live_server, "Langkah A belum terkirim") == 0

    # Reloaded: the sign-in page, and nothing of the cases.
    page.reload()
    page.wait_for_url("**/login**")
    _shows_none_of(page, mine)

    # Someone else signs in on the same browser: none of the first person's data.
    login(page, "pendamping2")
    page.goto("/offline/")
    offline_ready(page)
    expect(page.locator("[data-cases] li").first).to_be_visible()
    expect(page.locator("[data-outbox-count]")).to_have_text("0")
    _shows_none_of(page, only_mine)
    text = page.evaluate(DUMP_TEXT)
    assert "Langkah A belum terkirim" not in text and not [n for n in only_mine if n in text]
    # Their sign-out says nothing of the other person's waiting work, and leaves it be.
    page.locator("form.signout button[type=submit]").click()
    page.wait_for_url("**/login")

    # The first person signs in again: the sealed work opens and is sent, once.
    login(page, "pendamping")
    page.goto("/offline/")
    offline_ready(page)
    expect(page.locator("[data-outbox-count]")).to_have_text("0", timeout=20_000)
    assert _steps(live_server, "Langkah A belum terkirim") == 1
    expect(page.locator("[data-cases] li").first).to_be_visible()


def test_offline_the_cache_shows_only_until_the_sessions_absolute_end(page, live_server):
    mine = _client_names(live_server, "pendamping")
    page.clock.install()
    # No signal, reloaded: the session has not reached its end, so the cases show.
    offline_app_without_signal(page, "pendamping")
    cases = page.locator("[data-cases] li")
    expect(cases.first).to_be_visible()
    assert any(name in page.locator("[data-cases]").inner_text() for name in mine)

    # Past the absolute end (12 hours after signing in), still without a signal: hidden and gone.
    page.clock.fast_forward("13:00:00")
    expect(cases).to_have_count(0, timeout=20_000)
    _shows_none_of(page, mine)
    assert page.evaluate("async () => (await window.CaseflowStore.all('cases')).length") == 0
    expect(page.locator("#offline-app")).to_have_attribute("data-session-state", "ended")
    # The kept offline page went with the session: a reload has nothing of it to show.
    page.reload()
    expect(page.locator("body")).to_contain_text("open Caseflow once while connected")
    _shows_none_of(page, mine)
