"""Aftercare figures: the resolved cases followed after their resolution, and how that
went — every planned contact made, some missed, or a relapse (the case reopened during
its aftercare).

Populations like the others (`populations`): a SELECT of case_id, key and the instant the
case entered the figure, so the dashboard, its exports and the list of cases behind each
number use the same definition. They are computed from the raw tables only, never sealed:
an aftercare period runs for months after the month of the resolution, and its outcome is
known only when it ends. Nothing here touches when a case counted as resolved.
"""

from __future__ import annotations

from sqlalchemy import Select, case, literal, select

from ...models import Aftercare, AftercareContact, User
from .scope import Filters, in_period, with_cases

A = Aftercare
AS_PLANNED, NOT_AS_PLANNED, RELAPSED = "as_planned", "not_as_planned", "relapsed"
ENDED_KEYS = (AS_PLANNED, NOT_AS_PLANNED, RELAPSED)


def aftercare_ended(filters: Filters, user: User | None) -> Select:
    """Aftercare periods that ended in the period, per how: every planned contact made
    (as_planned), some missed (not_as_planned), or cut short by a relapse (relapsed)."""
    missed = select(AftercareContact.id).where(
        AftercareContact.aftercare_id == A.id, AftercareContact.made_at.is_(None)).exists()
    key = case((A.outcome == RELAPSED, RELAPSED), (missed, NOT_AS_PLANNED), else_=AS_PLANNED)
    statement = select(A.case_id.label("case_id"), key.label("key"), A.ended_at.label("at")).where(
        *in_period(A.ended_at, filters), A.ended_at <= filters.moment)
    return with_cases(statement, A.case_id, filters, user)


def in_aftercare(filters: Filters, user: User | None) -> Select:
    """Resolved cases in aftercare at the moment (as of a date, or the end of the period)."""
    moment = filters.moment
    statement = select(A.case_id.label("case_id"), literal(None).label("key"), A.started_at.label("at")).where(
        A.started_at <= moment, A.ended_at > moment)
    return with_cases(statement, A.case_id, filters, user)


POPULATIONS = {"aftercare_ended": aftercare_ended, "in_aftercare": in_aftercare}

