"""The report tests' programme: five cases whose every move happened on a known day."""

from __future__ import annotations

import pytest

from tests.support.programme import Programme


@pytest.fixture
def programme(team, make, prepared) -> Programme:
    """A: resolved on day 72. B: closed unresolved (moved) on day 120. C: facilitator 2,
    category P03, in assessment since day 50. D: NTT, recorded on day 40. E: resolved on
    day 150, reopened on day 160."""
    return prepared("programme", lambda: Programme(team, make))
