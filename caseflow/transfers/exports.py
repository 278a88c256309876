"""Tables as CSV and XLSX: the case lists and the figure tables of `reports.tables`.

Every text cell is neutralised against formula injection: a spreadsheet must never run
what a facilitator typed into a case ('=HYPERLINK(…)', '+cmd|…', '@SUM(…)').
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ..i18n import formatting as fmt
from ..i18n.formatting import Month, Rate
from ..reports.tables import Table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any, zone: str) -> Any:
    """A CSV cell: shares, months, dates and moments as the reader's language writes
    them (`55,6%`, `Jan 2026`, `21 Nov 2026`, `21 Nov 2026 09:00 WIT`)."""
    if isinstance(value, Rate | date):
        return fmt.cell_text(value, zone=zone)
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    return neutralise(str(value))


# Spreadsheet number formats (Excel codes, the same in every language's Excel).
PERCENT_FORMAT = "0.0%"
MONTH_FORMAT = "mmm yyyy"
DATE_FORMAT = "d mmm yyyy"
MOMENT_FORMAT = "d mmm yyyy hh:mm"


def _typed_cell(sheet, value: Any, zone: str) -> Any:
    """An XLSX cell of the value's own type: numbers and shares as numbers, dates and
    moments (in `zone`) as dates, text as text."""
    if isinstance(value, Rate):
        cell = WriteOnlyCell(sheet, value=float(value))
        cell.number_format = PERCENT_FORMAT
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value.astimezone(ZoneInfo(zone)).replace(tzinfo=None))
        cell.number_format = MOMENT_FORMAT
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=date(value.year, value.month, value.day))
        cell.number_format = MONTH_FORMAT if isinstance(value, Month) else DATE_FORMAT
        return cell
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    return _xlsx_value(sheet, neutralise(str(value)))


def to_csv(table: Table, zone: str = "Asia/Jakarta") -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens Indonesian text correctly."""
    buffer = io.BytesIO()
    write_csv(table, buffer, zone)
    return buffer.getvalue()


def write_csv(table: Table, out: BinaryIO, zone: str = "Asia/Jakarta") -> None:
    """`to_csv` written to a file row by row: the table's rows may be a generator."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    text.write("\ufeff")
    writer = csv.writer(text)
    writer.writerow([neutralise(str(h)) for h in table.headers])
    for row in table.rows:
        writer.writerow([_cell(v, zone) for v in row])
    text.flush()
    text.detach()  # the caller's file stays open


def to_xlsx(tables: Sequence[Table], zone: str = "Asia/Jakarta", about: Table | None = None) -> bytes:
    """One sheet per table (write-only mode: memory stays flat on long lists), after an
    `about` sheet saying what the file holds, for whom, with which filters and when."""
    buffer = io.BytesIO()
    write_xlsx(tables, buffer, zone, about)
    return buffer.getvalue()


def write_xlsx(tables: Sequence[Table], out: BinaryIO, zone: str = "Asia/Jakarta",
               about: Table | None = None) -> None:
    """`to_xlsx` written to a file: the tables' rows may be generators."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    if about is not None:
        tables = [about, *tables]
    for table in tables:
        title = _sheet_title(str(table.title), used)
        sheet = workbook.create_sheet(title)
        header = []
        for text in table.headers:
            cell = WriteOnlyCell(sheet, value=neutralise(str(text)))
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append([_typed_cell(sheet, v, zone) for v in row])
    if not tables:
        workbook.create_sheet("-")
    workbook.save(out)


def _xlsx_value(sheet, value: Any) -> Any:
    if isinstance(value, str):
        # Stored as a string cell whatever it looks like: openpyxl would otherwise take
        # a leading '=' as a formula.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


SHEET_TITLE_LIMIT = 31  # Excel's own limit


def _shorten(title: str, limit: int) -> str:
    """At most `limit` characters, cut between words, never inside one."""
    if len(title) <= limit:
        return title
    cut = title.rfind(" ", 0, limit + 1)
    return (title[:cut] if cut > 0 else title[:limit]).rstrip(" ,;-–·")


def _sheet_title(title: str, used: set[str]) -> str:
    clean = " ".join("".join(ch for ch in title if ch not in "[]:*?/\\").split()) or "Sheet"
    candidate, number = _shorten(clean, SHEET_TITLE_LIMIT), 2
    while candidate.lower() in used:
        suffix = f" {number}"
        candidate, number = _shorten(clean, SHEET_TITLE_LIMIT - len(suffix)) + suffix, number + 1
    used.add(candidate.lower())
    return candidate

