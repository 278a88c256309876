"""Sealed months: the figures of months that are over, kept per province and category.

A programme-wide figure over a year reads hundreds of thousands of stays; the months before
this one cannot change any more (a stay that ended, a case recorded or resolved in a past
month stays so), so each is computed once — from the population definitions in
`figures.py`, nothing else — and kept in `report_month_cells`. A figure for a period then
adds up the sealed months inside it and computes only the rest (this month, a partial first
or last month) from the raw tables.

Exactness:
- Counts are distinct cases per month, province and category. A case counts once per
  figure per month; it can appear in two months of one figure only if it was reopened in
  between, so the cases with a stay marked as a repeat entry in the period (`twice_in`)
  are read raw and the duplicates taken off.
- Durations are one-hour histograms (count and sum of seconds per bin), the same histograms
  the raw path builds, so both paths give the same percentiles. They are kept nationally
  only: a province's or a category's durations are computed raw (a small part of the data).

Steps are the one thing written into the past (logged late, or synced from a tablet that
was offline): a step whose time falls in a sealed month is added to that month's cell in
the transaction that logs it (`count_late_step`).

The current month's first days are sealed too, as one block labelled by the day it stops
before ('2026-11-30': 1–29 November), recomputed daily by `caseflow reports seal` and
replaced by the whole month once it is over: at the worst moment of a month (its last
day) a period's raw rest is then a day, not a month. A block's figures stay true however
old it is (like a month's); an older block only leaves more of the month to read raw.

Only programme-wide, provincial and category scopes use the cells; anything narrower (a
team, a facilitator, "as of" a past moment) is computed raw as before.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from flask import current_app
from sqlalchemy import (
    Integer,
    Select,
    and_,
    delete,
    distinct,
    event,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...database import utcnow, write_transaction
from ...extensions import db
from ...models import (
    Case,
    CaseStageHistory,
    ReportMonthCell,
    ReportSealedMonth,
    Role,
    Step,
    User,
)

H = CaseStageHistory
C = ReportMonthCell
ALL_KEYS = "*"
# Populations counted per month: a case's membership is decided by one instant in the period.
COUNTED = ("recorded", "resolved", "closed_unresolved", "terminated", "reopened")
# Membership can repeat in two months only through a reopening in between.
REPEATABLE = ("resolved", "closed_unresolved", "terminated", "reopened")
VALUE_FIGURES = ("stay_seconds", "resolution_seconds", "sign_off_seconds")
LAZY_MONTHS = 2


# --- months ------------------------------------------------------------------------------


def month_label(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_bounds(label: str) -> tuple[datetime, datetime]:
    year, month = int(label[:4]), int(label[5:7])
    first = datetime(year, month, 1, tzinfo=UTC)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return first, following


def is_month_so_far(label: str) -> bool:
    return len(label) == 10


def bounds(label: str) -> tuple[datetime, datetime]:
    """[first, following) of a sealed block: a month, or a month's first days."""
    first, following = month_bounds(label[:7])
    if is_month_so_far(label):
        following = datetime.combine(date.fromisoformat(label), datetime.min.time(), UTC)
    return first, following


def _months_between(first: datetime, last_exclusive: datetime) -> list[str]:
    labels = []
    cursor = datetime(first.year, first.month, 1, tzinfo=UTC)
    while cursor < last_exclusive:
        labels.append(month_label(cursor))
        cursor = month_bounds(month_label(cursor))[1]
    return labels


def current_month_start(now: datetime | None = None) -> datetime:
    now = now or utcnow()
    return datetime(now.year, now.month, 1, tzinfo=UTC)


# --- planning a period -----------------------------------------------------------------------


@dataclass
class Plan:
    """A period split into sealed blocks (read from the cells) and raw spans."""

    months: list[str]  # the sealed blocks' labels: months, and perhaps a month so far
    # Inclusive calendar days (None: open-ended), the parts of the period not sealed.
    spans: list[tuple[date | None, date | None]]
    conditions: list = field(default_factory=list)  # on the cells' province / category

    @cached_property
    def month_set(self) -> set[str]:
        return set(self.months)

    def part_of(self, moment: datetime) -> Any:
        """Which part of the period an instant falls in: its block, or a raw span's index."""
        label = block_of(moment, self.months, self.month_set)
        if label is not None:
            return label
        day = moment.date()
        for index, (start, end) in enumerate(self.spans):
            if (start is None or day >= start) and (end is None or day <= end):
                return index
        return None


def block_of(moment: datetime, labels: Iterable[str], label_set: set[str] | None = None) -> str | None:
    """The block among `labels` that holds `moment`, if any."""
    label_set = set(labels) if label_set is None else label_set
    month = month_label(moment)
    if month in label_set:
        return month
    for label in label_set:
        if is_month_so_far(label) and label.startswith(month):
            first, following = bounds(label)
            if first <= moment < following:
                return label
    return None


def usable(blocks: Iterable[str]) -> list[str]:
    """One block per month: the whole month, else its latest days. (Blocks replace each
    other as they are kept, but two runs of different days could each have kept one.)"""
    blocks = sorted(blocks)
    whole = {label for label in blocks if not is_month_so_far(label)}
    latest = {label[:7]: label for label in blocks if is_month_so_far(label)}
    return [label for label in blocks if label in whole or (label[:7] not in whole and latest[label[:7]] == label)]


def enabled() -> bool:
    return bool(current_app.config.get("CASEFLOW_REPORT_ROLLUPS", True))


def _cell_conditions(filters, user: User | None) -> list | None:
    """Conditions on the cells for this scope, or None when the scope is narrower than a
    province or category (the cells cannot answer it)."""
    if filters.as_of is not None or filters.facilitator_id or filters.supervisor_id:
        return None
    conditions = []
    if user is not None:
        if user.role == Role.AUDITOR:
            if user.auditor_scope_province_code:
                conditions.append(C.province_code == user.auditor_scope_province_code)
        elif user.role != Role.PROGRAMME_MANAGER:
            return None
    if filters.province:
        conditions.append(C.province_code == filters.province)
    if filters.category:
        conditions.append(C.category_code == filters.category)
    return conditions


def plan(filters, user: User | None, *, national_only: bool = False, whole_months: bool = False) -> Plan | None:
    """How to compute a figure for `filters` seen by `user` from sealed blocks (whole months
    only with whole_months), or None when it must be computed raw."""
    if not enabled():
        return None
    conditions = _cell_conditions(filters, user)
    if conditions is None or (national_only and conditions):
        return None
    sealed = usable(ensure_sealed())
    start_at, end_at = filters.start_at, filters.end_at
    inside = []
    for label in sealed:
        if whole_months and is_month_so_far(label):
            continue
        first, following = bounds(label)
        if first < following and (start_at is None or first >= start_at) and (end_at is None or following <= end_at):
            inside.append(label)
    if not inside:
        return None
    inside.sort(key=bounds)
    spans: list[tuple[date | None, date | None]] = []
    cursor: date | None = filters.start
    for label in inside:
        first, following = bounds(label)
        if cursor is None or cursor < first.date():
            spans.append((cursor, first.date() - timedelta(days=1)))
        cursor = following.date()
    if filters.end is None or cursor <= filters.end:
        spans.append((cursor, filters.end))
    return Plan(months=inside, spans=spans, conditions=conditions)


def span_filters(filters, span: tuple[date | None, date | None]):
    return filters.with_(start=span[0], end=span[1])


# --- reading the cells ---------------------------------------------------------------------


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
    from ..figures import _in_period

    def statement() -> Select:
        # Without DISTINCT (the ids are made unique here): SQLite would otherwise walk a
        # case-ordered index of every stay instead of the small range of repeat entries.
        return select(H.case_id).where(H.repeat_entry == true(), *_in_period(H.entered_at, filters))

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


def per_transaction(key: Any, compute):
    """`compute()` once per transaction: a dashboard asks the same correction for a
    figure's total and each of its breakdowns. Forgotten at commit and rollback."""
    memo = db.session.info.setdefault(MEMO, {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


MEMO = "caseflow.rollup.memo"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session, *_args) -> None:
    session.info.pop(MEMO, None)


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


# --- sealing ----------------------------------------------------------------------------------


def sealed_blocks() -> list[str]:
    """Labels of every sealed block: whole months and months so far."""
    return list(db.session.execute(select(ReportSealedMonth.month).order_by(ReportSealedMonth.month)).scalars())


def sealed_months() -> list[str]:
    """The whole months sealed."""
    return [label for label in sealed_blocks() if not is_month_so_far(label)]


def months_to_seal(now: datetime | None = None) -> list[str]:
    """Months from the first recorded case to the last complete month, not sealed yet."""
    earliest = db.session.execute(select(func.min(Case.opened_at))).scalar()
    if earliest is None:
        return []
    if earliest.tzinfo is None:
        earliest = earliest.replace(tzinfo=UTC)
    done = set(sealed_months())
    return [m for m in _months_between(earliest, current_month_start(now)) if m not in done]


def ensure_sealed() -> list[str]:
    """The sealed blocks, after sealing the last month or two if a new month has begun
    since (a larger backlog, and the month so far, are left to `caseflow reports seal`,
    never a page view). Asked once per transaction: every figure of a dashboard plans
    with it."""
    def compute() -> list[str]:
        missing = months_to_seal()
        if missing and len(missing) <= LAZY_MONTHS:
            for label in missing:
                seal_month(label)
        return sealed_blocks()

    return per_transaction("sealed months", compute)


def seal_month(label: str) -> int:
    """Compute and keep one past month's cells; returns how many. Two workers sealing the
    same month: the second finds it sealed and keeps the first one's cells."""
    first, following = month_bounds(label)
    if following > current_month_start():
        raise ValueError(f"{label} is not over yet")
    return _keep(label, first, following)


def seal_month_so_far(now: datetime | None = None) -> int:
    """Seal the current month's days before today as one block, in place of the previous
    one; returns its cells (0 on the 1st, or when today's block exists already)."""
    now = now or utcnow()
    first, following = current_month_start(now), datetime.combine(now.date(), datetime.min.time(), UTC)
    if following <= first:
        return 0
    label = following.date().isoformat()
    if db.session.get(ReportSealedMonth, label) is not None:
        return 0
    return _keep(label, first, following)


# Sealing a block and logging a step into the past exclude each other, or a step committed
# while the block's cells were being computed would be in neither. SQLite has one writer
# at a time already; PostgreSQL takes this advisory lock (steps share it, a sealing holds
# it alone), only for a step older than today, since no block covers today.
SEALING_LOCK = 0x63617365666C6F77 & 0x7FFFFFFFFFFFFFFF


def _hold_sealing_lock(*, shared: bool) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        db.session.execute(select(lock(SEALING_LOCK)))


def _keep(label: str, first: datetime, following: datetime) -> int:
    """Compute a block's cells and keep them, replacing the month-so-far blocks it
    covers, in one transaction. Two workers keeping the same block: the second keeps
    nothing."""
    from .. import figures as fg

    try:
        with write_transaction():
            _hold_sealing_lock(shared=False)
            if db.session.get(ReportSealedMonth, label) is not None:
                return 0
            rows = list(_month_cells(fg, label, first, following))
            covered = [other for other in db.session.execute(
                select(ReportSealedMonth.month).where(ReportSealedMonth.month.like(f"{label[:7]}-%"))).scalars()
                if other != label]
            if covered:
                db.session.execute(delete(C).where(C.month.in_(covered)))
                db.session.execute(delete(ReportSealedMonth).where(ReportSealedMonth.month.in_(covered)))
            db.session.add(ReportSealedMonth(month=label, sealed_at=utcnow(), cells=len(rows)))
            db.session.flush()
            for start in range(0, len(rows), 5000):
                db.session.execute(insert(C), rows[start:start + 5000])
    except IntegrityError:
        db.session.rollback()
        return 0
    return len(rows)


def clear() -> None:
    """Forget every sealed month: figures are computed raw until they are sealed again."""
    with write_transaction():
        db.session.execute(delete(C))
        db.session.execute(delete(ReportSealedMonth))


def seal(progress=lambda _label, _cells: None, rebuild: bool = False) -> dict[str, int]:
    """Seal every complete month not sealed yet (all of them again with rebuild), then
    this month's days before today."""
    if rebuild:
        clear()
    result = {}
    for label in months_to_seal():
        result[label] = seal_month(label)
        progress(label, result[label])
    so_far = seal_month_so_far()
    if so_far:
        result[utcnow().date().isoformat()] = so_far
        progress(utcnow().date().isoformat(), so_far)
    return result


def _cell(label: str, figure: str, key: Any = "", province: str = "", category: str = "",
          bin_: int = 0, cases: int = 0, seconds: int = 0) -> dict[str, Any]:
    return {"month": label, "figure": figure, "key": "" if key is None else str(key),
            "province_code": province or "", "category_code": category or "", "bin": bin_,
            "cases": int(cases), "seconds": int(seconds or 0)}


def _month_cells(fg, label: str, first: datetime, following: datetime):
    month = fg.Filters(start=first.date(), end=(following - timedelta(days=1)).date())
    for name in COUNTED:
        population = fg.POPULATIONS[name](month, None).subquery()
        joined = select(population.c.key, Case.province_code, Case.ppks_category_code,
                        func.count(distinct(population.c.case_id))).join(Case, Case.id == population.c.case_id)
        for key, province, category, count in db.session.execute(
                joined.group_by(population.c.key, Case.province_code, Case.ppks_category_code)).all():
            yield _cell(label, name, key, province, category, cases=count)
        everyone = select(Case.province_code, Case.ppks_category_code, func.count(distinct(population.c.case_id))
                          ).join(Case, Case.id == population.c.case_id)
        for province, category, count in db.session.execute(
                everyone.group_by(Case.province_code, Case.ppks_category_code)).all():
            yield _cell(label, name, ALL_KEYS, province, category, cases=count)
    for days in fg.WITHIN_DAYS:
        # Keyed by the month the case was recorded in: the cohort a period asks about.
        opened_month = fg.month_of(Case.opened_at)
        statement = (select(opened_month, Case.province_code, Case.ppks_category_code, func.count(distinct(H.case_id)))
                     .join(Case, Case.id == H.case_id)
                     .where(*fg.resolution_within(days), H.entered_at >= first, H.entered_at < following)
                     .group_by(opened_month, Case.province_code, Case.ppks_category_code))
        for opened, province, category, count in db.session.execute(statement).all():
            yield _cell(label, f"resolved_within_{days}", opened, province, category, cases=count)
    for figure, values in (("stay_seconds", fg.stay_values(month, None)),
                           ("resolution_seconds", fg.resolution_values(month, None)),
                           ("sign_off_seconds", fg.sign_off_values(month, None))):
        for key, bins in fg.histogram(values).items():
            for index, (count, seconds) in bins.items():
                yield _cell(label, figure, key, bin_=index, cases=count, seconds=seconds)
    steps = (select(Case.province_code, Case.ppks_category_code, func.count(Step.id))
             .join(Case, Case.id == Step.case_id).where(Step.occurred_at >= first, Step.occurred_at < following)
             .group_by(Case.province_code, Case.ppks_category_code))
    for province, category, count in db.session.execute(steps).all():
        yield _cell(label, "steps", "", province, category, cases=count)
    open_cases = (select(Case.province_code, Case.ppks_category_code, func.count(Case.id))
                  .where(*fg.open_during(first, following))
                  .group_by(Case.province_code, Case.ppks_category_code))
    for province, category, count in db.session.execute(open_cases).all():
        yield _cell(label, "open_cases", "", province, category, cases=count)


def count_late_step(case: Case, occurred_at: datetime) -> None:
    """Add a step just logged to its month's cell if that month is sealed (in the caller's
    transaction). One cell row is bumped, or a row of one step added where the month had
    none for the case's province and category: the cells are always read as sums."""
    moment = occurred_at.astimezone(UTC)
    if moment >= datetime.combine(utcnow().date(), datetime.min.time(), UTC):
        return  # today: no block covers it yet, and a sealing will read it
    _hold_sealing_lock(shared=True)
    month = month_label(moment)
    label = block_of(moment, usable(db.session.execute(select(ReportSealedMonth.month).where(or_(
        ReportSealedMonth.month == month, ReportSealedMonth.month.like(f"{month}-%")))).scalars()))
    if label is None:
        return
    place = (C.month == label, C.figure == "steps", C.key == "", C.province_code == case.province_code,
             C.category_code == case.ppks_category_code)
    row_id = db.session.execute(select(C.id).where(*place).limit(1)).scalar()
    if row_id is not None:
        db.session.execute(update(C).where(C.id == row_id).values(cases=C.cases + 1))
    else:
        db.session.execute(insert(C).values(**_cell(label, "steps", "", case.province_code,
                                                   case.ppks_category_code, cases=1)))


# --- resolved within N days: cohorts by recorded month, resolutions by sealed month -------------


def within_total(days: int, filters, user: User | None, the_plan: Plan) -> int:
    """Cases recorded in the period and resolved within `days` days (by the moment): cells
    for cohort months inside the period resolved in sealed months up to the moment, the
    rest raw, and cases resolved twice (reopened) counted once."""
    from .. import figures as fg

    moment = filters.moment
    cohort = list(the_plan.months)  # whole months (keys of the cells are recorded months)
    resolved_in = [m for m in usable(ensure_sealed()) if bounds(m)[1] <= moment]
    counted = 0
    if cohort and resolved_in:
        counted = int(db.session.execute(
            select(func.coalesce(func.sum(C.cases), 0)).where(
                C.figure == f"resolved_within_{days}", C.key.in_(cohort), C.month.in_(resolved_in),
                *the_plan.conditions)
        ).scalar() or 0)
    # The rest, read by index ranges: cases recorded in the raw spans of the period, and
    # cases of the sealed cohort months resolved outside the sealed months.
    for start, end in the_plan.spans:
        rows = fg.resolved_within_rows(days, filters.with_(start=start, end=end), user, moment=moment)
        counted += db.session.execute(select(func.count(distinct(rows.subquery().c.case_id)))).scalar_one()
    cohort_ranges = _ranges(cohort)
    late = _complement(_ranges(resolved_in), cohort_ranges[0][0], moment) if cohort_ranges else []
    if late:
        rows = fg.resolved_within_rows(days, filters, user, moment=moment, extra=(
            _within_ranges(Case.opened_at, cohort_ranges), _within_ranges(H.entered_at, late)))
        counted += db.session.execute(select(func.count(distinct(rows.subquery().c.case_id)))).scalar_one()
    # A reopened case resolved again within the days is in two parts: count it once.
    reopened = twice_in(filters.with_(end=None))  # resolved twice after being recorded in the period
    rows = db.session.execute(fg.resolved_within_rows(days, filters, user, moment=moment, extra=(
        among(H.case_id, reopened), among(Case.id, reopened)))).all()
    resolved_set, cohort_set = set(resolved_in), set(cohort)

    def part(opened: datetime, at: datetime) -> Any:
        opened, at = _aware(opened), _aware(at)
        if month_label(opened) in cohort_set:
            return block_of(at, resolved_set, resolved_set) or "late"
        return the_plan.part_of(opened)

    extra = duplicates((row.case_id, None, part(row.opened, row.at)) for row in repeated(rows))
    return counted - extra.get(None, 0)


def _complement(ranges: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end] outside `ranges` (sorted, disjoint)."""
    result, cursor = [], start
    for first, following in ranges:
        if first > cursor:
            result.append((cursor, min(first, end)))
        cursor = max(cursor, following)
    if cursor <= end:
        result.append((cursor, end + timedelta(microseconds=1)))
    return [(a, b) for a, b in result if a < b]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ranges(labels: list[str]) -> list[tuple[datetime, datetime]]:
    """Contiguous runs of blocks as [first, following) instants."""
    ranges: list[tuple[datetime, datetime]] = []
    for label in sorted(labels, key=bounds):
        first, following = bounds(label)
        if ranges and ranges[-1][1] == first:
            ranges[-1] = (ranges[-1][0], following)
        else:
            ranges.append((first, following))
    return ranges


def _within_ranges(column, ranges: list[tuple[datetime, datetime]]):
    if not ranges:
        return false()
    return or_(*[and_(column >= first, column < following) for first, following in ranges])
