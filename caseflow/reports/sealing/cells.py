"""Reading the cells of sealed blocks, and the corrections that make adding the parts of
a period up exact: the cases that can count in two parts (reopened in between) are found
raw and their duplicates taken off."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, Select, func, literal, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from ...extensions import db
from ...models import Case, CaseStageHistory, ReportMonthCell
from ...models.rollup import ALL_KEYS
from ..figures.memo import per_transaction
from ..figures.scope import in_period

H = CaseStageHistory
C = ReportMonthCell
# Populations counted per month: a case's membership is decided by one instant in the period.
COUNTED = ("recorded", "resolved", "closed_unresolved", "terminated", "reopened")
# Membership can repeat in two months only through a reopening in between.
REPEATABLE = ("resolved", "closed_unresolved", "terminated", "reopened")


BY_COLUMNS = {"province": C.province_code, "category": C.category_code}


def cell_counts(figure: str, months: Iterable[str], conditions: list, by: str | None = None,
                all_keys: bool = False) -> dict[Any, int]:
    """Cases per key (or per province / category, or in all with all_keys) over `months`:
    sums of one reading of the figure's cells by key, province and category."""
    months = list(months)
    if not months:
        return {}
    counts: dict[Any, int] = defaultdict(int)
    for key, province, category, count in _cells_by_place(figure, months, conditions):
        if (key == ALL_KEYS) != (all_keys or by is not None):
            continue
        group = None if all_keys else {"province": province, "category": category}.get(by, key or None)
        counts[group] += count
    return dict(counts) if not all_keys else {None: counts.get(None, 0)}


def _cells_by_place(figure: str, months: list[str], conditions: list) -> list:
    """(key, province, category, cases) of a figure over `months`, once per transaction."""
    def read() -> list:
        statement = (select(C.key, C.province_code, C.category_code, func.sum(C.cases))
                     .where(C.figure == figure, C.month.in_(months), *conditions)
                     .group_by(C.key, C.province_code, C.category_code))
        return [(key, province, category, int(count)) for key, province, category, count
                in db.session.execute(statement).all()]

    scope = tuple(str(c.compile(compile_kwargs={"literal_binds": True})) for c in conditions)
    return per_transaction(("cells by place", figure, tuple(months), scope), read)


def cell_counts_by_month(figure: str, months: Iterable[str], conditions: list,
                         per_key: bool = False) -> dict[tuple[str, Any], int]:
    """(month, key) → cases; key None unless per_key."""
    months = list(months)
    if not months:
        return {}
    if per_key:
        statement = select(C.month, C.key, func.sum(C.cases)).where(C.key != ALL_KEYS).group_by(C.month, C.key)
        rows = db.session.execute(statement.where(C.figure == figure, C.month.in_(months), *conditions)).all()
        return {(month, key or None): int(n) for month, key, n in rows}
    key_condition = C.key == ALL_KEYS if figure in COUNTED else true()
    statement = select(C.month, func.sum(C.cases)).where(key_condition).group_by(C.month)
    rows = db.session.execute(statement.where(C.figure == figure, C.month.in_(months), *conditions)).all()
    return {(month, None): int(n) for month, n in rows}


def cell_histogram(figure: str, months: Iterable[str]) -> dict[Any, dict[int, list[int]]]:
    """key → {bin: [stays, seconds]} over `months` (national cells)."""
    months = list(months)
    if not months:
        return {}
    rows = db.session.execute(
        select(C.key, C.bin, func.sum(C.cases), func.sum(C.seconds))
        .where(C.figure == figure, C.month.in_(months)).group_by(C.key, C.bin)
    ).all()
    result: dict[Any, dict[int, list[int]]] = defaultdict(dict)
    for key, index, count, seconds in rows:
        result[key][int(index)] = [int(count), int(seconds)]
    return result


def twice_in(filters) -> Any:
    """The cases that can count in two parts of the period: a case is in a counted figure
    once per month it entered it, and enters a final stage (or a reopening) a second time
    only after a reopening, by a stay marked as a repeat entry when it was written. Found
    once per dashboard from the index of those stays (few: most cases end once)."""
    def statement() -> Select:
        # Without DISTINCT (the ids are made unique here): SQLite would otherwise walk a
        # case-ordered index of every stay instead of the small range of repeat entries.
        return select(H.case_id).where(H.repeat_entry == true(), *in_period(H.entered_at, filters))

    # Given to each figure's correction as their ids, which the database looks up case by
    # case: PostgreSQL as one array, SQLite as a list (or, if there were ever very many,
    # as the query itself).
    ids = per_transaction(("twice ids", filters.start, filters.end, filters.as_of),
                          lambda: sorted(set(db.session.execute(statement()).scalars())))
    if db.session.get_bind().dialect.name == "postgresql":
        return literal(ids, ARRAY(Integer))
    return ids if len(ids) <= SQLITE_ID_LIST else select(statement().subquery().c.case_id)


SQLITE_ID_LIST = 10_000


def among(case_id_column, reopened) -> Any:
    if isinstance(reopened, Select | list):
        return case_id_column.in_(reopened)
    return case_id_column == func.any(reopened)


def places_of(filters) -> dict[int, tuple[str, str]]:
    """Province and category of each case that can count twice in the period."""
    def read() -> dict[int, tuple[str, str]]:
        statement = select(Case.id, Case.province_code, Case.ppks_category_code).where(
            among(Case.id, twice_in(filters)))
        return {row.id: (row.province_code, row.ppks_category_code) for row in db.session.execute(statement)}

    return per_transaction(("twice places", filters.start, filters.end, filters.as_of), read)


def repeated(rows: list, case_id=lambda row: row.case_id) -> list:
    """The rows of cases that appear more than once: only they can be counted twice."""
    seen = Counter(case_id(row) for row in rows)
    return [row for row in rows if seen[case_id(row)] > 1]


def duplicates(rows: Iterable[tuple[int, Any, Any]]) -> dict[Any, int]:
    """From (case_id, group, part) rows: per group, how many more (case, part) pairs there
    are than cases — what adding up the parts counts twice."""
    pairs: dict[Any, set] = defaultdict(set)
    cases: dict[Any, set] = defaultdict(set)
    for case_id, group, part in rows:
        pairs[group].add((case_id, part))
        cases[group].add(case_id)
    return {group: len(pairs[group]) - len(cases[group]) for group in pairs if len(pairs[group]) > len(cases[group])}


def combine(*parts: dict[Any, int], minus: dict[Any, int] | None = None) -> dict[Any, int]:
    result: dict[Any, int] = defaultdict(int)
    for part in parts:
        for key, value in part.items():
            result[key] += value
    for key, value in (minus or {}).items():
        result[key] -= value
    return {key: value for key, value in result.items() if value}
