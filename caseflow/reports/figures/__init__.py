"""Every monitoring figure, defined once.

A counted figure is a *population* of cases: a function that returns a SELECT of
``case_id`` and ``key`` (the stage, the closure reason… or NULL). The same SELECT gives
the number on a dashboard (`tally`), its breakdown by province / category / facilitator,
and the list of cases behind the number (`drill`), so a figure and its list can never
disagree. Durations and rates are built on the same populations.

Times: a period is [start, end] in calendar days, cut at midnight UTC. "As of" a moment
means the state the case was in at that moment, read from `case_stage_history`; at the
present moment it is the case's state on the cases table.

Durations are counted in one-hour histograms (count and sum of seconds per bin);
percentiles are interpolated over them (like percentile_cont) reading each value as its
bin's mean: exact when a bin holds equal values, within an hour otherwise.

Programme-wide, provincial and category figures add up the sealed months of their period
(`rollup`, `report_month_cells`) and compute only the rest from the raw tables; both give
the same numbers (tests/reports/test_rollup.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    cast,
    distinct,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.util import ClauseAdapter, find_tables

from ...database import utcnow
from ...extensions import db
from ...models import Case, CaseStageHistory, Role, SignOff, Step, User
from ...services import access
from ...services.runtime import engines
from .. import sealing as rollup

H = CaseStageHistory
IDEAL_CLIENTS_PER_FACILITATOR = 100
WITHIN_DAYS = (90, 180)


# --- filters and scope -----------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a dashboard looks at. `start`/`end` are inclusive calendar days."""

    province: str | None = None
    category: str | None = None
    facilitator_id: int | None = None
    supervisor_id: int | None = None
    start: date | None = None
    end: date | None = None
    as_of: datetime | None = None

    @property
    def start_at(self) -> datetime | None:
        return datetime.combine(self.start, time(), UTC) if self.start else None

    @property
    def end_at(self) -> datetime | None:
        return datetime.combine(self.end + timedelta(days=1), time(), UTC) if self.end else None

    @property
    def moment(self) -> datetime:
        """The instant "as of" figures describe: as_of, else the end of the period, never
        later than now."""
        now = utcnow()
        if self.as_of is not None:
            return min(self.as_of, now)
        if self.end_at is not None:
            return min(self.end_at, now)
        return now

    def with_(self, **changes: Any) -> Filters:
        return replace(self, **changes)


def _case_conditions(filters: Filters, user: User | None) -> list:
    conditions = []
    if filters.province:
        conditions.append(Case.province_code == filters.province)
    if filters.category:
        conditions.append(Case.ppks_category_code == filters.category)
    if filters.facilitator_id:
        conditions.append(Case.facilitator_id == filters.facilitator_id)
    if filters.supervisor_id:
        conditions.append(
            Case.facilitator_id.in_(select(User.id).where(User.supervisor_id == filters.supervisor_id))
        )
    if user is not None:
        conditions.extend(_scope_conditions(user))
    return conditions


def _scope_conditions(user: User) -> list:
    """Whose cases a user's figures cover: the access rules for case readers; the whole
    programme (as aggregates only) for programme managers; nothing for administrators."""
    if user.role == Role.PROGRAMME_MANAGER:
        return []
    if user.role in (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR):
        clause = access.visible_cases(user, select(Case.id)).whereclause
        return [] if clause is None else [clause]
    return [false()]


def _in_period(column, filters: Filters) -> list:
    conditions = []
    if filters.start_at is not None:
        conditions.append(column >= filters.start_at)
    if filters.end_at is not None:
        conditions.append(column < filters.end_at)
    if filters.as_of is not None:
        conditions.append(column <= filters.as_of)
    return conditions


# --- workflow vocabulary ---------------------------------------------------------------


def final_stages() -> list[str]:
    return sorted({n for e in engines().values() for n, s in e.definition.states.items() if s.final})


def outcome_stages(outcome: str) -> list[str]:
    return sorted({
        n for e in engines().values() for n, s in e.definition.states.items() if s.outcome == outcome
    })


def open_stages() -> list[str]:
    """Stages of every workflow in the order cases pass them (final stages left out)."""
    finals = set(final_stages())
    ordered: list[str] = []
    for workflow in engines().values():
        for stage in workflow.definition.stage_order():
            if stage not in finals and stage not in ordered:
                ordered.append(stage)
    return ordered


# --- populations: one definition per counted figure ------------------------------------


def _with_cases(statement: Select, case_id_column, filters: Filters, user: User | None,
                needed: bool = False) -> Select:
    """Join the cases table only when a filter or the scope needs it: national figures
    then read the history table alone."""
    conditions = _case_conditions(filters, user)
    if not conditions:
        return statement.join(Case, Case.id == case_id_column) if needed else statement
    ids = _scope_ids(filters, user)
    if ids is not None:
        # A team's or a facilitator's cases, found first through the cases' own indexes:
        # their rows are read by case_id (materialised, so no planner prefers scanning
        # everyone's rows of the period by time), then the figure's conditions apply.
        table = case_id_column.table
        scoped = select(table).where(_one_of(case_id_column, ids)).cte(f"scoped_{table.name}").prefix_with("MATERIALIZED")
        statement = ClauseAdapter(scoped).traverse(statement)
        return statement.join_from(scoped, Case, Case.id == scoped.c[case_id_column.key]) if needed else statement
    return statement.join(Case, Case.id == case_id_column).where(*conditions)


def _scope_ids(filters: Filters, user: User | None) -> list[int] | None:
    """The ids of the cases of a narrow scope (at most FEW_CASES), looked up once per
    transaction: every figure of a dashboard has the same scope."""
    conditions = _case_conditions(filters, user)
    if not conditions:
        return None
    return rollup.per_transaction(("few cases", filters.with_(start=None, end=None, as_of=None),
                                   user.id if user else None), lambda: _few_case_ids(conditions))


def _scoped_cases(filters: Filters, user: User | None) -> list:
    """Conditions restricting a query of the cases table to the scope."""
    ids = _scope_ids(filters, user)
    return [_one_of(Case.id, ids)] if ids is not None else _case_conditions(filters, user)


def _one_of(column, ids: list[int]):
    """`column` is one of `ids`, given as one parameter (a team's few thousand ids as
    separate parameters cost more to render and parse than the query takes)."""
    if _dialect() == "postgresql":
        return column == func.any(literal(ids, ARRAY(Integer)))
    # SQLite: one JSON text, read back as rows by json_each.
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(ids))))


FEW_CASES = 5000


def _few_case_ids(conditions: list) -> list[int] | None:
    """The ids of the cases matching `conditions` when there are at most FEW_CASES."""
    ids = db.session.execute(select(Case.id).where(*conditions).limit(FEW_CASES + 1)).scalars().all()
    return None if len(ids) > FEW_CASES else list(ids)


def _history(filters: Filters, user: User | None, *conditions, key=None) -> Select:
    """Stays matching `conditions`: case, key, and the instant the case entered the stage."""
    statement = select(H.case_id.label("case_id"), (key if key is not None else literal(None)).label("key"),
                       H.entered_at.label("at"))
    return _with_cases(statement.where(*conditions), H.case_id, filters, user)


def recorded(filters: Filters, user: User | None) -> Select:
    """Cases opened (terdata) in the period / up to the moment."""
    return select(Case.id.label("case_id"), literal(None).label("key")).where(
        *_in_period(Case.opened_at, filters), *_scoped_cases(filters, user)
    ).execution_options(**{ONE_ROW_PER_CASE: True})


def _is_now(moment: datetime) -> bool:
    return moment >= utcnow() - timedelta(seconds=1)


def _covering(moment: datetime) -> list:
    """Stays a case was in at `moment`. At the present moment that is simply the current
    stays (left_at empty), which an index finds without reading the past."""
    if _is_now(moment):
        return [H.left_at.is_(None)]
    return [H.entered_at <= moment, or_(H.left_at.is_(None), H.left_at > moment)]


def _current(filters: Filters, user: User | None, *conditions) -> Select:
    """Cases by the stage they are in now: a case's current stay is always its state, so
    the present moment reads the cases table (by its state indexes) instead of the history."""
    return select(Case.id.label("case_id"), Case.state.label("key")).where(
        *conditions, *_scoped_cases(filters, user)).execution_options(**{ONE_ROW_PER_CASE: True})


def in_progress(filters: Filters, user: User | None) -> Select:
    """Open cases per stage at the moment (as of a date, or the end of the period)."""
    if _is_now(filters.moment):
        return _current(filters, user, Case.state.in_(open_stages()))
    return _history(filters, user, *_covering(filters.moment), H.stage.in_(open_stages()), key=H.stage)


def _past_due(moment: datetime) -> list:
    """A case's current stage deadline had passed at `moment`."""
    return [Case.stage_due_at.is_not(None), Case.stage_due_at < moment]


def overdue(filters: Filters, user: User | None) -> Select:
    """Open cases per stage whose stage deadline had passed at the moment."""
    moment = filters.moment
    if _is_now(moment):
        return _current(filters, user, Case.state.in_(open_stages()), *_past_due(moment))
    return _history(filters, user, *_covering(moment), H.stage.in_(open_stages()),
                    H.due_at.is_not(None), H.due_at < moment, key=H.stage)


def resolved(filters: Filters, user: User | None) -> Select:
    """Cases that reached a resolved stage (terselesaikan) in the period."""
    return _history(filters, user, H.stage.in_(outcome_stages("resolved")), *_in_period(H.entered_at, filters))


def closed_unresolved(filters: Filters, user: User | None) -> Select:
    """Cases closed without being resolved in the period, per closure reason."""
    return _history(filters, user, H.stage.in_(outcome_stages("closed_unresolved")),
                    *_in_period(H.entered_at, filters), key=func.coalesce(H.closure_reason, "other"))


def terminated(filters: Filters, user: User | None) -> Select:
    """Cases that ended (resolved or closed unresolved) in the period, per outcome stage."""
    return _history(filters, user, H.stage.in_(final_stages()), *_in_period(H.entered_at, filters), key=H.stage)


def reopened(filters: Filters, user: User | None) -> Select:
    """Closed cases reopened in the period."""
    return _history(filters, user, H.reopened == true(), *_in_period(H.entered_at, filters))


def resolved_as_of(filters: Filters, user: User | None) -> Select:
    """Cases whose current stage at the moment is a final one, per outcome stage."""
    if _is_now(filters.moment):
        return _current(filters, user, Case.state.in_(final_stages()))
    return _history(filters, user, *_covering(filters.moment), H.stage.in_(final_stages()), key=H.stage)


def resolution_within(days: int) -> list:
    """A resolved stay entered within `days` days of the case being recorded (joins cases)."""
    return [H.stage.in_(outcome_stages("resolved")), _days_between(H.entered_at, Case.opened_at) <= days]


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
        *resolution_within(days), *_in_period(Case.opened_at, filters),
        H.entered_at <= (moment or filters.moment), *implied, *extra)
    return _with_cases(statement, H.case_id, filters, user, needed=True)


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
}

BREAKDOWNS = {
    "province": Case.province_code,
    "category": Case.ppks_category_code,
    "facilitator": Case.facilitator_id,
}


def _reads_cases(statement: Select) -> bool:
    return any(Case.__table__ in find_tables(part) for part in statement.get_final_froms())


# Marks a population read from the cases table alone (asking SQLAlchemy for a statement's
# FROM list each time costs more than some of the queries).
ONE_ROW_PER_CASE = "caseflow_one_row_per_case"


def _one_row_per_case(statement: Select) -> bool:
    """Read from the cases table alone: each row is a different case, no DISTINCT needed
    (which would make PostgreSQL sort hundreds of thousands of ids)."""
    return bool(statement.get_execution_options().get(ONE_ROW_PER_CASE))


def _count_cases(sub, statement: Select):
    return func.count() if _one_row_per_case(statement) else func.count(distinct(sub.c.case_id))


def _case_cube(name: str, filters: Filters, user: User | None, population: Select) -> list:
    """(key, province, category, cases) of a figure read from the cases table alone, once
    per transaction: each row is one case with one key, so its total and its breakdowns by
    key, province and category are sums of this one grouping."""
    if name in ("in_progress", "overdue") and _is_now(filters.moment):
        column = 3 if name == "in_progress" else 4
        return [(*row[:3], row[column]) for row in _present_cube(filters, user) if row[column]]

    def read() -> list:
        columns = (population.selected_columns.key, Case.province_code, Case.ppks_category_code)
        return db.session.execute(population.with_only_columns(*columns, func.count()).group_by(*columns)).all()

    return rollup.per_transaction(("cube", name, filters, user.id if user else None), read)


def _present_cube(filters: Filters, user: User | None) -> list:
    """(stage, province, category, open cases, overdue cases) now: in progress and overdue
    are one pass over the open cases (overdue is the part past its stage deadline)."""
    def read() -> list:
        columns = (Case.state, Case.province_code, Case.ppks_category_code)
        late = func.coalesce(func.sum(case((and_(*_past_due(filters.moment)), 1), else_=0)), 0)
        return db.session.execute(select(*columns, func.count(), late).where(
            Case.state.in_(open_stages()), *_scoped_cases(filters, user)).group_by(*columns)).all()

    return rollup.per_transaction(("present cube", filters, user.id if user else None), read)


CUBE_INDEX = {None: 0, "province": 1, "category": 2}


def _raw_tally(name: str, filters: Filters, user: User | None, by: str | None) -> dict[Any, int]:
    population = POPULATIONS[name](filters, user)
    if by in CUBE_INDEX and _one_row_per_case(population):
        counts: dict[Any, int] = {}
        for row in _case_cube(name, filters, user, population):
            group = row[CUBE_INDEX[by]]
            counts[group] = counts.get(group, 0) + row[3]
        return counts
    if by is not None and _reads_cases(population):
        # The cases table is already read: group by its column instead of joining it again.
        population = population.with_only_columns(population.selected_columns.case_id, BREAKDOWNS[by].label("key"))
    elif by is not None:
        inner = population.with_only_columns(population.selected_columns.case_id).subquery()
        population = select(inner.c.case_id.label("case_id"), BREAKDOWNS[by].label("key")).join(
            Case, Case.id == inner.c.case_id)
    sub = population.subquery()
    rows = db.session.execute(
        select(sub.c.key, _count_cases(sub, population)).group_by(sub.c.key)
    ).all()
    return {key: count for key, count in rows}


def _raw_total(name: str, filters: Filters, user: User | None) -> int:
    population = POPULATIONS[name](filters, user)
    if _one_row_per_case(population):
        return sum(row[3] for row in _case_cube(name, filters, user, population))
    sub = population.subquery()
    return db.session.execute(select(_count_cases(sub, population)).select_from(sub)).scalar_one()


def _sealed_plan(name: str, filters: Filters, user: User | None, by: str | None = None):
    """Sealed months can answer a counted figure for a programme, a province or a category."""
    if name not in rollup.COUNTED or (by is not None and by not in rollup.BY_COLUMNS):
        return None
    return rollup.plan(filters, user)


def _repeats(name: str, plan: rollup.Plan, filters: Filters, user: User | None,
             by: str | None, all_keys: bool) -> dict[Any, int]:
    """What adding the parts of the period up counts twice: reopened cases in two parts."""
    if name not in rollup.REPEATABLE:
        return {}

    # From the period's start on, not only within it: the same cases the resolved-within
    # figures correct (they follow a cohort past the period's end), found by one query.
    reopened = rollup.twice_in(filters.with_(end=None))

    def rows():
        population = POPULATIONS[name](filters, user)
        # On the population's own column: a narrow scope reads its rows from a CTE.
        population = population.where(rollup.among(population.selected_columns.case_id, reopened)).subquery()
        return db.session.execute(select(population.c.case_id, population.c.key, population.c.at)).all()

    found = rollup.per_transaction(("repeats", name, filters, user.id if user else None),
                                   lambda: rollup.repeated(rows()))
    places = rollup.places_of(filters.with_(end=None)) if by is not None else {}

    def group(row):
        if all_keys:
            return None
        if by is None:
            return row.key
        return places[row.case_id][0 if by == "province" else 1]

    return rollup.duplicates((row.case_id, group(row), plan.part_of(rollup._aware(row.at))) for row in found)


def tally(name: str, filters: Filters, user: User | None = None, by: str | None = None) -> dict[Any, int]:
    """Count distinct cases of a population, per its key (or per `by`)."""
    plan = _sealed_plan(name, filters, user, by)
    if plan is None:
        return _raw_tally(name, filters, user, by)
    sealed = rollup.cell_counts(name, plan.months, plan.conditions, by=by)
    raw = [_raw_tally(name, filters.with_(start=a, end=b), user, by) for a, b in plan.spans]
    return rollup.combine(sealed, *raw, minus=_repeats(name, plan, filters, user, by, all_keys=False))


def total(name: str, filters: Filters, user: User | None = None) -> int:
    """Count distinct cases of a population."""
    if name.startswith("resolved_within_"):
        # Cohorts by the month recorded, resolutions by the month resolved: see rollup.
        plan = rollup.plan(filters, user, whole_months=True)
        if plan is None:
            return _raw_total(name, filters, user)
        return rollup.within_total(int(name.rsplit("_", 1)[1]), filters, user, plan)
    plan = _sealed_plan(name, filters, user)
    if plan is None:
        return _raw_total(name, filters, user)
    sealed = rollup.cell_counts(name, plan.months, plan.conditions, all_keys=True)
    raw = [{None: _raw_total(name, filters.with_(start=a, end=b), user)} for a, b in plan.spans]
    return rollup.combine(sealed, *raw, minus=_repeats(name, plan, filters, user, None, all_keys=True)).get(None, 0)


def drill(name: str, filters: Filters, user: User | None = None, key: Any = None,
          by: str | None = None) -> Select:
    """The cases behind a figure (or behind one key of it): a SELECT of Case rows."""
    population = POPULATIONS[name](filters, user)
    if key is not None and not by:
        population = population.where(population.selected_columns.key == key)
    ids = population.with_only_columns(population.selected_columns.case_id)
    statement = select(Case).where(Case.id.in_(ids))
    if key is not None and by:
        statement = statement.where(BREAKDOWNS[by] == key)
    return statement


# Lists whose cases entered the figure at an instant of their history: shown most recent
# first by that instant (the period's index read backwards, a page at a time).
BY_INSTANT = ("resolved", "closed_unresolved", "terminated", "reopened",
              *(f"resolved_within_{d}" for d in WITHIN_DAYS))


def _instants(name: str, filters: Filters, user: User | None, key: Any, by: str | None):
    """(case_id, at) of each time a case entered a BY_INSTANT figure (or one key of it)."""
    population = POPULATIONS[name](filters, user)
    if key is not None and not by:
        population = population.where(population.selected_columns.key == key)
    elif key is not None:
        if not _reads_cases(population):
            population = population.join(Case, Case.id == population.selected_columns.case_id)
        population = population.where(BREAKDOWNS[by] == key)
    return population.subquery()


def drill_page(name: str, filters: Filters, user: User | None = None, key: Any = None,
               by: str | None = None, *, limit: int, offset: int = 0, options=()) -> list[Case]:
    """One page of the cases behind a figure: for a resolution, closure or reopening the
    most recent one first; otherwise the most recently recorded case first."""
    if name not in BY_INSTANT:
        return list(db.session.execute(
            drill(name, filters, user, key, by).options(*options)
            .order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit).offset(offset)).scalars())
    instants = _instants(name, filters, user, key, by)
    wanted, fetch = offset + limit, offset + limit + 10
    while True:
        # A case is in a figure more than once only if it was reopened: a few extra rows.
        rows = db.session.execute(select(instants.c.case_id).order_by(
            instants.c.at.desc(), instants.c.case_id.desc()).limit(fetch)).scalars().all()
        ids = list(dict.fromkeys(rows))
        if len(ids) >= wanted or len(rows) < fetch:
            break
        fetch *= 2
    return _cases_in_order(ids[offset:wanted], options)


def _cases_in_order(ids: list[int], options=()) -> list[Case]:
    found = {case.id: case for case in db.session.execute(
        select(Case).where(Case.id.in_(ids)).options(*options)).scalars()}
    return [found[case_id] for case_id in ids if case_id in found]


def drill_pages(name: str, filters: Filters, user: User | None = None, key: Any = None,
                by: str | None = None, *, size: int, options=()) -> Iterator[list[Case]]:
    """Every case behind a figure, `size` at a time, in the order of its list pages, each
    page read by keyset (where the previous one ended), not by offset: an export of the
    whole list reads each row once."""
    if name not in BY_INSTANT:
        statement = drill(name, filters, user, key, by).options(*options).order_by(
            Case.opened_at.desc(), Case.id.desc()).limit(size)
        after: tuple[datetime, int] | None = None
        while True:
            page = list(db.session.execute(_after(statement, Case.opened_at, Case.id, after)).scalars())
            if page:
                after = (page[-1].opened_at, page[-1].id)  # before the reader lets the page go
                yield page
            if len(page) < size:
                return
    instants = _instants(name, filters, user, key, by)
    statement = select(instants.c.case_id, instants.c.at).order_by(
        instants.c.at.desc(), instants.c.case_id.desc()).limit(size)
    seen: set[int] = set()  # a reopened case entered the figure more than once: listed once
    last: tuple[datetime, int] | None = None
    while True:
        rows = db.session.execute(_after(statement, instants.c.at, instants.c.case_id, last)).all()
        ids = [case_id for case_id in dict.fromkeys(case_id for case_id, _at in rows) if case_id not in seen]
        seen.update(ids)
        if ids:
            yield _cases_in_order(ids, options)
        if len(rows) < size:
            return
        last = (rows[-1].at, rows[-1].case_id)


def _after(statement: Select, moment, case_id, last: tuple[datetime, int] | None) -> Select:
    """The rows after `last` in (moment, case_id) descending order: the next keyset page."""
    if last is None:
        return statement
    return statement.where(or_(moment < last[0], and_(moment == last[0], case_id < last[1])))


def drill_total(name: str, filters: Filters, user: User | None = None, key: Any = None,
                by: str | None = None) -> int:
    """How many cases `drill` lists: the figure itself (so the list and its number agree)."""
    if key is None:
        population = POPULATIONS[name](filters, user)
        if _one_row_per_case(population) and _sealed_plan(name, filters, user) is None:
            # A list needs no breakdowns: counted from the index alone, not grouped.
            return db.session.execute(select(func.count()).select_from(population.subquery())).scalar_one()
        return total(name, filters, user)
    return tally(name, filters, user, by=by).get(key, 0)


# --- rates ------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def resolution_rate(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Resolved / terminated in the period: closed-unresolved cases count against it."""
    by_stage = tally("terminated", filters, user)
    resolved_count = sum(v for k, v in by_stage.items() if k in outcome_stages("resolved"))
    ended = total("terminated", filters, user)
    return {"resolved": resolved_count, "terminated": ended, "rate": _share(resolved_count, ended)}


def resolved_within(filters: Filters, user: User | None = None) -> dict[str, Any]:
    """Of the cases recorded in the period, the share resolved within 90 and 180 days."""
    cohort = total("recorded", filters, user)
    result: dict[str, Any] = {"recorded": cohort}
    for days in WITHIN_DAYS:
        count = total(f"resolved_within_{days}", filters, user)
        result[days] = {"resolved": count, "share": _share(count, cohort)}
    return result


# --- durations ----------------------------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _days_between(later, earlier):
    if _dialect() == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def month_of(column):
    """'YYYY-MM' of a UTC time column, on either database."""
    if _dialect() == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM'"))
    # Literal SQL, not parameters: GROUP BY must repeat exactly the selected expression.
    return func.strftime(literal_column("'%Y-%m'"), column)


PERCENTILES = (0.5, 0.9)
BIN_SECONDS = 3600


def _seconds_between(later, earlier):
    """Whole seconds from `earlier` to `later`, on either database."""
    if _dialect() == "postgresql":
        difference = func.extract("epoch", later - earlier)
    else:
        difference = (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.round(difference), Integer)


def stay_values(filters: Filters, user: User | None) -> Select:
    """Seconds spent per stage, over the stays that ended in the period."""
    return _with_cases(
        select(H.stage.label("key"), H.duration_seconds.label("seconds"))
        .where(H.left_at.is_not(None), *_in_period(H.left_at, filters)), H.case_id, filters, user)


def resolution_values(filters: Filters, user: User | None) -> Select:
    """Seconds from recorded to resolved, over the resolutions in the period."""
    return _with_cases(
        select(literal("all").label("key"), _seconds_between(H.entered_at, Case.opened_at).label("seconds"))
        .where(H.stage.in_(outcome_stages("resolved")), *_in_period(H.entered_at, filters)),
        H.case_id, filters, user, needed=True)


def sign_off_values(filters: Filters, user: User | None) -> Select:
    """Seconds from a sign-off request to its decision, over the decisions in the period."""
    return _with_cases(
        select(literal("all").label("key"), _seconds_between(SignOff.decided_at, SignOff.requested_at).label("seconds"))
        .where(SignOff.decided_at.is_not(None), *_in_period(SignOff.decided_at, filters)),
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
    plan = rollup.plan(filters, user, national_only=True)
    if plan is None:
        return histogram(values(filters, user))
    return merge_histograms(rollup.cell_histogram(figure, plan.months),
                            *[histogram(values(filters.with_(start=a, end=b), user)) for a, b in plan.spans])


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
    return rollup.per_transaction(("stays", filters, user.id if user else None),
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
    waiting = SignOff.decided_at.is_(None) if _is_now(moment) else or_(
        SignOff.decided_at.is_(None), SignOff.decided_at > moment)
    pending, oldest = db.session.execute(_with_cases(
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


# --- workload -------------------------------------------------------------------------------


def caseload(filters: Filters, user: User | None = None) -> list[dict[str, Any]]:
    """Per active facilitator: open cases and distinct clients at the moment, against the
    ideal of 1 facilitator to 100 clients. Facilitators without cases are listed too."""
    moment = filters.moment
    if _is_now(moment):
        # The current stay of a case is always its current state: read the cases alone.
        # Open now is closed_at empty (the engine sets it on entering a final stage and
        # clears it on leaving one), which the partial index of open cases holds.
        open_now = select(Case.id.label("case_id"), Case.facilitator_id.label("facilitator_id"),
                          Case.client_id.label("client_id")).where(
            Case.closed_at.is_(None), *_scoped_cases(filters, user)).subquery()
    else:
        open_now = _with_cases(
            select(H.case_id.label("case_id"), Case.facilitator_id.label("facilitator_id"),
                   Case.client_id.label("client_id")).where(*_covering(moment), H.stage.in_(open_stages())),
            H.case_id, filters, user, needed=True,
        ).subquery()
    people = select(User.id, User.full_name, User.province_code, User.supervisor_id).where(
        User.role == Role.FACILITATOR, User.active.is_(true())
    )
    if filters.province:
        people = people.where(User.province_code == filters.province)
    if filters.facilitator_id:
        people = people.where(User.id == filters.facilitator_id)
    if filters.supervisor_id:
        people = people.where(User.supervisor_id == filters.supervisor_id)
    if user is not None and user.role == Role.FACILITATOR:
        people = people.where(User.id == user.id)
    elif user is not None and user.role == Role.SUPERVISOR:
        people = people.where(User.supervisor_id == user.id)
    elif user is not None and user.role == Role.AUDITOR and user.auditor_scope_province_code:
        people = people.where(User.province_code == user.auditor_scope_province_code)
    elif user is not None and user.role == Role.ADMIN:
        people = people.where(false())
    people = people.subquery()
    # Counted per facilitator first (in the order of the facilitator index), then joined to
    # the accounts: thousands of people, not hundreds of thousands of cases, are joined.
    # At the present moment each row is one case (count(*): the facilitator index alone).
    cases_counted = func.count() if _is_now(moment) else func.count(distinct(open_now.c.case_id))
    loads = select(open_now.c.facilitator_id, cases_counted.label("cases"),
                   func.count(distinct(open_now.c.client_id)).label("clients")
                   ).group_by(open_now.c.facilitator_id).subquery()
    rows = db.session.execute(
        select(people.c.id, people.c.full_name, people.c.province_code, people.c.supervisor_id,
               func.coalesce(loads.c.cases, 0), func.coalesce(loads.c.clients, 0))
        .select_from(people)
        .outerjoin(loads, loads.c.facilitator_id == people.c.id)
        .order_by(people.c.full_name)
    ).all()
    return [
        {"facilitator_id": fid, "name": name, "province": province, "supervisor_id": sup,
         "open_cases": cases_, "clients": clients,
         "load": round(clients / IDEAL_CLIENTS_PER_FACILITATOR, 2),
         "over_ratio": clients > IDEAL_CLIENTS_PER_FACILITATOR}
        for fid, name, province, sup, cases_, clients in rows
    ]


def caseload_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The same caseload without names: what a programme manager may see."""
    clients = sum(r["clients"] for r in rows)
    return {
        "facilitators": len(rows),
        "clients": clients,
        "ideal_facilitators": -(-clients // IDEAL_CLIENTS_PER_FACILITATOR),
        "average_clients": round(clients / len(rows), 1) if rows else None,
        "over_ratio": sum(1 for r in rows if r["over_ratio"]),
    }


def months(filters: Filters, default_months: int = 12) -> list[tuple[str, datetime, datetime]]:
    """The calendar months of the period (default: the last 12 up to the moment)."""
    end = filters.end or filters.moment.date()
    if filters.start:
        start = filters.start
    else:
        index = end.year * 12 + end.month - 1 - (default_months - 1)
        start = date(index // 12, index % 12 + 1, 1)
    result = []
    cursor = date(start.year, start.month, 1)
    while cursor <= end:
        following = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        result.append((cursor.strftime("%Y-%m"), datetime.combine(cursor, time(), UTC),
                       datetime.combine(following, time(), UTC)))
        cursor = following
    return result


def open_during(begin: datetime, end: datetime) -> list:
    """Open at some time in [begin, end): recorded before its end, not closed before its
    start (read from the case row: one pass over the cases, not over their whole history),
    and not closed for the whole of it before a reopening."""
    # NOT EXISTS, not NOT IN: a few index probes per case of a team; an anti-join when a
    # whole month of everyone's cases is sealed.
    return [Case.opened_at < end, or_(Case.closed_at.is_(None), Case.closed_at >= begin),
            ~closed_throughout(begin, end).where(CaseStageHistory.case_id == Case.id).exists()]


def closed_throughout(begin: datetime, end: datetime) -> Select:
    """Cases closed from `begin` to `end` and reopened since: the case row says they are
    open (or closed later), their final stay says otherwise. Only a reopening ends a final
    stay, so these are a few rows of the (stage, left_at) index."""
    return select(CaseStageHistory.case_id).where(
        CaseStageHistory.stage.in_(final_stages()), CaseStageHistory.left_at >= end,
        CaseStageHistory.entered_at <= begin)


def open_during_parts(begin: datetime, end: datetime) -> tuple[list, list]:
    """open_during as two disjoint parts, still open and closed since `begin`, each a
    range of the (closed_at, opened_at) index counted from the index alone; the cases
    closed throughout (`closed_throughout`) are in one of them and are to be subtracted."""
    return ([Case.closed_at.is_(None), Case.opened_at < end],
            [Case.closed_at >= begin, Case.opened_at < end])


def _split_months(spans: list[tuple[str, datetime, datetime]], filters: Filters, user: User | None):
    """The months of a monthly table that sealed cells answer, their cell conditions, and
    the months left to compute raw."""
    conditions = rollup._cell_conditions(filters, user) if rollup.enabled() else None
    sealed: set[str] = set()
    if conditions is not None:
        sealed = set(rollup.ensure_sealed()) & {label for label, _b, _e in spans}
    return sealed, conditions or [], [span for span in spans if span[0] not in sealed]


def steps_per_case_per_month(filters: Filters, user: User | None = None) -> list[dict[str, Any]]:
    """Per month: steps logged, cases open at some time that month, and steps per open case
    (a case closed all month and reopened later was not open that month)."""
    spans = months(filters)
    if not spans:
        return []
    sealed, conditions, raw = _split_months(spans, filters, user)
    step_rows = {m: n for (m, _k), n in rollup.cell_counts_by_month("steps", sealed, conditions).items()}
    active = {m: n for (m, _k), n in rollup.cell_counts_by_month("open_cases", sealed, conditions).items()}
    if len(raw) == 1:  # this month: counted from the time index alone, no month computed per step
        label, begin, end = raw[0]
        step_rows[label] = db.session.execute(_with_cases(
            select(func.count()).select_from(Step).where(Step.occurred_at >= begin, Step.occurred_at < end),
            Step.case_id, filters, user)).scalar_one()
    elif raw:
        first, last = raw[0][1], raw[-1][2]
        step_rows.update(db.session.execute(_with_cases(
            select(month_of(Step.occurred_at), func.count())  # count(*): from the time index alone
            .where(Step.occurred_at >= first, Step.occurred_at < last)
            .group_by(month_of(Step.occurred_at)), Step.case_id, filters, user)
        ).all())
    if raw:
        first, last = raw[0][1], raw[-1][2]
        scope = _case_conditions(filters, user)
        if scope:
            # A scope's own cases, in one pass: closed in the months or still open.
            columns = [func.coalesce(func.sum(case((and_(*open_during(begin, end)), 1), else_=0)), 0).label(label)
                       for label, begin, end in raw]
            counts = db.session.execute(select(*columns).where(open_during(first, last)[1], *scope)).one()
            active.update({label: count for (label, _b, _e), count in zip(raw, counts, strict=True)})
        else:
            # Everyone's (this month, at most a few): two index ranges each, no case rows read.
            for label, begin, end in raw:
                active[label] = sum(db.session.execute(select(func.count()).select_from(Case).where(*part))
                                    .scalar_one() for part in open_during_parts(begin, end))
                active[label] -= db.session.execute(select(func.count(distinct(
                    closed_throughout(begin, end).subquery().c.case_id)))).scalar_one()
    result = []
    for label, _begin, _end in spans:
        steps, open_cases = step_rows.get(label, 0), active.get(label, 0)
        result.append({"month": label, "steps": steps, "open_cases": open_cases,
                       "steps_per_case": round(steps / open_cases, 2) if open_cases else None})
    return result


def monthly_trend(filters: Filters, user: User | None = None) -> list[dict[str, Any]]:
    """Per month: cases recorded, resolved, closed unresolved, and the resolution rate."""
    spans = months(filters)
    if not spans:
        return []
    sealed, conditions, raw = _split_months(spans, filters, user)
    recorded_rows = {m: n for (m, _k), n in rollup.cell_counts_by_month("recorded", sealed, conditions).items()}
    ended_rows = [(m, k, n) for (m, k), n in
                  rollup.cell_counts_by_month("terminated", sealed, conditions, per_key=True).items()]
    if raw and sealed and len(raw) <= 2:
        # This month (or two) of a programme, province or category: the month's figures,
        # which add up its sealed first days and compute only the rest raw.
        for label, begin, end in raw:
            month = filters.with_(start=begin.date(), end=(end - timedelta(days=1)).date())
            recorded_rows[label] = total("recorded", month, user)
            ended_rows.extend((label, key, count) for key, count in tally("terminated", month, user).items())
    elif raw:
        period = filters.with_(start=raw[0][1].date(), end=(raw[-1][2] - timedelta(days=1)).date())
        raw_labels = {label for label, _b, _e in raw}
        recorded_sub = recorded(period, user).add_columns(month_of(Case.opened_at).label("month")).subquery()
        recorded_rows.update({m: n for m, n in db.session.execute(
            select(recorded_sub.c.month, func.count(distinct(recorded_sub.c.case_id))).group_by(recorded_sub.c.month)
        ).all() if m in raw_labels})
        ended_sub = terminated(period, user).subquery()
        ended_month = month_of(ended_sub.c.at)
        ended_rows.extend(row for row in db.session.execute(
            select(ended_month, ended_sub.c.key, func.count(distinct(ended_sub.c.case_id)))
            .group_by(ended_month, ended_sub.c.key)
        ).all() if row[0] in raw_labels)
    resolved_names = set(outcome_stages("resolved"))
    ended: dict[str, list[int]] = {}
    for month, stage, count in ended_rows:
        bucket = ended.setdefault(month, [0, 0])
        bucket[0 if stage in resolved_names else 1] += count
    result = []
    for label, _begin, _end in spans:
        resolved_count, closed = ended.get(label, [0, 0])
        result.append({"month": label, "recorded": recorded_rows.get(label, 0), "resolved": resolved_count,
                       "closed_unresolved": closed, "rate": _share(resolved_count, resolved_count + closed)})
    return result


# --- dashboards ------------------------------------------------------------------------------


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
        row["rate"] = _share(row["resolved"], row["resolved"] + row["closed_unresolved"])
        result[key] = row
    return result
