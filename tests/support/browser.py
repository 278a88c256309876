"""The browser journeys' server (one for the session, its demo database put back for each
test module), and what the journeys do in a page."""

from __future__ import annotations

import copy
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from caseflow.devdata.demo import DEMO_PASSWORD
from caseflow.extensions import db
from caseflow.models import User

CHROMIUM = os.environ.get("CASEFLOW_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "browser" / "screenshots"
TABLET_PORTRAIT = {"width": 768, "height": 1024}
TABLET_LANDSCAPE = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--no-first-run"]

# Visible controls smaller than 44×44 px (a radio or checkbox counts by its label), measured
# once the page has loaded: its DOM (what the expectations before wait for) can be there
# before its stylesheet when the live server is busy, and an unstyled link is 20 px high.
SMALL_TARGETS = """async () => {
  if (document.readyState !== 'complete') await new Promise(done => addEventListener('load', done, {once: true}));
  await document.fonts.ready;
  return Array.from(document.querySelectorAll('a, button, input, select, textarea, label'))
  .filter(e => e.offsetParent !== null && e.type !== 'hidden' && e.type !== 'radio' && e.type !== 'checkbox')
  .filter(e => e.tagName !== 'LABEL' || e.querySelector('input[type=radio]') || e.htmlFor &&
          document.getElementById(e.htmlFor) && document.getElementById(e.htmlFor).type === 'checkbox')
  .map(e => [e.tagName, (e.textContent || e.name || '').trim().slice(0, 40),
             Math.round(e.getBoundingClientRect().width), Math.round(e.getBoundingClientRect().height)])
  .filter(r => r[2] < 44 || r[3] < 44);
}"""
# The same, for the page's own content only (the shared header is checked by the
# facilitator journeys).
SMALL_TARGETS_IN_MAIN = SMALL_TARGETS.replace(
    "document.querySelectorAll(", "document.querySelector('main').querySelectorAll(")
assert SMALL_TARGETS_IN_MAIN != SMALL_TARGETS


class QueueWorker:
    """What `caseflow worker` does, in a thread of the test process: take the next queued
    task (the live server's queue is in memory) and run it."""

    def __init__(self, huey) -> None:
        self.huey, self.stopping, self.busy = huey, threading.Event(), threading.Lock()
        self.thread = threading.Thread(target=self.run, name="queue-worker", daemon=True)

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.busy:
                task = self.huey.dequeue()
                if task is not None:
                    self.huey.execute(task)
            if task is None:
                self.stopping.wait(0.05)

    def wait_idle(self, seconds: float = 30) -> None:
        """Until the queue is empty and no task is running (a job of the last module)."""
        for _ in range(int(seconds / 0.05)):
            with self.busy:
                if not self.huey.pending_count():
                    return
            self.stopping.wait(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


class LiveServer:
    """The application (CSRF on, background jobs run by a queue worker as in production)
    served on a free port, on a SQLite file seeded once with the demo data."""

    def __init__(self, sqlite_template: Path, directory: Path) -> None:
        from caseflow.devdata.demo import seed_demo_data
        from caseflow.extensions import db

        from .apps import build_app

        self.path = directory / "caseflow.sqlite3"
        self.demo = directory / "demo.sqlite3"
        shutil.copyfile(sqlite_template, self.path)
        self.app = build_app(f"sqlite:///{self.path}", directory, WTF_CSRF_ENABLED=True, TESTING=False,
                             CASEFLOW_TASKS_URL="memory://")
        self.worker = QueueWorker(self.app.extensions["caseflow.huey"])
        with self.app.app_context():
            seed_demo_data(case_count=16)
            db.session.remove()
            self.engine = db.engine
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            self.engine.dispose()
        shutil.copyfile(self.path, self.demo)
        self.directory = directory
        self.files = self._instance_files()
        self.config = copy.deepcopy(dict(self.app.config))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _instance_files(self) -> dict[Path, bytes]:
        """The instance folder's files (keys, the checkpoint log…) but the databases."""
        databases = (self.path.name, self.demo.name)
        return {path: path.read_bytes() for path in self.directory.rglob("*")
                if path.is_file() and not path.name.startswith(databases)}

    def start(self) -> LiveServer:
        self.thread.start()
        self.worker.thread.start()
        return self

    def fresh(self) -> LiveServer:
        """The demo database and the configuration as seeded, for the next test module."""
        self.worker.wait_idle()  # a job of the last module still writing
        self.app.config.clear()
        self.app.config.update(copy.deepcopy(self.config))
        self.engine.dispose()
        copy_path = self.path.with_name(self.path.name + ".fresh")
        shutil.copyfile(self.demo, copy_path)
        os.replace(copy_path, self.path)
        for suffix in ("-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        # The instance folder as seeded too: checkpoints a module sealed (in the checkpoint
        # log) would otherwise tell the next module's integrity check it runs on a rolled
        # back database.
        for path, content in self._instance_files().items():
            if self.files.get(path) != content:
                path.unlink()
        for path, content in self.files.items():
            if not path.exists():
                path.write_bytes(content)
        return self

    def stop(self) -> None:
        self.worker.stop()
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.engine.dispose()


def login(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_load_state()


def register_client(page, fields: dict[str, str]) -> None:
    """Open the registration form, fill `fields` (input name: value) for a man of Papua who
    consents himself, and send it."""
    page.get_by_role("link", name="Daftarkan klien").first.click()
    for name, value in fields.items():
        page.fill(f"input[name={name}]", value)
    page.check("input[name=sex][value=M]")
    page.select_option("select[name=province_code]", "91")
    page.fill("input[name=consent_given_by]", "Klien sendiri")
    page.check("input[name=consent_confirmed]")
    page.get_by_role("button", name="Daftarkan klien").click()


def open_case(page, category: str, summary: str) -> None:
    """On the open-case form: choose the PPKS category, sum the problem up, and open the
    case, which starts recorded."""
    expect(page.locator("h1")).to_have_text("Buka kasus")
    page.select_option("select[name=ppks_category_code]", category)
    page.fill("textarea[name=summary]", summary)
    page.get_by_role("button", name="Buka kasus").click()
    expect(page.locator(".badge-state")).to_have_text("Terdata")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def offline_ready(page) -> None:
    """The offline app has asked the server (or found no answer) and shown what it may."""
    page.wait_for_selector("#offline-app[data-ready='1']", state="attached", timeout=20_000)


def keep_offline_page(page) -> None:
    """Wait until the service worker controls the page and keeps the offline page."""
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=20_000)
    page.reload()
    offline_ready(page)
    page.wait_for_function("""async () => {
        for (const name of await caches.keys()) {
            if (await (await caches.open(name)).match('/offline/')) return true;
        }
        return false;
    }""", polling=100, timeout=20_000)


def offline_app_without_signal(page, username: str) -> None:
    """Sign in, open the offline app (kept by the service worker), lose the signal, and
    open it again from the tablet."""
    login(page, username)
    page.goto("/offline/")
    offline_ready(page)
    keep_offline_page(page)
    page.context.set_offline(True)
    page.reload()
    offline_ready(page)


@contextmanager
def on_the_server(live_server):
    """The journey server's database, read or changed behind the page's back."""
    with live_server.app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def user_named(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()
