"""Sync health: what each facilitator's tablet last reported when its outbox reached the
server (so a supervisor sees who is working blind), and the work that reached the server
long after it was done on the tablet (kept for the supervisor's review)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime
from ..extensions import db
from .case import Case
from .user import User


class SyncReport(db.Model):
    """One row per person: their latest outbox sync and what their tablet still held."""

    __tablename__ = "sync_reports"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    last_sync_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What stayed in the tablet's outbox after that sync; None: the tablet did not say.
    waiting: Mapped[int | None] = mapped_column(Integer, nullable=True)
    oldest_waiting_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LateArrival(db.Model):
    """An outbox entry that reached the server more than CASEFLOW_SYNC_REVIEW_DAYS after it
    was done on the tablet: the supervisor reviews it (was the case left waiting?)."""

    __tablename__ = "late_arrivals"
    __table_args__ = (Index("ix_late_arrivals_user", "user_id", "reached_server_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"), index=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(32))  # the outbox entry's kind
    created_on_tablet_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reached_server_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    case: Mapped[Case | None] = relationship()
