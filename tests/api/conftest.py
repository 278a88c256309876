"""API fixtures: clients signed in through the login form, and bearer-token clients."""

from __future__ import annotations

import pytest

from caseflow.services import api_tokens
from caseflow.services.context import Actor
from tests.support.clients import isolated_client


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
        return isolated_client(app), {"Authorization": f"Bearer {secret}"}, token

    return make
