"""A facilitator's day offline, sent over a bad connection: 2 new clients with their cases
(named by provisional ids), 5 cases moved one stage, 40 steps (some on the new cases) and
10 photos of about 300 kB each (following their steps), queued the way the tablet queues
them and sent the way its outbox sends them (in order, batches to POST /api/v1/outbox, an
attachment alone) to a real server process (gunicorn, one sync worker, SQLite) over a
connection that loses a share of the exchanges: half of the lost ones before the server
sees the request, half after it answered (applied, but the tablet never heard).

    .venv/bin/python bench/offline_day.py [--drop 0.3] [--seed 7]

Prints the wall time until everything is applied, the requests and bytes sent (and how
many were lost), then checks that everything was applied exactly once, in order: the
server holds exactly the day's clients, cases, steps and photos, and a full replay is
answered from the idempotency store.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import random
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/, whose transitions.py would hide the library

# bench/sync.py: the prepared database and the signed-in tablet.
_spec = importlib.util.spec_from_file_location("bench_sync", Path(__file__).resolve().parent / "sync.py")
sync = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync)
PHOTO_BYTES = 300_000


def a_day(case_ids: list[int], rng: random.Random) -> list[dict]:
    """The outbox at the end of the day, in the order the work was done."""
    now = datetime.now(UTC) - timedelta(hours=10)
    entries: list[dict] = []
    version: dict = {}

    def add(kind: str, case, body: dict, **extra) -> dict:
        at = now + timedelta(minutes=len(entries) * 5)
        entry = {"key": str(uuid.uuid4()), "kind": kind, "device_time": at.isoformat(), "body": body, **extra}
        if kind not in ("client", "case"):
            entry["case_ref" if isinstance(case, str) else "case_id"] = case
            if kind != "attachment":
                entry["if_match"] = version[case]
                version[case] += 1
        entries.append(entry)
        return entry

    new_cases = []
    for n in range(2):
        client = add("client", None, {"full_name": f"Klien baru {n}", "birth_date": f"1992-02-0{n + 1}",
                                      "sex": "F", "province_code": "91", "consent_given_by": "klien",
                                      "consent_confirmed": True})
        case = add("case", None, {"ppks_category_code": "P02", "summary": "Ditemui hari ini"},
                   client_ref=client["key"])
        version[case["key"]] = 1
        new_cases.append(case["key"])
    moved = case_ids[:5]
    for case_id in moved:
        version[case_id] = 1
        add("transition", case_id, {}, trigger="start_assessment")
    targets = moved + new_cases
    photos = 0
    for n in range(40):
        target = targets[n % len(targets)]
        at = now + timedelta(minutes=len(entries) * 5)
        step = add("step", target, {"step_type": "home_visit", "notes": f"Langkah {n}", "occurred_at": at.isoformat()})
        if n % 4 == 0 and photos < 10:
            photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.randbytes(PHOTO_BYTES)
            add("attachment", target, {"purpose": "photo", "data": base64.b64encode(photo).decode()},
                step_ref=step["key"])
            photos += 1
    return entries


def batches(entries: list[dict], size: int = 50) -> list[list[dict]]:
    out: list[list[dict]] = []
    current: list[dict] = []
    for entry in entries:
        if entry["kind"] == "attachment" or len(current) == size:
            if current:
                out.append(current)
            current = []
        current.append(entry)
        if entry["kind"] == "attachment":
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def wire(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "done"}


def send_day(tablet: sync.Tablet, entries: list[dict], drop: float, rng: random.Random) -> dict:
    figures = {"requests": 0, "bytes": 0, "lost_before": 0, "lost_after": 0, "rounds": 0, "replayed": 0}
    while not all(e.get("done") for e in entries):
        figures["rounds"] += 1
        for batch in batches([e for e in entries if not e.get("done")]):
            body = json.dumps({"entries": [wire(e) for e in batch]}).encode()
            figures["requests"] += 1
            figures["bytes"] += len(body)
            if rng.random() < drop / 2:
                figures["lost_before"] += 1
                break  # no answer: the tablet tries again later, from the same entry
            status, _headers, data = tablet.request("POST", "/api/v1/outbox", body, {
                "Content-Type": "application/json", "X-CSRFToken": tablet.csrf})
            assert status == 200, (status, data[:300])
            if rng.random() < drop / 2:
                figures["lost_after"] += 1
                break  # applied, but the answer never reached the tablet
            for entry, result in zip(batch, json.loads(data)["results"], strict=True):
                assert result["status"] in (200, 201, 424), result
                entry["done"] = result["status"] != 424
                figures["replayed"] += bool(entry["done"] and result["replayed"])
            if not all(e.get("done") for e in batch):
                break
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drop", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="caseflow-day-"))
    database = workdir / "caseflow.sqlite3"
    case_ids = sync.prepare(database, workdir, 10)
    server, port = sync.start_server(database, workdir)
    try:
        tablet = sync.Tablet(port)
        tablet.sign_in()
        entries = a_day(case_ids, rng)
        started = time.perf_counter()
        figures = send_day(tablet, entries, args.drop, rng)
        elapsed = time.perf_counter() - started
        for entry in entries:
            entry.pop("done")
        replay = send_day(tablet, entries, 0.0, rng)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)

    with sqlite3.connect(database) as connection:
        def one(sql: str) -> int:
            return connection.execute(sql).fetchone()[0]

        clients = one("SELECT count(*) FROM clients WHERE full_name LIKE 'Klien baru %'")
        cases = one("SELECT count(*) FROM cases")
        assessment = one("SELECT count(*) FROM cases WHERE state = 'assessment'")
        steps = one("SELECT count(*) FROM steps")
        photos = one("SELECT count(*) FROM attachments WHERE step_id IS NOT NULL")
        ordered = [int(n.split()[1]) for (n,) in connection.execute("SELECT notes FROM steps ORDER BY id")]
    kinds = {kind: sum(e["kind"] == kind for e in entries) for kind in ("client", "case", "transition", "step",
                                                                      "attachment")}
    print(f"offline day: {len(entries)} entries {kinds}, SQLite, gunicorn 1 worker, "
          f"{args.drop:.0%} of exchanges lost")
    print(f"  applied in   {elapsed:6.2f} s over {figures['rounds']} rounds")
    print(f"  requests     {figures['requests']} ({figures['lost_before']} lost before the server, "
          f"{figures['lost_after']} answers lost)")
    print(f"  bytes sent   {figures['bytes'] / 1e6:6.2f} MB  (the day's own: "
          f"{sum(len(json.dumps(e)) for e in entries) / 1e6:.2f} MB)")
    print(f"  replay       {replay['requests']} requests, {replay['replayed']} of {len(entries)} entries "
          f"answered from the idempotency store")
    exact = ((clients, cases, assessment, steps, photos) == (2, 12, 5, 40, 10) and ordered == sorted(ordered)
             and replay["replayed"] == len(entries))
    print(f"  on the server: {clients} new clients, {cases} cases, {assessment} moved to assessment, "
          f"{steps} steps (in order: {ordered == sorted(ordered)}), {photos} photos — "
          f"{'exactly once' if exact else 'NOT exactly once'}")
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
