"""A tablet reconnecting after days offline: 500 queued steps across 50 cases are sent the
way the outbox sends them (in order, in batches to POST /api/v1/outbox, each entry with its
Idempotency-Key, the case version it was based on and its device time; the session cookie
and X-CSRFToken) to a real server process (gunicorn, one sync worker) on SQLite. The same
queue sent one request per entry is measured too.

    .venv/bin/python bench/sync.py [--steps 500] [--cases 50] [--batch 50]

Prints the wall time until all are applied (target ≤ 5 s), requests/s, and the server's
CPU time (user + system of the gunicorn processes, from /proc), then replays the whole
queue (a tablet that never heard the answers) and checks that nothing was applied twice.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path[0] = str(Path(__file__).resolve().parent.parent)

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"


def prepare(database: Path, instance: Path, cases: int) -> list[int]:
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(instance)
    from flask_migrate import upgrade

    from caseflow import create_app
    from caseflow.services import cases as case_services
    from caseflow.services.clients import register_client
    from caseflow.services.context import Actor
    from caseflow.services.reference import seed_reference_data
    from caseflow.services.users import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade(revision="heads")
        seed_reference_data()
        supervisor = create_user(Actor.cli(), {"username": "sup", "full_name": "S", "role": "supervisor",
                                               "password": PASSWORD, "province_code": "91"})
        facilitator = create_user(Actor.cli(), {"username": "tablet", "full_name": "F", "role": "facilitator",
                                                "password": PASSWORD, "province_code": "91",
                                                "supervisor_id": supervisor.id})
        me = Actor(user=facilitator)
        ids = []
        for n in range(cases):
            client = register_client(me, {
                "full_name": f"Klien {n}", "birth_date": "1985-08-15", "sex": "M", "province_code": "91",
                "consent_given_by": "klien", "consent_confirmed": True})
            ids.append(case_services.open_case(me, {"client_id": client.id, "ppks_category_code": "P02"}).id)
        from caseflow.extensions import db

        db.engine.dispose()
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        path = task / "children"
        if path.exists():
            found += [int(p) for p in path.read_text().split()]
    return found


class Tablet:
    def __init__(self, port: int):
        self.port = port
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = {"Cookie": self.cookie, **(headers or {})}
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        connection.close()
        return response.status, dict(response.getheaders()), data

    def sign_in(self) -> None:
        _status, _headers, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        form = urlencode({"username": "tablet", "password": PASSWORD, "csrf_token": token}).encode()
        status, _h, _b = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, status
        _status, _headers, page = self.request("GET", "/offline/")
        self.csrf = re.search(rb'data-csrf-token="([^"]+)"', page).group(1).decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="caseflow-sync-"))
    database = workdir / "caseflow.sqlite3"
    case_ids = prepare(database, workdir, args.cases)
    batched = measure(database, workdir, case_ids, args.steps, args.batch)
    workdir2 = Path(tempfile.mkdtemp(prefix="caseflow-sync-"))
    database2 = workdir2 / "caseflow.sqlite3"
    single = measure(database2, workdir2, prepare(database2, workdir2, args.cases), args.steps, 0)
    print(f"sync: {args.steps} queued steps across {len(case_ids)} cases, SQLite, gunicorn 1 worker")
    for label, figures in ((f"outbox batches of {args.batch}", batched), ("one request per step", single)):
        elapsed, cpu, replay, replayed, stored = figures
        print(f"  {label}:")
        print(f"    applied in      {elapsed:6.2f} s  ({args.steps / elapsed:5.0f} steps/s)  target ≤ 5 s: "
              f"{'met' if elapsed <= 5 else 'NOT met'}")
        print(f"    server CPU time {cpu:6.2f} s  ({1000 * cpu / args.steps:.1f} ms per step)")
        print(f"    full replay     {replay:6.2f} s  ({replayed} answered from the idempotency store)")
        print(f"    steps stored    {stored} (each applied exactly once)")


def start_server(database: Path, workdir: Path) -> tuple[subprocess.Popen, int]:
    """gunicorn (one sync worker) on the SQLite file, once it accepts connections."""
    port = free_port()
    env = dict(os.environ, CASEFLOW_INSTANCE_PATH=str(workdir), CASEFLOW_DATABASE_URL=f"sqlite:///{database}",
               CASEFLOW_SECRET_KEY="bench", CASEFLOW_INSECURE_COOKIES="1")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "caseflow:create_app()"], cwd=ROOT, env=env)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, port


def measure(database: Path, workdir: Path, case_ids: list[int], steps: int, batch: int):
    server, port = start_server(database, workdir)
    try:
        tablet = Tablet(port)
        tablet.sign_in()

        # The outbox, as the tablet built it offline: steps spread over the cases, each
        # based on the version the previous entry of its case would leave.
        now = datetime.now(UTC)
        version = dict.fromkeys(case_ids, 1)
        outbox = []
        for n in range(steps):
            case_id = case_ids[n % len(case_ids)]
            done = now - timedelta(days=2) + timedelta(minutes=n)
            outbox.append({"key": str(uuid.uuid4()), "kind": "step", "case_id": case_id,
                           "if_match": version[case_id], "device_time": done.isoformat(),
                           "body": {"step_type": "home_visit", "notes": f"Langkah {n}",
                                    "occurred_at": done.isoformat()}})
            version[case_id] += 1

        def send_all() -> int:
            replayed = 0
            if batch:
                for start in range(0, len(outbox), batch):
                    body = json.dumps({"entries": outbox[start:start + batch]}).encode()
                    status, _h, data = tablet.request("POST", "/api/v1/outbox", body, {
                        "Content-Type": "application/json", "X-CSRFToken": tablet.csrf})
                    assert status == 200, (status, data[:300])
                    results = json.loads(data)["results"]
                    assert all(r["status"] == 201 for r in results), results[:3]
                    replayed += sum(r["replayed"] for r in results)
                return replayed
            for entry in outbox:
                status, headers, data = tablet.request(
                    "POST", f"/api/v1/cases/{entry['case_id']}/steps", json.dumps(entry["body"]).encode(),
                    {"Content-Type": "application/json", "X-CSRFToken": tablet.csrf,
                     "Idempotency-Key": entry["key"], "If-Match": f'"{entry["if_match"]}"',
                     "X-Device-Time": entry["device_time"]})
                assert status == 201, (status, data[:300])
                replayed += headers.get("Idempotent-Replayed") == "true"
            return replayed

        pids = [server.pid, *children(server.pid)]
        cpu_before = cpu_seconds(pids)
        started = time.perf_counter()
        send_all()
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pids) - cpu_before
        # The tablet never heard the answers and sends everything again.
        replay_started = time.perf_counter()
        replayed = send_all()
        replay = time.perf_counter() - replay_started

        import sqlite3

        with sqlite3.connect(database) as connection:
            stored = connection.execute("SELECT count(*) FROM steps").fetchone()[0]
        assert stored == steps and replayed == steps, (stored, replayed)
        return elapsed, cpu, replay, replayed, stored
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
