"""Referral figures: referrals (not cases) counted by the kind of service they went to —
sent in the period, answered, answered within ANSWER_WITHIN_DAYS days of being sent, the
service given, refused, no answer, and those overdue now.

A referral population is a SELECT of referral_id, case_id and key (the kind of service),
restricted to the viewer's scope like every figure (`scope.with_cases`); the same SELECT
gives the number on the dashboard and the list of referrals behind it (`referral_drill`).
Computed from the raw tables only, never sealed: a referral's answer may come months
after the month it was sent.

Days are calendar days: a referral is sent on a day and answered on a day (the
facilitator's), and a period's days are compared with them as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select

from ...database import utcnow
from ...extensions import db
from ...models import Referral, User
from ...models.referral import ANSWERED, DESTINATION_TYPES, SENT
from .scope import Filters, with_cases
from .sql import dialect

R = Referral
ANSWER_WITHIN_DAYS = 14


def _days_apart(later, earlier):
    """Whole days from one DATE column to another, on either database."""
    if dialect() == "postgresql":
        return later - earlier
    return func.julianday(later) - func.julianday(earlier)


def _moment_day(filters: Filters) -> date:
    return filters.moment.date()


def _sent(filters: Filters, user: User | None, *conditions) -> Select:
    """Referrals sent in the period (by the moment), matching `conditions`, per kind of service."""
    period = []
    if filters.start is not None:
        period.append(R.sent_on >= filters.start)
    if filters.end is not None:
        period.append(R.sent_on <= filters.end)
    statement = select(R.id.label("referral_id"), R.case_id.label("case_id"), R.destination_type.label("key")).where(
        *period, R.sent_on <= _moment_day(filters), *conditions)
    return with_cases(statement, R.case_id, filters, user)


def referrals_sent(filters: Filters, user: User | None) -> Select:
    """Referrals sent in the period, per kind of service."""
    return _sent(filters, user)


def referrals_answered(filters: Filters, user: User | None) -> Select:
    """Referrals sent in the period that were answered (accepted, service given, refused)."""
    return _sent(filters, user, R.status.in_(ANSWERED), R.answered_on <= _moment_day(filters))


def referrals_answered_within(filters: Filters, user: User | None) -> Select:
    """Referrals sent in the period that were answered within ANSWER_WITHIN_DAYS days of
    being sent."""
    return _sent(filters, user, R.status.in_(ANSWERED), R.answered_on <= _moment_day(filters),
                 _days_apart(R.answered_on, R.sent_on) <= ANSWER_WITHIN_DAYS)


def _with_status(status: str) -> Callable[[Filters, User | None], Select]:
    def population(filters: Filters, user: User | None) -> Select:
        return _sent(filters, user, R.status == status)

    population.__doc__ = f"Referrals sent in the period whose status is now '{status}'."
    return population


def referrals_overdue(filters: Filters, user: User | None) -> Select:
    """Referrals waiting for an answer past the day it was expected, now (a referral's
    earlier statuses are not kept, so this one figure is always as of today)."""
    statement = select(R.id.label("referral_id"), R.case_id.label("case_id"), R.destination_type.label("key")).where(
        R.status == SENT, R.expected_answer_on < utcnow().date())
    return with_cases(statement, R.case_id, filters, user)


REFERRAL_POPULATIONS: dict[str, Callable[[Filters, User | None], Select]] = {
    "referrals_sent": referrals_sent,
    "referrals_answered": referrals_answered,
    "referrals_answered_within": referrals_answered_within,
    "referrals_service_given": _with_status("service_given"),
    "referrals_refused": _with_status("refused"),
    "referrals_no_answer": _with_status("no_answer"),
    "referrals_overdue": referrals_overdue,
}


def referral_tally(name: str, filters: Filters, user: User | None = None) -> dict[Any, int]:
    """Referrals of a figure per kind of service."""
    population = REFERRAL_POPULATIONS[name](filters, user).subquery()
    rows = db.session.execute(select(population.c.key, func.count()).group_by(population.c.key)).all()
    return {key: count for key, count in rows}


def referral_drill(name: str, filters: Filters, user: User | None = None, key: str | None = None) -> Select:
    """The referrals behind a figure (or one kind of service of it): a SELECT of Referral
    rows, the most recently sent first."""
    population = REFERRAL_POPULATIONS[name](filters, user)
    if key is not None:
        population = population.where(population.selected_columns.key == key)
    ids = population.with_only_columns(population.selected_columns.referral_id)
    return select(R).where(R.id.in_(ids)).order_by(R.sent_on.desc(), R.id.desc())


def referral_summary(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Every referral figure per kind of service (and in total), with the share answered
    within ANSWER_WITHIN_DAYS days of those sent."""
    columns = {name: referral_tally(name, filters, user) for name in REFERRAL_POPULATIONS}
    rows: dict[str, dict[str, Any]] = {}
    for destination in DESTINATION_TYPES:
        row = {name: columns[name].get(destination, 0) for name in REFERRAL_POPULATIONS}
        if any(row.values()):
            rows[destination] = row
    totals = {name: sum(values.values()) for name, values in columns.items()}
    for row in (*rows.values(), totals):
        sent = row["referrals_sent"]
        row["answered_within_share"] = round(row["referrals_answered_within"] / sent, 4) if sent else None
    return {"by_destination": rows, "total": totals, "within_days": ANSWER_WITHIN_DAYS}

