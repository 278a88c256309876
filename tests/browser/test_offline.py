"""Offline tablets in Chromium: the facilitator's cases and the outbox survive a reload
without a signal; on reconnection every queued item reaches the server exactly once, in
order; a case reassigned meanwhile is shown as a conflict and resolved in the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, Case, Step, SyncReport
from caseflow.services import cases as case_services
from caseflow.services.context import Actor
from tests.support.browser import login, on_the_server, screenshot, user_named
from tests.support.factories import a_step

pytestmark = pytest.mark.browser


def _open_cases(live_server, username: str, state: str) -> list[int]:
    with on_the_server(live_server):
        user = user_named(username)
        return list(db.session.execute(select(Case.id).where(
            Case.facilitator_id == user.id, Case.state == state).order_by(Case.id)).scalars().all())


def _ready(page) -> None:
    page.wait_for_selector("#offline-app[data-ready='1']", state="attached", timeout=20_000)


def _log_step(page, notes: str) -> None:
    form = page.locator("form[data-offline-form=step]")
    waiting = int(page.locator("[data-outbox-count]").inner_text() or 0)
    _submit(form, {"select[name=step_type]": "home_visit", "textarea[name=notes]": notes})
    expect(form.locator("[data-queued]")).to_be_visible()
    # Queued for real (the status line of the previous step is still on the form).
    expect(page.locator("[data-outbox-count]")).to_have_text(str(waiting + 1))


def _submit(form, fields: dict[str, str]) -> None:
    """Fill each field of `form` (a select is chosen, any other typed in) and send it."""
    for selector, value in fields.items():
        field = form.locator(selector)
        if selector.startswith("select"):
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()


def _queue_step_offline(page, case_id: int, notes: str) -> None:
    """Open the case, lose the signal, and log a step (it waits in the outbox)."""
    page.goto(f"/offline/#case-{case_id}")
    _ready(page)
    page.context.set_offline(True)
    _log_step(page, notes)


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
    _submit(page.locator("form[data-offline-form=assessment]"), {
        "textarea[name=problem]": "Masalah dicatat luring", "textarea[name=needs]": "Kebutuhan",
        "textarea[name=strengths]": "Kekuatan", "select[name=risk_level]": "high"})
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
    with on_the_server(live_server):
        steps = db.session.execute(select(Step).where(
            Step.case_id == case_id, Step.notes.like("Kunjungan luring %")).order_by(Step.id)).scalars().all()
        assert [s.notes for s in steps] == ["Kunjungan luring 1", "Kunjungan luring 2", "Kunjungan luring 3"]
        # The tablet said what it still held (sync health): after the last batch, nothing.
        report = db.session.get(SyncReport, user_named("pendamping").id)
        assert report is not None and report.waiting == 0 and report.oldest_waiting_at is None
        case = db.session.get(Case, case_id)
        assert case.assessment.problem == "Masalah dicatat luring" and case.risk_level == "high"
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.case_id == case_id, AuditEvent.action.in_(["step.logged", "assessment.saved"]))
            .order_by(AuditEvent.seq)).scalars().all()
        offline_events = [e for e in events if (e.context or {}).get("device_time")]
        assert [e.action for e in offline_events] == ["step.logged"] * 3 + ["assessment.saved"]
        assert all(e.context["via"] == "api" for e in offline_events)

    # Conflict: the supervisor reassigns the other case while the tablet is offline.
    _queue_step_offline(page, other_case_id, "Langkah pada kasus yang dialihkan")
    with on_the_server(live_server):
        case_services.reassign_case(Actor(user=user_named("supervisor")), other_case_id,
                                    {"facilitator_id": user_named("pendamping2").id, "reason": "Cuti"})
    page.context.set_offline(False)
    conflict = page.locator("li[data-entry=step][data-status=conflict]")
    expect(conflict).to_be_visible(timeout=20_000)
    expect(conflict.locator("[data-current-state]")).to_be_visible()
    expect(conflict.locator("[data-choice=resend]")).to_have_count(0)
    screenshot(page, "offline-conflict-reassigned")
    conflict.locator("[data-choice=keep-note]").click()
    expect(page.locator("li[data-note=step]")).to_contain_text("Langkah pada kasus yang dialihkan")
    expect(page.locator("[data-outbox-count]")).to_have_text("0")
    with on_the_server(live_server):
        assert db.session.execute(select(Step).where(
            Step.notes == "Langkah pada kasus yang dialihkan")).first() is None

    # Moved on meanwhile (a step from another device): resend on the current version.
    _queue_step_offline(page, case_id, "Langkah setelah versi berubah")
    with on_the_server(live_server):
        case_services.log_step(Actor(user=user_named("pendamping")), case_id, {
            "step_type": "phone_call", "notes": "Dari perangkat lain",
            "occurred_at": a_step()["occurred_at"]})
        db.session.remove()
    page.context.set_offline(False)
    stale = page.locator("li[data-entry=step][data-status=conflict]")
    expect(stale).to_be_visible(timeout=20_000)
    stale.locator("[data-choice=resend]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("0", timeout=20_000)
    with on_the_server(live_server):
        assert len(db.session.execute(select(Step).where(
            Step.notes == "Langkah setelah versi berubah")).all()) == 1


def _goal_ids(live_server, case_id: int) -> list[int]:
    with on_the_server(live_server):
        plan = db.session.get(Case, case_id).plan
        return [g.id for g in plan.goals if not g.archived]


def _show_case(page, case_id: int) -> None:
    page.evaluate(f"window.location.hash = '#case-{case_id}'")
    page.wait_for_selector(f"[data-case-section][data-case-id='{case_id}']:not([hidden])")


def _fill_goal(row, description: str, target_date: str, responsible: str) -> None:
    row.locator("textarea[name=goal_description]").fill(description)
    row.locator("input[name=goal_target_date]").fill(target_date)
    row.locator("input[name=goal_responsible_party]").fill(responsible)


def test_plan_and_evaluation_queued_offline_reach_the_server_once(page, live_server):
    plan_case = _open_cases(live_server, "pendamping2", "planning")[0]
    evaluation_case = _open_cases(live_server, "pendamping2", "evaluation")[0]
    first_goal, second_goal = _goal_ids(live_server, evaluation_case)[:2]
    login(page, "pendamping2")
    page.goto("/offline/")
    _ready(page)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
    page.reload()
    _ready(page)
    page.wait_for_function("""async () => {  // the shell page is kept by the worker
        for (const name of await caches.keys()) {
            if (await (await caches.open(name)).match('/offline/')) return true;
        }
        return false;
    }""", polling=100, timeout=20_000)
    plan_form = page.locator("form[data-offline-form=plan]")
    evaluation_form = page.locator("form[data-offline-form=evaluation]")

    # No signal: a plan with two goals (a third added, then removed) on the case in planning…
    page.context.set_offline(True)
    expect(page.locator("#offline-app")).to_have_attribute("data-online", "0")
    _show_case(page, plan_case)
    expect(plan_form).to_be_visible()
    expect(evaluation_form).to_be_hidden()
    plan_form.locator("textarea[name=summary]").fill("Rencana disusun luring")
    for _ in range(3):
        plan_form.locator("[data-add-goal]").click()
    rows = plan_form.locator("[data-goal-row]")
    _fill_goal(rows.nth(0), "Klien kembali bersekolah (luring)", "2027-01-15", "Pendamping")
    _fill_goal(rows.nth(1), "Goal yang dibatalkan", "", "")
    _fill_goal(rows.nth(2), "Klien punya akta kelahiran (luring)", "2027-02-01", "Dinas Dukcapil")
    rows.nth(1).locator("[data-remove-goal]").click()
    expect(rows).to_have_count(2)
    plan_form.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("1")

    # …and an evaluation on the case in evaluation, prefilled from its earlier evaluation.
    _show_case(page, evaluation_case)
    expect(plan_form).to_be_hidden()
    expect(evaluation_form).to_be_visible()
    first = evaluation_form.locator(f"[data-rating-row][data-goal-id='{first_goal}']")
    second = evaluation_form.locator(f"[data-rating-row][data-goal-id='{second_goal}']")
    expect(first.locator("select[name=rating]")).to_have_value("achieved")
    evaluation_form.locator("textarea[name=summary]").fill("Evaluasi luring")
    first.locator("select[name=rating]").select_option("partly_achieved")
    first.locator("textarea[name=rating_notes]").fill("Baru masuk dua minggu")
    second.locator("select[name=rating]").select_option("not_achieved")
    evaluation_form.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("2")

    # Reloaded while still offline: both entries wait, and the forms show what was queued.
    page.reload()
    _ready(page)
    expect(page.locator("[data-outbox-count]")).to_have_text("2")
    expect(page.locator("li[data-entry=plan][data-status=waiting]")).to_contain_text(
        "Klien punya akta kelahiran (luring)")
    expect(page.locator("li[data-entry=evaluation][data-status=waiting]")).to_have_count(1)
    expect(evaluation_form.locator(f"[data-rating-row][data-goal-id='{first_goal}'] select[name=rating]")
           ).to_have_value("partly_achieved")
    _show_case(page, plan_case)
    expect(plan_form.locator("[data-goal-row] textarea[name=goal_description]")).to_have_count(2)
    target_dates = plan_form.locator("[data-goal-row] input[name=goal_target_date]")
    expect(target_dates.nth(1)).to_have_value("2027-02-01")
    screenshot(page, "offline-plan-evaluation-waiting")

    # The connection returns: both reach the server, each exactly once.
    page.context.set_offline(False)
    expect(page.locator("[data-outbox-count]")).to_have_text("0", timeout=20_000)
    # The form now shows the plan as the server holds it (goals with their ids).
    expect(plan_form.locator("[data-goal-row] input[name=goal_id]:not([value=''])")).to_have_count(2)
    with on_the_server(live_server):
        plan = db.session.get(Case, plan_case).plan
        goals = [(g.description, g.target_date.isoformat() if g.target_date else None, g.responsible_party)
                 for g in plan.goals if not g.archived]
        assert plan.summary == "Rencana disusun luring"
        assert goals == [("Klien kembali bersekolah (luring)", "2027-01-15", "Pendamping"),
                         ("Klien punya akta kelahiran (luring)", "2027-02-01", "Dinas Dukcapil")]
        assert len(plan.goals) == 2  # nothing added twice
        evaluation = db.session.get(Case, evaluation_case).evaluation
        assert evaluation.summary == "Evaluasi luring"
        ratings = {r.goal_id: (r.rating, r.notes) for r in evaluation.ratings}
        assert ratings == {first_goal: ("partly_achieved", "Baru masuk dua minggu"),
                           second_goal: ("not_achieved", "")}
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.case_id.in_([plan_case, evaluation_case]),
            AuditEvent.action.in_(["plan.saved", "evaluation.saved"]))).scalars().all()
        offline_events = sorted((e.case_id, e.action) for e in events if (e.context or {}).get("device_time"))
        assert offline_events == sorted([(plan_case, "plan.saved"), (evaluation_case, "evaluation.saved")])


def test_signing_out_clears_case_data_but_keeps_unsent_work(page, live_server):
    case_id = _open_cases(live_server, "pendamping", "assessment")[0]
    login(page, "pendamping")
    _queue_step_offline(page, case_id, "Belum terkirim saat keluar")
    page.route("**/api/v1/**", lambda route: route.abort())  # the server cannot be reached
    page.context.set_offline(False)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form.signout button[type=submit]").click()
    page.wait_for_url("**/login")
    left = page.evaluate("""async () => ({
        cases: (await window.CaseflowStore.all('cases')).length,
        outbox: (await window.CaseflowStore.all('outbox')).map(e => [e.status, 'body' in e, 'sealed' in e]),
        text: JSON.stringify(await window.CaseflowStore.all('outbox')),
    })""")
    # The entry stays, sealed: its words cannot be read until the same person signs in.
    assert left["cases"] == 0 and left["outbox"] == [["waiting", False, True]]
    assert "Belum terkirim" not in left["text"]
