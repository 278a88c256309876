"""Importing the registers facilitators kept in spreadsheets.

Three steps: read the file (XLSX or CSV in our template, or a clear refusal), check
every row (NIK, province, category, dates, facilitator, duplicates) and report each
row's problems, then apply the valid rows through the same services a person uses —
register_client and open_case, so every row gets its real audit events. All applied
rows commit together or not at all.

Cases are opened at the time of the import (the audit trail says when they entered
Caseflow); the date of the old register goes into the case summary.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import select

from ..database import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Client, PpksCategory, Role, User
from ..nik import NikError, parse_nik
from ..schemas import ClientSchema
from ..services.clients import province_codes
from ..services.context import Actor
from ..services.transfers import ImportRefused, import_register
from .exports import neutralise

# (column, required, example)
COLUMNS: list[tuple[str, bool, str]] = [
    ("full_name", True, "Siti Aminah"),
    ("nik", False, "9171014508850001"),
    ("birth_date", True, "1985-08-05"),
    ("sex", True, "F"),
    ("address", False, "Jl. Contoh 1, Jayapura"),
    ("phone", False, "081234567890"),
    ("province_code", True, "91"),
    ("guardian_name", False, ""),
    ("guardian_relationship", False, ""),
    ("consent_given_by", True, "klien"),
    ("consent_confirmed", True, "ya"),
    ("ppks_category_code", True, "P02"),
    ("facilitator_username", False, "pendamping"),
    ("recorded_on", False, "2026-03-01"),
    ("summary", False, "Anak tidak bersekolah"),
]
COLUMN_NAMES = [name for name, _required, _example in COLUMNS]
REQUIRED = {name for name, required, _example in COLUMNS if required}
YES = {"ya", "yes", "y", "1", "true", "benar"}
MAX_ROWS = 20000
MAX_BYTES = 10 * 1024 * 1024


def template_rows() -> list[list[str]]:
    return [COLUMN_NAMES, [example for _name, _required, example in COLUMNS]]


def template_xlsx() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "caseflow-import"
    for row in template_rows():
        sheet.append([neutralise(v) for v in row])
    for cell in sheet["B"] + sheet["C"] + sheet["F"] + sheet["N"]:
        cell.number_format = "@"  # NIK, dates and phone numbers stay text
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_csv() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(template_rows())
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _refuse(message) -> ValidationError:
    return ValidationError(message, fields={"file": [message]})


# --- reading -------------------------------------------------------------------------------


def read_table(filename: str, data: bytes) -> list[dict[str, str]]:
    """The rows of an uploaded file as {column: text}; a clear error for anything else."""
    if not data:
        raise _refuse(_l("The file is empty."))
    if len(data) > MAX_BYTES:
        raise _refuse(_l("The file is larger than 10 MB; split it into smaller files."))
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        grid = _read_xlsx(data)
    elif name.endswith(".csv") or name.endswith(".txt"):
        grid = _read_csv(data)
    else:
        raise _refuse(_l("This is not a spreadsheet. Upload the template as XLSX or CSV."))
    grid = [row for row in grid if any(cell.strip() for cell in row)]
    if not grid:
        raise _refuse(_l("The spreadsheet has no rows."))
    headers = [cell.strip().lower() for cell in grid[0]]
    missing = [c for c in COLUMN_NAMES if c in REQUIRED and c not in headers]
    if missing:
        raise _refuse(_l("This is not the Caseflow import template: the columns %(columns)s are missing. "
                         "Download the template and copy your rows into it.", columns=", ".join(missing)))
    if len(grid) == 1:
        raise _refuse(_l("The spreadsheet has no rows below its header."))
    if len(grid) - 1 > MAX_ROWS:
        raise _refuse(_l("At most %(n)s rows per file.", n=MAX_ROWS))
    rows = []
    for values in grid[1:]:
        rows.append({header: (values[i].strip() if i < len(values) else "")
                     for i, header in enumerate(headers) if header in COLUMN_NAMES})
    return rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes) -> list[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError):
        raise _refuse(_l("The spreadsheet is damaged or not an XLSX file; save it again as XLSX "
                         "and upload it once more.")) from None
    try:
        sheet = workbook.worksheets[0]
        return [[_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    except Exception:  # openpyxl raises many kinds of errors on broken sheet XML
        raise _refuse(_l("The spreadsheet is damaged or not an XLSX file; save it again as XLSX "
                         "and upload it once more.")) from None
    finally:
        workbook.close()


def _read_csv(data: bytes) -> list[list[str]]:
    if b"\x00" in data:
        raise _refuse(_l("This is not a spreadsheet. Upload the template as XLSX or CSV."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(_l("The CSV file is not UTF-8 text; save it as 'CSV UTF-8' and try again.")) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error:
        raise _refuse(_l("The CSV file is malformed (unbalanced quotes?).")) from None


# --- checking ------------------------------------------------------------------------------


@dataclass
class RowCheck:
    number: int  # the row number as the spreadsheet shows it (the header is row 1)
    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)
    case: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    def add(self, column: str, message: Any) -> None:
        self.errors.setdefault(column, []).append(str(message))

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "values": self.values, "errors": self.errors,
                "client": self.client, "case": self.case}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowCheck:
        return cls(data["number"], data["values"], data["errors"], data["client"], data["case"])


def _facilitators(actor: Actor) -> dict[str, User]:
    user = actor.user
    if user.role == Role.FACILITATOR:
        return {user.username.lower(): user}
    if user.role == Role.SUPERVISOR:
        team = db.session.execute(
            select(User).where(User.supervisor_id == user.id, User.role == Role.FACILITATOR, User.active)
        ).scalars()
        return {u.username.lower(): u for u in team}
    return {}


def check_rows(actor: Actor, rows: list[dict[str, str]],
               progress: Callable[[int], None] | None = None) -> list[RowCheck]:
    """Every problem of every row, named by column. Nothing is written."""
    if actor.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        raise ValidationError(_l("Only facilitators and supervisors import registers."))
    provinces = province_codes()
    categories = set(db.session.execute(select(PpksCategory.code)).scalars())
    team = _facilitators(actor)
    niks = [r.get("nik") for r in rows if r.get("nik")]
    known = set()
    for start in range(0, len(niks), 500):
        known |= set(db.session.execute(select(Client.nik).where(Client.nik.in_(niks[start:start + 500]))).scalars())
    seen: dict[str, int] = {}
    today = utcnow().date()
    checks = []
    for index, values in enumerate(rows):
        check = RowCheck(index + 2, values)
        client = {k: values.get(k, "") for k in ("full_name", "nik", "birth_date", "sex", "address", "phone",
                                                  "province_code", "guardian_name", "guardian_relationship",
                                                  "consent_given_by")}
        client["sex"] = client["sex"].upper()
        client["consent_confirmed"] = values.get("consent_confirmed", "").lower() in YES
        if not client["consent_confirmed"]:
            check.add("consent_confirmed", _l("Write 'ya' once the client's consent is on record."))
        for key in ("nik", "phone", "guardian_name", "guardian_relationship", "address"):
            if not client[key]:
                client[key] = None if key != "address" else ""
        errors = ClientSchema(provinces, today).validate(client)
        for column, messages in errors.items():
            if column == "consent_confirmed" and column in check.errors:
                continue  # said above in the spreadsheet's own words ('ya')
            for message in messages if isinstance(messages, list) else [messages]:
                check.add(column if column in COLUMN_NAMES else "_row", message)
        nik = client.get("nik")
        if nik:
            try:
                parse_nik(nik, provinces)
            except NikError as exc:
                if "nik" not in check.errors:
                    check.add("nik", exc.message)
            if nik in known:
                check.add("nik", _l("A client with this NIK is already registered."))
            elif nik in seen:
                check.add("nik", _l("The same NIK is on row %(row)s.", row=seen[nik]))
            seen.setdefault(nik, check.number)
        category = values.get("ppks_category_code", "").upper()
        if category not in categories:
            check.add("ppks_category_code", _l("Unknown PPKS category (use a code such as P02)."))
        username = values.get("facilitator_username", "").lower()
        facilitator = team.get(username) if username else (actor.user if actor.role == Role.FACILITATOR else None)
        if facilitator is None:
            check.add("facilitator_username", _l("Name a facilitator of your team by username.")
                      if actor.role == Role.SUPERVISOR else _l("You can import only your own cases."))
        recorded_on = values.get("recorded_on", "")
        if recorded_on:
            try:
                if date.fromisoformat(recorded_on) > today:
                    check.add("recorded_on", _l("This date is in the future."))
            except ValueError:
                check.add("recorded_on", _l("Write the date as YYYY-MM-DD."))
        if check.valid:
            check.client = client
            summary = values.get("summary", "")
            if recorded_on:
                summary = (summary + "\n" if summary else "") + str(
                    _l("Recorded in the previous register on %(day)s.", day=recorded_on))
            check.case = {"ppks_category_code": category, "summary": summary,
                          "facilitator_id": facilitator.id if actor.role == Role.SUPERVISOR else None}
        checks.append(check)
        if progress is not None:
            progress(index + 1)
    return checks


# --- applying ------------------------------------------------------------------------------


def apply_rows(actor: Actor, checks: list[RowCheck], *, all_or_nothing: bool,
               progress: Callable[[int], None] | None = None) -> list[tuple[int, str]]:
    """Register each valid row's client and open its case, in one transaction: any
    failure leaves nothing behind. With `all_or_nothing`, one invalid row stops it all."""
    invalid = [c.number for c in checks if not c.valid]
    if all_or_nothing and invalid:
        raise ImportRefused(_l("%(n)s rows have errors, so nothing was imported.", n=len(invalid)))
    return import_register(actor, [(c.number, c.client, c.case) for c in checks if c.valid], progress=progress)
