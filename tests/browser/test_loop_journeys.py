"""The loop between the people, in a real browser (tablet portrait, Indonesian), on the
demo data: a client left without a case is found and continued, an aftercare follow-up
is logged, a referral is sent, answered and shown overdue, and the figures show both."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_journeys import SMALL_TARGETS
from tests.support.browser import login, open_case, register_client, screenshot

pytestmark = pytest.mark.browser


def nav(page, name: str) -> None:
    page.locator("nav.mainnav").get_by_role("link", name=name, exact=True).click()


def test_a_lost_client_is_found_and_continued(page):
    login(page, "pendamping")
    # Registering the same person again is offered the earlier record instead.
    register_client(page, {"full_name": "Petrus Tabuni", "birth_date": "1979-04-12"})
    expect(page.locator("#possible-matches")).to_contain_text("Sudah terdaftar?")
    screenshot(page, "register-offers-existing-client")

    # The client list: the one without a case is marked, and found by their full NIK.
    nav(page, "Klien")
    expect(page.locator("h1")).to_have_text("Klien")
    lost = page.locator(".case-item", has_text="Petrus Tabuni")
    expect(lost).to_contain_text("Belum ada kasus")
    page.check("input[name=without_case]")
    page.get_by_role("button", name="Cari").click()
    expect(page.locator(".case-item")).to_have_count(1)
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "clients-without-a-case")
    page.locator(".case-item a").first.click()
    expect(page.locator("h1")).to_contain_text("Petrus Tabuni")
    nik = page.locator("dl.facts dd").first.inner_text().strip()
    nav(page, "Klien")
    page.fill("input[name=q]", nik)
    page.get_by_role("button", name="Cari").click()
    expect(page.locator(".case-item")).to_have_count(1)

    # Continued: a case opened for them.
    page.locator(".case-item a").first.click()
    page.get_by_role("link", name="Buka kasus").click()
    open_case(page, "P09", "Terdaftar saat sinyal putus; kasus dibuka sekarang.")
    expect(page.locator("h1")).to_contain_text("Petrus Tabuni")


def test_a_returning_clients_new_case_is_linked_to_the_earlier_one(page):
    login(page, "pendamping2")
    nav(page, "Klien")
    page.locator(".case-item:has([data-cases='2']) a").first.click()
    expect(page.locator("#client-cases .case-item")).to_have_count(2)
    page.locator("#client-cases .case-item a").first.click()
    expect(page.locator("#client-other-cases")).to_contain_text("Kasus lain klien ini")
    screenshot(page, "case-linked-to-earlier-case")


def test_an_aftercare_follow_up_is_logged(page):
    login(page, "pendamping")
    nav(page, "Bimbingan lanjut")
    expect(page.locator("h1")).to_have_text("Bimbingan lanjut")
    page.locator("[data-aftercare-case] a").first.click()
    panel = page.locator("#aftercare")
    expect(panel).to_contain_text("Dalam bimbingan lanjut")
    expect(page.locator(".badge-resolved").first).to_have_text("Terselesaikan")
    expect(panel.locator("[data-contact-status=made]")).to_have_count(1)
    expect(panel.locator("[data-contact-status=open]")).to_have_count(1)
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "aftercare-contact-due")
    panel.get_by_role("link", name="Catat kontak bimbingan lanjut").click()
    page.check("input[name=step_type][value=home_visit]")
    page.fill("input[name=location]", "Kampung Hitigima")
    page.fill("textarea[name=notes]", "Kunjungan bimbingan lanjut kedua: klien tetap bersekolah.")
    page.get_by_role("button", name="Catat langkah").click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#aftercare [data-contact-status=made]")).to_have_count(2)
    expect(page.locator("#steps .steps")).to_contain_text("Kunjungan bimbingan lanjut kedua")
    expect(page.locator(".badge-resolved").first).to_have_text("Terselesaikan")
    screenshot(page, "aftercare-contact-made")


def test_the_supervisor_sees_the_teams_overdue_referrals_and_the_figures(page):
    """Before the facilitator below records that the overdue referral got no answer."""
    login(page, "supervisor")
    nav(page, "Kasus terlambat")
    expect(page.locator("#overdue-referrals")).to_contain_text("Rujukan terlambat")
    screenshot(page, "supervisor-overdue-referrals")
    nav(page, "Pemantauan")
    expect(page.locator("#table-referrals")).to_contain_text("Rujukan per jenis layanan")
    expect(page.locator("#table-aftercare")).to_contain_text("Bimbingan lanjut")
    page.locator("#table-referrals").get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text("Rujukan")
    screenshot(page, "monitoring-referrals-behind-a-figure")


def test_a_referral_is_sent_answered_and_overdue_ones_are_shown(page):
    login(page, "pendamping")
    # An overdue referral shows on the facilitator's own list.
    overdue = page.locator("#overdue-referrals")
    expect(overdue).to_contain_text("Rujukan terlambat")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "facilitator-overdue-referral")

    # Send one from a case in intervention, with the letter to take along.
    page.goto("/cases?state=intervention")
    page.locator("main > ul.case-list .case-item a").first.click()
    page.get_by_role("link", name="Rujuk klien").click()
    page.select_option("select[name=destination_type]", "health")
    page.fill("input[name=institution]", "Puskesmas Wamena Kota")
    page.fill("textarea[name=reason]", "Pemeriksaan gizi dan imunisasi.")
    page.get_by_role("button", name="Kirim rujukan").click()
    expect(page.locator(".flash-success")).to_contain_text("Puskesmas Wamena Kota")
    expect(page.locator("[data-referral-status]")).to_have_text("Terkirim, menunggu jawaban")
    with page.expect_download() as download:
        page.get_by_role("link", name="Surat rujukan (PDF)").click()
    assert download.value.suggested_filename.startswith("surat-rujukan-")

    # The answer comes back.
    page.check("input[name=status][value=service_given]")
    page.fill("textarea[name=feedback]", "Sudah diperiksa; jadwal imunisasi berikutnya bulan depan.")
    assert page.evaluate(SMALL_TARGETS) == []
    screenshot(page, "referral-answer")
    page.get_by_role("button", name="Simpan jawaban").click()
    expect(page.locator("[data-referral-status]")).to_have_text("Layanan diberikan")

    # The overdue one: the service never answered.
    nav(page, "Rujukan")
    page.get_by_role("link", name=re.compile(r"^Terlambat")).click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.locator("tbody tr a").nth(1).click()
    page.check("input[name=status][value=no_answer]")
    page.get_by_role("button", name="Simpan jawaban").click()
    expect(page.locator("[data-referral-status]")).to_have_text("Tidak ada jawaban")
    page.goto("/cases")
    expect(page.locator("#overdue-referrals")).to_have_count(0)
