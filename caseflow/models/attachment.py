"""Attachments (lampiran): photos, scanned documents and consent signatures of a case or
a step. The content lives outside the database, encrypted (services/attachments.py); the
row says what it is, whose it is, and its hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db

# What an attachment is for: a photo (of a home visit, say), a document (KTP/KK, a
# referral's answer, a school letter), a consent signature at registration or termination.
PURPOSES = ("photo", "document", "consent_registration", "consent_termination")
CONTENT_TYPES = ("image/jpeg", "image/png", "application/pdf")


class Attachment(db.Model):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_case", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    purpose: Mapped[str] = mapped_column(String(24))
    content_type: Mapped[str] = mapped_column(String(40))  # found from the content, not the name
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
