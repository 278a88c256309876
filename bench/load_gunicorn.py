"""Gunicorn configuration for bench/load.py: measures each request from outside the app.

A worker thread serves one request at a time (a sync worker has one thread; with --threads,
gthread workers have several), so the thread's own CPU clock read just before and just after
a request is that request's CPU. The PostgreSQL backends the request used are measured the
same way: each connection's backend CPU time (from /proc/<pid>/schedstat, in nanoseconds) is
read when the request's thread checks the connection out of the pool and when it gives it
back. SQL statements are counted by a SQLAlchemy event, per thread. Nothing in caseflow/ is
changed: these are gunicorn's server hooks and SQLAlchemy's pool and engine events. Each
worker appends one line per request to $CASEFLOW_LOAD_SAMPLES/worker-<pid>.tsv:

    finished (epoch s)  method  path  status  app CPU ns  PostgreSQL CPU ns  statements

The hooks cost a few microseconds a request; HTTP parsing before `pre_request`, the
connection's close after `post_request` and a gthread worker's own loop (accepting and
polling connections) fall outside, and are in the whole-process CPU that bench/load.py also
reads from /proc.
"""

from __future__ import annotations

import os
import threading
import time

_file = {"handle": None, "lock": threading.Lock()}
# Per thread: the request's start, its statements, its backends' CPU, the connections it holds.
_request = threading.local()


def _backend_cpu_ns(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/schedstat") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # a closed connection's backend is gone, or /proc is not ours to read


def _backend_pid(dbapi_connection) -> int | None:
    info = getattr(dbapi_connection, "info", None)
    pid = getattr(info, "backend_pid", None)  # psycopg 3; SQLite and the bare route have none
    return pid if isinstance(pid, int) else None


def _count_statement(*_args, **_kwargs) -> None:
    if getattr(_request, "start", None) is not None:
        _request.statements += 1


def _checked_out(dbapi_connection, _record, _proxy) -> None:
    pid = _backend_pid(dbapi_connection)
    if pid is not None and getattr(_request, "start", None) is not None:
        _request.held[pid] = _backend_cpu_ns(pid)


def _checked_in(dbapi_connection, _record) -> None:
    held = getattr(_request, "held", None)
    pid = _backend_pid(dbapi_connection) if held else None
    if pid is not None and pid in held:
        _settle_backend(pid, held.pop(pid))


def _settle_backend(pid: int, before: int | None) -> None:
    after = _backend_cpu_ns(pid)
    if before is not None and after is not None:
        _request.database += after - before


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
    event.listen(Pool, "checkin", _checked_in)
    _file["handle"] = open(os.path.join(directory, f"worker-{os.getpid()}.tsv"), "a", buffering=1)  # noqa: SIM115


def pre_request(worker, req) -> None:
    if _file["handle"] is None:
        return
    _request.statements = 0
    _request.database = 0
    _request.held = {}
    _request.start = time.thread_time_ns()


def post_request(worker, req, environ, resp) -> None:
    start = getattr(_request, "start", None)
    if _file["handle"] is None or start is None:
        return
    cpu = time.thread_time_ns() - start
    for pid, before in list(_request.held.items()):  # still checked out (not expected)
        _settle_backend(pid, before)
    _request.start = None
    status = getattr(resp, "status_code", None) or 0
    line = (f"{time.time():.6f}\t{req.method}\t{req.path}\t{status}\t{cpu}\t{_request.database}\t"
            f"{_request.statements}\n")
    with _file["lock"]:
        _file["handle"].write(line)
