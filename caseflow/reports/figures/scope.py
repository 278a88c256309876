"""What a figure looks at: the filters of a dashboard, and whose cases the viewer's
figures cover (the access rules for case readers, everyone for programme managers)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.sql.util import ClauseAdapter

from ...database import utcnow
from ...extensions import db
from ...models import Case, Role, User
from ...services import access
from .memo import per_transaction
from .sql import one_of


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


def case_conditions(filters: Filters, user: User | None) -> list:
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


def in_period(column, filters: Filters) -> list:
    conditions = []
    if filters.start_at is not None:
        conditions.append(column >= filters.start_at)
    if filters.end_at is not None:
        conditions.append(column < filters.end_at)
    if filters.as_of is not None:
        conditions.append(column <= filters.as_of)
    return conditions


def with_cases(statement: Select, case_id_column, filters: Filters, user: User | None,
                needed: bool = False) -> Select:
    """Join the cases table only when a filter or the scope needs it: national figures
    then read the history table alone."""
    conditions = case_conditions(filters, user)
    if not conditions:
        return statement.join(Case, Case.id == case_id_column) if needed else statement
    ids = _scope_ids(filters, user)
    if ids is not None:
        # A team's or a facilitator's cases, found first through the cases' own indexes:
        # their rows are read by case_id (materialised, so no planner prefers scanning
        # everyone's rows of the period by time), then the figure's conditions apply.
        table = case_id_column.table
        scoped = select(table).where(one_of(case_id_column, ids)).cte(f"scoped_{table.name}").prefix_with("MATERIALIZED")
        statement = ClauseAdapter(scoped).traverse(statement)
        return statement.join_from(scoped, Case, Case.id == scoped.c[case_id_column.key]) if needed else statement
    return statement.join(Case, Case.id == case_id_column).where(*conditions)


def _scope_ids(filters: Filters, user: User | None) -> list[int] | None:
    """The ids of the cases of a narrow scope (at most FEW_CASES), looked up once per
    transaction: every figure of a dashboard has the same scope."""
    conditions = case_conditions(filters, user)
    if not conditions:
        return None
    return per_transaction(("few cases", filters.with_(start=None, end=None, as_of=None),
                                   user.id if user else None), lambda: _few_case_ids(conditions))


def scoped_cases(filters: Filters, user: User | None) -> list:
    """Conditions restricting a query of the cases table to the scope."""
    ids = _scope_ids(filters, user)
    return [one_of(Case.id, ids)] if ids is not None else case_conditions(filters, user)


FEW_CASES = 5000


def _few_case_ids(conditions: list) -> list[int] | None:
    """The ids of the cases matching `conditions` when there are at most FEW_CASES."""
    ids = db.session.execute(select(Case.id).where(*conditions).limit(FEW_CASES + 1)).scalars().all()
    return None if len(ids) > FEW_CASES else list(ids)
