"""Figures answered from sealed blocks and the raw rest of their period.

The figures (`caseflow.reports.figures`) ask their questions of `SealedCells`; this is the
answer the application installs (`caseflow.reports.init_app`): for a programme, a province
or a category, the sealed blocks inside the period are read from their cells, the rest is
computed raw by the figures' own definitions, and what adding the parts up counts twice
(a case reopened in between) is taken off. A narrower scope gets no answer here, and is
computed raw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, select

from ...extensions import db
from ...models import User
from ..figures.counts import raw_tally, raw_total
from ..figures.durations import histogram, merge_histograms
from ..figures.memo import per_transaction
from ..figures.populations import POPULATIONS
from ..figures.scope import Filters
from ..figures.sealed import SealedCells
from .blocks import ensure_sealed
from .cells import (
    BY_COLUMNS,
    COUNTED,
    REPEATABLE,
    among,
    cell_counts,
    cell_counts_by_month,
    cell_histogram,
    combine,
    duplicates,
    places_of,
    repeated,
    twice_in,
)
from .plan import Plan, aware, cell_conditions, enabled, plan
from .within import within_total


def _sealed_plan(name: str, filters: Filters, user: User | None, by: str | None = None):
    """Sealed months can answer a counted figure for a programme, a province or a category."""
    if name not in COUNTED or (by is not None and by not in BY_COLUMNS):
        return None
    return plan(filters, user)


def _repeats(name: str, the_plan: Plan, filters: Filters, user: User | None,
             by: str | None, all_keys: bool) -> dict[Any, int]:
    """What adding the parts of the period up counts twice: reopened cases in two parts."""
    if name not in REPEATABLE:
        return {}

    # From the period's start on, not only within it: the same cases the resolved-within
    # figures correct (they follow a cohort past the period's end), found by one query.
    reopened = twice_in(filters.with_(end=None))

    def rows():
        population = POPULATIONS[name](filters, user)
        # On the population's own column: a narrow scope reads its rows from a CTE.
        population = population.where(among(population.selected_columns.case_id, reopened)).subquery()
        return db.session.execute(select(population.c.case_id, population.c.key, population.c.at)).all()

    found = per_transaction(("repeats", name, filters, user.id if user else None),
                                   lambda: repeated(rows()))
    places = places_of(filters.with_(end=None)) if by is not None else {}

    def group(row):
        if all_keys:
            return None
        if by is None:
            return row.key
        return places[row.case_id][0 if by == "province" else 1]

    return duplicates((row.case_id, group(row), the_plan.part_of(aware(row.at))) for row in found)


class CellsAndRaw(SealedCells):
    """Sealed blocks plus the raw rest, for the scopes the cells answer."""

    def tally(self, name: str, filters, user: User | None, by: str | None) -> dict[Any, int] | None:
        the_plan = _sealed_plan(name, filters, user, by)
        if the_plan is None:
            return None
        sealed = cell_counts(name, the_plan.months, the_plan.conditions, by=by)
        raw = [raw_tally(name, filters.with_(start=a, end=b), user, by) for a, b in the_plan.spans]
        return combine(sealed, *raw, minus=_repeats(name, the_plan, filters, user, by, all_keys=False))

    def total(self, name: str, filters, user: User | None) -> int | None:
        if name.startswith("resolved_within_"):
            # Cohorts by the month recorded, resolutions by the month resolved: see within.
            the_plan = plan(filters, user, whole_months=True)
            if the_plan is None:
                return None
            return within_total(int(name.rsplit("_", 1)[1]), filters, user, the_plan)
        the_plan = _sealed_plan(name, filters, user)
        if the_plan is None:
            return None
        sealed = cell_counts(name, the_plan.months, the_plan.conditions, all_keys=True)
        raw = [{None: raw_total(name, filters.with_(start=a, end=b), user)} for a, b in the_plan.spans]
        return combine(sealed, *raw, minus=_repeats(name, the_plan, filters, user, None, all_keys=True)).get(None, 0)

    def histogram(self, values: Callable[..., Select], figure: str, filters,
                  user: User | None) -> dict[Any, dict[int, list[int]]] | None:
        # Durations are kept nationally only.
        the_plan = plan(filters, user, national_only=True)
        if the_plan is None:
            return None
        return merge_histograms(cell_histogram(figure, the_plan.months),
                                *[histogram(values(filters.with_(start=a, end=b), user)) for a, b in the_plan.spans])

    def months(self, labels: set[str], filters, user: User | None) -> set[str]:
        conditions = cell_conditions(filters, user) if enabled() else None
        if conditions is None:
            return set()
        return set(ensure_sealed()) & labels

    def month_counts(self, figure: str, months: set[str], filters, user: User | None,
                     per_key: bool = False) -> dict[tuple[str, Any], int]:
        return cell_counts_by_month(figure, months, cell_conditions(filters, user) or [], per_key=per_key)
