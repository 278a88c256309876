"""The web fixtures (an isolated client per request, signed in as a user) for trust tests."""

from tests.web.conftest import client  # noqa: F401  (signed_in comes from tests/conftest.py)
