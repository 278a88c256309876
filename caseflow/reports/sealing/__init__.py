"""Sealed months: the figures of months that are over, kept per province and category.

A programme-wide figure over a year reads hundreds of thousands of stays; the months before
this one cannot change any more (a stay that ended, a case recorded or resolved in a past
month stays so), so each is computed once — from the population definitions in
`caseflow.reports.figures`, nothing else — and kept in `report_month_cells`. A figure for a period then
adds up the sealed months inside it and computes only the rest (this month, a partial first
or last month) from the raw tables.

Exactness:
- Counts are distinct cases per month, province and category. A case counts once per
  figure per month; it can appear in two months of one figure only if it was reopened in
  between, so the cases with a stay marked as a repeat entry in the period (`twice_in`)
  are read raw and the duplicates taken off.
- Durations are one-hour histograms (count and sum of seconds per bin), the same histograms
  the raw path builds, so both paths give the same percentiles. They are kept nationally
  only: a province's or a category's durations are computed raw (a small part of the data).

Steps are the one thing written into the past (logged late, or synced from a tablet that
was offline): a step whose time falls in a sealed month is added to that month's cell in
the transaction that logs it (the `step_logged` signal, `services.sealed_months`).

The current month's first days are sealed too, as one block labelled by the day it stops
before ('2026-11-30': 1–29 November), recomputed daily by `caseflow reports seal` and
replaced by the whole month once it is over: at the worst moment of a month (its last
day) a period's raw rest is then a day, not a month. A block's figures stay true however
old it is (like a month's); an older block only leaves more of the month to read raw.

Only programme-wide, provincial and category scopes use the cells; anything narrower (a
team, a facilitator, "as of" a past moment) is computed raw as before.

The figures never import this package: `init_app` installs `reader.CellsAndRaw` as the
application's answer to what they ask of sealed months (`figures.sealed`). By module:
`blocks` (which blocks are sealed, and sealing them), `plan` (which parts of a period they
answer), `cells` (reading them, and the corrections for reopened cases), `within` (resolved
within N days), `reader` (figures from cells and the raw rest). The writes go through
`services.sealed_months`.
"""

from __future__ import annotations

from flask import Flask

from ...models import Case, Step
from ...models.rollup import ALL_KEYS, bounds, month_bounds, usable
from ...services import sealed_months as keeping
from ...signals import step_logged
from ..figures.sealed import EXTENSION
from .blocks import (
    ensure_sealed,
    months_to_seal,
    seal,
    seal_month,
    seal_month_so_far,
    sealed_blocks,
    sealed_months,
)
from .reader import CellsAndRaw

__all__ = [
    "ALL_KEYS",
    "bounds",
    "ensure_sealed",
    "init_app",
    "month_bounds",
    "months_to_seal",
    "seal",
    "seal_month",
    "seal_month_so_far",
    "sealed_blocks",
    "sealed_months",
    "usable",
]


def init_app(app: Flask) -> None:
    """Figures of `app` read sealed months, and a step logged into one joins its cells."""
    app.extensions[EXTENSION] = CellsAndRaw()
    step_logged.connect(_count_late_step)


def _count_late_step(case: Case, *, step: Step, **_extra) -> None:
    # Sent inside the step's transaction: the cell changes with the step, or neither does.
    keeping.count_late_step(case, step.occurred_at)
