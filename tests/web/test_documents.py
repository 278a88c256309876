"""Printed documents an office can sign: the letterhead, a numbered title and the legal
basis, dates the Indonesian way, signature blocks with names and NIP PPPK, and on every
page the audit chain head with a QR code. Checked by extracting the PDF's text
(pdftotext) and by rendering it to an image (pdftoppm), as a reader would see it."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import segno
from openpyxl import load_workbook
from PIL import Image

from caseflow.extensions import db
from caseflow.reports.documents import qr_payload

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                   reason="poppler-utils (pdftotext, pdftoppm) not installed")
INDONESIAN_DATE = re.compile(r"\b\d{1,2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|"
                             r"November|Desember) 20\d\d\b")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[Path]:
    """Every page as a PNG (pdftoppm), as a printer would put it on paper."""
    source = tmp_path / "render.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(source), str(tmp_path / "page")], check=True)
    return sorted(tmp_path.glob("page*.png"))


@pytest.fixture
def office(app, tmp_path):
    """An office that configured its letterhead: a file in the instance folder with a logo."""
    segno.make("Dinas Sosial").save(str(tmp_path / "logo.png"), scale=4)
    (tmp_path / "letterhead.yaml").write_text(
        "ministry: PEMERINTAH KABUPATEN JAYAWIJAYA\noffice: DINAS SOSIAL\n"
        "address: Jl. Yos Sudarso No. 1, Wamena\ncity: Wamena\nlogo: logo.png\n", encoding="utf-8")
    return tmp_path


@needs_poppler
def test_the_termination_record_reads_like_an_office_document(office, signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/termination.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data, tmp_path)
    flat = " ".join(text.split())
    assert "PEMERINTAH KABUPATEN JAYAWIJAYA" in flat and "DINAS SOSIAL" in flat and "Wamena" in flat
    assert "BERITA ACARA TERMINASI" in flat
    assert re.search(r"Nomor: BA-TRM/" + re.escape(case.number) + r"/[IVX]+/20\d\d", flat)
    assert "Dasar hukum" in flat
    assert re.search(r"Wamena, " + INDONESIAN_DATE.pattern, flat), "place and date above the signatures"
    for person in (team.facilitator, team.supervisor):
        assert person.full_name in flat
    assert team.facilitator.nip_pppk is None or team.facilitator.nip_pppk in flat
    assert "NIP PPPK" in flat
    db.session.rollback()  # read the case as it is now: printing was recorded as a view of it
    db.session.refresh(case)
    assert f"Rantai audit: {case.audit_seq} peristiwa, hash terakhir {case.audit_hash}" in flat
    assert not re.search(r"\b\d{2}-\d{2}-\d{4}\b", flat), "no 21-11-2026 dates"
    (Path(__file__).parent.parent / "browser" / "screenshots").mkdir(parents=True, exist_ok=True)
    (Path(__file__).parent.parent / "browser" / "screenshots" / "termination-record.pdf").write_bytes(response.data)
    pages = pdf_pages(response.data, tmp_path)
    assert pages and all(p.stat().st_size > 5000 for p in pages)


@needs_poppler
def test_the_case_file_has_the_ministry_letterhead_by_default_and_signature_blocks(signed_in, team, make,
                                                                                  tmp_path):
    case = make.case(team.facilitator, to="evaluation")
    response = signed_in(team.facilitator).get(f"/reports/case/{case.id}/file.pdf")
    flat = " ".join(pdf_text(response.data, tmp_path).split())
    assert "KEMENTERIAN SOSIAL REPUBLIK INDONESIA" in flat
    assert "BERKAS KASUS" in flat and f"BK/{case.number}/" in flat
    assert case.client.full_name in flat  # the client (or the guardian) signs too
    assert re.search(INDONESIAN_DATE, flat)
    assert "Rantai audit" in flat


def test_settings_override_the_letterhead_file(app, office):
    from caseflow.reports.letterhead import current_letterhead

    app.config["CASEFLOW_LETTERHEAD_CITY"] = "Jayapura"
    head = current_letterhead()
    assert head.city == "Jayapura" and head.office == "DINAS SOSIAL" and head.logo == office / "logo.png"
    (office / "letterhead.yaml").write_text("logo: ../../etc/passwd\n", encoding="utf-8")
    assert current_letterhead().logo is None  # only files inside the instance folder


@needs_poppler
def test_the_qr_code_on_the_page_holds_the_case_number_and_chain_hash(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="resolved", supervisor=team.supervisor)
    db.session.rollback()
    db.session.refresh(case)
    payload = qr_payload(case)
    assert payload.startswith(f"CASEFLOW;{case.number};{case.audit_seq};") and payload.endswith(case.audit_hash)
    response = signed_in(team.supervisor).get(f"/reports/case/{case.id}/termination.pdf")
    [first, *_rest] = pdf_pages(response.data, tmp_path)
    image = Image.open(first).convert("L")
    width, height = image.size
    corner = image.crop((int(width * 0.78), int(height * 0.9), width, height))
    dark = sum(corner.histogram()[:100])
    assert dark > 200, "the QR code is drawn in the bottom right corner"


@needs_poppler
def test_a_facilitators_monthly_report_as_pdf_and_typed_xlsx(signed_in, team, make, tmp_path):
    case = make.case(team.facilitator, to="intervention")
    month = case.opened_at.strftime("%Y-%m")
    client = signed_in(team.facilitator)
    pdf = client.get("/reports/monthly.pdf", query_string={"month": month})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    flat = " ".join(pdf_text(pdf.data, tmp_path).split())
    assert "LAPORAN BULANAN PENDAMPING" in flat and f"LBP/{team.facilitator.username}/{month}" in flat
    assert team.facilitator.full_name in flat and team.supervisor.full_name in flat  # both sign
    assert re.search(INDONESIAN_DATE, flat) and "Angka" in flat
    workbook = load_workbook(io.BytesIO(client.get("/reports/monthly.xlsx", query_string={"month": month}).data))
    assert workbook.sheetnames[0] == "Tentang berkas ini"
    about = {row[0].value: row[1].value for row in workbook.worksheets[0].iter_rows(min_row=2)}
    assert "Laporan bulanan pendamping" in about["Isi"]
    figures = workbook["Angka"]
    values = {row[0].value: row[1] for row in figures.iter_rows(min_row=2)}
    assert values["Terdata"].value == 1 and values["Terdata"].data_type == "n"
    rate = values["Tingkat penyelesaian (terselesaikan / diterminasi)"]
    assert rate.value is None or (rate.data_type == "n" and rate.number_format == "0.0%")


def test_a_supervisors_team_report_and_the_limits_of_who_may_ask(signed_in, team, make):
    make.case(team.facilitator, to="assessment")
    supervisor = signed_in(team.supervisor)
    team_report = supervisor.get("/reports/monthly.xlsx")
    assert team_report.status_code == 200
    one = supervisor.get("/reports/monthly.pdf", query_string={"facilitator": team.facilitator.id})
    assert one.status_code == 200
    outsider = supervisor.get("/reports/monthly.pdf", query_string={"facilitator": team.other_facilitator.id})
    assert outsider.status_code == 404
    assert supervisor.get("/reports/monthly.pdf", query_string={"month": "2026-13"}).status_code == 400
    assert supervisor.get("/reports/monthly.doc").status_code == 404  # only PDF and XLSX
    facilitator = signed_in(team.facilitator)
    assert facilitator.get("/reports/monthly.pdf", query_string={"facilitator": team.facilitator2.id}).status_code == 404
    assert signed_in(team.manager).get("/reports/monthly.pdf").status_code == 403
