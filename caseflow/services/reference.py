"""Reference data: the 38 provinces and 26 PPKS categories shipped with the application."""

from __future__ import annotations

import csv
from importlib import resources

from ..database import write_transaction
from ..extensions import db
from ..models import PpksCategory, Province
from ..models.reference import forget_province_zones


def _rows(filename: str) -> list[dict[str, str]]:
    text = resources.files("caseflow").joinpath("seed", filename).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def seed_reference_data() -> tuple[int, int]:
    """Insert or update provinces and categories; safe to run again."""
    with write_transaction():
        for row in _rows("provinces.csv"):
            db.session.merge(Province(code=row["code"], name=row["name"], timezone=row["timezone"]))
        for row in _rows("ppks_categories.csv"):
            db.session.merge(PpksCategory(code=row["code"], name_id=row["name_id"], name_en=row["name_en"]))
    forget_province_zones()
    return len(_rows("provinces.csv")), len(_rows("ppks_categories.csv"))
