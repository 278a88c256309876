"""Work-target figures (target kinerja): what a facilitator did in a period, measured the
way the dashboards measure it. Each measure is one count over a period (`Filters`, its
days cut at midnight UTC like every figure) and a scope (a facilitator, a team, a
province, the programme), per facilitator or per province. Raw only, never sealed.

- cases_resolved: the dashboards' `resolved` population (a case resolved in the period).
- assessed_within: cases whose assessment stage ended in the period within
  ASSESSED_WITHIN_DAYS days of the case being recorded (a case counts once).
- visits_made: planned visits made done (by the step of their day) in the period.
- referrals_answered: referrals whose answer (accepted, service given, refused) came on a
  day of the period. Not the dashboards' "answered" (referrals *sent* in the period that
  were answered by its end): a referral sent late in a month and answered early in the
  next would count for neither month's target.
- aftercare_contacts_made: planned aftercare contacts made in the period.

A case counts for the facilitator who holds it now (a reassigned case's work moves with
it, as on every dashboard broken down by facilitator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, func, select

from ...extensions import db
from ...models import (
    Aftercare,
    AftercareContact,
    Case,
    CaseStageHistory,
    PlannedVisit,
    Referral,
    User,
)
from ...models.agenda import DONE, MEASURES
from ...models.referral import ANSWERED
from .populations import resolved
from .scope import Filters, in_period, with_cases
from .sql import days_between

ASSESSED_WITHIN_DAYS = 14
# The workflow stage whose end is the completed assessment.
ASSESSMENT_STAGE = "assessment"
H = CaseStageHistory

BY = {"facilitator": Case.facilitator_id, "province": Case.province_code}


def _cases_resolved(filters: Filters, user: User | None) -> Select:
    return resolved(filters, user)


def _assessed_within(filters: Filters, user: User | None) -> Select:
    statement = select(H.case_id.label("case_id")).where(
        H.stage == ASSESSMENT_STAGE, H.left_at.is_not(None), *in_period(H.left_at, filters),
        days_between(H.left_at, Case.opened_at) <= ASSESSED_WITHIN_DAYS)
    return with_cases(statement, H.case_id, filters, user, needed=True)


def _visits_made(filters: Filters, user: User | None) -> Select:
    statement = select(PlannedVisit.case_id.label("case_id")).where(
        PlannedVisit.status == DONE, *in_period(PlannedVisit.done_at, filters))
    return with_cases(statement, PlannedVisit.case_id, filters, user)


def _aftercare_contacts_made(filters: Filters, user: User | None) -> Select:
    statement = select(Aftercare.case_id.label("case_id")).select_from(AftercareContact).join(
        Aftercare, Aftercare.id == AftercareContact.aftercare_id).where(
        AftercareContact.made_at.is_not(None), *in_period(AftercareContact.made_at, filters))
    return with_cases(statement, Aftercare.case_id, filters, user)


def _referrals_answered(filters: Filters, user: User | None) -> Select:
    period = []
    if filters.start is not None:
        period.append(Referral.answered_on >= filters.start)
    if filters.end is not None:
        period.append(Referral.answered_on <= filters.end)
    statement = select(Referral.case_id.label("case_id")).where(
        Referral.status.in_(ANSWERED), Referral.answered_on.is_not(None), *period)
    return with_cases(statement, Referral.case_id, filters, user)


# measure → (rows, whether a case counts once)
MEASURE_ROWS: dict[str, tuple[Callable[[Filters, User | None], Select], bool]] = {
    "cases_resolved": (_cases_resolved, True),
    "assessed_within": (_assessed_within, True),
    "visits_made": (_visits_made, False),
    "referrals_answered": (_referrals_answered, False),
    "aftercare_contacts_made": (_aftercare_contacts_made, False),
}
assert tuple(MEASURE_ROWS) == MEASURES


def measure_by(measure: str, filters: Filters, user: User | None = None, by: str = "facilitator") -> dict[Any, int]:
    """One measure of the period, per facilitator (their id) or per province (its code)."""
    rows, per_case = MEASURE_ROWS[measure]
    inner = rows(filters, user).subquery()
    counted = func.count(func.distinct(inner.c.case_id)) if per_case else func.count()
    key = BY[by]
    statement = select(key, counted).select_from(inner).join(Case, Case.id == inner.c.case_id).group_by(key)
    return {k: n for k, n in db.session.execute(statement).all()}


def measures_by(filters: Filters, user: User | None = None, by: str = "facilitator") -> dict[Any, dict[str, int]]:
    """Every measure of the period: {facilitator id or province code: {measure: count}}."""
    result: dict[Any, dict[str, int]] = {}
    for measure in MEASURES:
        for key, count in measure_by(measure, filters, user, by).items():
            result.setdefault(key, dict.fromkeys(MEASURES, 0))[measure] = count
    return result
