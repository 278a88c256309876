"""Web tests: a test client whose every request runs in its own application context,
as in production (the `app` fixture keeps one context open for the whole test, which
would otherwise carry Flask-Login's and Flask-Babel's per-request caches from one request
to the next)."""

from __future__ import annotations

import contextvars
import re

import pytest
from flask.testing import FlaskClient

from tests.conftest import PASSWORD


class IsolatedClient(FlaskClient):
    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


def login(client, username: str, password: str = PASSWORD):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.text
    return response


@pytest.fixture
def signed_in(app):
    """signed_in(user) → a fresh client signed in as `user`."""
    def make(user):
        app.test_client_class = IsolatedClient
        client = app.test_client()
        login(client, user.username)
        return client

    return make


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)
