"""What every dashboard shows for one scope, and its side-by-side comparisons."""

from __future__ import annotations

from typing import Any

from ...models import Role, User
from .aftercare import ENDED_KEYS
from .counts import tally, total
from .durations import days_to_resolution, sign_off_turnaround, stage_durations
from .rates import resolution_rate, resolved_within, share
from .scope import Filters


def headline(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """The figures every dashboard shows, for one scope."""
    return {
        "recorded": total("recorded", filters, user),
        "in_progress": tally("in_progress", filters, user),
        "resolved": total("resolved", filters, user),
        "closed_unresolved": tally("closed_unresolved", filters, user),
        "reopened": total("reopened", filters, user),
        "overdue": tally("overdue", filters, user),
        "resolution_rate": resolution_rate(filters, user),
        "resolved_within": resolved_within(filters, user),
        "stage_durations": stage_durations(filters, user),
        "days_to_resolution": days_to_resolution(filters, user),
        "sign_off_turnaround": sign_off_turnaround(filters, user),
    }


def comparisons_for(filters: Filters, user: User) -> tuple[str, ...]:
    """The side-by-side tables of a role's dashboard. Facilitators are compared within a
    team or a province: nationally that is thousands of rows, so a national auditor
    compares provinces and categories, and facilitators once a province is chosen."""
    if user.role == Role.AUDITOR:
        if filters.province or user.auditor_scope_province_code:
            return ("province", "category", "facilitator")
        return ("province", "category")
    return {Role.FACILITATOR: (), Role.SUPERVISOR: ("facilitator",),
            Role.PROGRAMME_MANAGER: ("province", "category")}[user.role]


def comparison(by: str, filters: Filters, user: User | None = None) -> dict[Any, dict[str, Any]]:
    """Recorded, in progress, resolved, closed unresolved and the rate per province,
    category or facilitator, side by side."""
    columns = {
        "recorded": tally("recorded", filters, user, by=by),
        "in_progress": tally("in_progress", filters, user, by=by),
        "overdue": tally("overdue", filters, user, by=by),
        "resolved": tally("resolved", filters, user, by=by),
        "closed_unresolved": tally("closed_unresolved", filters, user, by=by),
    }
    keys = sorted({k for values in columns.values() for k in values if k is not None}, key=str)
    result = {}
    for key in keys:
        row = {name: values.get(key, 0) for name, values in columns.items()}
        row["rate"] = share(row["resolved"], row["resolved"] + row["closed_unresolved"])
        result[key] = row
    return result


def aftercare_summary(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Resolved cases in aftercare at the moment, and the aftercare periods that ended in
    the period: followed up as planned, not as planned, or relapsed (figures.aftercare)."""
    ended = tally("aftercare_ended", filters, user)
    return {"in_aftercare": total("in_aftercare", filters, user),
            "ended": total("aftercare_ended", filters, user),
            **{key: ended.get(key, 0) for key in ENDED_KEYS}}
