"""The people of bench/load.py, driven by Locust (as a library, headless) in a process of
their own, so gevent's monkey-patching never meets the app, psycopg or the floor.

    .venv/bin/python bench/load_locust.py PLAN.json RESULT.json

PLAN.json (written by bench/load.py) names the server, the mode and the people with the
sessions bench/load.py signed in for them. "READY" is printed once every person has been
started; SIGUSR1 asks for a stop: nobody starts another action, the requests in flight are
answered, then RESULT.json gets every request (name, when it finished, milliseconds,
success, status), the Idempotency-Keys of every write the server acknowledged, and this
process's own CPU time.

Modes: "mix" — each person one action every `think` seconds on average (exponential),
in their role's loop: facilitator: my cases → a case page → log a step (API), one loop
in `outbox_every` (at random) opened by an outbox of `outbox_size` steps (API); supervisor: sign-off
queue → team page; auditor: a case's audit history. "closed" — `users` loops requesting
one path with no pause (the bare-route floor).
"""

from __future__ import annotations

import json
import random
import re
import resource
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from http.cookiejar import Cookie
from urllib.parse import urlparse

import gevent
import gevent.event
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.log import setup_logging

VERSION_FIELD = re.compile(rb'name="expected_version" value="(\d+)"')
ETAG = re.compile(r'"?(\d+)"?')

PLAN: dict = json.loads(open(sys.argv[1]).read()) if __name__ == "__main__" else {}  # noqa: SIM115
STATE = {"stopping": False, "in_flight": 0}
RECORDS: list[tuple[str, float, float, bool, int]] = []
ERRORS: dict[str, Counter] = defaultdict(Counter)
ACKED: list[str] = []
SENT: list[str] = []


def on_request(request_type, name, response_time, response_length, exception=None, response=None,
               start_time=None, **_kwargs) -> None:
    status = getattr(response, "status_code", 0) or 0
    finished = (start_time or time.time()) + response_time / 1000
    RECORDS.append((name, finished, response_time, exception is None, status))
    if exception is not None:
        ERRORS[name][str(exception)[:160]] += 1


def _cookie(host: str, name: str, value: str) -> Cookie:
    return Cookie(0, name, value, None, False, host, False, False, "/", True, False, None, True,
                  None, None, {})


class Person(FastHttpUser):
    # Long enough to measure a saturated server's queue rather than count it as errors.
    network_timeout = 300.0
    connection_timeout = 300.0

    def on_start(self) -> None:
        if not PLAN["people"]:
            raise StopUser()
        self.me = PLAN["people"].pop()
        host = urlparse(self.host).hostname
        for name, value in self.me.get("cookies", {}).items():
            self.client.cookiejar.set_cookie(_cookie(host, name, value))
        self.versions = {int(k): v for k, v in self.me.get("cases", {}).items()}
        self.script = getattr(self, f"_{self.me['role']}")()
        if PLAN["mode"] == "mix":
            gevent.sleep(random.uniform(0, PLAN["think"]))  # people do not all start at once

    def wait_time(self) -> float:
        return random.expovariate(1 / PLAN["think"]) if PLAN["mode"] == "mix" else 0

    @task
    def act(self) -> None:
        while STATE["stopping"]:
            gevent.sleep(1)
        STATE["in_flight"] += 1
        try:
            next(self.script)
        finally:
            STATE["in_flight"] -= 1

    def _call(self, method: str, path: str, name: str, check=None, headers: dict | None = None, **kwargs):
        headers = {"User-Agent": self.me.get("user_agent", "caseflow-load/1"), **(headers or {})}
        with self.client.request(method, path, name=name, catch_response=True, allow_redirects=False,
                                 headers=headers, **kwargs) as response:
            problem = None
            if not 200 <= (response.status_code or 0) < 300:
                problem = f"HTTP {response.status_code}: {(response.text or '')[:120]!r}"
            elif check is not None:
                problem = check(response)
            if problem:
                response.failure(problem)
            else:
                response.success()
            return response, problem is None

    def _write_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.me.get("token"):
            headers["Authorization"] = f"Bearer {self.me['token']}"
        else:
            headers["X-CSRFToken"] = self.me["csrf"]
        return headers

    def _step_body(self, key: str) -> dict:
        # The key in the notes lets bench/load.py find every stored step of this run.
        return {"step_type": random.choice(("home_visit", "counselling", "phone_call")),
                "occurred_at": datetime.now(UTC).isoformat(), "location": "Desa",
                "notes": f"load {PLAN['run_id']} {key}"}

    def _log_step(self, case_id: int):
        key = str(uuid.uuid4())
        headers = self._write_headers() | {"Idempotency-Key": key, "If-Match": f'"{self.versions[case_id]}"',
                                           "X-Device-Time": datetime.now(UTC).isoformat()}
        SENT.append(key)
        response, ok = self._call("POST", f"/api/v1/cases/{case_id}/steps", "log a step (API)",
                                  data=json.dumps(self._step_body(key)), headers=headers)
        if ok:
            ACKED.append(key)
            match = ETAG.search(response.headers.get("ETag") or "")
            if match:
                self.versions[case_id] = int(match.group(1))

    def _outbox(self):
        entries, planned = [], dict(self.versions)
        for _ in range(PLAN["outbox_size"]):
            case_id = random.choice(list(self.versions))
            key = str(uuid.uuid4())
            entries.append({"key": key, "kind": "step", "case_id": case_id, "if_match": planned[case_id],
                            "device_time": datetime.now(UTC).isoformat(), "body": self._step_body(key)})
            planned[case_id] += 1  # the tablet bases a case's next entry on the one before
        SENT.extend(e["key"] for e in entries)

        def every_entry_applied(response):
            results = json.loads(response.content)["results"]
            refused = [r for r in results if not 200 <= r["status"] < 300]
            for result in results:
                if 200 <= result["status"] < 300:
                    ACKED.append(result["key"])
                    match = ETAG.search(result.get("etag") or "")
                    if match:
                        self.versions[result["case_id"]] = int(match.group(1))
            if refused:
                return f"{len(refused)} of {len(results)} entries refused, e.g. {refused[0]['status']}: " \
                       f"{str(refused[0].get('body'))[:100]}"
            return None

        self._call("POST", "/api/v1/outbox", "outbox of 10 (API)", check=every_entry_applied,
                   data=json.dumps({"entries": entries}), headers=self._write_headers())

    def _facilitator(self):
        while True:
            if random.randrange(PLAN["outbox_every"]) == 0:
                # The tablet sends what it queued offline as the signal returns, before the
                # facilitator goes on with the day's work.
                self._outbox()
                yield
            self._call("GET", "/cases", "my cases")
            yield
            case_id = random.choice(list(self.versions))
            response, ok = self._call("GET", f"/cases/{case_id}", "case page")
            if ok:
                match = VERSION_FIELD.search(response.content or b"")
                if match:
                    self.versions[case_id] = int(match.group(1))
            yield
            self._log_step(case_id)
            yield

    def _supervisor(self):
        while True:
            self._call("GET", "/team/sign-offs", "sign-off queue")
            yield
            self._call("GET", "/team", "team page")
            yield

    def _auditor(self):
        while True:
            case_id = random.choice(PLAN["audit_cases"])
            self._call("GET", f"/audit/cases/{case_id}/history", "audit history")
            yield

    def _closed(self):
        while True:
            self._call("GET", PLAN["path"], PLAN["name"])
            yield


def main() -> None:
    setup_logging("WARNING")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    Person.host = PLAN["host"]
    if PLAN["mode"] == "closed":
        PLAN["people"] = [{"role": "closed"} for _ in range(PLAN["users"])]
    count = len(PLAN["people"])
    events.request.add_listener(on_request)
    events.spawning_complete.add_listener(lambda user_count: print(f"READY {user_count}", flush=True))
    environment = Environment(user_classes=[Person], events=events)
    runner = environment.create_local_runner()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGUSR1, stop.set)
    runner.start(count, spawn_rate=PLAN.get("spawn_rate", 100))
    stop.wait()
    STATE["stopping"] = True
    deadline = time.time() + PLAN.get("drain_seconds", 120)
    while STATE["in_flight"] and time.time() < deadline:
        gevent.sleep(0.1)
    unanswered = STATE["in_flight"]
    runner.quit()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(sys.argv[2], "w") as handle:
        json.dump({"records": RECORDS, "acked": ACKED, "sent": SENT, "unanswered": unanswered,
                   "errors": {name: dict(c.most_common(5)) for name, c in ERRORS.items()},
                   "cpu_seconds": usage.ru_utime + usage.ru_stime}, handle)


if __name__ == "__main__":
    main()
