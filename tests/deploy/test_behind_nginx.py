"""Caseflow as deployed (README "Deploying"): nginx with TLS in front of two application
servers on PostgreSQL and Redis, a worker with the scheduler. Signing in, a step, HSTS,
secure cookies, the client's real address in the audit trail, rate limiting shared by the
servers, and a session started on one server used on the other (no sticky sessions).
Needs nginx, redis-server and CASEFLOW_TEST_POSTGRES_URL (.ci/run installs them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from tests.deploy.stack import CLIENT_ADDRESS, NGINX, REDIS, Stack

POSTGRES_URL = os.environ.get("CASEFLOW_TEST_POSTGRES_URL")
pytestmark = [
    pytest.mark.deploy,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs CASEFLOW_TEST_POSTGRES_URL"),
    pytest.mark.skipif(not (shutil.which(NGINX) and shutil.which(REDIS)), reason="needs nginx and redis-server"),
]
PASSWORD = "Demo-Caseflow-2026"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    built = Stack(tmp_path_factory.mktemp("stack"), POSTGRES_URL)
    yield built
    built.close()


def _a_case_of(browser) -> int:
    _status, _headers, page = browser.get("/cases")
    return int(re.search(r'href="/cases/(\d+)"', page).group(1))


def test_plain_http_is_sent_to_https_and_https_carries_hsts(stack):
    status, headers, _ = stack.browser().get("/login")
    assert status == 200 and "max-age=" in headers["strict-transport-security"]
    plain = stack.browser()
    plain.base = f"http://127.0.0.1:{stack.http_port}"
    status, headers, _ = plain.get("/login")
    assert status == 301 and headers["location"].startswith("https://")


def test_signing_in_and_logging_a_step_through_nginx_with_secure_cookies(stack):
    browser = stack.browser()
    assert browser.sign_in("pendamping", PASSWORD) == 302
    session = [h for h in browser.set_cookie_headers if h.startswith("session=")][-1]
    assert "Secure" in session and "HttpOnly" in session
    case_id = _a_case_of(browser)
    status, _headers, form = browser.get(f"/cases/{case_id}/steps/new")
    assert status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    version = re.search(r'name="expected_version" value="(\d+)"', form).group(1)
    when = re.search(r'name="occurred_at" type="datetime-local" value="([^"]+)"', form).group(1)
    status, _headers, _ = browser.post(f"/cases/{case_id}/steps/new", {
        "csrf_token": token, "expected_version": version, "step_type": "home_visit", "occurred_at": when,
        "location": "Wamena", "notes": "Kunjungan lewat nginx", "goal_id": ""},
        headers={"X-Forwarded-For": "6.6.6.6"})  # a forged address the proxy must replace
    assert status == 303
    rows = stack.sql("SELECT e.origin_ip FROM audit_events e WHERE e.action = 'step.logged' "
                     "ORDER BY e.id DESC LIMIT 1")
    assert rows == [(CLIENT_ADDRESS,)]  # the client's address, not nginx's nor the forged one


def test_failed_sign_ins_are_counted_across_both_servers_and_lock_the_account(stack):
    statuses = [stack.browser().sign_in("pendamping2", "salah-sandi-123") for _ in range(3)]
    assert statuses == [401, 401, 401]  # nginx sent them round robin to both servers
    assert stack.browser().sign_in("pendamping2", PASSWORD) == 429  # locked, whichever server answers
    for server in (0, 1):
        assert stack.browser(server=server).sign_in("pendamping2", PASSWORD) == 429
    addresses = {row[0] for row in stack.sql(
        "SELECT origin_ip FROM audit_events WHERE action = 'login.failed'")}
    assert CLIENT_ADDRESS in addresses  # through nginx: the client's address, not the proxy's


def test_a_session_started_on_one_server_works_on_the_other(stack):
    first = stack.browser(server=0)
    assert first.sign_in("supervisor", PASSWORD) == 302
    second = stack.browser(server=1)
    second.cookies = dict(first.cookies)
    status, _headers, page = second.get("/team")
    assert status == 200 and "pendamping" in page.lower()
    status, _headers, _ = second.post("/logout", {"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', page).group(1)})
    assert status == 302
    first.cookies = dict(second.cookies) or first.cookies
    assert first.get("/team")[0] == 302  # signed out everywhere: the session lives in no server's memory


def test_ready_metrics_and_the_worker_through_nginx(stack):
    browser = stack.browser()
    for _ in range(150):  # the worker queues every late periodic task when it starts
        status, _headers, body = browser.get("/readyz")
        if json.loads(body)["status"] == "ok":
            break
        time.sleep(0.2)
    assert status == 200 and json.loads(body) == {"status": "ok", "checks": {
        "database": "ok", "migrations": "ok", "ratelimit_storage": "ok", "task_storage": "ok", "tasks": "ok"}}
    token = stack.env["CASEFLOW_METRICS_TOKEN"]
    assert browser.get("/metrics")[0] == 401
    status, _headers, metrics = browser.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and 'caseflow_task_late{task="audit-checkpoint"} 0.0' in metrics
    assert "caseflow_http_request_duration_seconds_bucket" in metrics  # gathered from the gunicorn workers
