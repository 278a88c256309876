"""API fixtures: clients signed in through the login form, and bearer-token clients."""

from __future__ import annotations

from datetime import timedelta

import pytest

from caseflow.services import api_tokens
from caseflow.services.context import Actor
from tests.support.clients import isolated_client
from tests.support.factories import today_for


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


@pytest.fixture
def recorded_session(api_as, make, team):
    """A supervision session the supervisor recorded through the API with the facilitator,
    on an intervention case, with one action point for the facilitator due in two days:
    (the case, the supervisor's client, the answer)."""
    case = make.case(team.facilitator, to="intervention")
    today = today_for(team.supervisor)
    supervisor = api_as(team.supervisor)
    recorded = supervisor.post("/api/v1/supervision/sessions", json={
        "kind": "individual", "held_on": today.isoformat(), "facilitator_ids": [team.facilitator.id],
        "case_ids": [case.id], "notes": "Catatan", "action_points": [{
            "description": "Kunjungi sekolah", "owner_id": team.facilitator.id, "case_id": case.id,
            "due_on": (today + timedelta(days=2)).isoformat()}]})
    return case, supervisor, recorded
