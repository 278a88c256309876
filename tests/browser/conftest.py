"""Browser journeys: a real server thread with its own demo database, driven by Playwright
in Debian's Chromium. Screenshots go to tests/browser/screenshots/ (gitignored)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.apps import memory_directory
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, TABLET_PORTRAIT, LiveServer


@pytest.fixture(scope="session")
def demo_server(sqlite_template, shared_sqlite):
    """The application seeded with the demo data, served for the whole session."""
    directory = memory_directory("caseflow-live-")
    server = LiveServer(sqlite_template, directory)
    shared_sqlite.extensions.restore()  # building it re-initialised the module-level extensions
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def live_server(demo_server) -> LiveServer:
    """The demo server with its database and configuration as seeded, for one test module."""
    return demo_server.fresh()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=TABLET_PORTRAIT, base_url=live_server.url, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
