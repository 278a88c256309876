"""What figures ask of sealed months, without knowing how they are kept.

Figures are defined on the raw tables. Months that are over can be sealed (the package
`caseflow.reports.sealing`, which depends on the figures): it answers the same questions
from its cells and the raw rest of a period. `caseflow.reports.init_app` hands it to the
application; the figures find it there, so they never import it. Without it, or when it
cannot answer (a team's scope, "as of" a past moment), figures are computed raw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import Select

from ...models import User

EXTENSION = "caseflow.sealed_cells"


class SealedCells:
    """The questions figures ask of sealed months. This one answers none of them: every
    figure is computed from the raw tables."""

    def tally(self, name: str, filters, user: User | None, by: str | None) -> dict[Any, int] | None:
        """A population's cases per key (or per `by`) over the period, or None."""
        return None

    def total(self, name: str, filters, user: User | None) -> int | None:
        """A population's cases over the period, or None."""
        return None

    def histogram(self, values: Callable[..., Select], figure: str, filters,
                  user: User | None) -> dict[Any, dict[int, list[int]]] | None:
        """A duration histogram over the period (`values` computes the raw parts), or None."""
        return None

    def months(self, labels: set[str], filters, user: User | None) -> set[str]:
        """Which of the months `labels` ('YYYY-MM') sealed cells answer for this scope."""
        return set()

    def month_counts(self, figure: str, months: set[str], filters, user: User | None,
                     per_key: bool = False) -> dict[tuple[str, Any], int]:
        """(month, key) → cases of `figure` in the sealed `months`; key None unless per_key."""
        return {}


NOTHING_SEALED = SealedCells()


def sealed_cells() -> SealedCells:
    """The application's sealed months, or nothing sealed."""
    return current_app.extensions.get(EXTENSION, NOTHING_SEALED)
