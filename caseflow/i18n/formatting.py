"""Numbers, percentages, dates, months and times the way the reader's language writes
them, through Babel: `55,6%`, `60,8`, `21 Nov 2026`, `6 Januari 2027`, `Jan 2026` in
Bahasa Indonesia; `55.6%`, `Nov 21, 2026`… in English.

The one place every layer formats a figure for a person (pages, charts, PDFs, the text
cells of exports): no percentage built by hand with an f-string elsewhere (tests/i18n/test_formatting.py
scans for them). Every function takes an optional `locale`; without one it uses the
request's language (Flask-Babel), or English outside a request (command line, logs).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from flask import has_request_context

from ..models.reference import TIMEZONE_ABBREVIATIONS
from .setup import request_locale_code

DASH = "–"


def current_locale(locale: str | None = None) -> str:
    """`locale` when given, else the request's language, else English."""
    if locale:
        return locale
    if has_request_context():
        return request_locale_code() or "id"
    return "en"


def _digits_pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits else "")


def number(value: float | int | Decimal | None, digits: int = 0, locale: str | None = None,
           *, trailing_zeros: bool = True) -> str:
    """`1.234` / `60,8` in Indonesian, `1,234` / `60.8` in English; a dash for no value."""
    if value is None:
        return DASH
    pattern = _digits_pattern(digits)
    if not trailing_zeros and digits:
        pattern = "#,##0." + "#" * digits
    return format_decimal(value, format=pattern, locale=current_locale(locale))


def percent(rate: float | Decimal | None, digits: int = 1, locale: str | None = None) -> str:
    """A rate between 0 and 1 as a percentage: `55,6%` (Indonesian), `55.6%` (English)."""
    if rate is None:
        return DASH
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(rate, format=pattern, locale=current_locale(locale))


def _as_date(value: date | datetime, zone: str | None) -> date:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(ZoneInfo(zone)).date() if zone else aware.date()
    return value


@functools.lru_cache(maxsize=64)
def _month_names(locale: str, width: str) -> tuple[str, ...]:
    """The month names Babel writes for MMM ("abbreviated") or MMMM ("wide"), 1-based."""
    names = Locale.parse(locale).months["format"][width]
    return ("", *(names[number] for number in range(1, 13)))


def _day_month_year(day: date, locale: str, width: str = "abbreviated") -> str:
    """Babel's `d MMM yyyy` (or `d MMMM yyyy`), without parsing the pattern for every
    value: a page writes dozens of them (tests/i18n/test_formatting.py compares the two)."""
    return f"{day.day} {_month_names(locale, width)[day.month]} {day.year:04d}"


def short_date(value: date | datetime | None, locale: str | None = None, zone: str | None = None) -> str:
    """`21 Nov 2026` / `21 Nov 2026` (tables and lists)."""
    if value is None:
        return ""
    return _day_month_year(_as_date(value, zone), current_locale(locale))


def long_date(value: date | datetime | None, locale: str | None = None, zone: str | None = None) -> str:
    """`6 Januari 2027` / `6 January 2027` (documents, signature places)."""
    if value is None:
        return ""
    return format_date(_as_date(value, zone), "d MMMM yyyy", locale=current_locale(locale))


def month(value: date | datetime | str | None, locale: str | None = None, *, long: bool = False) -> str:
    """A month: `Jan 2026` (or `Januari 2026` with long=True); accepts `2026-01`."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:7] + "-01")
    return format_date(_as_date(value, None), "MMMM yyyy" if long else "MMM yyyy", locale=current_locale(locale))


def zone_name(zone: str) -> str:
    """WIB, WITA or WIT for an Indonesian zone; the IANA name otherwise."""
    return TIMEZONE_ABBREVIATIONS.get(zone, zone)


def moment(value: datetime | None, zone: str = "Asia/Jakarta", locale: str | None = None,
           *, with_zone: bool = True, long: bool = False) -> str:
    """A stored UTC moment in `zone`: `5 Jan 2026 17:00 WIT`."""
    if value is None:
        return ""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(zone))
    # Babel's `d MMM yyyy HH:mm` (`d MMMM yyyy HH:mm` when long).
    text = (f"{_day_month_year(local, current_locale(locale), 'wide' if long else 'abbreviated')} "
            f"{local.hour:02d}:{local.minute:02d}")
    return f"{text} {zone_name(zone)}" if with_zone else text


def place_and_date(place: str | None, day: date | datetime, locale: str | None = None,
                   zone: str | None = None) -> str:
    """The line above a signature: `Wamena, 21 November 2026`."""
    text = long_date(day, locale, zone)
    return f"{place}, {text}" if place else text


class Rate(float):
    """A share between 0 and 1 that reads as a percentage: pages and CSV write `55,6%`,
    spreadsheets a number cell formatted as a percentage."""

    __slots__ = ()


class Month(date):
    """The first day of a month that stands for the month: `Jan 2026` on a page, a date
    cell formatted `mmm yyyy` in a spreadsheet."""

    __slots__ = ()

    @classmethod
    def of(cls, value: str | date) -> Month:
        if isinstance(value, str):
            value = date.fromisoformat(value[:7] + "-01")
        return cls(value.year, value.month, 1)


def cell_text(value: object, locale: str | None = None, zone: str = "Asia/Jakarta") -> str:
    """Any table value as a person reads it, in the reader's language."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Rate):
        return percent(value, 1, locale)
    if isinstance(value, Month):
        return month(value, locale)
    if isinstance(value, datetime):
        return moment(value, zone, locale)
    if isinstance(value, date):
        return short_date(value, locale)
    if isinstance(value, int):
        return number(value, 0, locale)
    if isinstance(value, float | Decimal):
        return number(value, 1, locale, trailing_zeros=False)
    return str(value)
