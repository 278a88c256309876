"""API test helpers: clients signed in through the login form, and bearer-token clients."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow.extensions import db
from caseflow.models import AuditEvent
from caseflow.services import api_tokens
from caseflow.services.context import Actor
from tests.conftest import IsolatedClient


@pytest.fixture
def api_as(signed_in):
    """api_as(user) → a test client signed in as `user` (browser session)."""
    return signed_in


@pytest.fixture
def bearer(app):
    """bearer(user, scopes) → (client, headers, token) for a fresh personal access token."""
    def make(user, scopes=("cases:read",), days=30):
        token, secret = api_tokens.create_token(
            Actor(user=user), {"name": "integration", "scopes": list(scopes), "expires_in_days": days})
        app.test_client_class = IsolatedClient
        return app.test_client(), {"Authorization": f"Bearer {secret}"}, token

    return make


def sync() -> None:
    db.session.rollback()
    db.session.expire_all()


def count(model, *where) -> int:
    sync()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def events(action: str, **where) -> list[AuditEvent]:
    sync()
    statement = select(AuditEvent).where(AuditEvent.action == action)
    for name, value in where.items():
        statement = statement.where(getattr(AuditEvent, name) == value)
    return list(db.session.execute(statement.order_by(AuditEvent.id)).scalars())


def assert_problem(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"]
    for field in fields:
        assert field in body.get("errors", {}), body
    return body
