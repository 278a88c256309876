"""gunicorn's settings for `caseflow serve` (`gunicorn -c python:caseflow.gunicorn_conf`).

Workers from the cores (2 × cores + 1, at most CASEFLOW_WORKERS when set), a timeout that
ends a stuck request rather than the server, workers recycled now and then, the access log
on stdout (journald keeps it). Prometheus metrics from every worker are gathered in
PROMETHEUS_MULTIPROC_DIR (set by `caseflow serve`); a worker that exits is marked dead there.
"""

from __future__ import annotations

import multiprocessing
import os

from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

from caseflow.config import environment
from caseflow.serving import settle_worker

_env = environment()

bind = _env.get("CASEFLOW_BIND", "127.0.0.1:8000")
workers = int(_env.get("CASEFLOW_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
threads = int(_env.get("CASEFLOW_THREADS", "1"))
timeout = int(_env.get("CASEFLOW_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = _env.get("CASEFLOW_ACCESS_LOG", "-")
errorlog = "-"
# The request id and the client address as the application sees them are in its own log.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'
# nginx on the same host: X-Forwarded-* are read by the application (CASEFLOW_TRUSTED_PROXIES),
# not by gunicorn.
forwarded_allow_ips = "127.0.0.1"


def post_worker_init(worker) -> None:  # noqa: ARG001 (gunicorn's signature)
    # The application is loaded by now (gunicorn loads it before this hook).
    settle_worker()


def child_exit(server, worker) -> None:  # noqa: ARG001 (gunicorn's signature)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        GunicornPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
