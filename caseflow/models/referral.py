"""Referrals (rujukan): a client sent to another service, and the answer that came back."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .case import Case, Goal, Step
from .user import User

# The kinds of service a client is referred to; the actual institution is named on each
# referral. Codes are stored; their names are shown in the reader's language.
DESTINATION_TYPES = ("dukcapil", "health", "bpjs", "school", "lks", "ppa", "police", "dinsos", "other")
# Days within which an answer is expected, per kind of service (a referral can say otherwise).
ANSWER_DAYS = {"dukcapil": 14, "health": 7, "bpjs": 14, "school": 14, "lks": 14, "ppa": 3, "police": 7,
               "dinsos": 14, "other": 14}
SENT = "sent"
STATUSES = ("sent", "accepted", "service_given", "refused", "no_answer")
ANSWERED = ("accepted", "service_given", "refused")
# Where a referral may go from each status: an answer may still come after "no answer".
NEXT_STATUSES = {
    "sent": ("accepted", "service_given", "refused", "no_answer"),
    "accepted": ("service_given", "refused", "no_answer"),
    "no_answer": ("accepted", "service_given", "refused"),
    "service_given": (),
    "refused": (),
}


class Referral(db.Model):
    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_case", "case_id", "sent_on"),
        # Waiting for an answer past the expected day (the overdue lists).
        Index("ix_referrals_status_expected", "status", "expected_answer_on", "case_id"),
        # Referrals sent in a period, by kind of service (figures).
        Index("ix_referrals_sent_on", "sent_on", "destination_type", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    destination_type: Mapped[str] = mapped_column(String(24))
    institution: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id"))
    sent_on: Mapped[date] = mapped_column(Date)
    expected_answer_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=SENT)
    feedback: Mapped[str] = mapped_column(Text, default="")
    # The day the answer (accepted, service given, refused) was received.
    answered_on: Mapped[date | None] = mapped_column(Date)
    # The step logged when it was sent: the referral is evidence of work like any step.
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    goal: Mapped[Goal | None] = relationship()
    step: Mapped[Step | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    def is_overdue(self, today: date) -> bool:
        """Still waiting for an answer after the day it was expected."""
        return self.status == SENT and self.expected_answer_on < today
