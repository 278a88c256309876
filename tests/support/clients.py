"""Test clients: each request in its own context, signed in through the login form."""

from __future__ import annotations

import contextvars
import re

from flask.testing import FlaskClient

from .factories import PASSWORD


class IsolatedClient(FlaskClient):
    """Each request runs in its own application context, as in production (the `app`
    fixture keeps one context open for the whole test, which would otherwise carry
    Flask-Login's and Flask-Babel's per-request caches from one request to the next)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def isolated_client(app) -> IsolatedClient:
    """A new client of `app` whose requests run in their own contexts (and so are the
    app's next clients in this test: the `client` and `signed_in` fixtures set it too)."""
    app.test_client_class = IsolatedClient
    return app.test_client()


def login(client, username: str, password: str = PASSWORD):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.text
    return response


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def assert_problem(response, status: int, *fields: str) -> dict:
    """`response` is an RFC 9457 problem with `status`, naming each of `fields`."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"]
    for field in fields:
        assert field in body.get("errors", {}), body
    return body
