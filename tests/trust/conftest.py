"""The web fixtures (an isolated client per request, signed in as a user) for trust tests."""

from tests.web.conftest import client, signed_in  # noqa: F401
