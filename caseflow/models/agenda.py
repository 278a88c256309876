"""The agenda (agenda kerja) and work targets (target kinerja).

Most of the agenda is read from where the work lives (stage deadlines, goals, aftercare
contacts, referrals, sign-offs): only what exists nowhere else is kept here — a visit or
contact a facilitator plans, their agenda settings (reminders, the private calendar feed)
and the reminders already sent. Work targets are set per measure and period; progress is
computed from the figures (caseflow/reports/figures/targets.py), never stored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db
from .case import Case, Step
from .user import User

PLANNED, DONE, CANCELLED = "planned", "done", "cancelled"
PERIOD_KINDS = ("month", "quarter", "year")
# What a work target counts (their definitions: caseflow/reports/figures/targets.py).
MEASURES = ("cases_resolved", "assessed_within", "visits_made", "referrals_answered", "aftercare_contacts_made")


class PlannedVisit(db.Model):
    """A visit or contact a facilitator plans on a case (kunjungan terencana): done when a
    step of its type is logged on the case on its day; missed once its day is over."""

    __tablename__ = "planned_visits"
    __table_args__ = (
        Index("ix_planned_visits_facilitator", "facilitator_id", "status", "planned_at"),
        Index("ix_planned_visits_case", "case_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # Whose agenda it is on: the case's facilitator when it was planned.
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    step_type: Mapped[str] = mapped_column(String(32))
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The zone the facilitator planned in: the day is read there.
    timezone: Mapped[str] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(String(200), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=PLANNED)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    step: Mapped[Step | None] = relationship()
    facilitator: Mapped[User] = relationship(foreign_keys=[facilitator_id])


def waiting_for_step(case_id: Any, step_type: Any) -> Any:
    """Where a planned visit waits for a step: of this case and step type, still planned (a
    step on the visit's day makes it done, services.agenda). One rule for the agenda's
    look-up and the step's INSERT, which says whether any waits at all."""
    visits = PlannedVisit.__table__
    return and_(visits.c.case_id == case_id, visits.c.status == PLANNED, visits.c.step_type == step_type)


class AgendaSettings(db.Model):
    """One person's agenda settings: which reminders they get, and their private calendar
    feed (only a hash of its secret is kept; revoking it empties the hash)."""

    __tablename__ = "agenda_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    remind_tomorrow: Mapped[bool] = mapped_column(Boolean, default=True)
    remind_overdue: Mapped[bool] = mapped_column(Boolean, default=True)
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    feed_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Off by default: the feed's events say only the item's type and the case number.
    feed_details: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgendaReminder(db.Model):
    """A reminder already sent for one agenda item, so the scheduled job sends it once."""

    __tablename__ = "agenda_reminders"
    __table_args__ = (UniqueConstraint("user_id", "item_key", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # tomorrow / overdue
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkTarget(db.Model):
    """A work target (target kinerja): the national default of a measure per period kind
    (no facilitator, no period start: it holds for every period from when it is set), or a
    facilitator's target for one period set by their supervisor with a reason. Rows are
    never changed: a new one supersedes the last (the history stays readable)."""

    __tablename__ = "work_targets"
    __table_args__ = (
        Index("ix_work_targets_lookup", "facilitator_id", "period_kind", "measure", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facilitator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    period_kind: Mapped[str] = mapped_column(String(8))  # month / quarter / year
    period_start: Mapped[date | None] = mapped_column(Date)
    measure: Mapped[str] = mapped_column(String(32))
    target: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PerformanceReport(db.Model):
    """A facilitator's results of one period signed by their supervisor (four eyes: never
    by the facilitator themselves) for the PPPK evaluation: the figures approved are kept
    as they were shown, with their digest, so a later change of the figures shows."""

    __tablename__ = "performance_reports"
    __table_args__ = (UniqueConstraint("facilitator_id", "period_kind", "period_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    figures: Mapped[Any] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")

    facilitator: Mapped[User] = relationship(foreign_keys=[facilitator_id])
    signed_by: Mapped[User] = relationship(foreign_keys=[signed_by_id])


def figures_digest(figures: dict[str, Any]) -> str:
    """The digest binding a performance report's signature to the figures it approved."""
    return hashlib.sha256(json.dumps(figures, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
