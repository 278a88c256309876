"""Tables as CSV and XLSX: case lists with each role's masking, and figure tables.

Every text cell is neutralised against formula injection: a spreadsheet must never run
what a facilitator typed into a case ('=HYPERLINK(…)', '+cmd|…', '@SUM(…)').
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ..i18n import _l
from ..models import Case, Role, User, mask_nik
from ..models.reference import TIMEZONE_ABBREVIATIONS
from ..services.runtime import engine

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix text that a spreadsheet would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass
class Table:
    """A titled table: what a page shows and what every export writes."""

    name: str
    title: Any
    headers: list[Any]
    rows: list[list[Any]] = field(default_factory=list)
    # (row, column) → address of the cases behind that number (pages only, not exports).
    links: dict[tuple[int, int], str] = field(default_factory=dict)


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


# --- case lists, masked per role ---------------------------------------------------------


def personal_columns(user: User) -> tuple[bool, bool]:
    """(client name, masked NIK) a role may see in a list or export. Programme managers
    and administrators get no case lists at all."""
    if user.role in (Role.FACILITATOR, Role.SUPERVISOR):
        return True, True
    if user.role == Role.AUDITOR:
        return False, True
    return False, False


def case_table(cases: Iterable[Case], user: User, locale: str = "id", title: Any = None, *,
               lazy: bool = False) -> Table:
    """The list of `cases` with the columns `user`'s role may see. With `lazy`, the rows are
    a generator read once, as the export writes them (long lists: `cases` may be one too)."""
    if user.role not in (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR):
        raise PermissionError("case lists are for case readers only")
    with_name, with_nik = personal_columns(user)
    headers: list[Any] = [_l("Case number"), _l("Stage"), _l("PPKS category"), _l("Province"),
                          _l("Facilitator"), _l("Recorded"), _l("Stage due"), _l("Closure reason")]
    if with_name:
        headers.append(_l("Client"))
    if with_nik:
        headers.append(_l("NIK (masked)"))
    rows = _case_rows(cases, locale, with_name, with_nik)
    return Table("cases", title or _l("Cases"), headers, rows if lazy else list(rows))


def _case_rows(cases: Iterable[Case], locale: str, with_name: bool, with_nik: bool) -> Iterator[list[Any]]:
    for case in cases:
        row = [
            case.number,
            engine(case.workflow).definition.states[case.state].title(locale),
            case.ppks_category.name(locale),
            case.province.name,
            case.facilitator.full_name,
            case.opened_at,
            case.stage_due_at,
            case.closure_reason or "",
        ]
        if with_name:
            row.append(case.client.full_name if not case.client.anonymised_at else "")
        if with_nik:
            row.append(mask_nik(case.client.nik))
        yield row
