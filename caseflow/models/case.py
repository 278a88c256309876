from __future__ import annotations

import contextvars
import enum
from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    exists,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..security.fields import EncryptedText
from .client import Client
from .reference import PpksCategory, Province, province_zone
from .user import User

# Only the workflow engine may move a case between states (django-fsm's "protected"
# state field): everything else gets an error instead of a silent jump.
_state_change_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "state_change_allowed", default=False
)


class StateAssignmentError(AttributeError):
    pass


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class CaseNumberCounter(db.Model):
    """Next serial per province and year, so case numbers are short and never reused."""

    __tablename__ = "case_number_counters"

    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        # Covering: a facilitator's cases by state and their clients (caseload), and the
        # cases in each stage now by province and category (in progress, overdue).
        Index("ix_cases_facilitator_state", "facilitator_id", "state", "client_id"),
        Index("ix_cases_province_state", "province_code", "state"),
        Index("ix_cases_state_due", "state", "stage_due_at", "province_code", "ppks_category_code"),
        # The cases recorded in a period, from the index alone on PostgreSQL (SQLite's index
        # holds the id anyway; naming it there makes SQLite scan a year instead of a team).
        Index("ix_cases_opened_at", "opened_at", postgresql_include=["id"]),
        Index("ix_cases_closed_at", "closed_at", "opened_at"),
        # The open cases alone (closed_at is empty exactly while a case is not in a final
        # stage): everyone's caseload at once reads 40 % of the cases, not all of them.
        Index("ix_cases_open_facilitator_client", "facilitator_id", "client_id",
              postgresql_where=text("closed_at IS NULL"), sqlite_where=text("closed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    workflow: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    ppks_category_code: Mapped[str] = mapped_column(ForeignKey("ppks_categories.code"))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(40))
    risk_level: Mapped[str | None] = mapped_column(String(10))
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stage_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a closed-unresolved case was closed; empty for resolved and open cases.
    closure_reason: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Head of this case's audit chain, kept on the case row itself: every change of a case
    # already locks and updates this row, so the chain costs no extra row, lock or query.
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str | None] = mapped_column(String(64))
    audit_checkpointed_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    client: Mapped[Client] = relationship()
    facilitator: Mapped[User] = relationship(foreign_keys=[facilitator_id])
    ppks_category: Mapped[PpksCategory] = relationship()
    province: Mapped[Province] = relationship()
    assessment: Mapped[Assessment | None] = relationship(back_populates="case", uselist=False)
    plan: Mapped[InterventionPlan | None] = relationship(back_populates="case", uselist=False)
    evaluation: Mapped[Evaluation | None] = relationship(back_populates="case", uselist=False)
    termination: Mapped[TerminationRequest | None] = relationship(
        back_populates="case", uselist=False
    )
    steps: Mapped[list[Step]] = relationship(
        back_populates="case", order_by="Step.occurred_at", passive_deletes=True
    )
    sign_offs: Mapped[list[SignOff]] = relationship(
        back_populates="case", order_by="SignOff.requested_at"
    )

    @validates("state")
    def _protect_state(self, _key, value):
        if not _state_change_allowed.get():
            raise StateAssignmentError(
                "Case.state is changed only by the workflow engine (fire a trigger)"
            )
        return value

    def is_overdue(self, now: datetime | None = None) -> bool:
        return self.stage_due_at is not None and self.stage_due_at < (now or utcnow())

    def has_step_recorded_since(self, since: datetime) -> bool:
        """A step recorded at or after `since`: from the loaded steps, or one EXISTS query
        (a guard must not load a long case's every step)."""
        if "steps" in self.__dict__:
            return any(step.recorded_at >= since for step in self.steps)
        return bool(db.session.execute(select(exists().where(
            Step.case_id == self.id, Step.recorded_at >= since))).scalar())

    @property
    def active_goals(self) -> list[Goal]:
        """The goals of the case's plan that were not removed; none without a plan."""
        return self.plan.active_goals if self.plan is not None else []

    @property
    def timezone(self) -> str:
        """The case's province zone, in which its days and deadlines are counted."""
        return province_zone(self.province_code)

    @property
    def pending_sign_off(self) -> SignOff | None:
        for sign_off in self.sign_offs:
            if sign_off.decision is None:
                return sign_off
        return None

    def __repr__(self) -> str:
        return f"<Case {self.number} {self.state} v{self.version}>"


class Assessment(db.Model):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    problem: Mapped[str] = mapped_column(Text, default="")
    needs: Mapped[str] = mapped_column(Text, default="")
    strengths: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[str] = mapped_column(Text, default="")
    risk_level: Mapped[str | None] = mapped_column(String(10))
    # Notes on violence, abuse or trafficking: encrypted at rest (caseflow.security.fields).
    protection_notes: Mapped[str | None] = mapped_column(EncryptedText("assessments.protection_notes"))
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="assessment")


class InterventionPlan(db.Model):
    __tablename__ = "intervention_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="plan")
    goals: Mapped[list[Goal]] = relationship(
        back_populates="plan", order_by="Goal.position", cascade="all, delete-orphan"
    )

    @property
    def active_goals(self) -> list[Goal]:
        """The plan's goals that were not removed (removed ones stay for their steps)."""
        return [goal for goal in self.goals if not goal.archived]


class Goal(db.Model):
    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("intervention_plans.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text)
    target_date: Mapped[date | None] = mapped_column(Date)
    responsible_party: Mapped[str] = mapped_column(String(120), default="")
    # Goals that were removed from the plan stay for the steps that served them.
    archived: Mapped[bool] = mapped_column(default=False)

    plan: Mapped[InterventionPlan] = relationship(back_populates="goals")


class Evaluation(db.Model):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="evaluation")
    ratings: Mapped[list[GoalRating]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan"
    )


class GoalRating(db.Model):
    __tablename__ = "goal_ratings"
    __table_args__ = (UniqueConstraint("evaluation_id", "goal_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"))
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id"))
    # achieved / partly_achieved / not_achieved
    rating: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")

    evaluation: Mapped[Evaluation] = relationship(back_populates="ratings")
    goal: Mapped[Goal] = relationship()


class TerminationRequest(db.Model):
    __tablename__ = "termination_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(20))  # resolved / closed_unresolved
    closure_reason: Mapped[str | None] = mapped_column(String(40))
    reason_details: Mapped[str] = mapped_column(Text, default="")
    aftercare_plan: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="termination")


class Step(db.Model):
    """A logged piece of work on a case (langkah penanganan): the evidence it happened."""

    __tablename__ = "steps"
    __table_args__ = (
        Index("ix_steps_case_occurred", "case_id", "occurred_at"),
        Index("ix_steps_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    step_type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The zone the facilitator was in, so the time reads as they entered it.
    occurred_timezone: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    location: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    case: Mapped[Case] = relationship(back_populates="steps")
    goal: Mapped[Goal | None] = relationship()
    recorded_by: Mapped[User] = relationship()


class SignOff(db.Model):
    """A decision a workflow asks of someone other than the requester (persetujuan)."""

    __tablename__ = "sign_offs"
    __table_args__ = (
        Index("ix_sign_offs_pending", "decision", "requested_at"),
        # Covering: decisions of a period and the requests still waiting, with their times.
        Index("ix_sign_offs_decided_at", "decided_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    requested_trigger: Mapped[str] = mapped_column(String(64))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The case version the decider is shown; a later change means look again.
    case_version: Mapped[int] = mapped_column(Integer)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision: Mapped[str | None] = mapped_column(String(16))  # approved / rejected
    reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="sign_offs")
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
