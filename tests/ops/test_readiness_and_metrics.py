"""/readyz says what is wrong, /metrics is for whoever holds the token, the administrator
sees the background tasks, and `caseflow check-config` names what is unsafe."""

from __future__ import annotations

from caseflow import queue
from caseflow.web import ops


def test_ready_names_late_tasks_as_degraded_and_is_ok_once_they_ran(app, client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json["status"] == "degraded" and answer.json["checks"]["database"] == "ok"
    assert answer.json["checks"]["migrations"] == "ok" and answer.json["checks"]["tasks"].startswith("late: ")
    for name in queue.PERIODIC:
        queue.run_now(name)
    assert client.get("/readyz").json == {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "tasks": "ok"}}


def test_ready_fails_when_the_database_is_behind_the_migrations(app, client, monkeypatch):
    monkeypatch.setattr(ops, "_migrations_at_head", lambda: "behind")
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json["checks"]["migrations"] == "behind"


def test_metrics_need_the_token_and_carry_latency_queue_and_tasks(app, client):
    assert client.get("/metrics").status_code == 404  # no token configured: nothing there
    app.config["CASEFLOW_METRICS_TOKEN"] = "s3cret-token"
    client.get("/login")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "caseflow_http_request_duration_seconds_count" in body and 'endpoint="auth.login"' in body
    for name in ("caseflow_queue_depth", "caseflow_queue_oldest_job_age_seconds",
                 "caseflow_last_checkpoint_age_seconds", 'caseflow_task_late{task="audit-checkpoint"} 1.0'):
        assert name in body


def test_the_admin_sees_each_task_and_which_is_late(app, team, signed_in):
    queue.run_now("audit-checkpoint")
    page = signed_in(team.admin).get("/admin/tasks")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-task="audit-checkpoint"' in html and 'data-task="reports-seal"' in html
    assert html.count("badge-overdue") == len(queue.PERIODIC) - 1
    assert signed_in(team.facilitator).get("/admin/tasks").status_code == 403


def test_check_config_names_what_is_unsafe_in_production(app):
    runner = app.test_cli_runner()
    app.config["SESSION_COOKIE_SECURE"] = False
    result = runner.invoke(args=["check-config", "--production"])
    assert result.exit_code == 1
    assert "CASEFLOW_INSECURE_COOKIES=1" in result.output and "CASEFLOW_TRUSTED_PROXIES=0" in result.output
    assert "memory://" in result.output



def _metric(app, series: str) -> float:
    body = app.extensions["caseflow.metrics"].generate_metrics()[0]
    values = [line.rpartition(" ")[2] for line in body.splitlines() if line.startswith(series + " ")]
    return float(values[0]) if values else 0.0


def test_request_metrics_count_as_the_exporter_does(app, client):
    """Each request once in the count; its duration only when the metrics' start hook ran
    (a refusal by an earlier hook is counted without one); static files not at all."""
    health = 'caseflow_http_request_duration_seconds_count{endpoint="main.health",method="GET",status="200"}'
    ok, refused = ('caseflow_http_request_total{method="GET",status="200"}',
                   'caseflow_http_request_total{method="POST",status="400"}')
    refused_duration = 'caseflow_http_request_duration_seconds_count{endpoint="auth.logout",method="POST",status="400"}'
    before = {series: _metric(app, series) for series in (health, ok, refused, refused_duration)}
    app.config["WTF_CSRF_ENABLED"] = True
    client.get("/healthz")
    client.get("/healthz")
    client.post("/logout")  # CSRF refuses it before the metrics' hook starts the clock
    client.get("/static/css/app.css")  # not counted
    after = {series: _metric(app, series) for series in before}
    assert after[health] - before[health] == 2 and after[ok] - before[ok] == 2
    assert after[refused] - before[refused] == 1 and after[refused_duration] == before[refused_duration]
    assert 'endpoint="static"' not in app.extensions["caseflow.metrics"].generate_metrics()[0]
