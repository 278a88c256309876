"""Running it: `caseflow serve` (gunicorn), `caseflow worker` (the task queue's consumer and
scheduler), `caseflow tasks status|run NAME`, and `caseflow check-config`."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import queue, resources
from ..config import environment
from ..extensions import db
from .util import command_group, fail


def register(app: Flask) -> None:
    @app.cli.command("serve")
    @click.option("--bind", default=None, help="Address:port (default CASEFLOW_BIND, or 127.0.0.1:8000).")
    @click.option("--workers", type=click.IntRange(min=1), default=None,
                  help="Processes (default CASEFLOW_WORKERS, or 2 × cores + 1).")
    def serve(bind: str | None, workers: int | None) -> None:
        """Serve the application with gunicorn (settings: caseflow/gunicorn_conf.py)."""
        env = dict(os.environ)
        if bind:
            env["CASEFLOW_BIND"] = bind
        if workers:
            env["CASEFLOW_WORKERS"] = str(workers)
        if "PROMETHEUS_MULTIPROC_DIR" not in env:
            # Every worker writes its metrics here; a new server starts from nothing.
            port = (env.get("CASEFLOW_BIND") or "8000").rpartition(":")[2]
            folder = Path(current_app.instance_path) / "prometheus" / port
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        args = [sys.executable, "-m", "gunicorn", "-c", "python:caseflow.gunicorn_conf", "caseflow.wsgi:app"]
        os.execve(sys.executable, args, env)

    @app.cli.command("worker")
    @click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                  help="Tasks run at once (threads).")
    @click.option("--no-periodic", is_flag=True,
                  help="Run queued jobs only: another worker runs the periodic tasks.")
    @with_appcontext
    def worker(workers: int, no_periodic: bool) -> None:
        """Run the task queue: imports, exports and (unless --no-periodic) the periodic tasks.
        Run exactly one worker with periodic tasks per installation."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        late = [] if no_periodic else queue.enqueue_late()
        if late:
            click.echo(f"late periodic tasks queued now: {', '.join(late)}")
        consumer = queue.huey().create_consumer(workers=workers, worker_type="thread",
                                                periodic=not no_periodic, check_worker_health=True)
        consumer.run()

    tasks = command_group(app, "tasks", "Periodic background tasks.")

    @tasks.command("status")
    @with_appcontext
    def tasks_status() -> None:
        """Each periodic task, its last success; exit 1 if one is late."""
        late = False
        for item in queue.lateness():
            age = "never" if item.last_success_age is None else f"{item.last_success_age.total_seconds():.0f} s ago"
            click.echo(f"{item.name:20} every {item.every}  last success {age}{'  LATE' if item.late else ''}")
            late |= item.late
        click.echo(f"{queue.pending_count()} task(s) waiting")
        sys.exit(1 if late else 0)

    @tasks.command("run")
    @click.argument("name", type=click.Choice(sorted(queue.PERIODIC)))
    @with_appcontext
    def tasks_run(name: str) -> None:
        """Run one periodic task here and now (recorded like a scheduled run)."""
        click.echo(queue.run_now(name))

    @app.cli.command("check-config")
    @click.option("--production", is_flag=True, help="Judge it as a production installation behind a proxy.")
    @with_appcontext
    def check_config(production: bool) -> None:
        """Say what is missing or unsafe in the settings; exit 1 on any problem."""
        problems = 0
        for level, message in config_findings(production):
            click.echo(f"{level}: {message}")
            problems += level == "problem"
        if problems:
            fail(f"{problems} problem(s)")
        click.echo("no problem found")


def config_findings(production: bool) -> list[tuple[str, str]]:
    """(level, message) for each finding: level is problem (unsafe, or will not work),
    warning (fine on one small server, not beyond) or ok."""
    config, env = current_app.config, environment()
    serious = "problem" if production else "warning"
    sqlite = config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    workers = int(env.get("CASEFLOW_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
    found: list[tuple[str, str]] = []
    if not env.get("CASEFLOW_SECRET_KEY"):
        found.append((serious, f"CASEFLOW_SECRET_KEY is not set: the key generated in {current_app.instance_path}/"
                               "secret_key is used; give every server the same key from a protected file"))
    if not config["SESSION_COOKIE_SECURE"]:
        found.append((serious, "CASEFLOW_INSECURE_COOKIES=1: session cookies travel over plain HTTP"))
    if production and config["CASEFLOW_TRUSTED_PROXIES"] == 0:
        found.append(("problem", "CASEFLOW_TRUSTED_PROXIES=0 behind a proxy: every client has the proxy's "
                                 "address (rate limiting, audit) and HTTPS is not seen (HSTS, secure cookies)"))
    if sqlite and workers > 1:
        found.append(("warning", f"SQLite with {workers} workers: one writer at a time, on one server only; "
                                 "use PostgreSQL for several servers"))
    if config["RATELIMIT_STORAGE_URI"].startswith("memory") and (workers > 1 or production):
        found.append((serious, "CASEFLOW_RATELIMIT_STORAGE_URL is memory://: each worker counts sign-in "
                               "failures on its own; use redis://"))
    if not sqlite and not (config.get("CASEFLOW_TASKS_URL") or "").startswith(("redis", "unix")):
        found.append(("warning", "PostgreSQL with the task queue in an SQLite file: only workers on this "
                                 "server see the queue; set CASEFLOW_TASKS_URL=redis://… for several servers"))
    if not sqlite and not env.get("CASEFLOW_FIELD_KEYS"):
        found.append((serious, "CASEFLOW_FIELD_KEYS is not set: each server encrypts with the key generated in "
                               "its own instance folder; give every server the same keys"))
    if not config.get("CASEFLOW_METRICS_TOKEN"):
        found.append(("warning", "CASEFLOW_METRICS_TOKEN is not set: /metrics serves nothing"))
    try:
        db.session.execute(select(1))
        if not resources.migrations_at_head(db.session):
            found.append(("problem", "the database is not at the newest migration: run `caseflow db upgrade heads`"))
    except Exception as exc:  # noqa: BLE001 - report whatever stops it
        db.session.rollback()
        found.append(("problem", f"the database cannot be used: {type(exc).__name__}"))
    if not os.access(current_app.instance_path, os.W_OK):
        found.append(("problem", f"the instance folder {current_app.instance_path} is not writable"))
    return found or [("ok", "settings look right")]
