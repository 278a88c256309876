"""Rates over the counted figures: how many of the cases that ended were resolved, and
how many of those recorded were resolved within 90 and 180 days."""

from __future__ import annotations

from typing import Any

from ...models import User
from .counts import tally, total
from .populations import WITHIN_DAYS
from .scope import Filters
from .stages import outcome_stages


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def resolution_rate(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Resolved / terminated in the period: closed-unresolved cases count against it."""
    by_stage = tally("terminated", filters, user)
    resolved_count = sum(v for k, v in by_stage.items() if k in outcome_stages("resolved"))
    ended = total("terminated", filters, user)
    return {"resolved": resolved_count, "terminated": ended, "rate": share(resolved_count, ended)}


def resolved_within(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Of the cases recorded in the period, the share resolved within 90 and 180 days."""
    cohort = total("recorded", filters, user)
    result: dict[str, Any] = {"recorded": cohort}
    for days in WITHIN_DAYS:
        count = total(f"resolved_within_{days}", filters, user)
        result[days] = {"resolved": count, "share": share(count, cohort)}
    return result
