"""The supervisor's word and the supervision record, in a real browser (Indonesian), on
the demo data: a termination request rejected → the facilitator sees the reason (case
page, list, menu) → the new request shows the supervisor the earlier rejection and what
changed; a leaving facilitator's cases handed over, then the account deactivated; a
supervision session with an action point ticked off on the case page. Screenshots at
800 and 390 px wide."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import SMALL_TARGETS_IN_MAIN, login, screenshot

pytestmark = pytest.mark.browser

REASON = "Tujuan sekolah belum terbukti: lampirkan kunjungan ke sekolah dulu."


# Elements that stick out to the right of the window (the menu scrolls sideways by itself).
TOO_WIDE = """() => Array.from(document.body.querySelectorAll('*'))
  .filter(e => !e.closest('.mainnav ul') && e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter((e, _i, all) => !all.some(other => other !== e && e.contains(other)))
  .map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 8)"""


def nav(page, name: str) -> None:
    page.locator("nav.mainnav").get_by_role("link", name=re.compile(rf"^{re.escape(name)}")).click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Keluar").click()
    expect(page).to_have_url(re.compile(r"/login"))


def shots(page, name: str) -> None:
    """The page at 800 px (a tablet) and 390 px (a phone) wide."""
    size = page.viewport_size
    for width in (800, 390):
        page.set_viewport_size({"width": width, "height": 900})
        too_wide = page.evaluate(TOO_WIDE)
        assert too_wide == [], f"{name} at {width} px: {too_wide}"
        screenshot(page, f"{name}-{width}")
    page.set_viewport_size(size)


def test_a_rejection_reaches_the_facilitator_and_the_next_request_shows_it(page):
    login(page, "supervisor")
    nav(page, "Permohonan persetujuan")
    page.locator(".case-list .case-item a").first.click()
    number = page.locator("h1 .muted").inner_text().strip(" ·")
    page.check("input[name=decision][value=reject]")
    page.fill("textarea[name=reason]", REASON)
    page.get_by_role("button", name="Kirim keputusan").click()
    expect(page.locator(".flash-success")).to_contain_text(number)
    sign_out(page)

    # The facilitator: the number in the menu, the badge on the list, the reason on the case.
    login(page, "pendamping2")
    expect(page.locator("nav.mainnav .nav-count")).to_have_text(re.compile(r"^\d+ belum dibaca"))
    item = page.locator(".case-item", has_text=number)
    expect(item).to_contain_text("Terminasi ditolak")
    expect(item.locator(".next-action")).to_contain_text("Giliran Anda")
    shots(page, "feedback-list-with-rejection")
    item.locator("a").click()
    expect(page.locator("#decision-note")).to_contain_text(REASON)
    expect(page.locator("#actions")).not_to_contain_text("Ajukan terminasi")  # one form, one action
    expect(page.locator("#evaluation-summary")).to_contain_text("dinilai")
    assert page.evaluate(SMALL_TARGETS_IN_MAIN) == []
    shots(page, "feedback-case-rejected")
    nav(page, "Pemberitahuan")
    expect(page.locator(".case-item").first).to_contain_text(REASON)

    # A new request, after working on what the supervisor asked.
    page.goto("/cases")
    page.locator(".case-item", has_text=number).locator("a").click()
    page.locator("#stage-form input[type=radio][value=partly_achieved]").first.check()
    page.check("input[name=next][value=request_termination]")
    page.check("input[name=outcome][value=resolved]")
    if not page.locator("textarea[name=aftercare_plan]").input_value():
        page.fill("textarea[name=aftercare_plan]", "Kunjungan bulanan.")
    page.locator("#stage-form").get_by_role("button", name="Simpan", exact=True).click()
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("#decision-note")).to_have_count(0)  # until the next request
    expect(page.locator(".next-action")).to_contain_text("Maria Tebay")
    sign_out(page)

    # The supervisor sees the earlier rejection, what changed, and the partial resolution flagged.
    login(page, "supervisor")
    nav(page, "Permohonan persetujuan")
    page.locator(".case-item", has_text=number).locator("a").click()
    expect(page.locator("#earlier-rejections")).to_contain_text("Pernah ditolak: 1 kali")
    expect(page.locator("#earlier-rejections")).to_contain_text(REASON)
    expect(page.locator("#earlier-rejections")).to_contain_text("Tercapai sebagian")
    expect(page.locator("#resolution-flag")).to_be_visible()
    shots(page, "feedback-request-with-history")


def test_a_leaving_facilitators_cases_are_handed_over_then_the_account_is_deactivated(page):
    login(page, "supervisor")
    nav(page, "Tim saya")
    row = page.locator("tr", has_text="Naomi Kogoya")
    row.get_by_role("link", name="Alihkan kasusnya").click()
    expect(page.locator("h1")).to_contain_text("Naomi Kogoya")
    page.check("input[name=receiver_ids]")
    page.get_by_role("button", name="Tampilkan rencana").click()
    expect(page.locator("#preview")).to_contain_text("Yohanes Wenda")
    moved = page.locator("#preview tbody tr").count()
    assert moved > 0
    page.fill("textarea[name=reason]", "Kontrak berakhir 31 Desember.")
    shots(page, "handover-preview")
    page.get_by_role("button", name=re.compile(r"^Alihkan \d+ kasus")).click()
    expect(page.locator(".flash-success")).to_contain_text(f"{moved} kasus")
    sign_out(page)

    login(page, "admin")
    page.goto("/admin/users")
    page.get_by_role("link", name=re.compile("Naomi Kogoya")).first.click()
    page.get_by_role("button", name="Nonaktifkan akun").click()
    expect(page.locator(".flash-success, .flash-info").first).to_be_visible()
    expect(page.locator("#activation")).to_contain_text("Aktifkan kembali")
    sign_out(page)

    login(page, "pendamping")
    expect(page.locator("nav.mainnav .nav-count")).to_be_visible()
    nav(page, "Pemberitahuan")
    expect(page.locator(".case-item").first).to_contain_text("Kontrak berakhir")


def test_a_supervision_session_with_an_action_point_ticked_off(page):
    login(page, "supervisor")
    page.goto("/cases")
    first = page.locator(".case-item", has_text="Yohanes Wenda").first
    number = first.locator(".muted").first.inner_text().strip(" ·")
    first.locator("a").click()
    page.locator("#action-points").get_by_role("link", name="Catat sesi supervisi").click()
    expect(page.locator("select[name=case_ids] option:checked")).to_contain_text(number)
    page.get_by_role("button", name="Lanjut: catatan dan tindak lanjut").click()
    page.fill("textarea[name=notes]", "Membahas hambatan klien kembali ke sekolah.")
    page.fill("textarea[name='ap-0-description']", "Temui kepala sekolah bersama orang tua")
    page.select_option("select[name='ap-0-owner_id']", label="Yohanes Wenda")
    page.fill("input[name='ap-0-due_on']", page.locator("input[name=held_on]").input_value())
    page.select_option("select[name='ap-0-case_id']", index=1)
    shots(page, "supervision-session-form")
    page.get_by_role("button", name="Simpan sesi").click()
    expect(page.locator(".flash-success")).to_contain_text("Sesi supervisi sudah dicatat")
    nav(page, "Tim saya")
    last_supervised = page.locator("tr", has_text="Yohanes Wenda").locator("[data-column=last-supervised]")
    expect(last_supervised).not_to_contain_text("belum pernah")
    sign_out(page)

    login(page, "pendamping")
    page.locator(".case-item", has_text=number).locator("a").click()
    point = page.locator("#action-points .action-point").first
    expect(point).to_contain_text("Temui kepala sekolah")
    expect(point).to_contain_text("Batas hari ini")
    shots(page, "case-with-action-point")
    point.get_by_role("button", name="Tandai selesai").click()
    expect(page.locator("#action-points .action-point").first).to_contain_text("Selesai")
