"""Web tests: `client` is an IsolatedClient (tests/conftest.py), whose every request runs
in its own application context, as in production."""

from __future__ import annotations

import re

import pytest

from tests.conftest import IsolatedClient, login  # noqa: F401  (re-exported for other test folders)


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)
