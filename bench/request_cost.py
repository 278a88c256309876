"""What one request of each type costs in the application, measured in one process: CPU time
and SQL statements per request, through Flask's test client (no HTTP server, no network),
against the PostgreSQL database bench/load.py builds (run that once first).

    .venv/bin/python bench/request_cost.py [--database-url URL] [--repeat 40]

Unlike bench/load.py's figures, read while 2 cores serve many people at once, these are the
costs of requests one after the other: what other processes on the machine do changes them
much less (the CPU time is the process's own). With --pause 60 the requests come as far
apart as a worker of bench/load.py serves them, which on a virtual machine costs more CPU
for the same work (caches and predictors gone cold; see README, "What a request costs");
with --sweep 64 each request starts with the processor's caches emptied by this process
itself, without waiting. The same script runs against another version of the code with
PYTHONPATH pointing at its source: its requests are plain HTTP.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

# bench/ holds a file named like the `transitions` library: not on the path. caseflow comes
# from the installed project, or from PYTHONPATH (another version of the code).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from caseflow import create_app  # noqa: E402

PASSWORD = "Beban-Nasional-Uji-2026"  # bench/load.py's people
STATEMENTS: list[int] = [0]


def _count(*_args) -> None:
    STATEMENTS[0] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/caseflow_load")
    parser.add_argument("--instance", default=os.environ.get("CASEFLOW_INSTANCE_PATH", "/tmp/caseflow-load"))
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.0, metavar="MS",
                        help="wait MS milliseconds before each measured request, as a gunicorn worker of "
                             "bench/load.py does between two of its requests (not counted)")
    parser.add_argument("--sweep", type=int, default=0, metavar="MB",
                        help="write to every cache line of MB megabytes before each measured request "
                             "(not counted): the processor's caches emptied, as other work between two "
                             "requests leaves them")
    parser.add_argument("--profile", metavar="TYPE", help="also print where one request type's CPU goes "
                        "(cProfile over --repeat requests; TYPE as printed, e.g. 'my cases')")
    parser.add_argument("--only", metavar="TYPE", action="append", help="measure only these request types")
    args = parser.parse_args()
    os.environ["CASEFLOW_INSTANCE_PATH"] = args.instance
    os.environ["CASEFLOW_DATABASE_URL"] = args.database_url
    app = create_app({"WTF_CSRF_ENABLED": False, "CASEFLOW_LOGIN_LIMIT_ACCOUNT": "100000 per minute",
                      "CASEFLOW_LOGIN_LIMIT_ADDRESS": "100000 per minute"})
    event.listen(Engine, "before_cursor_execute", _count)

    def signed_in(username: str):
        client = app.test_client()
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, (username, response.status_code)
        return client

    facilitator, supervisor, auditor = signed_in("load.fac0001"), signed_in("load.sup01"), signed_in("load.aud01")
    cases = facilitator.get("/api/v1/cases?limit=5").get_json()["items"]
    versions = {c["id"]: c["version"] for c in cases if c["state"] not in ("resolved", "closed_unresolved")}
    case_id = next(iter(versions))

    def step_body() -> dict:
        return {"step_type": "home_visit", "occurred_at": datetime.now(UTC).isoformat(), "location": "Desa",
                "notes": "request cost"}

    def log_step():
        response = facilitator.post(f"/api/v1/cases/{case_id}/steps", data=json.dumps(step_body()), headers={
            "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4()),
            "If-Match": f'"{versions[case_id]}"'})
        versions[case_id] = int(response.headers["ETag"].strip('"'))
        return response

    def outbox():
        entries = []
        for _ in range(10):
            entries.append({"key": str(uuid.uuid4()), "kind": "step", "case_id": case_id,
                            "if_match": versions[case_id], "body": step_body()})
            versions[case_id] += 1
        return facilitator.post("/api/v1/outbox", data=json.dumps({"entries": entries}),
                                headers={"Content-Type": "application/json"})

    # bench/load.py's outbox: each entry a step of one of the facilitator's open cases taken
    # at random (here four of them), with the tablet's time, so a batch switches case often
    # and locks several.
    listed = facilitator.get("/api/v1/cases?limit=50").get_json()["items"]
    spread_versions = {c["id"]: c["version"] for c in listed
                       if c["state"] not in ("resolved", "closed_unresolved") and c["id"] != case_id}
    spread_versions = dict(list(spread_versions.items())[:4])
    spread = random.Random(14)

    def outbox_over_cases():
        entries, planned = [], dict(spread_versions)
        for _ in range(10):
            chosen = spread.choice(list(spread_versions))
            entries.append({"key": str(uuid.uuid4()), "kind": "step", "case_id": chosen,
                            "if_match": planned[chosen], "device_time": datetime.now(UTC).isoformat(),
                            "body": step_body()})
            planned[chosen] += 1
        response = facilitator.post("/api/v1/outbox", data=json.dumps({"entries": entries}),
                                    headers={"Content-Type": "application/json"})
        for result in response.get_json()["results"]:
            assert 200 <= result["status"] < 300, result
            if result["etag"]:
                spread_versions[result["case_id"]] = int(result["etag"].strip('"'))
        return response

    # A token of the facilitator's, made anew each run (the secret is shown once only).
    made = facilitator.post("/api/v1/tokens", data=json.dumps({"name": "request cost", "scopes": ["cases:read"],
                                                                "expires_in_days": 1}),
                            headers={"Content-Type": "application/json"})
    assert made.status_code == 201, made.status_code
    token_client, bearer = app.test_client(), {"Authorization": f"Bearer {made.get_json()['secret']}"}

    kinds = {
        # What every signed-in request pays before its view does much: the tablet asking
        # about its session (cookie), the start page's redirect, a small read with a token
        # (which writes the token's 'token.used' audit event).
        "session (API)": lambda: facilitator.get("/api/v1/session"),
        "start page redirect": lambda: facilitator.get("/"),
        "categories (token)": lambda: token_client.get("/api/v1/reference/ppks-categories", headers=bearer),
        "my cases": lambda: facilitator.get("/cases"),
        "case page": lambda: facilitator.get(f"/cases/{case_id}"),
        "case detail (API)": lambda: facilitator.get(f"/api/v1/cases/{case_id}"),
        "log a step (API)": log_step,
        "outbox of 10 (API)": outbox,
        "outbox of 10, 4 cases": outbox_over_cases,
        "client list": lambda: facilitator.get("/clients"),
        "sign-off queue": lambda: supervisor.get("/team/sign-offs"),
        "team page": lambda: supervisor.get("/team"),
        "audit history": lambda: auditor.get(f"/audit/cases/{case_id}/history"),
    }
    # The lowest tenth is what a request costs when nothing else disturbs the core (on a
    # shared machine the median moves with the neighbours' load; the p10 much less).
    print(f"{'request type':22} {'CPU ms p10':>10} {'CPU ms p50':>10} {'CPU ms mean':>11} {'SQL stmts':>9}   "
          f"({args.repeat} each, one after the other"
          f"{f', {args.pause:g} ms apart' if args.pause else ''}"
          f"{f', {args.sweep} MB swept before each' if args.sweep else ''})")
    sweep = bytearray(args.sweep << 20)
    sweep_lines = bytes(len(sweep) // 64)
    for name, call in kinds.items():
        if args.only and name not in args.only:
            continue
        for _ in range(3):  # caches of the process
            assert call().status_code < 400, name
        costs, statements = [], []
        for _ in range(args.repeat):
            if args.pause:
                time.sleep(args.pause / 1000)
            if sweep:
                sweep[::64] = sweep_lines  # one byte in every 64-byte line
            STATEMENTS[0] = 0
            start = time.process_time()
            response = call()
            costs.append((time.process_time() - start) * 1000)
            statements.append(STATEMENTS[0])
            assert response.status_code < 400, (name, response.status_code)
        print(f"{name:22} {sorted(costs)[len(costs) // 10]:10.2f} {statistics.median(costs):10.2f} "
              f"{statistics.fmean(costs):11.2f} "
              f"{statistics.fmean(statements):9.1f}")
    if args.profile:
        profile(kinds[args.profile], args.repeat)


def profile(call, repeat: int) -> None:
    """The functions where the request type's time goes: own time, then with what they call."""
    profiler = cProfile.Profile(time.process_time)  # CPU, not waiting for the database
    profiler.enable()
    for _ in range(repeat):
        call()
    profiler.disable()
    for order in ("tottime", "cumulative"):
        pstats.Stats(profiler).strip_dirs().sort_stats(order).print_stats(35)


if __name__ == "__main__":
    main()
