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

from datetime import datetime

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
