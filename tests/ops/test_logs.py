"""A request id on every log line, in the response, and in the audit events the request
wrote; JSON log lines when asked."""

from __future__ import annotations

import json
import logging
import uuid

from sqlalchemy import select

from caseflow import logs
from caseflow.extensions import db
from caseflow.models import AuditEvent
from tests.support.clients import login


def _last_event(action: str) -> AuditEvent:
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id.desc())).scalars().first()


def test_the_request_id_is_answered_and_kept_in_the_audit_event(app, client, team):
    answer = login(client, team.facilitator.username)
    request_id = answer.headers["X-Request-Id"]
    assert len(request_id) == 32
    assert uuid.UUID(hex=request_id).version == 4 and uuid.UUID(hex=request_id).hex == request_id
    assert _last_event("login.succeeded").context["request_id"] == request_id
    assert client.get("/healthz").headers["X-Request-Id"] != request_id  # one per request


def test_a_request_id_from_the_client_is_ignored_unless_a_proxy_is_trusted(app_with, team):
    forged = "forged-request-id-1"
    assert _client_id(app_with(), forged) != forged
    assert _client_id(app_with(CASEFLOW_TRUSTED_PROXIES=1), forged) == forged


def _client_id(app, given: str) -> str:
    return app.test_client().get("/healthz", headers={"X-Request-Id": given}).headers["X-Request-Id"]


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("caseflow", logging.WARNING, __file__, 1, "export %s failed", (7,), None)
    token = logs.REQUEST_ID.set("abc123def456")
    try:
        logs.RequestIdFilter().filter(record)
    finally:
        logs.REQUEST_ID.reset(token)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "export 7 failed" and line["request_id"] == "abc123def456"
    assert line["level"] == "WARNING" and line["time"].endswith("+00:00")
