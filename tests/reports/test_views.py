"""Dashboards per role, drill-down to the cases behind a figure, exports and documents."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent

PERIOD = "start=2026-01-01&end=2026-06-30"


def test_each_reader_role_gets_its_dashboard_with_charts_and_tables(programme, signed_in):
    t = programme.team
    for user in (t.facilitator, t.supervisor, t.auditor, t.manager):
        page = signed_in(user).get(f"/reports/?{PERIOD}", headers={"Accept-Language": "en"})
        assert page.status_code == 200, user.role
        html = page.text
        assert "<svg" in html and "<figcaption>Dari terdata hingga terselesaikan</figcaption>" in html
        assert "<script>" not in html and "onclick" not in html


def test_administrators_see_no_figures(team, signed_in):
    assert signed_in(team.admin).get("/reports/").status_code == 403


def test_programme_manager_sees_no_personal_data_on_the_page_or_in_exports(programme, signed_in):
    t = programme.team
    client = signed_in(t.manager)
    html = client.get(f"/reports/?{PERIOD}&facilitator={t.facilitator.id}").text
    names = [t.facilitator.full_name, t.facilitator2.full_name, t.other_facilitator.full_name,
             programme.a.client.full_name, programme.a.number]
    for name in names:
        assert name not in html
    workbook = load_workbook(io.BytesIO(client.get(f"/reports/export.xlsx?{PERIOD}").data))
    text = " ".join(str(c.value) for ws in workbook.worksheets for row in ws.iter_rows() for c in row)
    for name in names:
        assert name not in text
    assert "Papua" in text  # per province figures are there
    assert client.get(f"/reports/cases/resolved?{PERIOD}").status_code == 403
    assert client.get(f"/reports/cases/resolved.csv?{PERIOD}").status_code == 403


def test_auditor_clicks_a_figure_down_to_its_cases(programme, signed_in):
    p = programme
    client = signed_in(p.team.auditor)
    html = client.get(f"/reports/?{PERIOD}").text
    links = set(re.findall(r'href="(/reports/cases/resolved\?[^"]+)"', html))
    assert "/reports/cases/resolved?start=2026-01-01&amp;end=2026-06-30&amp;key=53&amp;by=province" in links
    page = client.get("/reports/cases/resolved?start=2026-01-01&amp;end=2026-06-30".replace("&amp;", "&"))
    assert page.status_code == 200
    assert p.a.number in page.text and p.e.number in page.text and p.b.number not in page.text
    assert f'href="/cases/{p.a.id}"' in page.text
    assert f'href="/reports/case/{p.a.id}/termination.pdf"' in page.text
    assert p.a.client.full_name not in page.text  # auditors get the masked NIK, not the name
    assert p.a.client.nik[:4] + "*" * 10 in page.text
    # recorded at 12:00 UTC on 1 January: shown in the auditor's zone (Jakarta), not as ISO UTC
    assert "1 Jan 2026 19:00 WIB" in page.text and "+00:00" not in page.text


def test_province_auditor_drills_only_into_their_province(programme, signed_in):
    page = signed_in(programme.team.province_auditor).get(f"/reports/cases/recorded?{PERIOD}")
    assert programme.d.number in page.text and programme.a.number not in page.text


def test_supervisor_exports_the_cases_behind_a_figure(programme, signed_in):
    p = programme
    response = signed_in(p.team.supervisor).get(f"/reports/cases/in_progress.csv?{PERIOD}&key=assessment")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.data.decode("utf-8-sig")
    assert p.c.number in body and p.e.number in body and p.d.number not in body
    assert p.c.client.nik not in body and p.c.client.nik[:4] + "*" * 10 in body
    assert p.c.client.full_name in body


def test_figure_table_as_csv(programme, signed_in):
    response = signed_in(programme.team.supervisor).get(f"/reports/export.csv?{PERIOD}&table=stages")
    assert response.status_code == 200
    assert signed_in(programme.team.supervisor).get("/reports/export.csv?table=nope").status_code == 404


def test_case_file_and_termination_report_are_pdfs_and_the_reading_is_audited(programme, signed_in):
    p = programme
    client = signed_in(p.team.supervisor)
    response = client.get(f"/reports/case/{p.a.id}/file.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    report = client.get(f"/reports/case/{p.a.id}/termination.pdf")
    assert report.status_code == 200 and report.mimetype == "application/pdf"
    db.session.rollback()  # see what the requests committed
    pages = [{k: v for k, v in context.items() if k != "request_id"}  # each request's own id
             for context in db.session.execute(select(AuditEvent.context).where(
                 AuditEvent.case_id == p.a.id, AuditEvent.action == "case.viewed")).scalars()]
    assert {"page": "pdf:case_file"} in pages and {"page": "pdf:termination_report"} in pages
    # not decided yet: explained and sent back, not a denied access
    assert client.get(f"/reports/case/{p.c.id}/termination.pdf").status_code == 303
    assert client.get(f"/reports/case/{p.d.id}/file.pdf").status_code == 404  # other team
    assert signed_in(p.team.manager).get(f"/reports/case/{p.a.id}/file.pdf").status_code == 403


def test_a_bad_date_is_ignored_with_a_message(team, signed_in):
    page = signed_in(team.supervisor).get("/reports/?start=31-12-2026")
    assert page.status_code == 200
    assert "Dari: &#39;31-12-2026&#39; bukan tanggal (gunakan TTTT-BB-HH); diabaikan." in page.text


def test_an_unknown_province_or_category_is_named_and_left_out(programme, signed_in):
    client = signed_in(programme.team.auditor)
    everywhere = _recorded_stat(client.get(f"/reports/?{PERIOD}").text)
    page = client.get(f"/reports/?{PERIOD}&province=zz&category=X99&facilitator=abc")
    assert page.status_code == 200
    for message in ("Provinsi: tidak ada kode &#39;zz&#39;; diabaikan.",
                    "Kategori PPKS: tidak ada kode &#39;X99&#39;; diabaikan.",
                    "Pendamping: &#39;abc&#39; bukan angka; diabaikan."):
        assert message in page.text
    assert _recorded_stat(page.text) == everywhere > 0  # not an empty province's zeros


def test_a_file_with_a_wrong_filter_is_refused_naming_it(programme, signed_in):
    client = signed_in(programme.team.auditor)
    for url in (f"/reports/export.xlsx?{PERIOD}&province=zz", f"/reports/cases/recorded.csv?{PERIOD}&province=zz",
                "/reports/export.csv?end=yesterday"):
        answer = client.get(url)
        assert answer.status_code == 400, url
        assert answer.mimetype == "text/html"
        assert "Berkas tidak dibuat: " in answer.text and "diabaikan" not in answer.text
        assert "Provinsi: tidak ada kode &#39;zz&#39;" in answer.text or "Sampai: &#39;yesterday&#39;" in answer.text
    assert client.get(f"/reports/export.xlsx?{PERIOD}&province=91").status_code == 200
    last_page = client.get(f"/reports/cases/recorded?{PERIOD}&page=99999999999999999999")
    assert last_page.status_code == 200 and programme.a.number in last_page.text
    huge = client.get(f"/reports/?{PERIOD}&facilitator=99999999999999999999")  # beyond INTEGER
    assert huge.status_code == 200 and "Pendamping: &#39;99999999999999999999&#39; bukan angka" in huge.text
    csv_answer = client.get(f"/reports/export.csv?{PERIOD}")
    assert csv_answer.headers["Content-Type"] == "text/csv; charset=utf-8"


def _recorded_stat(html: str) -> int:
    return int(re.search(r'<span class="stat-value">(\d+)</span><span class="stat-label">Terdata', html).group(1))


def test_programme_wide_dashboards_come_from_a_snapshot_of_the_last_minutes(app, programme, make, signed_in):
    t = programme.team
    client = signed_in(t.manager)
    before = _recorded_stat(client.get("/reports/").text)
    make.case(t.facilitator)
    cached = client.get("/reports/").text
    assert _recorded_stat(cached) == before and "Angka untuk seluruh program dihitung" in cached
    team_view = signed_in(t.supervisor).get("/reports/").text  # team dashboards are always live
    assert "Angka untuk seluruh program dihitung" not in team_view
    app.config["CASEFLOW_REPORT_SNAPSHOT_SECONDS"] = 0
    assert _recorded_stat(client.get("/reports/").text) == before + 1


def test_a_national_auditor_compares_facilitators_within_a_chosen_province(app, signed_in, programme):
    t = programme.team
    client = signed_in(t.auditor)
    national = client.get(f"/reports/?{PERIOD}").text
    assert "Pilih provinsi di atas" in national
    assert t.facilitator.full_name not in national  # no per-facilitator table nationally
    papua = client.get(f"/reports/?{PERIOD}&province=91").text
    assert "Pilih provinsi di atas" not in papua
    assert t.facilitator.full_name in papua and t.other_facilitator.full_name not in papua
    scoped = signed_in(t.province_auditor).get(f"/reports/?{PERIOD}").text  # scope: one province
    assert t.other_facilitator.full_name in scoped


def test_a_long_category_name_is_drawn_on_two_lines_not_cut():
    from caseflow.reports import charts

    svg = str(charts.bars("t", [("Anak yang Menjadi Korban Tindak Kekerasan", [2, 0])], ["a", "b"]))
    assert ">Anak yang Menjadi Korban</text>" in svg and ">Tindak Kekerasan</text>" in svg
    long = str(charts.bars("t", [("Anak yang Menjadi Korban Tindak Kekerasan atau Diperlakukan Salah", [1])], ["a"]))
    assert ">Tindak Kekerasan atau Diperla…</text>" in long
