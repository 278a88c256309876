"""Sign-off policies: acting supervisors (delegation), escalations of overdue sign-offs,
and the in-app notifications they send."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .user import User


class Delegation(db.Model):
    """`acting` decides for `supervisor` from `starts_on` to `ends_on` (leave, transfer)."""

    __tablename__ = "supervisor_delegations"
    __table_args__ = (Index("ix_supervisor_delegations_acting", "acting_id", "starts_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    acting_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    supervisor: Mapped[User] = relationship(foreign_keys=[supervisor_id])
    acting: Mapped[User] = relationship(foreign_keys=[acting_id])


class SignOffEscalation(db.Model):
    """A sign-off whose deadline passed undecided, and to whom it was escalated."""

    __tablename__ = "sign_off_escalations"

    sign_off_id: Mapped[int] = mapped_column(ForeignKey("sign_offs.id"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The person who may now decide too (the supervisor's own supervisor), if any.
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Or the role that was notified.
    escalated_to_role: Mapped[str | None] = mapped_column(String(32))


class Notification(db.Model):
    """A message in the app for one user; its text is rendered in the reader's language."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
