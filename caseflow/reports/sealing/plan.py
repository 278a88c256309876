"""Planning a period: which of its parts sealed blocks answer (for which cells), and which
parts are left to compute from the raw tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from flask import current_app

from ...models import ReportMonthCell, Role, User
from ...models.rollup import block_of, bounds, is_month_so_far, usable
from .blocks import ensure_sealed

C = ReportMonthCell


@dataclass
class Plan:
    """A period split into sealed blocks (read from the cells) and raw spans."""

    months: list[str]  # the sealed blocks' labels: months, and perhaps a month so far
    # Inclusive calendar days (None: open-ended), the parts of the period not sealed.
    spans: list[tuple[date | None, date | None]]
    conditions: list = field(default_factory=list)  # on the cells' province / category

    @cached_property
    def month_set(self) -> set[str]:
        return set(self.months)

    def part_of(self, moment: datetime) -> Any:
        """Which part of the period an instant falls in: its block, or a raw span's index."""
        label = block_of(moment, self.months, self.month_set)
        if label is not None:
            return label
        day = moment.date()
        for index, (start, end) in enumerate(self.spans):
            if (start is None or day >= start) and (end is None or day <= end):
                return index
        return None


def enabled() -> bool:
    return bool(current_app.config.get("CASEFLOW_REPORT_ROLLUPS", True))


def cell_conditions(filters, user: User | None) -> list | None:
    """Conditions on the cells for this scope, or None when the scope is narrower than a
    province or category (the cells cannot answer it)."""
    if filters.as_of is not None or filters.facilitator_id or filters.supervisor_id:
        return None
    conditions = []
    if user is not None:
        if user.role == Role.AUDITOR:
            if user.auditor_scope_province_code:
                conditions.append(C.province_code == user.auditor_scope_province_code)
        elif user.role != Role.PROGRAMME_MANAGER:
            return None
    if filters.province:
        conditions.append(C.province_code == filters.province)
    if filters.category:
        conditions.append(C.category_code == filters.category)
    return conditions


def plan(filters, user: User | None, *, national_only: bool = False, whole_months: bool = False) -> Plan | None:
    """How to compute a figure for `filters` seen by `user` from sealed blocks (whole months
    only with whole_months), or None when it must be computed raw."""
    if not enabled():
        return None
    conditions = cell_conditions(filters, user)
    if conditions is None or (national_only and conditions):
        return None
    sealed = usable(ensure_sealed())
    start_at, end_at = filters.start_at, filters.end_at
    inside = []
    for label in sealed:
        if whole_months and is_month_so_far(label):
            continue
        first, following = bounds(label)
        if first < following and (start_at is None or first >= start_at) and (end_at is None or following <= end_at):
            inside.append(label)
    if not inside:
        return None
    inside.sort(key=bounds)
    spans: list[tuple[date | None, date | None]] = []
    cursor: date | None = filters.start
    for label in inside:
        first, following = bounds(label)
        if cursor is None or cursor < first.date():
            spans.append((cursor, first.date() - timedelta(days=1)))
        cursor = following.date()
    if filters.end is None or cursor <= filters.end:
        spans.append((cursor, filters.end))
    return Plan(months=inside, spans=spans, conditions=conditions)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
