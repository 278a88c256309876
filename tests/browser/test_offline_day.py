"""A whole field day without a signal, in Chromium: two clients registered (one of them
already known to the server), a new case walked from recorded to intervention, a case
moved to evaluation, a termination requested while the supervisor sends that case back
to planning; a reload offline, two reconnects in quick succession; everything reaches the
server exactly once, in order; the duplicate and the real conflict are the facilitator's
choice, in Indonesian, with nothing of the code's English showing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.models import Attachment, AuditEvent, Case, Client, Step
from caseflow.services import cases as case_services
from caseflow.services.context import Actor
from tests.support.browser import (
    SMALL_TARGETS_IN_MAIN,
    login,
    offline_app_without_signal,
    offline_ready,
    on_the_server,
    screenshot,
    user_named,
)

pytestmark = pytest.mark.browser

# What must never show on the offline pages in Indonesian: the code's keys and values.
RAW = re.compile(r"\b(problem|needs|strengths|risk_level|high|medium|low|resolved|closed_unresolved|"
                 r"assessment|planning|intervention|evaluation|termination_review|home_visit|"
                 r"start_assessment|complete_assessment|client|case|step|Waiting|Sent|Conflict|"
                 r"urn:caseflow)\b|\d{4}-\d{2}-\d{2}")


def _case_in(live_server, state: str) -> int:
    with on_the_server(live_server):
        return db.session.execute(select(Case.id).where(
            Case.facilitator_id == user_named("pendamping").id, Case.state == state).order_by(Case.id)).scalars().first()


def _rate_every_goal_not_achieved(live_server, case_id: int) -> None:
    with on_the_server(live_server):
        case = db.session.get(Case, case_id)
        goals = [g.id for g in case.plan.goals if not g.archived]
        case_services.save_evaluation(Actor(user=user_named("pendamping")), case_id, {
            "summary": "Belum ada kemajuan", "ratings": [{"goal_id": g, "rating": "not_achieved"} for g in goals]})


def _fill(form, fields: dict[str, str]) -> None:
    for selector, value in fields.items():
        field = form.locator(selector)
        if selector.startswith("select"):
            field.select_option(value)
        elif value is True:
            field.check()
        else:
            field.fill(value)


def _sign(page, form) -> None:
    """Draw a signature on the form's pad, as a finger would."""
    box = form.locator("canvas.signature-pad").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    for n in range(1, 12):
        page.mouse.move(box["x"] + 20 + n * 25, box["y"] + box["height"] / 2 + (15 if n % 2 else -15))
    page.mouse.up()
    expect(form.locator("[data-signature][data-signed]")).to_have_count(1)


def _register(page, name: str, birth: str, sex: str, *, sign: bool = False) -> None:
    page.evaluate("window.location.hash = ''")
    page.locator("[data-show-register]").click()
    form = page.locator("form[data-offline-form=register]")
    expect(form).to_be_visible()
    _fill(form, {"input[name=full_name]": name, "input[name=birth_date]": birth, "select[name=sex]": sex,
                 "input[name=consent_given_by]": "klien sendiri", "input[name=consent_confirmed]": True,
                 "select[name=ppks_category_code]": "P02", "textarea[name=summary]": "Ditemui saat kunjungan"})
    if sign:
        _sign(page, form)
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-case-title]")).to_contain_text(name)


def _move(page, trigger: str) -> None:
    move = page.locator(f"[data-move={trigger}] button")
    expect(move).to_be_enabled()
    waiting = int(page.locator("[data-outbox-count]").inner_text())
    move.click()
    expect(page.locator("[data-outbox-count]")).to_have_text(str(waiting + 1))


def _step(page, notes: str, photo=None, where: bool = False) -> None:
    form = page.locator("form[data-offline-form=step]")
    waiting = int(page.locator("[data-outbox-count]").inner_text())
    _fill(form, {"select[name=step_type]": "home_visit", "textarea[name=notes]": notes})
    if photo is not None:
        form.locator("input[name=files]").set_input_files(str(photo))
    if where:
        form.locator("input[name=with_location]").check()
    form.locator("button[type=submit]").click()
    expect(page.locator("[data-outbox-count]")).to_have_text(str(waiting + 1 + (photo is not None)))


def _show(page, case_id) -> None:
    page.evaluate(f"window.location.hash = '#case-{case_id}'")
    expect(page.locator(f"[data-case-section][data-case-id='{case_id}']")).to_be_visible()


def _no_raw_words(page) -> None:
    text = page.locator("#offline-app").inner_text()
    assert not RAW.findall(text), RAW.findall(text)


def _a_photo(directory) -> object:
    """A camera-sized photo (about 2 MB as a PNG) the tablet makes smaller before queueing."""
    from PIL import Image

    image = Image.effect_noise((2400, 1800), 60).convert("RGB")
    path = directory / "kunjungan.png"
    image.save(path)
    return path


def test_a_whole_field_day_offline_reaches_the_server_once(page, live_server, tmp_path):
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": -2.53311, "longitude": 140.71813})
    intervention = _case_in(live_server, "intervention")
    evaluation = _case_in(live_server, "evaluation")
    _rate_every_goal_not_achieved(live_server, evaluation)
    # No signal all day; the app opens again from the tablet.
    offline_app_without_signal(page, "pendamping")

    # A new client and her case, walked from recorded to intervention without a signal.
    _register(page, "Maria Wenda", "1990-04-12", "F", sign=True)
    meta = page.locator("[data-case-meta]")
    expect(meta).to_contain_text("Terdata")
    expect(page.locator("form[data-offline-form=assessment]")).to_be_hidden()
    _move(page, "start_assessment")
    expect(meta).to_have_attribute("data-local-state", "assessment")
    assessment = page.locator("form[data-offline-form=assessment]")
    expect(page.locator("[data-move=complete_assessment] [data-missing]")).to_contain_text("Asesmen belum diisi")
    _fill(assessment, {"textarea[name=problem]": "Putus sekolah", "textarea[name=needs]": "Pendidikan",
                       "textarea[name=strengths]": "Keluarga peduli", "select[name=risk_level]": "high"})
    assessment.locator("button[type=submit]").click()
    _move(page, "complete_assessment")
    plan = page.locator("form[data-offline-form=plan]")
    expect(plan).to_be_visible()
    plan.locator("[data-add-goal]").click()
    row = plan.locator("[data-goal-row]").first
    _fill(row, {"textarea[name=goal_description]": "Kembali bersekolah",
                "input[name=goal_target_date]": "2027-03-01", "input[name=goal_responsible_party]": "Pendamping"})
    plan.locator("button[type=submit]").click()
    _move(page, "start_intervention")
    expect(page.locator("[data-move=start_evaluation] button")).to_be_disabled()
    expect(page.locator("[data-move=start_evaluation] [data-missing]")).to_contain_text("langkah")
    _step(page, "Kunjungan rumah Maria", photo=_a_photo(tmp_path), where=True)
    expect(page.locator("li[data-step=queued]")).to_contain_text("1 terlampir")
    expect(page.locator("[data-move=start_evaluation] button")).to_be_enabled()
    expect(page.locator("[data-case-records]")).to_contain_text("Tinggi")
    expect(page.locator("[data-case-records]")).to_contain_text("1 Maret 2027")
    assert page.evaluate(SMALL_TARGETS_IN_MAIN) == []  # tap-sized on the tablet
    screenshot(page, "offline-day-new-case-800")

    # A client the server already knows (registered before, no case yet): same name and birth date.
    _register(page, "Petrus Tabuni", "1979-04-12", "M")

    # A case in intervention: only the forms the stage allows.
    _show(page, intervention)
    expect(page.locator("form[data-offline-form=termination]")).to_be_hidden()
    expect(page.locator("form[data-offline-form=assessment]")).to_be_hidden()
    _step(page, "Pendampingan di sekolah")
    _move(page, "start_evaluation")
    expect(page.locator("form[data-offline-form=evaluation]")).to_be_visible()

    # A case in evaluation: a termination request, while the supervisor sends it back to planning.
    _show(page, evaluation)
    termination = page.locator("form[data-offline-form=termination]")
    _fill(termination, {"select[name=outcome]": "closed_unresolved", "select[name=closure_reason]": "moved"})
    termination.locator("button[type=submit]").click()
    _move(page, "request_termination")
    with on_the_server(live_server):
        case_services.fire_trigger(Actor(user=user_named("supervisor")), evaluation, "revise_plan", {})

    # Reloaded without a signal: all of it is still on the tablet.
    page.reload()
    offline_ready(page)
    expect(page.locator("[data-outbox-count]")).to_have_text("16")
    expect(page.locator("[data-cases] .case-provisional")).to_have_count(2)
    _no_raw_words(page)
    page.evaluate("window.location.hash = ''")
    screenshot(page, "offline-day-outbox-800")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "offline-day-outbox-390")
    page.set_viewport_size({"width": 800, "height": 1024})

    # The signal comes back twice in quick succession.
    page.context.set_offline(False)
    page.context.set_offline(True)
    page.context.set_offline(False)
    duplicate = page.locator("li[data-entry=client][data-status=failed]")
    conflict = page.locator("li[data-entry=termination][data-status=conflict]")
    expect(duplicate).to_be_visible(timeout=30_000)
    expect(conflict).to_be_visible(timeout=30_000)
    expect(page.locator("[data-outbox-summary]")).to_contain_text("ditolak")
    # Held behind their refused entries: Petrus's case, and the termination move.
    expect(page.locator("[data-outbox-count]")).to_have_text("4", timeout=30_000)
    side = conflict.locator("[data-current-state]")
    expect(side).to_contain_text("Evaluasi")
    expect(side).to_contain_text("Rencana intervensi")
    expect(conflict.locator("[data-choice=resend]")).to_have_count(0)  # planning takes no termination
    expect(duplicate.locator("[data-duplicates]")).to_contain_text("Petrus Tabuni")
    _no_raw_words(page)
    screenshot(page, "offline-day-choices-800")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "offline-day-choices-390")
    page.set_viewport_size({"width": 800, "height": 1024})

    # The facilitator decides: Petrus is the client already registered; the termination is kept as notes.
    duplicate.locator("[data-choice=use-existing]").click()
    conflict.locator("[data-choice=keep-note]").click()
    page.locator("li[data-entry=transition] [data-choice=keep-note]").click(timeout=30_000)
    expect(page.locator("[data-outbox-count]")).to_have_text("0", timeout=30_000)
    expect(page.locator("li[data-note]")).to_have_count(2)

    with on_the_server(live_server):
        maria = db.session.execute(select(Client).where(Client.full_name == "Maria Wenda")).scalars().all()
        assert len(maria) == 1
        new_case = db.session.execute(select(Case).where(Case.client_id == maria[0].id)).scalar_one()
        assert new_case.state == "intervention" and new_case.risk_level == "high"
        assert [s.notes for s in new_case.steps] == ["Kunjungan rumah Maria"]
        assert new_case.steps[0].location == "-2.53311, 140.71813"
        files = db.session.execute(select(Attachment).where(Attachment.case_id == new_case.id)
                                   .order_by(Attachment.id)).scalars().all()
        assert [(f.purpose, f.content_type, f.step_id) for f in files] == [
            ("consent_registration", "image/png", None), ("photo", "image/jpeg", new_case.steps[0].id)]
        assert files[1].size < 1_000_000  # made smaller on the tablet
        petrus = db.session.execute(select(Client).where(Client.full_name == "Petrus Tabuni")).scalars().all()
        assert len(petrus) == 1
        assert db.session.execute(select(func.count()).select_from(Case).where(
            Case.client_id == petrus[0].id)).scalar_one() == 1
        moved = db.session.get(Case, intervention)
        assert moved.state == "evaluation"
        assert db.session.execute(select(func.count()).select_from(Step).where(
            Step.notes == "Pendampingan di sekolah")).scalar_one() == 1
        sent_back = db.session.get(Case, evaluation)
        assert sent_back.state == "planning" and sent_back.termination is None
        registered = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "client.registered")).scalars().all()
        assert [e.after["full_name"] for e in registered].count("Maria Wenda") == 1
        offline = [e for e in db.session.execute(select(AuditEvent).where(
            AuditEvent.case_id == new_case.id).order_by(AuditEvent.seq)).scalars()
            if (e.context or {}).get("device_time")]
        assert [e.action for e in offline][:3] == ["case.opened", "attachment.added", "case.transition"]

    # Back at the office: the supervisor sees the photo and the signature on the case page;
    # another province's supervisor gets nothing.
    page.locator("form.signout button[type=submit]").click()
    page.wait_for_url("**/login")
    login(page, "supervisor")
    page.goto(f"/cases/{new_case.id}")
    listed = page.locator("#attachments li")
    expect(listed).to_have_count(2)
    expect(page.locator("#steps")).to_contain_text("-2.53311, 140.71813")
    screenshot(page, "offline-day-supervisor-attachments")
    photo_url = listed.nth(1).locator("a").get_attribute("href")
    shown = page.request.get(photo_url)
    assert shown.status == 200 and shown.headers["content-type"] == "image/jpeg"
    page.locator("form.signout button[type=submit]").click()
    page.wait_for_url("**/login")
    login(page, "supervisor.ntt")
    assert page.request.get(photo_url).status == 404
