"""Tables per calendar month: steps logged per open case, and cases recorded, resolved
and closed unresolved with the resolution rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, or_, select

from ...extensions import db
from ...models import Case, CaseStageHistory, Step, User
from .counts import tally, total
from .populations import recorded, terminated
from .rates import share
from .scope import Filters, case_conditions, with_cases
from .sealed import sealed_cells
from .sql import month_of
from .stages import final_stages, outcome_stages


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
    """The months of a monthly table that sealed cells answer, and the months left to
    compute raw."""
    sealed = sealed_cells().months({label for label, _b, _e in spans}, filters, user)
    return sealed, [span for span in spans if span[0] not in sealed]


def _sealed_totals(figure: str, sealed, filters: Filters, user: User | None) -> dict[str, int]:
    """{month: count} of `figure` in the sealed months."""
    return {m: n for (m, _k), n in sealed_cells().month_counts(figure, sealed, filters, user).items()}


def steps_per_case_per_month(filters: Filters, user: User | None = None) -> list[dict[str, Any]]:
    """Per month: steps logged, cases open at some time that month, and steps per open case
    (a case closed all month and reopened later was not open that month)."""
    spans = months(filters)
    if not spans:
        return []
    sealed, raw = _split_months(spans, filters, user)
    step_rows = _sealed_totals("steps", sealed, filters, user)
    active = _sealed_totals("open_cases", sealed, filters, user)
    if len(raw) == 1:  # this month: counted from the time index alone, no month computed per step
        label, begin, end = raw[0]
        step_rows[label] = db.session.execute(with_cases(
            select(func.count()).select_from(Step).where(Step.occurred_at >= begin, Step.occurred_at < end),
            Step.case_id, filters, user)).scalar_one()
    elif raw:
        first, last = raw[0][1], raw[-1][2]
        step_rows.update(db.session.execute(with_cases(
            select(month_of(Step.occurred_at), func.count())  # count(*): from the time index alone
            .where(Step.occurred_at >= first, Step.occurred_at < last)
            .group_by(month_of(Step.occurred_at)), Step.case_id, filters, user)
        ).all())
    if raw:
        first, last = raw[0][1], raw[-1][2]
        scope = case_conditions(filters, user)
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
    sealed, raw = _split_months(spans, filters, user)
    recorded_rows = _sealed_totals("recorded", sealed, filters, user)
    ended_rows = [(m, k, n) for (m, k), n in
                  sealed_cells().month_counts("terminated", sealed, filters, user, per_key=True).items()]
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
                       "closed_unresolved": closed, "rate": share(resolved_count, resolved_count + closed)})
    return result
