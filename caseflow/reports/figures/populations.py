"""The counted figures: one definition per population.

A population is a SELECT of ``case_id`` and ``key`` (the stage, the closure reason… or
NULL). The same SELECT gives the number on a dashboard, its breakdowns and the list of
cases behind it (`counts`), so a figure and its list can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Select, func, literal, or_, select, true
from sqlalchemy.sql.util import find_tables

from ...database import utcnow
from ...models import Case, CaseStageHistory, User
from .aftercare import POPULATIONS as AFTERCARE_POPULATIONS
from .scope import Filters, in_period, scoped_cases, with_cases
from .sql import days_between
from .stages import final_stages, open_stages, outcome_stages

H = CaseStageHistory
WITHIN_DAYS = (90, 180)


def _history(filters: Filters, user: User | None, *conditions, key=None) -> Select:
    """Stays matching `conditions`: case, key, and the instant the case entered the stage."""
    statement = select(H.case_id.label("case_id"), (key if key is not None else literal(None)).label("key"),
                       H.entered_at.label("at"))
    return with_cases(statement.where(*conditions), H.case_id, filters, user)


def recorded(filters: Filters, user: User | None) -> Select:
    """Cases opened (terdata) in the period / up to the moment."""
    return select(Case.id.label("case_id"), literal(None).label("key")).where(
        *in_period(Case.opened_at, filters), *scoped_cases(filters, user)
    ).execution_options(**{ONE_ROW_PER_CASE: True})


def is_now(moment: datetime) -> bool:
    return moment >= utcnow() - timedelta(seconds=1)


def covering(moment: datetime) -> list:
    """Stays a case was in at `moment`. At the present moment that is simply the current
    stays (left_at empty), which an index finds without reading the past."""
    if is_now(moment):
        return [H.left_at.is_(None)]
    return [H.entered_at <= moment, or_(H.left_at.is_(None), H.left_at > moment)]


def _current(filters: Filters, user: User | None, *conditions) -> Select:
    """Cases by the stage they are in now: a case's current stay is always its state, so
    the present moment reads the cases table (by its state indexes) instead of the history."""
    return select(Case.id.label("case_id"), Case.state.label("key")).where(
        *conditions, *scoped_cases(filters, user)).execution_options(**{ONE_ROW_PER_CASE: True})


def in_progress(filters: Filters, user: User | None) -> Select:
    """Open cases per stage at the moment (as of a date, or the end of the period)."""
    if is_now(filters.moment):
        return _current(filters, user, Case.state.in_(open_stages()))
    return _history(filters, user, *covering(filters.moment), H.stage.in_(open_stages()), key=H.stage)


def past_due(moment: datetime) -> list:
    """A case's current stage deadline had passed at `moment`."""
    return [Case.stage_due_at.is_not(None), Case.stage_due_at < moment]


def overdue(filters: Filters, user: User | None) -> Select:
    """Open cases per stage whose stage deadline had passed at the moment."""
    moment = filters.moment
    if is_now(moment):
        return _current(filters, user, Case.state.in_(open_stages()), *past_due(moment))
    return _history(filters, user, *covering(moment), H.stage.in_(open_stages()),
                    H.due_at.is_not(None), H.due_at < moment, key=H.stage)


def resolved(filters: Filters, user: User | None) -> Select:
    """Cases that reached a resolved stage (terselesaikan) in the period."""
    return _history(filters, user, H.stage.in_(outcome_stages("resolved")), *in_period(H.entered_at, filters))


def closed_unresolved(filters: Filters, user: User | None) -> Select:
    """Cases closed without being resolved in the period, per closure reason."""
    return _history(filters, user, H.stage.in_(outcome_stages("closed_unresolved")),
                    *in_period(H.entered_at, filters), key=func.coalesce(H.closure_reason, "other"))


def terminated(filters: Filters, user: User | None) -> Select:
    """Cases that ended (resolved or closed unresolved) in the period, per outcome stage."""
    return _history(filters, user, H.stage.in_(final_stages()), *in_period(H.entered_at, filters), key=H.stage)


def reopened(filters: Filters, user: User | None) -> Select:
    """Closed cases reopened in the period."""
    return _history(filters, user, H.reopened == true(), *in_period(H.entered_at, filters))


def resolved_as_of(filters: Filters, user: User | None) -> Select:
    """Cases whose current stage at the moment is a final one, per outcome stage."""
    if is_now(filters.moment):
        return _current(filters, user, Case.state.in_(final_stages()))
    return _history(filters, user, *covering(filters.moment), H.stage.in_(final_stages()), key=H.stage)


def resolution_within(days: int) -> list:
    """A resolved stay entered within `days` days of the case being recorded (joins cases)."""
    return [H.stage.in_(outcome_stages("resolved")), days_between(H.entered_at, Case.opened_at) <= days]


def resolved_within_rows(days: int, filters: Filters, user: User | None,
                         moment: datetime | None = None, extra: tuple = ()) -> Select:
    """Cases recorded in the period and resolved within `days` days, by the moment (with
    the instants it was recorded and resolved, and any `extra` conditions)."""
    # The bounds on entered_at follow from those on opened_at (a case is resolved after it
    # is recorded, and within the days): they let the resolved stays be read by time range.
    implied = [H.entered_at >= filters.start_at] if filters.start_at is not None else []
    if filters.end_at is not None:
        implied.append(H.entered_at < filters.end_at + timedelta(days=days + 1))
    statement = select(H.case_id.label("case_id"), literal(None).label("key"),
                       Case.opened_at.label("opened"), H.entered_at.label("at")).where(
        *resolution_within(days), *in_period(Case.opened_at, filters),
        H.entered_at <= (moment or filters.moment), *implied, *extra)
    return with_cases(statement, H.case_id, filters, user, needed=True)


def _resolved_within(days: int) -> Callable[[Filters, User | None], Select]:
    def population(filters: Filters, user: User | None) -> Select:
        return resolved_within_rows(days, filters, user)

    population.__doc__ = f"Cases recorded in the period and resolved within {days} days of being recorded."
    return population


POPULATIONS: dict[str, Callable[[Filters, User | None], Select]] = {
    "recorded": recorded,
    "in_progress": in_progress,
    "overdue": overdue,
    "resolved": resolved,
    "closed_unresolved": closed_unresolved,
    "terminated": terminated,
    "reopened": reopened,
    "resolved_as_of": resolved_as_of,
    **{f"resolved_within_{d}": _resolved_within(d) for d in WITHIN_DAYS},
    **AFTERCARE_POPULATIONS,  # computed raw only: figures/aftercare.py
}


BREAKDOWNS = {
    "province": Case.province_code,
    "category": Case.ppks_category_code,
    "facilitator": Case.facilitator_id,
}


def reads_cases(statement: Select) -> bool:
    """Whether the cases table is read in the statement's FROM list (as get_final_froms
    gives it). That list is read from the statement's compile state with an empty
    compiler: get_final_froms compiles the whole statement to SQL first, which cost a
    team page more than its figures' queries."""
    dialect = statement._default_dialect()
    state = statement._compile_state_factory(statement, dialect.statement_compiler(dialect, None))
    return any(Case.__table__ in find_tables(part) for part in state._get_display_froms())


# Marks a population read from the cases table alone (asking SQLAlchemy for a statement's
# FROM list each time costs more than some of the queries).
ONE_ROW_PER_CASE = "caseflow_one_row_per_case"


def one_row_per_case(statement: Select) -> bool:
    """Read from the cases table alone: each row is a different case, no DISTINCT needed
    (which would make PostgreSQL sort hundreds of thousands of ids)."""
    return bool(statement.get_execution_options().get(ONE_ROW_PER_CASE))
