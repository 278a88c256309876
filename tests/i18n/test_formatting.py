"""Numbers, shares, dates and months the reader's language's way, through one module:
pages, charts and spreadsheets (typed cells, an "about" sheet, sheet names cut between
words)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_datetime
from openpyxl import load_workbook

from caseflow.i18n import formatting as fmt
from caseflow.reports.tables import Table
from caseflow.transfers.exports import to_csv, to_xlsx

ROOT = Path(__file__).resolve().parent.parent.parent
PERIOD = "start=2026-01-01&end=2026-06-30"


def test_indonesian_and_english_numbers_and_shares():
    assert fmt.percent(0.5556, locale="id") == "55,6%"
    assert fmt.percent(0.5556, locale="en") == "55.6%"
    assert fmt.number(60.79, 1, locale="id") == "60,8"
    assert fmt.number(1234567, locale="id") == "1.234.567"
    assert fmt.number(1234567, locale="en") == "1,234,567"
    assert fmt.percent(None) == fmt.number(None) == "–"


def test_indonesian_dates_months_and_zones():
    assert fmt.short_date(date(2026, 11, 21), "id") == "21 Nov 2026"
    assert fmt.long_date(date(2027, 1, 6), "id") == "6 Januari 2027"
    assert fmt.long_date(date(2027, 1, 6), "en") == "6 January 2027"
    assert fmt.month("2026-01", "id") == "Jan 2026"
    assert fmt.month(date(2026, 5, 1), "id", long=True) == "Mei 2026"
    noon = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert fmt.moment(noon, "Asia/Jayapura", "id") == "5 Jan 2026 17:00 WIT"
    assert fmt.moment(noon, "Asia/Makassar", "id") == "5 Jan 2026 16:00 WITA"
    assert fmt.moment(noon, "Asia/Pontianak", "id") == "5 Jan 2026 15:00 WIB"
    assert fmt.place_and_date("Wamena", date(2026, 11, 21), "id") == "Wamena, 21 November 2026"


# A share or a number formatted by hand: `f"{x:.1f}%"`, `f"{x * 100:.0f}"`, `'%.1f'|format(…)`.
HAND_MADE = [re.compile(r"\{[^{}]*:[,_]?\.\d+f\}\s*%"), re.compile(r"\*\s*100\s*:[,_]?\.\d+f"),
             re.compile(r"'%\.\d+f[^']*'\s*\|\s*format"), re.compile(r"\*\s*100\)\s*\}\}\s*%")]


def test_no_hand_made_percentages_or_decimals_are_left():
    found = []
    for path in list((ROOT / "caseflow").rglob("*.py")) + list((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if any(pattern.search(line) for pattern in HAND_MADE):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "format these through caseflow.i18n.formatting:\n" + "\n".join(found)


def test_the_scan_finds_a_hand_made_percentage():
    assert any(p.search('return f"{value * 100:.1f}%"') for p in HAND_MADE)
    assert any(p.search("{{ '%.1f'|format(rate * 100) }}%") for p in HAND_MADE)
    assert not any(p.search('f\'<rect x="{bx:.1f}"\'') for p in HAND_MADE)


def test_dashboard_shows_shares_and_months_in_the_readers_language(programme, signed_in):
    client = signed_in(programme.team.auditor)
    html = client.get(f"/reports/?{PERIOD}").text
    assert re.search(r">\d{1,3},\d%<", html), "an Indonesian share such as 55,6%"
    assert not re.search(r">\d{1,3}\.\d%<", html)
    assert "Jan 2026" in html and ">2026-01<" not in html and ">26-01<" not in html
    client.post("/language", data={"locale": "en"})
    html = client.get(f"/reports/?{PERIOD}").text
    assert re.search(r">\d{1,3}\.\d%<", html)


def test_xlsx_cells_keep_their_types_and_csv_writes_readable_text():
    table = Table("trend", "Per bulan", ["Bulan", "Terdata", "Tingkat penyelesaian", "Dicatat"], [
        [fmt.Month.of("2026-01"), 12, fmt.Rate(0.556), datetime(2026, 1, 1, 12, tzinfo=UTC)],
    ])
    workbook = load_workbook(io.BytesIO(to_xlsx([table], "Asia/Jayapura")))
    sheet = workbook["Per bulan"]
    month, count, rate, moment = sheet[2]
    assert isinstance(month.value, datetime) and month.value.date() == date(2026, 1, 1) and month.is_date
    assert month.number_format == "mmm yyyy"
    assert count.value == 12 and count.data_type == "n"
    assert rate.value == pytest.approx(0.556) and rate.data_type == "n" and rate.number_format == "0.0%"
    assert moment.is_date and moment.value == datetime(2026, 1, 1, 21, 0)  # in Papua's zone
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fmt, "current_locale", lambda locale=None: locale or "id")
        text = to_csv(table, "Asia/Jayapura").decode("utf-8-sig")
    assert "Jan 2026,12,\"55,6%\",1 Jan 2026 21:00 WIT" in text


def test_sheet_names_are_cut_between_words_and_stay_unique():
    long_title = "Hari dari terdata sampai terselesaikan per kategori"
    tables = [Table("a", long_title, ["x"], [[1]]), Table("b", long_title, ["x"], [[2]])]
    names = load_workbook(io.BytesIO(to_xlsx(tables))).sheetnames
    assert all(len(name) <= 31 for name in names)
    assert names[0] == "Hari dari terdata sampai"
    assert names[1].endswith(" 2") and names[1] != names[0]
    for name in names:
        assert all(word in long_title.split() for word in name.removesuffix(" 2").split())


def test_the_figures_workbook_opens_with_what_it_holds(programme, signed_in):
    auditor = programme.team.auditor
    workbook = load_workbook(io.BytesIO(signed_in(auditor).get(f"/reports/export.xlsx?{PERIOD}").data))
    about = workbook.worksheets[0]
    assert about.title == "Tentang berkas ini"
    text = {row[0].value: row[1] for row in about.iter_rows(min_row=2)}
    assert auditor.full_name in text["Dibuat untuk"].value
    assert text["Periode"].value == "1 Jan 2026 – 30 Jun 2026"
    assert text["Dibuat pada"].is_date
    for sheet in workbook.worksheets[1:]:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                assert not (isinstance(cell.value, str) and re.fullmatch(r"[\d.,]+%?", cell.value)), \
                    (sheet.title, cell.coordinate, cell.value)


def test_a_case_list_workbook_says_what_it_holds_and_keeps_dates_as_dates(programme, signed_in):
    response = signed_in(programme.team.auditor).get(f"/reports/cases/recorded.xlsx?{PERIOD}")
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames[0] == "Tentang berkas ini" and len(workbook.sheetnames) == 2
    cases = workbook.worksheets[1]
    moments = [cell for row in cases.iter_rows(min_row=2) for cell in row if cell.is_date]
    assert moments, "the recorded and due moments are date cells"


@pytest.mark.parametrize("locale", ["id", "en"])
def test_dates_and_moments_read_as_babel_writes_them(locale):
    """short_date and moment write Babel's patterns themselves (a page writes dozens)."""
    for month_number in range(1, 13):
        for day, hour, minute in ((1, 0, 0), (9, 7, 5), (28, 23, 59)):
            value = datetime(2026, month_number, day, hour, minute, tzinfo=UTC)
            assert fmt.short_date(value.date(), locale) == format_date(value.date(), "d MMM yyyy", locale=locale)
            for zone in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"):
                local = value.astimezone(ZoneInfo(zone))
                for long, pattern in ((False, "d MMM yyyy HH:mm"), (True, "d MMMM yyyy HH:mm")):
                    assert fmt.moment(value, zone, locale, with_zone=False, long=long) == format_datetime(
                        local, pattern, locale=locale)
    assert fmt.short_date(date(987, 3, 4), locale) == format_date(date(987, 3, 4), "d MMM yyyy", locale=locale)


def test_the_requests_language_code_follows_a_forced_or_refreshed_locale(app):
    """The code is remembered with the locale it was written for: a forced language (an
    e-mail in the recipient's) or a refreshed one (a switch) gets its own."""
    from flask import session
    from flask_babel import force_locale, refresh

    from caseflow.web.formatting import locale_code

    with app.test_request_context("/"):
        assert locale_code() == fmt.current_locale() == "id"
        with force_locale("en"):
            assert locale_code() == fmt.current_locale() == "en"
        assert locale_code() == "id"
        session["locale"] = "en"
        refresh()
        assert locale_code() == fmt.current_locale() == "en"
    assert fmt.current_locale() == "en"  # outside a request
