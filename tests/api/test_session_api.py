"""/api/v1/session: what the tablet's offline app learns about its session — whose it is,
a random name per sign-in, when it ends, and the key sealing that person's unsent work.
Asking is not activity, and an ended session answers 401."""

from __future__ import annotations

import base64
import time
from datetime import datetime

import sqlalchemy as sa

from caseflow.extensions import db
from caseflow.services.context import Actor
from caseflow.services.users import set_active
from tests.support.clients import IsolatedClient, assert_problem
from tests.support.factories import PASSWORD


def browser(app, username: str):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_the_session_says_whose_it_is_when_it_ends_and_gives_the_persons_key(app, team):
    tablet = browser(app, "fac")
    first = tablet.get("/api/v1/session")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    body = first.get_json()
    assert body["user_id"] == team.facilitator.id and len(body["session"]) >= 20
    with tablet.session_transaction() as session:
        signed_in = session["_signed_in_at"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires.timestamp() - (signed_in + 12 * 3600)) < 1
    key = base64.urlsafe_b64decode(body["outbox_key"])
    assert len(key) == 32
    assert tablet.get("/api/v1/session").get_json() == body  # the same session, the same answer

    again = browser(app, "fac").get("/api/v1/session").get_json()
    assert again["session"] != body["session"]  # a new sign-in is a new session…
    assert again["outbox_key"] == body["outbox_key"]  # …of the same person, whose work it opens
    other = browser(app, "fac2").get("/api/v1/session").get_json()
    assert other["outbox_key"] != body["outbox_key"]
    db.session.rollback()
    stored = db.session.execute(sa.text("SELECT offline_key FROM users WHERE id = :id"),
                                {"id": team.facilitator.id}).scalar_one()
    assert stored.startswith("cf1:") and body["outbox_key"] not in stored  # encrypted at rest


def test_asking_about_the_session_is_not_activity(app, team):
    tablet = browser(app, "fac")
    long_ago = time.time() - 20 * 60
    with tablet.session_transaction() as session:
        session["_seen_at"] = long_ago
    assert tablet.get("/api/v1/session").status_code == 200
    with tablet.session_transaction() as session:
        assert session["_seen_at"] == long_ago
    assert tablet.get("/api/v1/cases").status_code == 200
    with tablet.session_transaction() as session:
        assert session["_seen_at"] > long_ago
    with tablet.session_transaction() as session:
        session["_seen_at"] = time.time() - 31 * 60
    assert_problem(tablet.get("/api/v1/session"), 401)


def test_an_ended_session_or_a_token_gets_no_answer(app, team, bearer):
    signed_out = browser(app, "fac")
    signed_out.post("/logout")
    assert_problem(signed_out.get("/api/v1/session"), 401)
    deactivated = browser(app, "aud")
    set_active(Actor.cli(), team.auditor.id, False)
    assert_problem(deactivated.get("/api/v1/session"), 401)
    client, headers, _ = bearer(team.facilitator)
    assert_problem(client.get("/api/v1/session", headers=headers), 403)
