"""Resolved within N days from sealed months: cohorts are kept by the month the cases
were recorded, resolutions by the month they were resolved in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, distinct, false, func, or_, select

from ...extensions import db
from ...models import Case, CaseStageHistory, ReportMonthCell, User
from ...models.rollup import block_of, bounds, month_label, usable
from .. import figures as fg
from .blocks import ensure_sealed
from .cells import among, duplicates, repeated, twice_in
from .plan import Plan, aware

H = CaseStageHistory
C = ReportMonthCell


def within_total(days: int, filters, user: User | None, the_plan: Plan) -> int:
    """Cases recorded in the period and resolved within `days` days (by the moment): cells
    for cohort months inside the period resolved in sealed months up to the moment, the
    rest raw, and cases resolved twice (reopened) counted once."""
    moment = filters.moment
    cohort = list(the_plan.months)  # whole months (keys of the cells are recorded months)
    resolved_in = [m for m in usable(ensure_sealed()) if bounds(m)[1] <= moment]
    counted = 0
    if cohort and resolved_in:
        counted = int(db.session.execute(
            select(func.coalesce(func.sum(C.cases), 0)).where(
                C.figure == f"resolved_within_{days}", C.key.in_(cohort), C.month.in_(resolved_in),
                *the_plan.conditions)
        ).scalar() or 0)
    # The rest, read by index ranges: cases recorded in the raw spans of the period, and
    # cases of the sealed cohort months resolved outside the sealed months.
    for start, end in the_plan.spans:
        rows = fg.resolved_within_rows(days, filters.with_(start=start, end=end), user, moment=moment)
        counted += db.session.execute(select(func.count(distinct(rows.subquery().c.case_id)))).scalar_one()
    cohort_ranges = _ranges(cohort)
    late = _complement(_ranges(resolved_in), cohort_ranges[0][0], moment) if cohort_ranges else []
    if late:
        rows = fg.resolved_within_rows(days, filters, user, moment=moment, extra=(
            _within_ranges(Case.opened_at, cohort_ranges), _within_ranges(H.entered_at, late)))
        counted += db.session.execute(select(func.count(distinct(rows.subquery().c.case_id)))).scalar_one()
    # A reopened case resolved again within the days is in two parts: count it once.
    reopened = twice_in(filters.with_(end=None))  # resolved twice after being recorded in the period
    rows = db.session.execute(fg.resolved_within_rows(days, filters, user, moment=moment, extra=(
        among(H.case_id, reopened), among(Case.id, reopened)))).all()
    resolved_set, cohort_set = set(resolved_in), set(cohort)

    def part(opened: datetime, at: datetime) -> Any:
        opened, at = aware(opened), aware(at)
        if month_label(opened) in cohort_set:
            return block_of(at, resolved_set, resolved_set) or "late"
        return the_plan.part_of(opened)

    extra = duplicates((row.case_id, None, part(row.opened, row.at)) for row in repeated(rows))
    return counted - extra.get(None, 0)


def _complement(ranges: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end] outside `ranges` (sorted, disjoint)."""
    result, cursor = [], start
    for first, following in ranges:
        if first > cursor:
            result.append((cursor, min(first, end)))
        cursor = max(cursor, following)
    if cursor <= end:
        result.append((cursor, end + timedelta(microseconds=1)))
    return [(a, b) for a, b in result if a < b]


def _ranges(labels: list[str]) -> list[tuple[datetime, datetime]]:
    """Contiguous runs of blocks as [first, following) instants."""
    ranges: list[tuple[datetime, datetime]] = []
    for label in sorted(labels, key=bounds):
        first, following = bounds(label)
        if ranges and ranges[-1][1] == first:
            ranges[-1] = (ranges[-1][0], following)
        else:
            ranges.append((first, following))
    return ranges


def _within_ranges(column, ranges: list[tuple[datetime, datetime]]):
    if not ranges:
        return false()
    return or_(*[and_(column >= first, column < following) for first, following in ranges])
