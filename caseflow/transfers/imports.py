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
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from flask import current_app, has_app_context
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from ..database import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import PpksCategory, Role, User
from ..nik import NikError, parse_nik
from ..schemas import ClientSchema, OpenCaseSchema
from ..services import duplicates
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
MB = 1024 * 1024
# Defaults of the CASEFLOW_IMPORT_* settings (see ImportLimits). A full 20,000-row register
# saved by a spreadsheet program unpacks to about 20 MB of XML.
MAX_ROWS = 20000
MAX_BYTES = 10 * MB
MAX_COLUMNS = 50
MAX_UNPACKED_BYTES = 32 * MB
MAX_RATIO = 100
MAX_PARTS = 1000  # files inside one XLSX
SHEET_MAX_ROWS = 1048576  # no spreadsheet program numbers rows further
CELL_MAX_CHARS = 2000  # the longest field a row fills (the case summary)
ERRORS_KEPT = 200  # rows with errors listed by a checked import; the rest are counted


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


@dataclass(frozen=True)
class ImportLimits:
    """How much of an uploaded file is read before it is refused. A spreadsheet is a ZIP
    of XML: a small upload can unpack to gigabytes or declare a million-by-16k sheet, so
    every size is checked before (and while) anything is built from it."""

    max_bytes: int = MAX_BYTES  # the upload itself
    max_rows: int = MAX_ROWS  # rows with something in them, below the header
    max_columns: int = MAX_COLUMNS
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES  # all the XLSX's parts together, unpacked
    max_ratio: int = MAX_RATIO  # unpacked / packed size of any sizeable part

    @classmethod
    def from_config(cls) -> ImportLimits:
        if not has_app_context():
            return cls()
        config = current_app.config
        return cls(
            max_bytes=int(config.get("CASEFLOW_IMPORT_MAX_FILE_MB", MAX_BYTES // MB)) * MB,
            max_rows=int(config.get("CASEFLOW_IMPORT_MAX_ROWS", MAX_ROWS)),
            max_columns=int(config.get("CASEFLOW_IMPORT_MAX_COLUMNS", MAX_COLUMNS)),
            max_unpacked_bytes=int(config.get("CASEFLOW_IMPORT_MAX_UNPACKED_MB", MAX_UNPACKED_BYTES // MB)) * MB,
            max_ratio=int(config.get("CASEFLOW_IMPORT_MAX_RATIO", MAX_RATIO)),
        )


def read_table(filename: str, data: bytes, limits: ImportLimits | None = None) -> list[dict[str, str]]:
    """The rows of an uploaded file as {column: text}; a clear error for anything else."""
    limits = limits or ImportLimits.from_config()
    if not data:
        raise _refuse(_l("The file is empty."))
    if len(data) > limits.max_bytes:
        raise _refuse(_l("The file is larger than %(mb)s MB; split it into smaller files.",
                         mb=limits.max_bytes // MB))
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        grid = _read_xlsx(data, limits)
    elif name.endswith(".csv") or name.endswith(".txt"):
        grid = _read_csv(data, limits)
    else:
        raise _refuse(_l("This is not a spreadsheet. Upload the template as XLSX or CSV."))
    if not grid:
        raise _refuse(_l("The spreadsheet has no rows."))
    headers = [cell.strip().lower() for cell in grid[0]]
    missing = [c for c in COLUMN_NAMES if c in REQUIRED and c not in headers]
    if missing:
        raise _refuse(_l("This is not the Caseflow import template: the columns %(columns)s are missing. "
                         "Download the template and copy your rows into it.", columns=", ".join(missing)))
    if len(grid) == 1:
        raise _refuse(_l("The spreadsheet has no rows below its header."))
    rows = []
    for values in grid[1:]:
        rows.append({header: (values[i].strip() if i < len(values) else "")
                     for i, header in enumerate(headers) if header in COLUMN_NAMES})
    return rows


class _Grid:
    """The non-empty rows of a sheet, refused as soon as there are too many of them or one
    reaches past the last column read."""

    def __init__(self, limits: ImportLimits) -> None:
        self.limits = limits
        self.rows: list[list[str]] = []
        self.written = 0

    def written_row(self) -> None:
        """A row the sheet writes out, empty or not: formatting alone can write a million of
        them, each costing a parse, so there may be as many empty ones as rows, no more."""
        self.written += 1
        if self.written > 2 * (self.limits.max_rows + 1):
            raise _refuse(_l("The spreadsheet has more than %(n)s rows, counting empty formatted ones; delete "
                             "the empty rows below your data.", n=2 * (self.limits.max_rows + 1)))

    def add(self, texts: list[str], *, too_wide: bool = False) -> None:
        if too_wide:
            raise _refuse(_l("The spreadsheet has more than %(n)s columns; keep only the template's columns.",
                             n=self.limits.max_columns))
        if not any(text.strip() for text in texts):
            return
        if len(self.rows) > self.limits.max_rows:  # the header and max_rows rows are in already
            raise _refuse(_l("At most %(n)s rows per file.", n=self.limits.max_rows))
        self.rows.append(texts)


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


def _damaged() -> ValidationError:
    return _refuse(_l("The spreadsheet is damaged or not an XLSX file; save it again as XLSX "
                      "and upload it once more."))


def _declarations() -> ValidationError:
    return _refuse(_l("The spreadsheet contains XML declarations (DTD or entities) that are not accepted; "
                      "save it again as XLSX from your spreadsheet program."))


def _too_big_unpacked(limits: ImportLimits) -> ValidationError:
    return _refuse(_l("The spreadsheet unpacks to more than %(mb)s MB; split it into smaller files.",
                      mb=limits.max_unpacked_bytes // MB))


# XML features no spreadsheet program writes, and which expand a few bytes into gigabytes
# (billion laughs) or reach outside the file: refused in any encoding a part may use.
_DECLARATIONS = tuple(
    marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("ascii", "utf-16-le", "utf-16-be")
)
_CHUNK = 1024 * 1024
_RATIO_FROM_BYTES = 1024 * 1024  # small parts (styles, relations) may compress better than that


def _inspect_xlsx(data: bytes, limits: ImportLimits) -> None:
    """Refuse a ZIP that unpacks to too much, before openpyxl reads any of it: first from
    its directory, then by unpacking every part with a counter (a directory can lie)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _damaged() from None
    with archive:
        if len(members) > MAX_PARTS:
            raise _damaged()
        declared = 0
        for info in members:
            declared += info.file_size
            if declared > limits.max_unpacked_bytes:
                raise _too_big_unpacked(limits)
            if info.file_size > _RATIO_FROM_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise _refuse(_l("The spreadsheet is packed more tightly than a real spreadsheet is "
                                 "(over %(ratio)s to 1); save it again as XLSX.", ratio=limits.max_ratio))
        unpacked = 0
        for info in members:
            tail = b""
            try:
                with archive.open(info) as part:
                    while chunk := part.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > limits.max_unpacked_bytes:
                            raise _too_big_unpacked(limits)
                        window = tail + chunk
                        if any(marker in window for marker in _DECLARATIONS):
                            raise _declarations()
                        tail = chunk[-32:]
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
                    ValueError, OSError, EOFError, zlib.error):
                # a wrong checksum or size, an unknown compression, a password
                raise _damaged() from None


def _read_xlsx(data: bytes, limits: ImportLimits) -> list[list[str]]:
    _inspect_xlsx(data, limits)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ValidationError:
        raise
    except Exception as exc:  # openpyxl raises many kinds of errors on broken parts
        raise _xml_problem(exc) from None
    grid = _Grid(limits)
    try:
        sheet = workbook.worksheets[0]
        # The declared <dimension> is the file's own claim (a bomb says A1:XFD1048576):
        # forget it, so each row is only as wide as its own cells.
        sheet.reset_dimensions()
        for position, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            if position > SHEET_MAX_ROWS:  # rows numbered past any spreadsheet program's limit
                raise _damaged()
            if not row:  # a row number the file skipped: nothing was parsed
                continue
            grid.written_row()
            filled = len(row) - row.count(None)  # counted in C: a row may be 16,384 cells wide
            if not filled:
                continue
            head = row[:limits.max_columns]
            beyond = filled > len(head) - head.count(None)
            grid.add([_text(v) for v in head],
                     too_wide=beyond and any(_text(v).strip() for v in set(row[limits.max_columns:]) - {None}))
    except ValidationError:
        raise
    except Exception as exc:
        raise _xml_problem(exc) from None
    finally:
        workbook.close()
    return grid.rows


def _xml_problem(exc: Exception) -> ValidationError:
    if isinstance(exc, DefusedXmlException):
        return _declarations()
    if isinstance(exc, ParseError):
        return _refuse(_l("The spreadsheet's XML is broken (%(detail)s); save it again as XLSX and upload "
                          "it once more.", detail=str(exc)[:120]))
    return _damaged()


def _read_csv(data: bytes, limits: ImportLimits) -> list[list[str]]:
    if b"\x00" in data:
        raise _refuse(_l("This is not a spreadsheet. Upload the template as XLSX or CSV."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(_l("The CSV file is not UTF-8 text; save it as 'CSV UTF-8' and try again.")) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    grid = _Grid(limits)
    try:
        for values in csv.reader(io.StringIO(text), delimiter=delimiter):
            grid.add(values[:limits.max_columns],
                     too_wide=any(v.strip() for v in values[limits.max_columns:]))
    except csv.Error:
        raise _refuse(_l("The CSV file is malformed (unbalanced quotes?).")) from None
    return grid.rows


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
        """What a checked import keeps of the row until it is applied: what will be saved
        for a valid row, the problems of an invalid one — never the spreadsheet's cells."""
        if self.valid:
            return {"number": self.number, "client": self.client, "case": self.case}
        return {"number": self.number, "errors": self.errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowCheck:
        return cls(data["number"], {}, data.get("errors") or {}, data.get("client") or {}, data.get("case") or {})


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
    # Registered NIKs, and the names of those clients the importer may see: of any other,
    # the row learns only the neutral answer (services/duplicates.py).
    known, names = duplicates.registered(actor.user, niks)
    neutral = duplicates.neutral_message(actor.user)
    out_of_reach: list[int] = []
    seen: dict[str, int] = {}
    today = utcnow().date()
    checks = []
    for index, values in enumerate(rows):
        check = RowCheck(index + 2, values)
        for column, value in values.items():
            if len(value) > CELL_MAX_CHARS:  # nothing this long is saved: say so, check the rest
                check.add(column, _l("At most %(n)s characters.", n=CELL_MAX_CHARS))
                values[column] = value[:CELL_MAX_CHARS]
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
            if nik in known and known[nik] in names:
                check.add("nik", duplicates.within_reach_message(names[known[nik]]))
            elif nik in known:
                check.add("nik", neutral)
                out_of_reach.append(check.number)
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
        summary = values.get("summary", "")
        if recorded_on:
            summary = (summary + "\n" if summary else "") + str(
                _l("Recorded in the previous register on %(day)s.", day=recorded_on))
        # The case's own rules (its summary's length and characters), so that a row said to be
        # valid is not refused later, when it is applied.
        if "summary" not in check.errors:
            case_errors = OpenCaseSchema().validate({"client_id": 1, "summary": summary,
                                                      "ppks_category_code": category})
            for message in case_errors.get("summary", []):
                check.add("summary", message)
        if check.valid:
            check.client = client
            check.case = {"ppks_category_code": category, "summary": summary,
                          "facilitator_id": facilitator.id if actor.role == Role.SUPERVISOR else None}
        checks.append(check)
        if progress is not None:
            progress(index + 1)
    duplicates.charge_import(actor, out_of_reach, has_niks=bool(niks))
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
