"""Supervision as a record (sesi supervisi): a session a supervisor holds with one
facilitator (individual) or several (group), about one or more cases, with notes and
action points that have an owner and a due date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .case import Case
from .user import User

INDIVIDUAL, GROUP = "individual", "group"
SESSION_KINDS = (INDIVIDUAL, GROUP)

session_facilitators = Table(
    "supervision_session_facilitators", db.metadata,
    Column("session_id", ForeignKey("supervision_sessions.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
)

session_cases = Table(
    "supervision_session_cases", db.metadata,
    Column("session_id", ForeignKey("supervision_sessions.id"), primary_key=True),
    Column("case_id", ForeignKey("cases.id"), primary_key=True, index=True),
)


class SupervisionSession(db.Model):
    __tablename__ = "supervision_sessions"
    __table_args__ = (Index("ix_supervision_sessions_supervisor_held", "supervisor_id", "held_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # individual / group
    held_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supervisor: Mapped[User] = relationship(foreign_keys=[supervisor_id])
    facilitators: Mapped[list[User]] = relationship(secondary=session_facilitators, order_by=User.full_name)
    cases: Mapped[list[Case]] = relationship(secondary=session_cases, order_by=Case.number)
    action_points: Mapped[list[ActionPoint]] = relationship(back_populates="session", order_by="ActionPoint.id")


class ActionPoint(db.Model):
    """Something to do after a session: who, by when, about which case; ticked off when done."""

    __tablename__ = "supervision_action_points"
    __table_args__ = (Index("ix_supervision_action_points_case", "case_id", "done_at"),
                      Index("ix_supervision_action_points_owner", "owner_id", "done_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("supervision_sessions.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    session: Mapped[SupervisionSession] = relationship(back_populates="action_points")
    case: Mapped[Case | None] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
