from __future__ import annotations

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

TIMEZONE_ABBREVIATIONS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}


class Province(db.Model):
    __tablename__ = "provinces"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(40))

    @property
    def timezone_abbreviation(self) -> str:
        return TIMEZONE_ABBREVIATIONS.get(self.timezone, self.timezone)


# Province code -> time zone, per process. Provinces are reference data shipped with the
# application (seed/provinces.csv) and written at deployment (services/reference.py), never
# by a request: a zone read once serves the process until it is restarted by the next
# deployment. Nearly every write and deadline reads one.
_ZONES: dict[str, str] = {}


def province_zone(code: str) -> str:
    """The time zone of the province with this code (which must exist)."""
    zone = _ZONES.get(code)
    if zone is None:
        zone = _ZONES[code] = db.session.execute(select(Province.timezone).where(Province.code == code)).scalar_one()
    return zone


def forget_province_zones() -> None:
    """After the reference data was written (in this process)."""
    _ZONES.clear()


class PpksCategory(db.Model):
    __tablename__ = "ppks_categories"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))

    def name(self, locale: str = "id") -> str:
        return self.name_en if locale == "en" else self.name_id
