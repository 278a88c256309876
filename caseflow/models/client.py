from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..security.fields import EncryptedText
from .reference import Province
from .user import User


class Client(db.Model):
    """A person receiving services (penerima manfaat)."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120), index=True)
    nik: Mapped[str | None] = mapped_column(String(16), unique=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    guardian_name: Mapped[str | None] = mapped_column(String(120))
    guardian_relationship: Mapped[str | None] = mapped_column(String(60))
    consent_given_by: Mapped[str] = mapped_column(String(120))
    consent_recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    consent_recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Indexed: a facilitator's (or a team's) client list starts from who registered them.
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the retention rule erased this person's data (figures stay, names go).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Health status (e.g. HIV): encrypted at rest (caseflow.security.fields).
    health_notes: Mapped[str | None] = mapped_column(EncryptedText("clients.health_notes"))

    province: Mapped[Province] = relationship()
    consent_recorded_by: Mapped[User] = relationship(foreign_keys=[consent_recorded_by_id])

    @property
    def masked_nik(self) -> str:
        return mask_nik(self.nik)

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


def mask_nik(nik: str | None) -> str:
    """Keep the province and regency (who is responsible) and the last two digits."""
    if not nik:
        return ""
    return nik[:4] + "*" * 10 + nik[-2:]
