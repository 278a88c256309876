"""Counting a population: its total, its breakdown by key, province, category or
facilitator, and the cases behind it a page at a time.

Programme-wide, provincial and category counts are answered from sealed months and the
raw rest of the period when the sealing package can (`sealed`); otherwise, and for every
narrower scope, from the raw tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, or_, select

from ...extensions import db
from ...models import Case, User
from .memo import per_transaction
from .populations import (
    BREAKDOWNS,
    POPULATIONS,
    WITHIN_DAYS,
    is_now,
    one_row_per_case,
    past_due,
    reads_cases,
)
from .scope import Filters, scoped_cases
from .sealed import sealed_cells
from .stages import open_stages


def _count_cases(sub, statement: Select):
    return func.count() if one_row_per_case(statement) else func.count(distinct(sub.c.case_id))


def _case_cube(name: str, filters: Filters, user: User | None, population: Select) -> list:
    """(key, province, category, cases) of a figure read from the cases table alone, once
    per transaction: each row is one case with one key, so its total and its breakdowns by
    key, province and category are sums of this one grouping."""
    if name in ("in_progress", "overdue") and is_now(filters.moment):
        column = 3 if name == "in_progress" else 4
        return [(*row[:3], row[column]) for row in _present_cube(filters, user) if row[column]]

    def read() -> list:
        columns = (population.selected_columns.key, Case.province_code, Case.ppks_category_code)
        return db.session.execute(population.with_only_columns(*columns, func.count()).group_by(*columns)).all()

    return per_transaction(("cube", name, filters, user.id if user else None), read)


def _present_cube(filters: Filters, user: User | None) -> list:
    """(stage, province, category, open cases, overdue cases) now: in progress and overdue
    are one pass over the open cases (overdue is the part past its stage deadline)."""
    def read() -> list:
        columns = (Case.state, Case.province_code, Case.ppks_category_code)
        late = func.coalesce(func.sum(case((and_(*past_due(filters.moment)), 1), else_=0)), 0)
        return db.session.execute(select(*columns, func.count(), late).where(
            Case.state.in_(open_stages()), *scoped_cases(filters, user)).group_by(*columns)).all()

    return per_transaction(("present cube", filters, user.id if user else None), read)


CUBE_INDEX = {None: 0, "province": 1, "category": 2}


def raw_tally(name: str, filters: Filters, user: User | None, by: str | None) -> dict[Any, int]:
    population = POPULATIONS[name](filters, user)
    if by in CUBE_INDEX and one_row_per_case(population):
        counts: dict[Any, int] = {}
        for row in _case_cube(name, filters, user, population):
            group = row[CUBE_INDEX[by]]
            counts[group] = counts.get(group, 0) + row[3]
        return counts
    if by is not None and reads_cases(population):
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


def raw_total(name: str, filters: Filters, user: User | None) -> int:
    population = POPULATIONS[name](filters, user)
    if one_row_per_case(population):
        return sum(row[3] for row in _case_cube(name, filters, user, population))
    sub = population.subquery()
    return db.session.execute(select(_count_cases(sub, population)).select_from(sub)).scalar_one()


def tally(name: str, filters: Filters, user: User | None = None, by: str | None = None) -> dict[Any, int]:
    """Count distinct cases of a population, per its key (or per `by`)."""
    found = sealed_cells().tally(name, filters, user, by)
    return raw_tally(name, filters, user, by) if found is None else found


def total(name: str, filters: Filters, user: User | None = None) -> int:
    """Count distinct cases of a population."""
    found = sealed_cells().total(name, filters, user)
    return raw_total(name, filters, user) if found is None else found


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
        if not reads_cases(population):
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
        if not one_row_per_case(population):
            return total(name, filters, user)
        found = sealed_cells().total(name, filters, user)
        if found is not None:
            return found
        # A list needs no breakdowns: counted from the index alone, not grouped.
        return db.session.execute(select(func.count()).select_from(population.subquery())).scalar_one()
    return tally(name, filters, user, by=by).get(key, 0)
