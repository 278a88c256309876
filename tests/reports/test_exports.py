"""Exports: masking per role, formula injection neutralised, CSV/XLSX that read back; PDFs."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from caseflow.extensions import db
from caseflow.i18n.labels import labels
from caseflow.reports import documents
from caseflow.reports.tables import Table, case_table
from caseflow.transfers.exports import neutralise, to_csv, to_xlsx


@pytest.mark.parametrize("text", ["=HYPERLINK(\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starts_are_neutralised(text):
    assert neutralise(text) == "'" + text


def test_plain_values_are_left_alone():
    assert neutralise("Kunjungan rumah") == "Kunjungan rumah"
    assert neutralise(-3) == -3


def test_csv_and_xlsx_keep_hostile_text_as_text():
    table = Table("t", "Daftar", ["Nama", "Catatan"], [["=1+1", "@evil"], ["Budi", 7]])
    rows = list(csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig"))))
    assert rows == [["Nama", "Catatan"], ["'=1+1", "'@evil"], ["Budi", "7"]]
    sheet = load_workbook(io.BytesIO(to_xlsx([table]))).active
    assert sheet["A2"].value == "'=1+1" and sheet["A2"].data_type == "s"
    assert sheet["B3"].value == 7
    assert sheet.title == "Daftar"


def _headers(table) -> list[str]:
    return [str(h) for h in table.headers]


def test_case_lists_mask_the_nik_and_follow_the_role(team, make):
    case = make.case(team.facilitator)
    nik = case.client.nik
    for_facilitator = case_table([case], team.facilitator, "en")
    row = for_facilitator.rows[0]
    assert nik not in row and nik[:4] + "*" * 10 + nik[-2:] in row
    assert case.client.full_name in row
    for_auditor = case_table([case], team.auditor, "en")
    assert case.client.full_name not in for_auditor.rows[0]
    assert "Client" not in _headers(for_auditor)
    with pytest.raises(PermissionError):
        case_table([case], team.manager, "en")


def test_case_pdf_and_termination_report(team, make):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    db.session.refresh(case)
    pdf = documents.case_pdf(case, locale="id", zone="Asia/Jayapura", names=labels)
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000
    report = documents.termination_pdf(case, locale="id", zone="Asia/Jayapura", names=labels,
                                       user_name=lambda uid: f"user {uid}")
    assert report.startswith(b"%PDF")


def test_no_termination_report_before_approval(team, make):
    case = make.case(team.facilitator, to="termination_review")
    with pytest.raises(LookupError):
        documents.termination_pdf(case, locale="id", zone="Asia/Jakarta", names=labels, user_name=str)
