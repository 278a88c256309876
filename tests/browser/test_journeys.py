"""Journeys in a real browser (tablet portrait, Indonesian): signing in and out, and a
facilitator taking a new client from registration to a termination request."""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import (
    SMALL_TARGETS,
    TABLET_LANDSCAPE,
    login,
    open_case,
    register_client,
    screenshot,
)

pytestmark = pytest.mark.browser


def action(page, trigger: str):
    return page.locator(f"form[action$='/actions/{trigger}'] button[type=submit]")


def test_sign_in_wrong_password_then_sign_out(page):
    login(page, "pendamping", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Nama pengguna atau kata sandi salah.")
    expect(page.locator("input[name=remember]")).not_to_be_checked()
    screenshot(page, "sign-in-wrong-password")

    login(page, "pendamping")
    expect(page.locator("h1")).to_have_text("Kasus saya")
    expect(page.locator(".who")).to_contain_text("WIT")
    page.get_by_role("button", name="Keluar").click()
    expect(page.locator(".flash")).to_contain_text("Anda sudah keluar.")
    page.goto("/cases")
    expect(page).to_have_url(re.compile(r"/login"))


def test_facilitator_registers_a_client_and_walks_the_case_to_termination(page):
    login(page, "pendamping")
    expect(page.locator(".case-item").first).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "facilitator-my-cases")

    # Register a client: a NIK from no province is refused at the field, in Indonesian.
    register_client(page, {"full_name": "Yakobus Tabuni", "nik": "9901011508850001", "birth_date": "1985-08-15"})
    nik_error = page.locator("#f-nik-error-1")
    expect(nik_error).to_contain_text("bukan kode provinsi")
    screenshot(page, "register-client-nik-error")

    page.fill("input[name=nik]", f"910101150885{random.randint(1000, 9999)}")
    page.get_by_role("button", name="Daftarkan klien").click()
    open_case(page, "P02", "Anak putus sekolah, keluarga membutuhkan pendampingan.")

    # Assessment: moving on too early is refused with what is missing.
    action(page, "start_assessment").click()
    expect(page.locator(".badge-state")).to_have_text("Asesmen")
    action(page, "complete_assessment").click()
    expect(page.locator(".flash-error")).to_contain_text("Asesmen")
    screenshot(page, "case-refused-action")
    page.fill("textarea[name=problem]", "Anak tidak bersekolah sejak setahun.")
    page.fill("textarea[name=needs]", "Kembali ke sekolah, dukungan biaya.")
    page.fill("textarea[name=strengths]", "Orang tua peduli.")
    page.check("input[name=risk_level][value=medium]")
    page.get_by_role("button", name="Simpan asesmen").click()
    expect(page.locator(".flash-success")).to_be_visible()
    action(page, "complete_assessment").click()
    expect(page.locator(".badge-state")).to_have_text("Rencana intervensi")

    # Plan: goals added and removed on the page.
    page.fill("textarea[name='goals-0-description']", "Anak kembali bersekolah")
    page.fill("input[name='goals-0-target_date']", "2027-01-31")
    page.fill("input[name='goals-0-responsible_party']", "Pendamping")
    add = page.get_by_role("button", name="+ Tambah tujuan")
    add.click()
    page.fill("textarea[name='goals-1-description']", "Keluarga menerima bantuan biaya sekolah")
    page.fill("input[name='goals-1-target_date']", "2026-12-31")
    page.fill("input[name='goals-1-responsible_party']", "Dinas Sosial")
    add.click()
    page.fill("textarea[name='goals-2-description']", "Tujuan yang salah ketik")
    expect(page.locator(".goal")).to_have_count(3)
    page.locator(".goal").nth(2).get_by_role("button", name="Hapus tujuan ini").click()
    expect(page.locator(".goal")).to_have_count(2)
    page.get_by_role("button", name="Simpan rencana").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("input[name$='-id']")).to_have_count(2)
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "case-plan")
    action(page, "start_intervention").click()
    expect(page.locator(".badge-state")).to_have_text("Intervensi")

    # Log a step: the time defaults to now in the facilitator's zone.
    page.get_by_role("link", name="Catat langkah").first.click()
    expect(page.locator(".hint").first).to_contain_text("WIT")
    assert page.input_value("input[name=occurred_at]")
    page.check("input[name=step_type][value=home_visit]")
    page.fill("input[name=location]", "Kampung Wamena")
    page.fill("textarea[name=notes]", "Bertemu orang tua, membahas pendaftaran sekolah.")
    page.select_option("select[name=goal_id]", label="Anak kembali bersekolah")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "log-step")
    page.get_by_role("button", name="Catat langkah").click()
    expect(page.locator(".steps li")).to_have_count(1)
    expect(page.locator(".steps")).to_contain_text("Kunjungan rumah")

    # Evaluation and the termination request.
    action(page, "start_evaluation").click()
    expect(page.locator(".badge-state")).to_have_text("Evaluasi")
    # One evaluation form, one action: rate, say what next, send (issue 19).
    for radio in page.locator("input[type=radio][value=achieved]").all():
        radio.check()
    expect(page.locator("#evaluation-summary")).to_contain_text("Belum ada tujuan yang dinilai")
    page.check("input[name=next][value=request_termination]")
    page.check("input[name=outcome][value=resolved]")
    page.fill("textarea[name=aftercare_plan]", "Kunjungan bulanan selama enam bulan.")
    page.locator("#stage-form").get_by_role("button", name="Simpan", exact=True).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator(".badge-waiting")).to_have_text("Menunggu persetujuan terminasi")
    expect(page.locator("#actions")).to_contain_text("supervisor")
    screenshot(page, "case-termination-requested")
    page.set_viewport_size(TABLET_LANDSCAPE)
    screenshot(page, "case-termination-requested-landscape")
