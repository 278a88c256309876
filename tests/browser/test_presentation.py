"""Every main page of every role at phone (390 px), tablet (800 px) and desktop (1280 px)
width: nothing scrolls sideways, and a screenshot of each is kept (tests/browser/
screenshots/presentation/, the tour's pictures in docs/tour/). The auditor verifies an
evidence package on its page: the exported one verifies, an altered one does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import SCREENSHOTS, login
from tests.support.packages import with_role_changed

pytestmark = pytest.mark.browser

WIDTHS = (390, 800, 1280)
ROLES = ("pendamping", "supervisor", "auditor", "manajer", "admin")
# What overflows the page's width, if anything (tables may scroll inside their own box).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = document.documentElement.scrollWidth > width + 1;
  const culprits = wide ? Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest('.table-wrap, pre, .chart-wrap'))
    .filter(e => getComputedStyle(e).position !== 'fixed')
    .slice(0, 5).map(e => e.tagName + '.' + (e.className || '') + ' ' + Math.round(e.getBoundingClientRect().right))
    : [];
  return {wide, culprits};
}"""


def _main_pages(page) -> list[str]:
    """The role's menu entries, and the case page and history an entry leads to."""
    links = page.eval_on_selector_all("nav.mainnav a", "links => links.map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(links))


def _extra_pages(page, username: str) -> list[str]:
    extra = []
    if username in ("pendamping", "supervisor", "auditor"):
        page.goto("/audit/cases" if username == "auditor" else "/cases" if username == "pendamping" else "/supervision/overdue")
        first = page.locator("main a[href^='/cases/']").first
        if first.count():
            extra.append(first.get_attribute("href"))
    if username == "auditor":
        history = page.locator("main a[href$='/history']").first
        if history.count():
            extra.append(history.get_attribute("href"))
        extra.append("/audit/evidence/verify")
    return extra


def _name(path: str) -> str:
    cleaned = path.strip("/").replace("/", "-").replace("?", "-") or "home"
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in cleaned)[:60]


@pytest.mark.parametrize("username", ROLES)
def test_main_pages_fit_every_width(browser, live_server, username):
    folder = SCREENSHOTS / "presentation"
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 800, "height": 1000}, base_url=live_server.url, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        login(page, username)
        pages = _main_pages(page) + _extra_pages(page, username)
        assert pages, "the role has a menu"
        problems = []
        # Each page is loaded once and laid out again at each width (no script of the app
        # reads the width: what a width shows is the style sheet's alone).
        for path in pages:
            response = page.goto(path)
            assert response is not None and response.ok, (path, response and response.status)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                result = page.evaluate(OVERFLOW)
                if result["wide"]:
                    problems.append(f"{path} at {width}px: {result['culprits']}")
                page.screenshot(path=str(folder / f"{username}-{_name(path)}-{width}.png"), full_page=True)
        assert not problems, "pages scroll sideways:\n" + "\n".join(problems)
    finally:
        context.close()


@pytest.mark.parametrize("width", (390, 800))
def test_auditor_verifies_a_good_and_an_altered_package(browser, live_server, tmp_path, width):
    context = browser.new_context(viewport={"width": width, "height": 1000}, base_url=live_server.url,
                                  locale="id-ID", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        login(page, "auditor")
        page.goto("/audit/evidence")
        number = None
        with live_server.app.app_context():
            from sqlalchemy import select

            from caseflow.extensions import db
            from caseflow.models import Case
            number = db.session.execute(select(Case.number).order_by(Case.audit_seq.desc())).scalars().first()
            db.session.remove()
        page.fill("input[name=case_number]", number)
        with page.expect_download() as download:
            page.locator("form[action$='/evidence/case'] button[type=submit]").click()
        good = Path(download.value.path()).read_bytes()
        (tmp_path / "bukti.zip").write_bytes(good)
        (tmp_path / "bukti-diubah.zip").write_bytes(with_role_changed(good, -1, "admin"))

        page.get_by_role("link", name="Periksa paket di sini").click()
        expect(page.locator("h1")).to_have_text("Periksa paket bukti")
        page.set_input_files("input[name=package]", str(tmp_path / "bukti.zip"))
        page.get_by_role("button", name="Periksa", exact=True).click()
        expect(page.locator("#result h2")).to_have_text("Paket dapat diverifikasi")
        expect(page.locator("#result")).to_contain_text("Ini kunci server ini.")
        assert page.evaluate(OVERFLOW)["wide"] is False
        page.screenshot(path=str(SCREENSHOTS / f"presentation-package-verifies-{width}.png"), full_page=True)

        page.set_input_files("input[name=package]", str(tmp_path / "bukti-diubah.zip"))
        page.get_by_role("button", name="Periksa", exact=True).click()
        expect(page.locator("#result h2")).to_have_text("Paket TIDAK dapat diverifikasi")
        expect(page.locator("#result .problems")).to_contain_text("Sebuah peristiwa diubah")
        page.screenshot(path=str(SCREENSHOTS / f"presentation-package-altered-{width}.png"), full_page=True)
    finally:
        context.close()
