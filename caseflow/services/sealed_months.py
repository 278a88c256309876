"""Keeping sealed months: the figures of months that are over, written once into
`report_month_cells` per province and category, and a step logged late into one of them
added to its cell.

What a block's cells hold is computed by the read side (`caseflow.reports.sealing`), from
the figure definitions, and handed in here as a function: these writes never need to know
what a figure means, and the read side never opens a write transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, event, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import Case, ReportMonthCell, ReportSealedMonth
from ..models.rollup import block_of, cell_row, month_label, usable

C = ReportMonthCell

# Sealing a block and logging a step into the past exclude each other, or a step committed
# while the block's cells were being computed would be in neither. SQLite has one writer
# at a time already; PostgreSQL takes this advisory lock (steps share it, a sealing holds
# it alone), only for a step older than today, since no block covers today.
SEALING_LOCK = 0x63617365666C6F77 & 0x7FFFFFFFFFFFFFFF


# A tablet's outbox of steps done on earlier days takes the lock and reads the sealed months
# for each step: these statements are built once per process.
_SHARED_LOCK = select(func.pg_advisory_xact_lock_shared(SEALING_LOCK))
_EXCLUSIVE_LOCK = select(func.pg_advisory_xact_lock(SEALING_LOCK))
_SEALED_OF_MONTH = select(ReportSealedMonth.month).where(or_(
    ReportSealedMonth.month == bindparam("month"), ReportSealedMonth.month.like(bindparam("blocks_of_month"))))
_STEPS_CELL = select(C.id).where(
    C.month == bindparam("month"), C.figure == "steps", C.key == "", C.province_code == bindparam("province"),
    C.category_code == bindparam("category")).limit(1)
_ONE_STEP_MORE = update(C).where(C.id == bindparam("row_id")).values(cases=C.cases + 1)


def hold_sealing_lock(*, shared: bool) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_SHARED_LOCK if shared else _EXCLUSIVE_LOCK)


# session.info key: in this transaction the sealing lock is held (shared) and these months'
# sealed blocks (and cells) were read after it was taken: no sealing can commit before the
# transaction ends, so a tablet's outbox of steps done on earlier days takes the lock and
# reads a month's blocks and a cell once, not for every step. Forgotten when any transaction ends, a savepoint too
# (rolling one back releases the lock taken in it).
_SEEN = "caseflow.sealed_months_seen"


def _seen() -> tuple[dict[str, list[str]], dict[tuple[str, str, str], int]]:
    """What this transaction read of the sealed months (a month's blocks; the steps' cell of
    a block, province and category), the sealing lock held (shared) until it ends."""
    seen = db.session.info.get(_SEEN)
    if seen is None:
        hold_sealing_lock(shared=True)
        seen = db.session.info[_SEEN] = ({}, {})
    return seen


def _sealed_blocks(month: str) -> list[str]:
    """The usable sealed blocks of `month`."""
    blocks_of = _seen()[0]
    blocks = blocks_of.get(month)
    if blocks is None:
        blocks = blocks_of[month] = usable(db.session.execute(
            _SEALED_OF_MONTH, {"month": month, "blocks_of_month": f"{month}-%"}).scalars())
    return blocks


@event.listens_for(Session, "after_transaction_end")
def _forget_sealed_blocks(session, _transaction) -> None:
    session.info.pop(_SEEN, None)


def keep_block(label: str, cells: Callable[[], Iterable[dict[str, Any]]]) -> int:
    """Compute a block's cells (`cells()`, rows made by `cell_row`) and keep them,
    replacing the month-so-far blocks it covers, in one transaction; returns how many.
    Two workers keeping the same block: the second keeps nothing."""
    try:
        with write_transaction():
            hold_sealing_lock(shared=False)
            if db.session.get(ReportSealedMonth, label) is not None:
                return 0
            rows = list(cells())
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
            db.session.info.pop(_SEEN, None)  # the months' blocks read before are not all now
    except IntegrityError:
        db.session.rollback()
        return 0
    return len(rows)


def clear_sealed_months() -> None:
    """Forget every sealed month: figures are computed raw until they are sealed again."""
    with write_transaction():
        db.session.execute(delete(C))
        db.session.execute(delete(ReportSealedMonth))
        db.session.info.pop(_SEEN, None)


def count_late_step(case: Case, occurred_at: datetime) -> None:
    """Add a step just logged to its month's cell if that month is sealed (in the caller's
    transaction). One cell row is bumped, or a row of one step added where the month had
    none for the case's province and category: the cells are always read as sums."""
    moment = occurred_at.astimezone(UTC)
    if moment >= datetime.combine(utcnow().date(), datetime.min.time(), UTC):
        return  # today: no block covers it yet, and a sealing will read it
    label = block_of(moment, _sealed_blocks(month_label(moment)))
    if label is None:
        return
    # The cell is looked up once per transaction: a sealing cannot replace it while the
    # lock is held (another step may add a row for the same place: cells are read as sums).
    cells = _seen()[1]
    place = (label, case.province_code, case.ppks_category_code)
    row_id = cells.get(place)
    if row_id is None:
        row_id = db.session.execute(_STEPS_CELL, {
            "month": label, "province": case.province_code, "category": case.ppks_category_code}).scalar()
    if row_id is not None:
        db.session.execute(_ONE_STEP_MORE, {"row_id": row_id})
    else:
        row_id = db.session.execute(insert(C).values(**cell_row(
            label, "steps", "", case.province_code, case.ppks_category_code, cases=1)).returning(C.id)).scalar_one()
    cells[place] = row_id
