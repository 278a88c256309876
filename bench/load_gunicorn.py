"""Gunicorn configuration for bench/load.py: measures each request from outside the app.

A sync worker serves one request at a time, so the worker's own CPU clock read just
before and just after a request is that request's CPU; the same holds for the PostgreSQL
backends of the worker's connections (their CPU time from /proc/<pid>/schedstat, in
nanoseconds). SQL statements are counted by a SQLAlchemy event. Nothing in caseflow/ is
changed: these are gunicorn's server hooks. Each worker appends one line per request to
$CASEFLOW_LOAD_SAMPLES/worker-<pid>.tsv:

    finished (epoch s)  method  path  status  app CPU ns  PostgreSQL CPU ns  statements

The hooks cost a few microseconds a request; HTTP parsing before `pre_request` and the
connection's close after `post_request` fall outside, and are in the whole-process CPU
that bench/load.py also reads from /proc.
"""

from __future__ import annotations

import os
import time

_state = {"file": None, "statements": 0, "backends": {}, "start": None}


def _backend_cpu_ns(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/schedstat") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # a closed connection's backend is gone, or /proc is not ours to read


def _count_statement(*_args, **_kwargs) -> None:
    _state["statements"] += 1


def _checked_out(dbapi_connection, _record, _proxy) -> None:
    info = getattr(dbapi_connection, "info", None)
    pid = getattr(info, "backend_pid", None)  # psycopg 3; SQLite and the bare route have none
    if isinstance(pid, int) and pid not in _state["backends"]:
        # Seen for the first time: its CPU until now belongs to no request measured here.
        _state["backends"][pid] = _backend_cpu_ns(pid)


def post_worker_init(worker) -> None:
    # As caseflow/gunicorn_conf.py does for `caseflow serve` (the bare route's floor too).
    from caseflow.serving import settle_worker

    settle_worker()
    directory = os.environ.get("CASEFLOW_LOAD_SAMPLES")
    if not directory:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    event.listen(Engine, "before_cursor_execute", _count_statement)
    event.listen(Pool, "checkout", _checked_out)
    _state["file"] = open(os.path.join(directory, f"worker-{os.getpid()}.tsv"), "a", buffering=1)  # noqa: SIM115


def pre_request(worker, req) -> None:
    if _state["file"] is None:
        return
    backends = _state["backends"]
    for pid in list(backends):
        backends[pid] = _backend_cpu_ns(pid)
        if backends[pid] is None:
            del backends[pid]
    _state["statements"] = 0
    _state["start"] = time.process_time_ns()


def post_request(worker, req, environ, resp) -> None:
    if _state["file"] is None or _state["start"] is None:
        return
    cpu = time.process_time_ns() - _state["start"]
    statements = _state["statements"]
    database = 0
    for pid, before in _state["backends"].items():
        after = _backend_cpu_ns(pid)
        if before is not None and after is not None:
            database += after - before
    status = getattr(resp, "status_code", None) or 0
    _state["file"].write(f"{time.time():.6f}\t{req.method}\t{req.path}\t{status}\t{cpu}\t{database}\t{statements}\n")
    _state["start"] = None
