"""Hostile spreadsheets: a file that declares the whole sheet, unpacks to far more than it
weighs, expands XML entities, is cut short or holds thousands of junk rows is refused (or
reported) with a clear message, cheaply, and leaves no more than a few kilobytes behind."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
from sqlalchemy import func, select

from caseflow.errors import ValidationError
from caseflow.extensions import db
from caseflow.models import ReportJob
from caseflow.transfers import imports
from tests.support.imports import csv_bytes, row, upload, xlsx_bytes

SHEET = "xl/worksheets/sheet1.xml"
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                     for n in range(1, 10))
          + b"]>")


def template(rows: int = 3) -> bytes:
    return xlsx_bytes([imports.COLUMN_NAMES] + [list(row(nik="").values()) for _ in range(rows)])


def rewrite(data: bytes, member: str, change) -> bytes:
    """The same XLSX with one part changed by `change(bytes) -> bytes`."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            target.writestr(info.filename, change(body) if info.filename == member else body)
    return out.getvalue()


def with_dimension(data: bytes, ref: bytes) -> bytes:
    def change(sheet: bytes) -> bytes:
        start = sheet.index(b"<dimension ref=")
        end = sheet.index(b"/>", start) + 2
        return sheet[:start] + b'<dimension ref="' + ref + b'"/>' + sheet[end:]
    return rewrite(data, SHEET, change)


def add_rows(data: bytes, rows_xml: bytes) -> bytes:
    return rewrite(data, SHEET, lambda sheet: sheet.replace(b"</sheetData>", rows_xml + b"</sheetData>"))


def refused(data: bytes, name: str = "register.xlsx", limits: imports.ImportLimits | None = None) -> str:
    with pytest.raises(ValidationError) as error:
        imports.read_table(name, data, *([limits] if limits else []))
    assert "file" in error.value.fields
    return str(error.value)


def jobs() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(ReportJob)).scalar_one()


# --- the sheet's declared size is not believed ---------------------------------------------


def test_a_sheet_declaring_every_cell_is_read_at_the_width_of_its_own_cells(monkeypatch):
    """<dimension ref="A1:XFD1048576"> made every row 16,384 cells wide: a 15 KB file held a
    worker for half a minute. The work now follows the cells that are really there."""
    converted = []
    original = imports._text
    monkeypatch.setattr(imports, "_text", lambda value: converted.append(value) or original(value))
    rows = imports.read_table("register.xlsx", with_dimension(template(5), b"A1:XFD1048576"))
    assert len(rows) == 5 and rows[0]["full_name"] == "Siti Aminah"
    assert len(converted) <= 6 * len(imports.COLUMN_NAMES)  # the header and five rows, nothing padded


def test_a_row_numbered_past_the_last_row_any_spreadsheet_has_is_refused():
    message = refused(add_rows(template(), b'<row r="99999999999"><c r="A99999999999" t="inlineStr">'
                                            b"<is><t>x</t></is></c></row>"))
    assert "damaged" in message


def test_a_cell_beyond_the_last_column_read_is_refused_naming_the_limit():
    data = add_rows(template(), b'<row r="6"><c r="XFD6" t="inlineStr"><is><t>x</t></is></c></row>')
    assert "more than 50 columns" in refused(data)
    wide = csv_bytes(row()).replace(b"\r\n", b"," * 60 + b"x\r\n", 1)
    assert "more than 50 columns" in refused(wide, "register.csv")


def test_rows_beyond_the_limit_are_refused_while_reading():
    limits = imports.ImportLimits(max_rows=3)
    assert len(imports.read_table("r.xlsx", template(3), limits)) == 3
    assert "At most 3 rows" in refused(template(4), limits=limits)
    assert "At most 3 rows" in refused(csv_bytes(*[row()] * 4), "r.csv", limits)
    # A million line breaks are not a million rows to keep.
    assert len(imports.read_table("r.csv", csv_bytes(row()) + b"\r\n" * 1_000_000, limits)) == 1


def test_a_sheet_of_empty_formatted_rows_is_refused_once_they_outnumber_the_rows_allowed():
    """Empty rows cost a parse each: formatting alone can write a million of them."""
    limits = imports.ImportLimits(max_rows=3)
    empty = b"".join(b'<row r="%d"><c r="A%d" s="0"/></row>' % (n, n) for n in range(5, 9))
    assert len(imports.read_table("r.xlsx", add_rows(template(3), empty), limits)) == 3
    many = b"".join(b'<row r="%d"><c r="A%d" s="0"/></row>' % (n, n) for n in range(5, 50))
    assert "empty formatted" in refused(add_rows(template(3), many), limits=limits)


# --- what the ZIP unpacks to -----------------------------------------------------------------


def test_a_part_that_unpacks_to_more_than_the_limit_is_refused_before_it_is_parsed():
    padded = rewrite(template(), SHEET, lambda sheet: sheet.replace(b"<sheetData>", b"<sheetData>" + b" " * 40 * 2**20))
    assert len(padded) < 200_000  # 40 MB of blanks pack into a few kilobytes
    message = refused(padded)
    assert "packed more tightly" in message or "unpacks to more than" in message
    # The size alone, at any ratio.
    assert "unpacks to more than 1 MB" in refused(
        padded, limits=imports.ImportLimits(max_unpacked_bytes=2**20, max_ratio=10**6))


def test_a_zip_directory_that_lies_about_sizes_is_refused():
    """The central directory says each part is 10 bytes: the unpacking itself is counted."""
    data = bytearray(rewrite(template(), SHEET, lambda sheet: sheet + b" " * 2**20))
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) != -1:
        struct.pack_into("<I", data, position + 24, 10)  # uncompressed size
        position += 4
    message = refused(bytes(data))
    assert "damaged" in message or "unpacks to more than" in message


# --- the XML inside ------------------------------------------------------------------------


@pytest.mark.parametrize("member", [SHEET, "xl/workbook.xml", "[Content_Types].xml", "xl/styles.xml"])
def test_entity_declarations_are_refused_in_any_part(member):
    def laughs(body: bytes) -> bytes:
        return LAUGHS + body.split(b"?>", 1)[-1]
    assert "DTD or entities" in refused(rewrite(template(), member, laughs))


@pytest.mark.parametrize("member", [SHEET, "xl/workbook.xml", "[Content_Types].xml", "xl/styles.xml",
                                    "xl/_rels/workbook.xml.rels", "docProps/core.xml"])
def test_malformed_xml_in_any_part_is_a_clear_refusal(member):
    message = refused(rewrite(template(), member, lambda body: body[: len(body) // 2]))
    assert "XML is broken" in message or "damaged" in message


# --- through the page and the command --------------------------------------------------------


HOSTILE = {
    "truncated workbook": lambda: rewrite(template(), "xl/workbook.xml", lambda body: body[:-40]),
    "entities": lambda: rewrite(template(), SHEET, lambda body: LAUGHS + body),
    "whole sheet": lambda: add_rows(with_dimension(template(), b"A1:XFD1048576"),
                                    b'<row r="7"><c r="ZZ7" t="inlineStr"><is><t>x</t></is></c></row>'),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_uploads_get_a_4xx_with_a_message_and_keep_nothing(team, signed_in, kind):
    response = upload(signed_in(team.facilitator), "register.xlsx", HOSTILE[kind]())
    assert response.status_code == 422
    assert "XML" in response.text or "kolom" in response.text
    assert jobs() == 0


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_files_fail_the_import_command_with_a_message(app, team, tmp_path, kind):
    path = tmp_path / "register.xlsx"
    path.write_bytes(HOSTILE[kind]())
    result = app.test_cli_runner().invoke(args=["import", str(path), "--as", team.facilitator.username])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a crash
    assert "Error:" in result.output


def test_the_row_limit_is_a_setting(team, signed_in, app):
    app.config["CASEFLOW_IMPORT_MAX_ROWS"] = 2
    response = upload(signed_in(team.facilitator), "register.csv", csv_bytes(row(), row(nik=""), row(nik="")))
    assert response.status_code == 422 and "Paling banyak 2 baris per berkas" in response.text
    assert jobs() == 0


# --- what a checked import keeps -----------------------------------------------------------


def test_a_checked_import_keeps_the_valid_rows_and_the_first_errors_only(team, signed_in):
    """A register of junk stored its every cell again in the job's row (a 50 KB upload kept
    100 MB): now the valid rows' data and the first rows' problems, the rest counted."""
    junk = [row(nik="", ppks_category_code="X99", summary="s" * 1500, address="a" * 400)
            for _ in range(imports.ERRORS_KEPT + 300)]
    client = signed_in(team.facilitator)
    response = upload(client, "register.csv", csv_bytes(row(), *junk))
    assert response.status_code == 302
    db.session.rollback()
    job = db.session.execute(select(ReportJob)).scalar_one()
    stored = json.dumps(job.result)
    assert len(stored) < 60_000, len(stored)  # the upload was ~1 MB
    assert "sss" not in stored and "aaa" not in stored
    assert job.result["invalid"] == len(junk) and len(job.result["errors"]) == imports.ERRORS_KEPT
    assert len(job.result["rows"]) == 1 and job.total == 1
    page = client.get(response.location)
    assert f"1 dari {len(junk) + 1} baris siap diimpor" in page.text
    assert "300 baris lain" in page.text


def test_a_cell_longer_than_any_field_is_a_row_error_and_is_not_kept(team):
    from caseflow.services.context import Actor

    [check] = imports.check_rows(Actor(user=team.facilitator), [row(nik="", address="x" * 50_000)])
    assert "address" in check.errors and "2000" in " ".join(check.errors["address"])
    assert "xxxx" not in json.dumps(check.as_dict())


def test_a_summary_too_long_for_a_case_is_found_when_checking_not_when_applying(team):
    from caseflow.services.context import Actor

    [check] = imports.check_rows(Actor(user=team.facilitator),
                                 [row(nik="", summary="s" * 1990, recorded_on="2026-01-05")])
    assert "summary" in check.errors


def test_a_check_stored_before_this_change_still_shows_its_errors(team, signed_in):
    """Checks made by the previous version held every row (valid or not) with its cells."""
    from caseflow.database import utcnow
    from caseflow.transfers import jobs as import_jobs

    client = signed_in(team.facilitator)
    response = upload(client, "register.csv", csv_bytes(row()))
    db.session.rollback()
    job = db.session.execute(select(ReportJob)).scalar_one()
    valid = job.result["rows"][0]
    job.result = {"filename": "old.csv", "rows": [
        {**valid, "values": {"full_name": "Siti"}, "errors": {}},
        {"number": 3, "values": {"nik": "123"}, "errors": {"nik": ["NIK harus 16 angka."]}, "client": {},
         "case": {}}]}
    job.updated_at = utcnow()
    db.session.commit()
    summary = import_jobs.check_summary(job)
    assert (summary.checked, summary.valid, summary.invalid) == (2, 1, 1)
    page = client.get(response.location)
    assert "1 dari 2 baris siap diimpor" in page.text and "NIK harus 16 angka." in page.text
