"""The Indonesian national identity number (NIK): 16 digits that encode where and when.

Digits 1–2 province, 3–4 regency, 5–6 district, 7–12 birth date DDMMYY (women: day + 40),
13–16 serial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .i18n import _l


@dataclass(frozen=True)
class NikFacts:
    province_code: str
    birth_day: int
    birth_month: int
    birth_year_two_digits: int
    sex: str  # "F" or "M"


class NikError(ValueError):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def parse_nik(nik: str, province_codes: set[str] | frozenset[str]) -> NikFacts:
    """Return what a NIK says, or raise NikError with a sentence a person can act on."""
    if not isinstance(nik, str):
        raise NikError(_l("NIK must be text of 16 digits."))
    value = nik.strip()
    if not value.isdigit() or not value.isascii():
        raise NikError(_l("NIK may contain digits only."))
    if len(value) != 16:
        raise NikError(_l("NIK must have 16 digits (this one has %(n)s).", n=len(value)))
    province = value[:2]
    if province not in province_codes:
        raise NikError(_l("NIK starts with %(code)s, which is not a province code.", code=province))
    if value[2:4] == "00" or value[4:6] == "00":
        raise NikError(_l("NIK digits 3–6 must name a regency and a district (not 00)."))
    day, month, year = int(value[6:8]), int(value[8:10]), int(value[10:12])
    sex = "M"
    if day > 40:
        day -= 40
        sex = "F"
    if not _possible_date(day, month, year):
        raise NikError(_l("NIK digits 7–12 are not a possible birth date (DDMMYY, day + 40 for women)."))
    if value[12:] == "0000":
        raise NikError(_l("NIK serial (the last 4 digits) cannot be 0000."))
    return NikFacts(province, day, month, year, sex)


def _possible_date(day: int, month: int, year_two_digits: int) -> bool:
    # Either century must give a real date (29 February needs a leap year in one of them).
    for century in (1900, 2000):
        try:
            date(century + year_two_digits, month, day)
            return True
        except ValueError:
            continue
    return False


def nik_matches_birth_date(facts: NikFacts, birth_date: date) -> bool:
    return (
        facts.birth_day == birth_date.day
        and facts.birth_month == birth_date.month
        and facts.birth_year_two_digits == birth_date.year % 100
    )
