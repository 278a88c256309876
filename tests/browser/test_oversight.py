"""Oversight journeys in a real browser (tablet portrait, Indonesian): the supervisor
approves one termination and rejects another (a reason is required) and reassigns a
case; the auditor opens a case's timeline and runs the integrity check; the programme
manager sees the figures; the administrator creates an account and is told that a
facilitator with open cases cannot be deactivated yet."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import SCREENSHOTS, login, screenshot
from tests.support.browser import SMALL_TARGETS_IN_MAIN as SMALL_TARGETS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def second_request(live_server):
    """The demo has one termination waiting for supervisor Maria Tebay; add a second,
    walked through the services by her facilitator Naomi Kogoya."""
    from sqlalchemy import select

    from caseflow.extensions import db
    from caseflow.models import User
    from tests.support.factories import Factory

    with live_server.app.app_context():
        facilitator = db.session.execute(select(User).where(User.username == "pendamping2")).scalar_one()
        case = Factory(live_server.app).case(facilitator, to="termination_review")
        number = case.number
        db.session.remove()
    return number


def test_supervisor_approves_rejects_and_reassigns(page, second_request):
    login(page, "supervisor")
    expect(page.locator("h1")).to_have_text("Tim saya")
    expect(page.locator("table")).to_contain_text("Yohanes Wenda")
    expect(page.locator(".figure-card").first).to_contain_text("2")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "oversight-supervisor-team")

    # The queue, oldest first; the first request is rejected, which needs a reason.
    page.get_by_role("link", name="Permohonan persetujuan").first.click()
    expect(page.locator(".case-item")).to_have_count(2)
    page.locator(".case-item a").first.click()
    expect(page.locator("h1")).to_contain_text("Terminasi")
    expect(page.locator("#steps-title")).to_be_visible()
    expect(page.locator("#plan-record")).to_be_visible()
    page.check("input[name=decision][value=reject]")
    page.get_by_role("button", name="Kirim keputusan").click()
    expect(page.locator("#f-reason-error-1")).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "oversight-sign-off-reason-required")
    page.check("input[name=decision][value=reject]")
    page.fill("textarea[name=reason]", "Tujuan kedua belum tercapai; evaluasi ulang bersama keluarga.")
    page.get_by_role("button", name="Kirim keputusan").click()
    expect(page.locator(".flash-success")).to_contain_text("Ditolak")

    # The second is approved.
    expect(page.locator(".case-item")).to_have_count(1)
    expect(page.locator(".case-item")).to_contain_text(second_request)
    page.locator(".case-item a").first.click()
    page.check("input[name=decision][value=approve]")
    page.get_by_role("button", name="Kirim keputusan").click()
    expect(page.locator(".flash-success")).to_contain_text("Disetujui")
    expect(page.locator(".case-item")).to_have_count(0)

    # An overdue case goes to the other facilitator of the team.
    page.get_by_role("link", name="Kasus terlambat").click()
    page.get_by_role("link", name="Alihkan").first.click()
    page.select_option("select[name=facilitator_id]", index=1)
    page.fill("textarea[name=reason]", "Beban kerja dibagi ulang.")
    page.get_by_role("button", name="Alihkan").click()
    expect(page.locator(".flash-success")).to_contain_text("kini ditangani oleh")
    expect(page).to_have_url(re.compile(r"/team$"))


def test_auditor_opens_a_timeline_and_runs_the_integrity_check(page):
    login(page, "auditor")
    expect(page.locator("h1")).to_have_text("Cari kasus")
    page.get_by_role("link", name="Linimasa").first.click()
    expect(page.locator("h1")).to_contain_text("Riwayat kasus")
    first = page.locator(".timeline-event").first
    expect(first).to_contain_text("Kasus dibuka")
    expect(first).to_contain_text("UTC")
    expect(first).to_contain_text("WIB")
    expect(page.locator("table.diff ins").first).to_be_visible()
    expect(page.locator(".timeline-event").last).to_contain_text("Kasus dilihat")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "oversight-audit-timeline")
    page.screenshot(path=str(SCREENSHOTS / "oversight-audit-timeline-top.png"))  # the first screenful

    page.get_by_role("link", name="Pemeriksaan integritas").click()
    page.get_by_role("button", name="Jalankan pemeriksaan").click()
    expect(page.locator(".integrity-ok")).to_contain_text("Utuh")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "oversight-integrity-check")


def test_manager_sees_the_figures_without_personal_data(page):
    login(page, "manajer")
    expect(page.locator("h1")).to_have_text("Angka program")
    expect(page.locator(".figure-card").first).to_contain_text("Kasus terdata")
    expect(page.locator("table.figures").first).to_contain_text("Papua")
    # A category the demo itself has: this test may run alone (xdist hands tests out one by
    # one), without the case the supervisor's journey adds.
    expect(page.locator("table.figures").nth(1)).to_contain_text("Anak Jalanan (P04)")
    for name in ("Yohanes Wenda", "Naomi Kogoya", "Yuliana Ndun"):
        expect(page.locator("main")).not_to_contain_text(name)
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "oversight-manager-figures")


def test_admin_creates_a_user_and_cannot_deactivate_a_facilitator_with_open_cases(page):
    login(page, "admin")
    expect(page.locator("h1")).to_have_text("Pengguna")
    page.get_by_role("link", name="Pengguna baru").first.click()
    page.fill("input[name=username]", "pendamping.baru")
    page.fill("input[name=full_name]", "Pendamping Baru")
    page.select_option("select[name=role]", "facilitator")
    page.fill("input[name=password]", "Lembah-Baliem-2026!")
    page.select_option("select[name=province_code]", "91")
    page.select_option("select[name=supervisor_id]", label="Maria Tebay (supervisor) · 91")
    page.get_by_role("button", name="Buat akun").click()
    expect(page.locator(".flash-success")).to_contain_text("pendamping.baru")
    expect(page.locator("h1")).to_contain_text("Pendamping Baru")

    page.get_by_role("link", name="Pengguna").first.click()
    page.get_by_role("link", name="Yohanes Wenda").click()
    page.get_by_role("button", name="Nonaktifkan akun").click()
    expect(page.locator("#f-active-error-1")).to_contain_text("dialihkan")
    expect(page.locator(".error-summary")).to_contain_text("Alihkan terlebih dahulu")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "oversight-admin-open-cases")
