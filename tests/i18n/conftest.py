"""The reports' programme of five cases, for the pages whose figures are formatted here."""

from __future__ import annotations

import pytest

from tests.support.programme import Programme


@pytest.fixture
def programme(team, make, prepared) -> Programme:
    return prepared("programme", lambda: Programme(team, make))
