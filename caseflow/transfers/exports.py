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

from ..models.reference import TIMEZONE_ABBREVIATIONS
from ..reports.tables import Table

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any, zone: str) -> Any:
    if isinstance(value, datetime):
        local = value.astimezone(ZoneInfo(zone))
        return local.strftime("%Y-%m-%d %H:%M ") + TIMEZONE_ABBREVIATIONS.get(zone, zone)
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    return neutralise(str(value))


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


def to_xlsx(tables: Sequence[Table], zone: str = "Asia/Jakarta") -> bytes:
    """One sheet per table (write-only mode: memory stays flat on long lists)."""
    buffer = io.BytesIO()
    write_xlsx(tables, buffer, zone)
    return buffer.getvalue()


def write_xlsx(tables: Sequence[Table], out: BinaryIO, zone: str = "Asia/Jakarta") -> None:
    """`to_xlsx` written to a file: the tables' rows may be generators."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
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
            sheet.append([_xlsx_value(sheet, _cell(v, zone)) for v in row])
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


def _sheet_title(title: str, used: set[str]) -> str:
    clean = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "Sheet"
    candidate, number = clean, 2
    while candidate.lower() in used:
        candidate, number = f"{clean[:25]} {number}", number + 1
    used.add(candidate.lower())
    return candidate

