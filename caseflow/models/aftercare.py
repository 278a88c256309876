"""Aftercare (bimbingan lanjut): a resolved case followed for a period the workflow file
sets, with planned follow-up contacts. The case stays resolved the whole time: its state,
its stage history and the moment it counted as resolved never change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Aftercare(db.Model):
    """One aftercare period: from the resolution to its planned end, or to a relapse (the
    case reopened during the period), whichever comes first."""

    __tablename__ = "aftercare"
    __table_args__ = (
        # The periods that ended in a report period (figures), and those running now.
        Index("ix_aftercare_ended_at", "ended_at", "case_id"),
        Index("ix_aftercare_case_started", "case_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # The resolution it follows: the instant the case entered its resolved stage.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it ends for good: the planned end, or the relapse that cut it short.
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None while it runs or once it ran its course; "relapsed" when the case was reopened.
    outcome: Mapped[str | None] = mapped_column(String(16))
    plan: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contacts: Mapped[list[AftercareContact]] = relationship(
        back_populates="aftercare", order_by="AftercareContact.number", cascade="all, delete-orphan"
    )

    def is_running(self, now: datetime | None = None) -> bool:
        return self.outcome is None and (now or utcnow()) < self.ended_at

    @classmethod
    def running_for(cls, case_id: int, now: datetime | None = None) -> Aftercare | None:
        """The aftercare period of this case running at `now`, if any."""
        return db.session.execute(
            select(cls).where(cls.case_id == case_id, cls.outcome.is_(None), cls.started_at <= (now or utcnow()),
                              cls.ended_at > (now or utcnow()))
            .order_by(cls.started_at.desc()).limit(1)
        ).scalar_one_or_none()

    @classmethod
    def latest_for(cls, case_id: int) -> Aftercare | None:
        return db.session.execute(
            select(cls).where(cls.case_id == case_id).order_by(cls.started_at.desc()).limit(1)
        ).scalar_one_or_none()


class AftercareContact(db.Model):
    """A planned follow-up contact: due on a day, made by a step logged within its window."""

    __tablename__ = "aftercare_contacts"
    __table_args__ = (Index("ix_aftercare_contacts_aftercare", "aftercare_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aftercare_id: Mapped[int] = mapped_column(ForeignKey("aftercare.id"))
    number: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The window in which a step makes this contact (the workflow file's window_days).
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"))
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    aftercare: Mapped[Aftercare] = relationship(back_populates="contacts")

    def status(self, now: datetime | None = None) -> str:
        """made / missed / open (its window is open now) / planned (not yet open)."""
        now = now or utcnow()
        if self.made_at is not None:
            return "made"
        if now >= self.closes_at:
            return "missed"
        return "open" if now >= self.opens_at else "planned"
