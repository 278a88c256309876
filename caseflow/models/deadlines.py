"""Deadlines in days, as people read them: the one rule for every stage, request and
action point.

A deadline of N days from a moment ends at the end (23:59) of the N-th day after that
moment's day, in the zone of the case's province: a stage entered on 23 December with 14
days is due by 6 January 23:59 WIT. It is stored as the first instant after it (the next
day's 00:00 local, in UTC), so that "overdue" is simply `now >= due_at` and the last day
is the local day of the instant just before.

At any moment a deadline has exactly one status: overdue, due today, or upcoming — never
"due today" and "overdue" at once.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_INSTANT = timedelta(microseconds=1)


class DeadlineStatus(enum.StrEnum):
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    UPCOMING = "upcoming"


def end_of_day(day: date, zone: str) -> datetime:
    """The first instant after `day` in `zone` (UTC): a deadline that ends with that day."""
    return datetime.combine(day + timedelta(days=1), time.min, ZoneInfo(zone)).astimezone(UTC)


def deadline_end(start: datetime, days: int, zone: str) -> datetime:
    """When a deadline of `days` days from `start` has passed (see the module's rule)."""
    return end_of_day(start.astimezone(ZoneInfo(zone)).date() + timedelta(days=days), zone)


def last_day(due_at: datetime, zone: str) -> date:
    """The last day still in time, on the calendar of `zone`."""
    return (due_at.astimezone(ZoneInfo(zone)) - _INSTANT).date()


def deadline_status(due_at: datetime, now: datetime, zone: str) -> DeadlineStatus:
    """Overdue once `now` has reached `due_at`; due today on its last day; upcoming before."""
    if now >= due_at:
        return DeadlineStatus.OVERDUE
    if now.astimezone(ZoneInfo(zone)).date() >= last_day(due_at, zone):
        return DeadlineStatus.DUE_TODAY
    return DeadlineStatus.UPCOMING


def days_left(due_at: datetime, now: datetime, zone: str) -> int:
    """Whole days from today to the last day in `zone` (0 on the last day, negative after)."""
    return (last_day(due_at, zone) - now.astimezone(ZoneInfo(zone)).date()).days
