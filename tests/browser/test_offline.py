"""Offline tablets in Chromium: the facilitator's cases and the outbox survive a reload
without a signal; on reconnection every queued item reaches the server exactly once, in
order; a case reassigned meanwhile is shown as a conflict and resolved in the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Step, User
from caseflow.services import cases as case_services
from caseflow.services.context import Actor
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.browser


def _server(live_server):
    return live_server.app.app_context()


def _open_cases(live_server, username: str, state: str) -> list[int]:
    with _server(live_server):
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        ids = db.session.execute(select(Case.id).where(
            Case.facilitator_id == user.id, Case.state == state).order_by(Case.id)).scalars().all()
        db.session.remove()
        return list(ids)


def _ready(page) -> None:
    page.wait_for_selector("#offline-app[data-ready='1']", state="attached", timeout=20_000)


def _log_step(page, notes: str) -> None:
    form = page.locator("form[data-offline-form=step]")
    form.locator("select[name=step_type]").select_option("home_visit")
    form.locator("textarea[name=notes]").fill(notes)
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-queued]")).to_be_visible()


def test_offline_work_is_kept_sent_once_in_order_and_conflicts_are_resolved(page, live_server):
    case_id, other_case_id = _open_cases(live_server, "pendamping", "assessment")[:2]
    batches = []
    page.on("request", lambda r: batches.append(r.url) if r.method == "POST" and r.url.endswith("/api/v1/outbox") else None)
    login(page, "pendamping")
    page.goto("/offline/")
    _ready(page)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
    page.reload()
    _ready(page)
    page.evaluate("""async () => {  // the shell page is kept by the worker
        for (let i = 0; i < 50; i++) {
            const names = await caches.keys();
            for (const name of names) {
                if (await (await caches.open(name)).match('/offline/')) return true;
            }
            await new Promise(r => setTimeout(r, 100));
        }
        return false;
    }""")
    page.goto(f"/offline/#case-{case_id}")
    _ready(page)
    expect(page.locator("[data-case-title]")).to_be_visible()

    # No signal: three steps and an assessment go to the outbox.
    page.context.set_offline(True)
    expect(page.locator("#offline-app")).to_have_attribute("data-online", "0")
    for n in (1, 2, 3):
        _log_step(page, f"Kunjungan luring {n}")
    assessment = page.locator("form[data-offline-form=assessment]")
    assessment.locator("textarea[name=problem]").fill("Masalah dicatat luring")
    assessment.locator("textarea[name=needs]").fill("Kebutuhan")
    assessment.locator("textarea[name=strengths]").fill("Kekuatan")
    assessment.locator("select[name=risk_level]").select_option("high")
    assessment.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("4")
    expect(page.locator("li[data-step=queued]")).to_have_count(3)

    # Reloaded while still offline: the case and the queue come from the tablet.
    page.reload()
    _ready(page)
    expect(page.locator("[data-outbox-count]")).to_have_text("4")
    expect(page.locator("[data-case-title]")).to_be_visible()
    expect(page.locator("li[data-step=queued]")).to_have_count(3)
    expect(page.locator("li[data-entry][data-status=waiting]")).to_have_count(4)
    expect(page.locator("form[data-offline-form=assessment] textarea[name=problem]")).to_have_value(
        "Masalah dicatat luring")
    screenshot(page, "offline-outbox-waiting")

    # The connection returns: everything is sent, in order, exactly once.
    page.context.set_offline(False)
    expect(page.locator("[data-outbox-count]")).to_have_text("0", timeout=20_000)
    assert batches  # sent as outbox batches
    with _server(live_server):
        steps = db.session.execute(select(Step).where(
            Step.case_id == case_id, Step.notes.like("Kunjungan luring %")).order_by(Step.id)).scalars().all()
        assert [s.notes for s in steps] == ["Kunjungan luring 1", "Kunjungan luring 2", "Kunjungan luring 3"]
        case = db.session.get(Case, case_id)
        assert case.assessment.problem == "Masalah dicatat luring" and case.risk_level == "high"
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action.in_(["step.logged", "assessment.saved"]))
            .order_by(AuditEvent.seq)).scalars().all()
        offline_events = [e for e in events if (e.context or {}).get("device_time")]
        assert [e.action for e in offline_events] == ["step.logged"] * 3 + ["assessment.saved"]
        assert all(e.context["via"] == "api" for e in offline_events)
        db.session.remove()

    # Conflict: the supervisor reassigns the other case while the tablet is offline.
    page.goto(f"/offline/#case-{other_case_id}")
    _ready(page)
    page.context.set_offline(True)
    _log_step(page, "Langkah pada kasus yang dialihkan")
    with _server(live_server):
        supervisor = db.session.execute(select(User).where(User.username == "supervisor")).scalar_one()
        other = db.session.execute(select(User).where(User.username == "pendamping2")).scalar_one()
        case_services.reassign_case(Actor(user=supervisor), other_case_id,
                                    {"facilitator_id": other.id, "reason": "Cuti"})
        db.session.remove()
    page.context.set_offline(False)
    conflict = page.locator("li[data-entry=step][data-status=conflict]")
    expect(conflict).to_be_visible(timeout=20_000)
    expect(conflict.locator("[data-current-state]")).to_be_visible()
    expect(conflict.locator("[data-choice=resend]")).to_have_count(0)
    screenshot(page, "offline-conflict-reassigned")
    conflict.locator("[data-choice=keep-note]").click()
    expect(page.locator("li[data-note=step]")).to_contain_text("Langkah pada kasus yang dialihkan")
    expect(page.locator("[data-outbox-count]")).to_have_text("0")
    with _server(live_server):
        assert db.session.execute(select(Step).where(
            Step.notes == "Langkah pada kasus yang dialihkan")).first() is None
        db.session.remove()

    # Moved on meanwhile (a step from another device): resend on the current version.
    page.goto(f"/offline/#case-{case_id}")
    _ready(page)
    page.context.set_offline(True)
    _log_step(page, "Langkah setelah versi berubah")
    with _server(live_server):
        me = db.session.execute(select(User).where(User.username == "pendamping")).scalar_one()
        case_services.log_step(Actor(user=me), case_id, {
            "step_type": "phone_call", "notes": "Dari perangkat lain",
            "occurred_at": "2026-11-01T09:00:00"})
        db.session.remove()
    page.context.set_offline(False)
    stale = page.locator("li[data-entry=step][data-status=conflict]")
    expect(stale).to_be_visible(timeout=20_000)
    stale.locator("[data-choice=resend]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("0", timeout=20_000)
    with _server(live_server):
        assert len(db.session.execute(select(Step).where(
            Step.notes == "Langkah setelah versi berubah")).all()) == 1
        db.session.remove()


def test_signing_out_clears_case_data_but_keeps_unsent_work(page, live_server):
    case_id = _open_cases(live_server, "pendamping", "assessment")[0]
    login(page, "pendamping")
    page.goto(f"/offline/#case-{case_id}")
    _ready(page)
    page.context.set_offline(True)
    _log_step(page, "Belum terkirim saat keluar")
    page.route("**/api/v1/**", lambda route: route.abort())  # the server cannot be reached
    page.context.set_offline(False)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form.signout button[type=submit]").click()
    page.wait_for_url("**/login")
    left = page.evaluate("""async () => ({
        cases: (await window.CaseflowStore.all('cases')).length,
        outbox: (await window.CaseflowStore.all('outbox')).map(e => e.body.notes),
    })""")
    assert left == {"cases": 0, "outbox": ["Belum terkirim saat keluar"]}
