"""Durations: days in each stage, from recorded to resolved, and sign-off turnaround.

Counted in one-hour histograms (count and sum of seconds per bin); percentiles are
interpolated over them (like percentile_cont) reading each value as its bin's mean: exact
when a bin holds equal values, within an hour otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy import Select, func, literal, literal_column, or_, select

from ...extensions import db
from ...models import Case, CaseStageHistory, SignOff, User
from .memo import per_transaction
from .populations import is_now
from .scope import Filters, in_period, with_cases
from .sealed import sealed_cells
from .sql import seconds_between
from .stages import open_stages, outcome_stages

H = CaseStageHistory


PERCENTILES = (0.5, 0.9)


BIN_SECONDS = 3600


def stay_values(filters: Filters, user: User | None) -> Select:
    """Seconds spent per stage, over the stays that ended in the period."""
    return with_cases(
        select(H.stage.label("key"), H.duration_seconds.label("seconds"))
        .where(H.left_at.is_not(None), *in_period(H.left_at, filters)), H.case_id, filters, user)


def resolution_values(filters: Filters, user: User | None) -> Select:
    """Seconds from recorded to resolved, over the resolutions in the period."""
    return with_cases(
        select(literal("all").label("key"), seconds_between(H.entered_at, Case.opened_at).label("seconds"))
        .where(H.stage.in_(outcome_stages("resolved")), *in_period(H.entered_at, filters)),
        H.case_id, filters, user, needed=True)


def sign_off_values(filters: Filters, user: User | None) -> Select:
    """Seconds from a sign-off request to its decision, over the decisions in the period."""
    return with_cases(
        select(literal("all").label("key"), seconds_between(SignOff.decided_at, SignOff.requested_at).label("seconds"))
        .where(SignOff.decided_at.is_not(None), *in_period(SignOff.decided_at, filters)),
        SignOff.case_id, filters, user)


def histogram(values: Select) -> dict[Any, dict[int, list[int]]]:
    """key → {hour bin: [count, sum of seconds]}. Bin n holds (n-1 h, n h], so "at most
    7 days" is exactly the bins up to 168."""
    sub = values.subquery()
    # Literal SQL, not parameters: GROUP BY must repeat exactly the selected expression.
    # Integer division on both databases (SQLAlchemy's // would add FLOOR, which SQLite
    # has only when built with its math functions).
    index = (sub.c.seconds + literal_column(str(BIN_SECONDS - 1))).self_group().op("/")(literal_column(str(BIN_SECONDS)))
    rows = db.session.execute(
        select(sub.c.key, index, func.count(), func.sum(sub.c.seconds))
        .where(sub.c.seconds.is_not(None)).group_by(sub.c.key, index)
    ).all()
    result: dict[Any, dict[int, list[int]]] = {}
    for key, bin_, count, seconds in rows:
        result.setdefault(key, {})[int(bin_)] = [int(count), int(seconds)]
    return result


def merge_histograms(*histograms: dict[Any, dict[int, list[int]]]) -> dict[Any, dict[int, list[int]]]:
    """Add histograms up into the largest one (which is changed: pass fresh ones)."""
    histograms = sorted(histograms, key=lambda one: sum(len(bins) for bins in one.values()), reverse=True)
    if not histograms:
        return {}
    result = histograms[0]
    for one in histograms[1:]:
        for key, bins in one.items():
            into = result.setdefault(key, {})
            for index, (count, seconds) in bins.items():
                cell = into.setdefault(index, [0, 0])
                cell[0] += count
                cell[1] += seconds
    return result


def _scoped_histogram(values: Callable[[Filters, User | None], Select], figure: str,
                      filters: Filters, user: User | None) -> dict[Any, dict[int, list[int]]]:
    """A histogram over the period: programme-wide from sealed months plus the rest raw."""
    found = sealed_cells().histogram(values, figure, filters, user)
    return histogram(values(filters, user)) if found is None else found


def percentiles_of(bins: dict[int, list[int]], points: tuple[float, ...] = PERCENTILES,
                   scale: float = 1.0) -> dict[str, Any] | None:
    """Interpolated percentiles (like percentile_cont) over a histogram, each value read
    as the mean of its bin: exact when a bin holds equal values, within an hour otherwise."""
    n = sum(count for count, _seconds in bins.values())
    if not n:
        return None
    ordered = sorted(bins.items())

    def value_at(rank: int) -> float:  # 0-based rank in the sorted values
        seen = 0
        for _index, (count, seconds) in ordered:
            if rank < seen + count:
                return seconds / count
            seen += count
        return ordered[-1][1][1] / ordered[-1][1][0]

    entry: dict[str, Any] = {"count": n}
    for point in points:
        h = (n - 1) * point
        low = int(h)
        low_value = value_at(low)
        high_value = value_at(low + 1) if low + 1 < n else low_value
        entry[f"p{int(round(point * 100))}"] = round((low_value + (h - low) * (high_value - low_value)) * scale, 2)
    return entry


def stay_histogram(filters: Filters, user: User | None = None) -> dict[Any, dict[int, list[int]]]:
    """Stays ended in the period per stage and hour bin: the medians and the distribution
    chart of one dashboard read the same one."""
    return per_transaction(("stays", filters, user.id if user else None),
                                  lambda: _scoped_histogram(stay_values, "stay_seconds", filters, user))


def stage_durations(filters: Filters, user: User | None = None,
                    stays: dict[Any, dict[int, list[int]]] | None = None) -> dict[str, dict[str, Any]]:
    """Days spent in each stage, over the stays that ended in the period: count, p50, p90."""
    stays = stay_histogram(filters, user) if stays is None else stays
    return {stage: percentiles_of(stays[stage], scale=1 / 86400) for stage in open_stages() if stays.get(stage)}


def days_to_resolution(filters: Filters, user: User | None = None) -> dict[str, Any] | None:
    """Days from recorded to resolved, over the resolutions in the period: count, p50, p90."""
    found = _scoped_histogram(resolution_values, "resolution_seconds", filters, user)
    return percentiles_of(found.get("all", {}), scale=1 / 86400)


def duration_distribution(filters: Filters, user: User | None = None,
                          bounds: tuple[int, ...] = (7, 14, 30, 60, 90, 180),
                          stays: dict[Any, dict[int, list[int]]] | None = None) -> dict[str, list[int]]:
    """Stays that ended in the period per stage, counted in day buckets (≤7, ≤14, … , more)."""
    stays = stay_histogram(filters, user) if stays is None else stays
    limits = [b * 86400 // BIN_SECONDS for b in bounds]
    result = {stage: [0] * (len(bounds) + 1) for stage in open_stages()}
    for stage, bins in stays.items():
        if stage not in result:
            continue
        for index, (count, _seconds) in bins.items():
            bucket = next((i for i, limit in enumerate(limits) if index <= limit), len(bounds))
            result[stage][bucket] += count
    return result


def sign_off_turnaround(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Hours from a sign-off request to its decision (decided in the period: count, p50,
    p90), and the requests still waiting at the moment with the oldest one's age."""
    found = _scoped_histogram(sign_off_values, "sign_off_seconds", filters, user)
    decided = percentiles_of(found.get("all", {}), scale=1 / 3600) or {"count": 0, "p50": None, "p90": None}
    moment = filters.moment
    # Waiting now: not decided (found by the decision index); at a past moment, also those
    # decided since.
    waiting = SignOff.decided_at.is_(None) if is_now(moment) else or_(
        SignOff.decided_at.is_(None), SignOff.decided_at > moment)
    pending, oldest = db.session.execute(with_cases(
        select(func.count(), func.min(SignOff.requested_at))  # from the decision index alone
        .where(SignOff.requested_at <= moment, waiting), SignOff.case_id, filters, user)
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return {
        "decided": decided,
        "pending": pending,
        "oldest_pending_hours": round((moment - oldest).total_seconds() / 3600, 1) if oldest else None,
    }
