"""Running it: `/readyz` (can this server take requests: database, Redis when configured,
migrations at head; and whether the task queue keeps up), `/metrics` for Prometheus
(behind CASEFLOW_METRICS_TOKEN), and the administrator's page of background tasks.
`/healthz` (alive) is in main.py.

Request latency per endpoint, errors and counts come from prometheus-flask-exporter; under
`caseflow serve` (gunicorn, several processes) they are gathered from every worker through
PROMETHEUS_MULTIPROC_DIR. The figures about the application itself (queue depth, the age of
the oldest waiting job, of the last checkpoint, of each periodic task's last success) are
read from the database when Prometheus asks, so every server answers the same.
"""

from __future__ import annotations

import hmac
import os
import re
from datetime import timedelta
from timeit import default_timer
from typing import Any

from flask import Blueprint, Flask, abort, current_app, render_template, request
from flask_login import login_required
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics
from sqlalchemy import func, select

from .. import queue, resources
from ..database import utcnow
from ..extensions import db
from ..i18n import _l
from ..models import AuditCheckpoint, ReportJob, Role
from ..security.throttle import storage_reachable
from ..services import sync_health
from . import navigation
from .supervision import require_role

bp = Blueprint("ops", __name__)
admin_bp = Blueprint("ops_admin", __name__, url_prefix="/admin")
navigation.register("ops_admin.tasks", _l("Background tasks"), (Role.ADMIN,), order=40)


class _RequestMetrics:
    """prometheus-flask-exporter's default request metrics — the same names, labels, buckets
    and help texts — counted by hooks of our own. The exporter's hooks cost about 35 µs of
    every request: four attribute lookups that miss on the request, a regular expression per
    excluded path, label dictionaries built and looked up twice under a lock. Here the
    labelled series are remembered per (method, endpoint, status): only the counting is done
    per request. Only what Caseflow uses is kept: grouping by endpoint, no default labels, no
    per-view metrics nor do_not_track (whose marks these hooks would not see)."""

    def export_defaults(self, buckets=None, group_by="path", latency_as_histogram=True, prefix="flask",
                        app=None, **_kwargs) -> None:
        if group_by != "endpoint" or not latency_as_histogram or self._default_labels:
            raise ValueError("only the endpoint grouping into a histogram, without default labels, is done here")
        app = app or self.app
        prefix = f"{prefix}_"
        self.info(f"{prefix}exporter_info", "Information about the Prometheus Flask exporter", version=self.version)
        duration = Histogram(f"{prefix}http_request_duration_seconds", "Flask HTTP request duration in seconds",
                             ("method", "endpoint", "status"), registry=self.registry,
                             **({"buckets": buckets} if buckets is not None else {}))
        total = Counter(f"{prefix}http_request_total", "Total number of HTTP requests", ("method", "status"),
                        registry=self.registry)
        exceptions = Counter(f"{prefix}http_request_exceptions_total",
                             "Total number of HTTP requests which resulted in an exception", ("method", "status"),
                             registry=self.registry)
        excluded = re.compile("|".join(f"(?:{pattern.pattern})" for pattern in self.excluded_paths or ()) or "(?!)")
        # The labelled series, made once each: a few dozen (method, endpoint, status).
        durations: dict[tuple, Any] = {}
        totals: dict[tuple, Any] = {}

        def count(method: str, endpoint, status, started: float | None) -> None:
            # As the exporter counts: a request whose start was not seen (an earlier hook
            # answered before ours ran) is counted, but its duration is not.
            if started is not None:
                key = (method, endpoint, status)
                observed = durations.get(key)
                if observed is None:
                    observed = durations[key] = duration.labels(method=method, endpoint=endpoint, status=status)
                observed.observe(max(default_timer() - started, 0))
            counter = totals.get((method, status))
            if counter is None:
                counter = totals[method, status] = total.labels(method=method, status=status)
            counter.inc()

        def start() -> None:
            request.environ[_STARTED] = default_timer()

        def after(response):
            current = request._get_current_object()  # one lookup through the proxy, not five
            if excluded.match(current.path) is None:
                environ = current.environ
                environ[_COUNTED] = True  # not again if the request then fails
                count(current.method, current.endpoint, response.status_code, environ.get(_STARTED))
            return response

        def failed(exception=None) -> None:
            if exception is None or excluded.match(request.path) is not None:
                return
            exceptions.labels(method=request.method, status=500).inc()
            environ = request.environ
            if not environ.get(_COUNTED):  # after_request never ran
                count(request.method, request.endpoint, 500, environ.get(_STARTED))

        app.before_request(start)
        app.after_request(after)
        app.teardown_request(failed)


# WSGI environ keys: when this request began; that it was counted.
_STARTED = "caseflow.metrics_started"
_COUNTED = "caseflow.metrics_counted"


class _Metrics(_RequestMetrics, PrometheusMetrics):
    pass


class _GunicornMetrics(_RequestMetrics, GunicornPrometheusMetrics):
    pass


def init_app(app: Flask) -> None:
    options = {"group_by": "endpoint", "defaults_prefix": "caseflow", "excluded_paths": ["^/static/", "^/metrics$"]}
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Not the "Internal" variant: it would add an unprotected /metrics of its own.
        metrics = _GunicornMetrics(app, **options)
    else:  # one process: its own registry (tests build several applications)
        metrics = _Metrics(app, path=None, registry=CollectorRegistry(), **options)
    app.extensions["caseflow.metrics"] = metrics
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)


# --- readiness -------------------------------------------------------------------------


def _migrations_at_head() -> str:
    return "ok" if resources.migrations_at_head(db.session) else "behind"


def _redis_checks() -> dict[str, str]:
    checks = {}
    if current_app.config.get("RATELIMIT_STORAGE_URI", "memory://").startswith(("redis", "valkey")):
        checks["ratelimit_storage"] = "ok" if storage_reachable() else "unreachable"
    if (current_app.config.get("CASEFLOW_TASKS_URL") or "").startswith(("redis", "unix")):
        try:
            queue.huey().storage.conn.ping()
            checks["task_storage"] = "ok"
        except Exception:  # noqa: BLE001 - whatever redis-py raised, the answer is "unreachable"
            checks["task_storage"] = "unreachable"
    return checks


@bp.route("/readyz")
def ready():
    """503 with what is wrong when this server should not take requests (database, Redis,
    migrations); 200 "degraded" when only periodic tasks are late (the worker or its
    scheduler stopped): pages still work, but someone must look. Names only, no details."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(select(1))
        checks["database"] = "ok"
        checks["migrations"] = _migrations_at_head()
    except Exception:  # noqa: BLE001 - unreachable, or no alembic_version table yet
        db.session.rollback()
        checks["database"] = checks.get("database", "unreachable")
        checks["migrations"] = "unknown" if checks["database"] != "ok" else "behind"
    checks |= _redis_checks()
    late = [item.name for item in queue.lateness() if item.late] if checks["database"] == "ok" else []
    checks["tasks"] = "late: " + ", ".join(late) if late else "ok"
    failing = [name for name, value in checks.items() if name != "tasks" and value != "ok"]
    if failing:
        return {"status": "failing", "checks": checks}, 503
    return {"status": "degraded" if late else "ok", "checks": checks}


# --- metrics ---------------------------------------------------------------------------


class ApplicationCollector:
    """The application's own gauges, read when Prometheus scrapes."""

    def collect(self):
        now = utcnow()
        depth = GaugeMetricFamily("caseflow_queue_depth", "Tasks waiting in the task queue")
        depth.add_metric([], queue.pending_count())
        yield depth
        oldest = db.session.execute(select(func.min(ReportJob.created_at)).where(ReportJob.status == "pending")).scalar()
        waiting = GaugeMetricFamily("caseflow_queue_oldest_job_age_seconds",
                                    "Age of the oldest import or export still waiting for a worker (0: none)")
        waiting.add_metric([], (now - oldest).total_seconds() if oldest else 0)
        yield waiting
        last = db.session.execute(select(func.max(AuditCheckpoint.created_at))).scalar()
        checkpoint = GaugeMetricFamily("caseflow_last_checkpoint_age_seconds",
                                       "Age of the newest signed audit checkpoint (-1: none yet)")
        checkpoint.add_metric([], (now - last).total_seconds() if last else -1)
        yield checkpoint
        success = GaugeMetricFamily("caseflow_task_last_success_age_seconds",
                                    "Age of each periodic task's last successful run (-1: never)", labels=["task"])
        late = GaugeMetricFamily("caseflow_task_late", "1 when a periodic task has not succeeded for twice its period",
                                 labels=["task"])
        for item in queue.lateness():
            age = item.last_success_age
            success.add_metric([item.name], age.total_seconds() if age is not None else -1)
            late.add_metric([item.name], 1 if item.late else 0)
        yield success
        yield late
        lag, stale = sync_health.sync_lag()
        sync = GaugeMetricFamily("caseflow_sync_oldest_waiting_age_seconds",
                                 "Age of the oldest entry any tablet reported still waiting in its outbox (0: none)")
        sync.add_metric([], lag)
        yield sync
        blind = GaugeMetricFamily("caseflow_sync_stale_facilitators",
                                  "Active facilitators who use the offline app with no sync within CASEFLOW_SYNC_REVIEW_DAYS")
        blind.add_metric([], stale)
        yield blind


@bp.route("/metrics")
def metrics():
    """Prometheus text format, for whoever holds CASEFLOW_METRICS_TOKEN (as a bearer token);
    without a token configured there is nothing here."""
    token = current_app.config.get("CASEFLOW_METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token:
        abort(404)
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(401)
    body, content_type = current_app.extensions["caseflow.metrics"].generate_metrics()
    registry = CollectorRegistry()
    registry.register(ApplicationCollector())
    body += generate_latest(registry).decode()
    return body, 200, {"Content-Type": content_type}


# --- the administrator's page ----------------------------------------------------------


@admin_bp.before_request
@login_required
def _admins_only():
    require_role(Role.ADMIN)


@admin_bp.route("/tasks")
def tasks():
    """Each periodic task: its period, its last run and how it ended, whether it is late."""
    lateness = {item.name: item for item in queue.lateness()}
    runs = queue.last_runs(sorted(lateness))
    rows = [{"name": name, "every": lateness[name].every, "late": lateness[name].late,
             "last": runs[name][0], "success": runs[name][1]} for name in sorted(lateness)]
    return render_template("admin/tasks.html", rows=rows, pending=queue.pending_count(),
                           hours=lambda every: every / timedelta(hours=1))
