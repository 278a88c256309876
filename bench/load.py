"""The whole national programme online at once, on one server: latency, errors and cost per
request of each request type, next to the floors measured in the same run (issue 14).

    .venv/bin/pip install -e '.[bench]'          # Locust
    .venv/bin/python bench/load.py [--cases 20000] [--facilitators 635 --supervisors 40 --auditors 5]
                                   [--think-time 10] [--duration 180] [--workers 4] [--reuse-data]

What it does, in order:

1. Data, in PostgreSQL (default: database `caseflow_load` on 127.0.0.1:5432, replaced unless
   --reuse-data finds it ready): `caseflow db upgrade heads`, `caseflow generate --cases N`,
   then the people of the run made through the service layer (load.sup01…, load.fac0001…,
   load.aud01…, national auditors) and the generated cases handed over to the facilitators
   (every facilitator gets open cases; teams of facilitators under each supervisor).
   The handover is a plain UPDATE of cases.facilitator_id, outside the audit trail, like
   the generator's own bulk inserts: the database is for benchmarking only. A copy of it
   (CREATE DATABASE … TEMPLATE) takes the raw-SQL floor's writes.
2. The server: `gunicorn -w N [--threads T] 'caseflow:create_app(…)'` with CASEFLOW_DATABASE_URL,
   CASEFLOW_RATELIMIT_STORAGE_URL=redis://127.0.0.1:6379, a secret key, plain-HTTP cookies
   and the sign-in limits raised (they count failed sign-ins only, but a run must never be
   stopped by them), plus bench/load_gunicorn.py, whose server hooks read each request's
   CPU time (the worker's and its PostgreSQL backends') and SQL statement count.
3. Every person signs in once (sessions, as the tablet's offline app does: API writes with
   the session cookie and X-CSRFToken; --api-auth token uses personal access tokens).
4. The mix, by bench/load_locust.py (Locust, headless, in its own process): each person one
   action every --think-time seconds on average; facilitators: my cases → a case page → log a
   step (POST /api/v1/cases/<id>/steps with Idempotency-Key and If-Match), one loop in ten
   (at random) opened by an outbox of 10 (POST /api/v1/outbox); supervisors: sign-off queue → team page;
   auditors: a case's audit history. Measured for --duration seconds after --warmup.
5. The floors: a bare Flask route (bench/load_bare.py) under the same gunicorn settings and
   hooks, driven by the same tool in a closed loop; and a transition in raw SQL through
   psycopg (bench/floors.py: SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT), its client CPU
   and its backend's CPU per operation.
6. Exactly once: every step write of the run carries its Idempotency-Key in its notes; the
   keys the server acknowledged are compared with the rows in the database.

Prints, per request type: count, throughput, p50/p95/p99/max latency (exact, from every
request of the window), errors, app CPU, PostgreSQL backend CPU and SQL statements per
request; the machine's load and CPU use by component; the floors; the exactly-once check;
and the targets of issue 14 met or not.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

# The repository root instead of bench/ (whose transitions.py would shadow the library).
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/caseflow_load"
PASSWORD = "Beban-Nasional-Uji-2026"
PREFIX = "load."
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Request types: the names bench/load_locust.py gives them, and how the server's hooks see them.
TYPES = [
    ("my cases", "GET", re.compile(r"^/cases$")),
    ("case page", "GET", re.compile(r"^/cases/\d+$")),
    ("log a step (API)", "POST", re.compile(r"^/api/v1/cases/\d+/steps$")),
    ("outbox of 10 (API)", "POST", re.compile(r"^/api/v1/outbox$")),
    ("sign-off queue", "GET", re.compile(r"^/team/sign-offs$")),
    ("team page", "GET", re.compile(r"^/team$")),
    ("audit history", "GET", re.compile(r"^/audit/cases/\d+/history$")),
    ("bare route", "GET", re.compile(r"^/bare$")),
]
# Issue 14's budgets of app CPU per request, in milliseconds.
CPU_BUDGET = {"log a step (API)": 3.0, "case page": 5.0, "my cases": 5.0}


# --- arguments -----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("CASEFLOW_LOAD_DATABASE_URL", DEFAULT_URL),
                        help="PostgreSQL database to fill and use; its name must start with caseflow_load "
                             "unless --reuse-data finds it ready (default: %(default)s)")
    parser.add_argument("--cases", type=int, default=20_000, help="generated cases (default: %(default)s)")
    parser.add_argument("--facilitators", type=int, default=635)
    parser.add_argument("--supervisors", type=int, default=40)
    parser.add_argument("--auditors", type=int, default=5)
    parser.add_argument("--think-time", type=float, default=10.0,
                        help="seconds between one person's actions, on average (exponential)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds of load before the measurement starts (default: 1.5 × think time)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (processes)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker: 1 runs sync workers, 2 to 5 gthread workers (the app's "
                             "connection pool keeps 5 connections a process)")
    parser.add_argument("--reuse-data", action="store_true",
                        help="keep the database if it already holds the cases and the people of this run")
    parser.add_argument("--api-auth", choices=("session", "token"), default="session",
                        help="how tablets authenticate API writes: the signed-in session with X-CSRFToken "
                             "(what the offline app does) or personal access tokens (Bearer)")
    parser.add_argument("--floor-seconds", type=float, default=15.0, help="seconds of the bare-route floor")
    parser.add_argument("--floor-ops", type=int, default=1000, help="raw-SQL floor transitions")
    parser.add_argument("--instance", type=Path, default=ROOT / "instance" / "load",
                        help="instance folder shared by the generator and the server (audit signing key)")
    parser.add_argument("--keep-samples", action="store_true", help="keep the per-request samples folder")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = 1.5 * args.think_time
    for name in ("cases", "facilitators", "supervisors", "workers", "threads", "floor_ops"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.threads > 5:
        # More would open and close a connection at every request beyond the pool's five.
        parser.error("--threads must be at most 5 (the connection pool's size)")
    if args.auditors < 0 or args.think_time <= 0 or args.duration <= 0 or args.floor_seconds <= 0:
        parser.error("--auditors, --think-time, --duration and --floor-seconds must be positive")
    return args


def require_locust() -> None:
    if importlib.util.find_spec("locust") is None:
        sys.exit("bench/load.py needs Locust: run  .venv/bin/pip install -e '.[bench]'  first.")


# --- PostgreSQL ---------------------------------------------------------------------------


def dsn(url: str, database: str | None = None) -> str:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def admin(url: str):
    import psycopg

    return psycopg.connect(dsn(url, "postgres"), autocommit=True)


def database_name(url: str) -> str:
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    if not name:
        sys.exit(f"--database-url names no database: {url}")
    return name


def backend_pids(url: str, name: str) -> list[int]:
    with admin(url) as connection:
        return [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'", (name,))]


# --- /proc ----------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), 0 if it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        path = task / "children"
        if path.exists():
            found += [int(p) for p in path.read_text().split()]
    return found


def machine_cpu() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


# Kernel settings that change what a request costs between two others (how an idle core is
# given back, nested virtualisation, mitigations): printed so that runs on different
# machines of "the same kind" can be told apart.
KERNEL_SETTINGS_SHOWN = ("nested_pvm", "haltpoll.guest_halt_poll_ns", "cpuidle_haltpoll.force", "idle",
                         "mitigations", "isolcpus", "nohz_full")


def machine_description() -> str:
    """The processor, whether this is a virtual machine and the kernel settings above, and the
    Python that runs the server."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        command_line = Path("/proc/cmdline").read_text().split()
    except OSError:
        return f"{platform.platform()}; Python {platform.python_version()}"
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "processor")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    kind = "a virtual machine" if "hypervisor" in flags else "no hypervisor flag"
    settings = [word for word in command_line if word.split("=", 1)[0] in KERNEL_SETTINGS_SHOWN]
    told = f"; kernel: {' '.join(settings)}" if settings else ""
    return f"{model}, {kind}{told}; Python {platform.python_version()} ({sys.executable})"


# --- data --------------------------------------------------------------------------------------


def caseflow_command(env: dict, *arguments: str) -> None:
    started = time.perf_counter()
    print(f"  caseflow {' '.join(arguments)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "caseflow.cli", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"caseflow {' '.join(arguments)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    print(f"    done in {time.perf_counter() - started:.0f} s", flush=True)


def ready(url: str, args) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn(url)) as connection:
            cases = connection.execute("SELECT count(*) FROM cases").fetchone()[0]
            people = dict(connection.execute(
                "SELECT role, count(*) FROM users WHERE username LIKE %s GROUP BY role", (PREFIX + "%",)).fetchall())
    except psycopg.Error:
        return False
    return cases >= args.cases and people == {
        k: v for k, v in {"facilitator": args.facilitators, "supervisor": args.supervisors,
                          "auditor": args.auditors}.items() if v}


def prepare_data(url: str, args, env: dict) -> None:
    name = database_name(url)
    if args.reuse_data and ready(url, args):
        # Data kept from an earlier run still needs the tables newer code reads.
        caseflow_command(env, "db", "upgrade", "heads")
        print(f"data: reusing database {name} (migrated to the current heads)")
        return
    if not name.startswith("caseflow_load"):
        sys.exit(f"refusing to replace database {name!r}: give a database named caseflow_load… "
                 "(or one that --reuse-data finds ready)")
    print(f"data: building database {name} (replaced if it exists)", flush=True)
    with admin(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    caseflow_command(env, "db", "upgrade", "heads")
    caseflow_command(env, "generate", "--cases", str(args.cases))
    started = time.perf_counter()
    make_people(url, args)
    print(f"  {args.facilitators} facilitators, {args.supervisors} supervisors, {args.auditors} auditors made "
          f"and the cases handed over in {time.perf_counter() - started:.0f} s", flush=True)
    import psycopg

    # What autovacuum does in a running system: fresh statistics and visibility maps.
    with psycopg.connect(dsn(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _chunks(items: list, parts: int) -> list[list]:
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def make_people(url: str, args) -> None:
    """The run's people through the service layer, and the generated cases handed over:
    facilitator j takes the j-th slice of the open cases and of the closed ones, both in
    province order (so each works mostly in one province); supervisors take consecutive
    facilitators as their team."""
    from sqlalchemy import text

    from caseflow import create_app
    from caseflow.extensions import db
    from caseflow.services.context import Actor
    from caseflow.services.users import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        session = db.session
        rows = session.execute(text(
            "SELECT id, province_code, state IN ('resolved', 'closed_unresolved') AS closed FROM cases "
            "ORDER BY province_code, id")).all()
        open_cases = [(r.id, r.province_code) for r in rows if not r.closed]
        closed_cases = [(r.id, r.province_code) for r in rows if r.closed]
        if len(open_cases) < args.facilitators:
            sys.exit(f"only {len(open_cases)} open cases for {args.facilitators} facilitators: raise --cases")
        mine = [a + b for a, b in zip(_chunks(open_cases, args.facilitators),
                                      _chunks(closed_cases, args.facilitators), strict=True)]
        provinces = [Counter(p for _id, p in cases).most_common(1)[0][0] for cases in mine]
        teams = _chunks(list(range(args.facilitators)), min(args.supervisors, args.facilitators))
        cli = Actor.cli()
        supervisor_of: dict[int, int] = {}
        for number, team in enumerate(teams, 1):
            supervisor = create_user(cli, {"username": f"{PREFIX}sup{number:02d}", "full_name": f"Supervisor {number}",
                                           "role": "supervisor", "password": PASSWORD,
                                           "province_code": provinces[team[0]] if team else "31"})
            supervisor_of.update(dict.fromkeys(team, supervisor.id))
        for number in range(len(teams) + 1, args.supervisors + 1):  # more supervisors than facilitators
            create_user(cli, {"username": f"{PREFIX}sup{number:02d}", "full_name": f"Supervisor {number}",
                              "role": "supervisor", "password": PASSWORD, "province_code": "31"})
        moves: list[tuple[int, int]] = []
        for index in range(args.facilitators):
            facilitator = create_user(cli, {
                "username": f"{PREFIX}fac{index + 1:04d}", "full_name": f"Pendamping {index + 1}",
                "role": "facilitator", "password": PASSWORD, "province_code": provinces[index],
                "supervisor_id": supervisor_of[index]})
            moves += [(case_id, facilitator.id) for case_id, _p in mine[index]]
        for number in range(1, args.auditors + 1):
            create_user(cli, {"username": f"{PREFIX}aud{number:02d}", "full_name": f"Auditor {number}",
                              "role": "auditor", "password": PASSWORD, "province_code": "31"})
        session.execute(text("UPDATE cases SET facilitator_id = :f WHERE id = :c"),
                        [{"c": c, "f": f} for c, f in moves])
        session.commit()
        db.engine.dispose()


def make_floor_copy(url: str) -> str:
    name = database_name(url)
    copy = f"{name}_floor"
    with admin(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    return copy


def drop_database(url: str, name: str) -> None:
    with admin(url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plan_people(url: str, args) -> tuple[list[dict], list[int]]:
    import psycopg

    with psycopg.connect(dsn(url)) as connection:
        users = connection.execute(
            "SELECT id, username, role FROM users WHERE username LIKE %s ORDER BY username", (PREFIX + "%",)).fetchall()
        cases: dict[int, dict[int, int]] = defaultdict(dict)
        for case_id, facilitator_id, version in connection.execute(
                "SELECT id, facilitator_id, version FROM cases WHERE state NOT IN ('resolved', 'closed_unresolved')"):
            cases[facilitator_id][case_id] = version
        audit_cases = [row[0] for row in connection.execute(
            "SELECT id FROM cases ORDER BY random() LIMIT 5000")]
        args.cases_in_database = connection.execute("SELECT count(*) FROM cases").fetchone()[0]
    people = []
    for user_id, username, role in users:
        person = {"role": role, "username": username, "user_id": user_id}
        if role == "facilitator":
            person["cases"] = {str(k): v for k, v in cases[user_id].items()}
        people.append(person)
    return people, audit_cases


def make_tokens(url: str, people: list[dict], run_id: str) -> None:
    from caseflow import create_app
    from caseflow.extensions import db
    from caseflow.models import User
    from caseflow.services.api_tokens import create_token
    from caseflow.services.context import Actor

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        for person in people:
            if person["role"] == "facilitator":
                user = db.session.get(User, person["user_id"])
                _token, person["token"] = create_token(Actor(user=user), {
                    "name": f"load {run_id}", "scopes": ["cases:read", "cases:write"], "expires_in_days": 1})
        db.engine.dispose()


# --- servers and sign-in ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(spec: str, workers: int, env: dict, samples: Path, probe: str,
                 threads: int = 1) -> tuple[subprocess.Popen, int]:
    port = free_port()
    samples.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "--threads", str(threads),
         "-b", f"127.0.0.1:{port}",
         "-c", str(ROOT / "bench" / "load_gunicorn.py"), "--log-level", "warning",
         "--error-logfile", str(samples / "gunicorn.log"), spec],
        cwd=ROOT, env=dict(env, CASEFLOW_LOAD_SAMPLES=str(samples)))
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped at start: see {samples / 'gunicorn.log'}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", probe)
            if connection.getresponse().status == 200 and len(children(server.pid)) >= workers:
                return server, port
        except OSError:
            pass
        time.sleep(0.3)
    stop_server(server)
    sys.exit(f"gunicorn did not answer {probe} within 120 s: see {samples / 'gunicorn.log'}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Browser:
    """Just enough of a browser to sign in: cookies and the CSRF token of the forms."""

    def __init__(self, port: int, user_agent: str):
        self.port = port
        self.user_agent = user_agent
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers={"Cookie": cookie, "User-Agent": self.user_agent,
                                                                **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        connection.close()
        return response.status, data


def sign_in(port: int, person: dict, with_csrf: bool) -> None:
    # Sessions are bound to the address and the User-Agent (Flask-Login's "strong"
    # protection): the load generator sends the same one.
    person["user_agent"] = f"caseflow-load/1 ({person['username']})"
    browser = Browser(port, person["user_agent"])
    _status, page = browser.request("GET", "/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    form = urlencode({"username": person["username"], "password": PASSWORD, "csrf_token": token}).encode()
    status, _page = browser.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 302:
        raise RuntimeError(f"{person['username']} could not sign in (HTTP {status})")
    if with_csrf:
        # The offline app's page carries the CSRF token its API writes send (as sync.js does).
        _status, page = browser.request("GET", "/offline/")
        person["csrf"] = re.search(rb'data-csrf-token="([^"]+)"', page).group(1).decode()
    person["cookies"] = dict(browser.cookies)


# --- one run of the load tool -----------------------------------------------------------------


def snapshot(server: subprocess.Popen, url: str | None, name: str | None, locust_pid: int) -> dict:
    pids = [server.pid, *children(server.pid)]
    backends = backend_pids(url, name) if url else []
    busy, total = machine_cpu()
    return {"time": time.time(), "server": sum(process_cpu(p) for p in pids),
            "postgres": {p: process_cpu(p) for p in backends}, "locust": process_cpu(locust_pid),
            "busy": busy, "total": total}


def drive(plan: dict, workdir: Path, server: subprocess.Popen, warmup: float, duration: float,
          url: str | None = None, name: str | None = None) -> tuple[dict, dict, dict]:
    plan_path, result_path = workdir / f"{plan['label']}-plan.json", workdir / f"{plan['label']}-result.json"
    plan_path.write_text(json.dumps(plan))
    locust = subprocess.Popen([sys.executable, str(ROOT / "bench" / "load_locust.py"), str(plan_path),
                               str(result_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = locust.stdout.readline()
        if not line.startswith("READY"):
            sys.exit(f"the load generator did not start (said {line!r})")
        # Whatever else it prints must not fill the pipe and stop it.
        threading.Thread(target=lambda: [sys.stderr.write(rest) for rest in locust.stdout], daemon=True).start()
        time.sleep(warmup)
        before = snapshot(server, url, name, locust.pid)
        time.sleep(duration)
        after = snapshot(server, url, name, locust.pid)
        locust.send_signal(signal.SIGUSR1)
        locust.wait(timeout=600)
    finally:
        if locust.poll() is None:
            locust.kill()
    if locust.returncode != 0:
        sys.exit(f"the load generator failed (exit {locust.returncode})")
    return json.loads(result_path.read_text()), before, after


def server_samples(samples: Path, start: float, end: float) -> dict[str, list[tuple[int, int, int]]]:
    by_type: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for path in samples.glob("worker-*.tsv"):
        for line in path.read_text().splitlines():
            finished, method, route, _status, cpu, database, statements = line.split("\t")
            if not start <= float(finished) <= end:
                continue
            kind = next((label for label, m, pattern in TYPES if m == method and pattern.match(route)), "other")
            by_type[kind].append((int(cpu), int(database), int(statements)))
    return by_type


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


def summarise(result: dict, samples: dict, start: float, end: float, kinds: list[str]) -> dict[str, dict]:
    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter = Counter()
    for kind, finished, ms, ok, _status in result["records"]:
        if start <= finished <= end:
            times[kind].append(ms)
            errors[kind] += not ok
    rows = {}
    for kind in kinds + ["other"]:
        if kind == "other" and kind not in samples:
            continue
        ordered = sorted(times.get(kind, []))
        measured = samples.get(kind, [])
        n = len(measured) or 1
        rows[kind] = {
            "count": len(ordered), "rate": len(ordered) / (end - start), "errors": errors[kind],
            "p50": percentile(ordered, 0.50), "p95": percentile(ordered, 0.95), "p99": percentile(ordered, 0.99),
            "max": ordered[-1] if ordered else float("nan"),
            "served": len(measured),
            "cpu": sum(s[0] for s in measured) / n / 1e6 if measured else float("nan"),
            "pg": sum(s[1] for s in measured) / n / 1e6 if measured else float("nan"),
            "statements": sum(s[2] for s in measured) / n if measured else float("nan"),
        }
    return rows


# --- the raw-SQL floor ---------------------------------------------------------------------------


def backend_cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def sql_floor(url: str, copy: str, operations: int) -> dict[str, float]:
    import psycopg

    from bench.floors import raw_transition_postgres

    with psycopg.connect(dsn(url, copy)) as connection:
        ids = [row[0] for row in connection.execute(
            "SELECT id FROM cases ORDER BY id LIMIT %s", (operations + 50,))]
        for case_id in ids[:50]:  # warm the connection and the caches
            raw_transition_postgres(connection, case_id, lock=True)
        measured = ids[50:]
        backend = connection.info.backend_pid
        backend_before, cpu_before, wall_before = backend_cpu_ns(backend), time.process_time(), time.perf_counter()
        for case_id in measured:
            raw_transition_postgres(connection, case_id, lock=True)
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        backend_cpu = (backend_cpu_ns(backend) - backend_before) / 1e9
    n = len(measured)
    return {"ops": n, "wall": 1000 * wall / n, "client": 1000 * cpu / n, "backend": 1000 * backend_cpu / n}


# --- exactly once ------------------------------------------------------------------------------


def exactly_once(url: str, run_id: str, result: dict, since: float) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn(url)) as connection:
        stored = Counter(row[0].rsplit(" ", 1)[1] for row in connection.execute(
            "SELECT notes FROM steps WHERE notes LIKE %s", (f"load {run_id} %",)))
        events = connection.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'step.logged' AND occurred_at >= to_timestamp(%s)",
            (since,)).fetchone()[0]
    acked = set(result["acked"])
    return {"sent": len(set(result["sent"])), "acked": len(acked), "stored": len(stored),
            "duplicates": sum(n - 1 for n in stored.values()), "lost": len(acked - set(stored)),
            "unacknowledged": len(set(stored) - acked), "events": events,
            "acked twice": len(result["acked"]) - len(acked)}


# --- the report ----------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def fixed(value: float, places: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{places}f}"


def report(args, setup: dict, rows: dict, before: dict, after: dict, bare: dict, bare_proc: dict,
           floor: dict, once: dict, result: dict, loads: tuple) -> None:
    window = after["time"] - before["time"]
    total_requests = sum(r["served"] for kind, r in rows.items() if kind != "bare route")
    server_cores = (after["server"] - before["server"]) / window
    pg_cores = sum(after["postgres"].get(p, 0) - v for p, v in before["postgres"].items()
                   if p in after["postgres"]) / window
    pg_cores += sum(v for p, v in after["postgres"].items() if p not in before["postgres"]) / window
    locust_cores = (after["locust"] - before["locust"]) / window
    busy_cores = (after["busy"] - before["busy"]) / window
    cores = os.cpu_count()
    print()
    print("=" * 118)
    serving = (f"{args.workers} sync workers" if args.threads == 1
               else f"{args.workers} gthread workers × {args.threads} threads")
    print(f"Caseflow under the national programme's load (issue 14) — PostgreSQL, gunicorn {serving}, {cores} CPUs")
    print(f"data: {setup['cases']:,} cases; {setup['facilitators']} facilitators ({setup['open_cases']:,} open cases), "
          f"{setup['supervisors']} supervisors, {setup['auditors']} auditors; API writes by {args.api_auth}")
    people = setup["facilitators"] + setup["supervisors"] + setup["auditors"]
    print(f"each person one action every {args.think_time:g} s on average (exponential) after the answer to the "
          f"last: at most {people / args.think_time:.1f} actions/s offered; measured {window:.0f} s after "
          f"{args.warmup:.0f} s of warm-up")
    print(f"machine: {machine_description()}")
    print(f"machine: load average {' / '.join(f'{v:.2f}' for v in loads[0])} before, "
          f"{' / '.join(f'{v:.2f}' for v in loads[1])} after (1/5/15 min); during the window {busy_cores:.2f} of "
          f"{cores} cores busy: gunicorn {server_cores:.2f}, PostgreSQL backends of this database {pg_cores:.2f}, "
          f"load generator {locust_cores:.2f}, everything else {max(0.0, busy_cores - server_cores - pg_cores - locust_cores):.2f}")
    print()
    header = (f"{'request type':<22}{'count':>7}{'req/s':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
              f"{'errors':>7}{'app CPU ms':>11}{'PG CPU ms':>10}{'SQL stmts':>10}")
    print(header)
    print("-" * len(header))
    for kind, r in rows.items():
        if kind == "bare route":
            continue
        print(f"{kind:<22}{r['count']:>7}{r['rate']:>7.1f}{ms(r['p50']):>8}{ms(r['p95']):>8}{ms(r['p99']):>8}"
              f"{ms(r['max']):>8}{r['errors']:>7}{fixed(r['cpu'], 2):>11}{fixed(r['pg'], 2):>10}"
              f"{fixed(r['statements'], 1):>10}")
    every = [r for kind, r in rows.items() if kind != "bare route"]
    count = sum(r["count"] for r in every)
    print(f"{'all requests':<22}{count:>7}{count / window:>7.1f}{'':>40}{sum(r['errors'] for r in every):>7}")
    if count / window < 0.8 * people / args.think_time:
        print(f"  the server did not keep up: {count / window:.1f} requests/s answered of the "
              f"{people / args.think_time:.1f} offered; people waited for answers instead of thinking")
    print("-" * len(header))
    print("floors, same run:")
    for kind, r in bare.items():
        if kind == "bare route":
            print(f"{'bare Flask route':<22}{r['count']:>7}{r['rate']:>7.0f}{ms(r['p50']):>8}{ms(r['p95']):>8}"
                  f"{ms(r['p99']):>8}{ms(r['max']):>8}{r['errors']:>7}{r['cpu']:>11.2f}{'-':>10}{'-':>10}"
                  f"   ({bare_proc['users']} loops, no pause)")
    print(f"{'raw-SQL transition':<22}{floor['ops']:>7}{1000 / floor['wall']:>7.0f}{ms(floor['wall']):>8}"
          f"{'':>31}{floor['client']:>11.2f}{floor['backend']:>10.2f}{3:>10}   (SELECT … FOR UPDATE, UPDATE, "
          f"INSERT, COMMIT through psycopg: client CPU, wall per op)")
    print()
    print("app CPU, PG CPU and statements are per request served inside the window, read by the gunicorn hooks "
          "(bench/load_gunicorn.py)")
    hooked = sum(r["cpu"] * r["served"] for kind, r in rows.items() if r["served"]) / 1000
    whole = after["server"] - before["server"]
    print(f"whole gunicorn (master + workers) from /proc: {1000 * whole / max(total_requests, 1):.2f} ms CPU per "
          f"request; the hooks account for {100 * hooked / whole if whole else 0:.0f}% of it. Bare route from /proc: "
          f"{bare_proc['per_request']:.2f} ms per request")
    print(f"PostgreSQL backends of this database from /proc: {1000 * pg_cores * window / max(total_requests, 1):.2f} ms "
          f"CPU per request; load generator {1000 * locust_cores * window / max(count, 1):.2f} ms per request")
    if result["errors"]:
        print("errors (first kinds):")
        for kind, messages in result["errors"].items():
            for message, n in messages.items():
                print(f"  {kind}: {n} × {message}")
    print()
    print(f"writes acknowledged {once['acked']}, in the database {once['stored']}, duplicates {once['duplicates']}, "
          f"lost {once['lost']}  (sent {once['sent']}; stored without an acknowledgement {once['unacknowledged']}; "
          f"'step.logged' audit events since the start {once['events']}; unanswered at the stop {result['unanswered']})")
    print()
    verdicts = []
    for kind, r in rows.items():
        if kind in ("bare route", "other"):
            continue
        if not r["count"]:
            verdicts.append((f"{kind}: none answered in the window", False))
            continue
        verdicts.append((f"{kind}: p95 {ms(r['p95'])} ms < 100", r["p95"] < 100))
        verdicts.append((f"{kind}: p99 {ms(r['p99'])} ms < 300", r["p99"] < 300))
        if kind in CPU_BUDGET and r["served"]:
            verdicts.append((f"{kind}: app CPU {r['cpu']:.2f} ms ≤ {CPU_BUDGET[kind]:g}", r["cpu"] <= CPU_BUDGET[kind]))
    verdicts.append((f"errors {sum(r['errors'] for r in every)} = 0", sum(r["errors"] for r in every) == 0))
    verdicts.append(("every write acknowledged exactly once",
                     once["duplicates"] == 0 and once["lost"] == 0 and once["unacknowledged"] == 0))
    print("targets of issue 14:")
    for text, met in verdicts:
        print(f"  {'met    ' if met else 'NOT met'}  {text}")
    print("=" * 118)


# --- main ------------------------------------------------------------------------------------


def run_mix(args, url: str, env: dict, people: list[dict], audit_cases: list[int], run_id: str,
            workdir: Path) -> tuple[dict, dict, dict, tuple]:
    """Start the app, sign everyone in, drive the mix; the app is stopped before returning."""
    limits = "100000 per 1 minute"
    spec = (f"caseflow:create_app({{'CASEFLOW_LOGIN_LIMIT_ACCOUNT': {limits!r}, "
            f"'CASEFLOW_LOGIN_LIMIT_ADDRESS': {limits!r}}})")
    server, port = start_server(spec, args.workers, env, workdir / "app", "/healthz", args.threads)
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2 * args.workers) as pool:
            list(pool.map(lambda p: sign_in(port, p, p["role"] == "facilitator" and args.api_auth == "session"),
                          people))
        print(f"{len(people)} people signed in in {time.perf_counter() - started:.0f} s; the mix runs "
              f"{args.warmup:.0f} s + {args.duration:.0f} s", flush=True)
        loads = [os.getloadavg()]
        plan = {"label": "mix", "mode": "mix", "host": f"http://127.0.0.1:{port}", "think": args.think_time,
                "run_id": run_id, "people": people, "audit_cases": audit_cases, "outbox_every": 10,
                "outbox_size": 10, "spawn_rate": 100, "drain_seconds": 330}
        result, before, after = drive(plan, workdir, server, args.warmup, args.duration, url,
                                      database_name(url))
        loads.append(os.getloadavg())
    finally:
        stop_server(server)
    rows = summarise(result, server_samples(workdir / "app", before["time"], after["time"]),
                     before["time"], after["time"], [t[0] for t in TYPES if t[0] != "bare route"])
    return result, rows, {"before": before, "after": after}, tuple(loads)


def run_bare(args, env: dict, workdir: Path) -> tuple[dict, dict]:
    """The bare route under the same gunicorn settings and hooks, in a closed loop."""
    server, port = start_server("bench.load_bare:app", args.workers, env, workdir / "bare", "/bare", args.threads)
    users = 2 * args.workers * args.threads
    try:
        plan = {"label": "bare", "mode": "closed", "host": f"http://127.0.0.1:{port}", "think": 1,
                "users": users, "path": "/bare", "name": "bare route", "run_id": ""}
        result, before, after = drive(plan, workdir, server, 3, args.floor_seconds)
    finally:
        stop_server(server)
    rows = summarise(result, server_samples(workdir / "bare", before["time"], after["time"]),
                     before["time"], after["time"], ["bare route"])
    served = rows["bare route"]["served"]
    return rows, {"users": users, "per_request": 1000 * (after["server"] - before["server"]) / max(served, 1)}


def main() -> None:
    args = parse_args()
    require_locust()
    url = args.database_url
    args.instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CASEFLOW_DATABASE_URL=url, CASEFLOW_INSTANCE_PATH=str(args.instance),
               CASEFLOW_RATELIMIT_STORAGE_URL="redis://127.0.0.1:6379", CASEFLOW_SECRET_KEY=secrets.token_urlsafe(32),
               CASEFLOW_INSECURE_COOKIES="1")
    os.environ["CASEFLOW_INSTANCE_PATH"] = str(args.instance)
    prepare_data(url, args, env)
    copy = make_floor_copy(url)
    workdir = Path(tempfile.mkdtemp(prefix="caseflow-load-"))
    try:
        run_id = uuid.uuid4().hex[:12]
        people, audit_cases = plan_people(url, args)
        setup = {"cases": args.cases_in_database, "facilitators": sum(p["role"] == "facilitator" for p in people),
                 "supervisors": sum(p["role"] == "supervisor" for p in people),
                 "auditors": sum(p["role"] == "auditor" for p in people),
                 "open_cases": sum(len(p.get("cases", {})) for p in people)}
        if args.api_auth == "token":
            make_tokens(url, people, run_id)
        since = time.time()
        result, rows, window, loads = run_mix(args, url, env, people, audit_cases, run_id, workdir)
        once = exactly_once(url, run_id, result, since)
        print("floors: the bare route, then the raw-SQL transition", flush=True)
        bare, bare_proc = run_bare(args, env, workdir)
        floor = sql_floor(url, copy, args.floor_ops)
        report(args, setup, rows, window["before"], window["after"], bare, bare_proc, floor, once, result, loads)
    finally:
        drop_database(url, copy)  # the floor's writes never outlive the run
        if args.keep_samples:
            print(f"samples kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
