"""Monthly summary cells: what national and provincial figures read for months that are over.

A month is sealed once it has ended: its figures are computed from the same population
definitions as always (reports.figures) and kept here, per province and PPKS category. A
stay that ended, a case recorded or resolved in a past month never changes afterwards, so a
sealed month's cells stay true; figures for a period add the sealed months up and compute
only the rest of the period (the current month, partial months) from the raw tables.

The current month's first days can be sealed the same way, as one block that is replaced
every day (`caseflow reports seal`) and by the whole month once it is over.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime
from ..extensions import db


class ReportMonthCell(db.Model):
    """One number of one sealed month: distinct cases of a figure per key, province and
    category; or, for a duration histogram (national), the stays in one one-hour bin."""

    __tablename__ = "report_month_cells"
    __table_args__ = (
        # Covering: a figure's cells over a range of months are read from the index alone.
        Index("ix_report_month_cells_figure_month", "figure", "month", "province_code", "category_code",
              "key", "bin", "cases", "seconds"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 'YYYY-MM' (UTC) for a month; 'YYYY-MM-DD' for its first days, up to that day (excluded).
    month: Mapped[str] = mapped_column(String(10))
    figure: Mapped[str] = mapped_column(String(40))
    # The population's key (stage, closure reason, opened month…), '' for none, '*' for all keys.
    key: Mapped[str] = mapped_column(String(40), default="")
    province_code: Mapped[str] = mapped_column(String(2), default="")
    category_code: Mapped[str] = mapped_column(String(8), default="")
    bin: Mapped[int] = mapped_column(Integer, default=0)
    cases: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportSealedMonth(db.Model):
    """A month whose cells are in report_month_cells (one row per month, so two workers
    sealing the same month at once cannot both succeed)."""

    __tablename__ = "report_sealed_months"

    month: Mapped[str] = mapped_column(String(10), primary_key=True)  # as in the cells
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cells: Mapped[int] = mapped_column(Integer, default=0)


# --- labels of sealed blocks --------------------------------------------------------------
# 'YYYY-MM' is a whole month; 'YYYY-MM-DD' the month's first days, up to that day (excluded).

ALL_KEYS = "*"  # the key of a cell counting a figure's cases whatever their key


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


def cell_row(label: str, figure: str, key: Any = "", province: str = "", category: str = "",
             bin_: int = 0, cases: int = 0, seconds: int = 0) -> dict[str, Any]:
    """One row of report_month_cells, as inserted in bulk."""
    return {"month": label, "figure": figure, "key": "" if key is None else str(key),
            "province_code": province or "", "category_code": category or "", "bin": bin_,
            "cases": int(cases), "seconds": int(seconds or 0)}
