"""Which blocks are sealed, and sealing them: each block's cells are computed here from
the figure definitions and kept through `services.sealed_months` (one transaction each)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import distinct, func, select

from ...database import utcnow
from ...extensions import db
from ...models import Case, CaseStageHistory, ReportSealedMonth, Step
from ...models.rollup import ALL_KEYS, cell_row, is_month_so_far, month_bounds, month_label
from ...services.sealed_months import clear_sealed_months, keep_block
from .. import figures as fg
from ..figures.memo import per_transaction
from .cells import COUNTED

H = CaseStageHistory
LAZY_MONTHS = 2


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
    return keep_block(label, lambda: _month_cells(label, first, following))


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
    return keep_block(label, lambda: _month_cells(label, first, following))


def seal(progress=lambda _label, _cells: None, rebuild: bool = False) -> dict[str, int]:
    """Seal every complete month not sealed yet (all of them again with rebuild), then
    this month's days before today."""
    if rebuild:
        clear_sealed_months()
    result = {}
    for label in months_to_seal():
        result[label] = seal_month(label)
        progress(label, result[label])
    so_far = seal_month_so_far()
    if so_far:
        result[utcnow().date().isoformat()] = so_far
        progress(utcnow().date().isoformat(), so_far)
    return result


def _month_cells(label: str, first: datetime, following: datetime):
    """The cells of the block `label` ([first, following)), computed from the figures."""
    month = fg.Filters(start=first.date(), end=(following - timedelta(days=1)).date())
    for name in COUNTED:
        population = fg.POPULATIONS[name](month, None).subquery()
        joined = select(population.c.key, Case.province_code, Case.ppks_category_code,
                        func.count(distinct(population.c.case_id))).join(Case, Case.id == population.c.case_id)
        for key, province, category, count in db.session.execute(
                joined.group_by(population.c.key, Case.province_code, Case.ppks_category_code)).all():
            yield cell_row(label, name, key, province, category, cases=count)
        everyone = select(Case.province_code, Case.ppks_category_code, func.count(distinct(population.c.case_id))
                          ).join(Case, Case.id == population.c.case_id)
        for province, category, count in db.session.execute(
                everyone.group_by(Case.province_code, Case.ppks_category_code)).all():
            yield cell_row(label, name, ALL_KEYS, province, category, cases=count)
    for days in fg.WITHIN_DAYS:
        # Keyed by the month the case was recorded in: the cohort a period asks about.
        opened_month = fg.month_of(Case.opened_at)
        statement = (select(opened_month, Case.province_code, Case.ppks_category_code, func.count(distinct(H.case_id)))
                     .join(Case, Case.id == H.case_id)
                     .where(*fg.resolution_within(days), H.entered_at >= first, H.entered_at < following)
                     .group_by(opened_month, Case.province_code, Case.ppks_category_code))
        for opened, province, category, count in db.session.execute(statement).all():
            yield cell_row(label, f"resolved_within_{days}", opened, province, category, cases=count)
    for figure, values in (("stay_seconds", fg.stay_values(month, None)),
                           ("resolution_seconds", fg.resolution_values(month, None)),
                           ("sign_off_seconds", fg.sign_off_values(month, None))):
        for key, bins in fg.histogram(values).items():
            for index, (count, seconds) in bins.items():
                yield cell_row(label, figure, key, bin_=index, cases=count, seconds=seconds)
    steps = (select(Case.province_code, Case.ppks_category_code, func.count(Step.id))
             .join(Case, Case.id == Step.case_id).where(Step.occurred_at >= first, Step.occurred_at < following)
             .group_by(Case.province_code, Case.ppks_category_code))
    for province, category, count in db.session.execute(steps).all():
        yield cell_row(label, "steps", "", province, category, cases=count)
    open_cases = (select(Case.province_code, Case.ppks_category_code, func.count(Case.id))
                  .where(*fg.open_during(first, following))
                  .group_by(Case.province_code, Case.ppks_category_code))
    for province, category, count in db.session.execute(open_cases).all():
        yield cell_row(label, "open_cases", "", province, category, cases=count)
