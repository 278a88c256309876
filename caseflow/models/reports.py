"""Tables that serve monitoring: each case's stays in each stage, and background jobs
(imports, exports) whose progress several workers must be able to read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    bindparam,
    false,
    select,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class CaseStageHistory(db.Model):
    """One stay of a case in one stage: entered, left (empty while it is there), how long.

    Written by the case services in the same transaction as the move, so time-in-stage
    and "as of a date" figures are plain aggregates instead of a replay of the audit trail.
    """

    __tablename__ = "case_stage_history"
    __table_args__ = (
        # A team's or a facilitator's figures: their cases' stays by stage and time, from the
        # index; and a case's stays, its open one too (closed at every move: a case has a few
        # stays, read from here without an index of their own by (case_id, left_at), which a
        # move would write one more entry in).
        Index("ix_case_stage_history_case_stage", "case_id", "stage", "entered_at"),
        # Covering: the cases that entered a stage in a period, from the index alone.
        Index("ix_case_stage_history_stage_entered", "stage", "entered_at", "case_id"),
        Index("ix_case_stage_history_stage_left", "stage", "left_at"),
        # Every move of every case inserts a stay and closes one, and each index an entry
        # changes in is written with it (one more page in SQLite's commit). These three hold
        # only the stays their figures read (the reopenings, the repeat entries, the stays
        # that ended), as partial indexes that the figures' own conditions select
        # (`reopened = true`, `repeat_entry = true`, a period of left_at).
        Index("ix_case_stage_history_reopened", "reopened", "entered_at", "case_id",
              postgresql_where=text("reopened"), sqlite_where=text("reopened = 1")),
        Index("ix_case_stage_history_repeat", "repeat_entry", "entered_at", "case_id",
              postgresql_where=text("repeat_entry"), sqlite_where=text("repeat_entry = 1")),
        # Covers "stays that ended in the period" (durations, distribution) without row reads.
        Index("ix_case_stage_history_left_stage", "left_at", "stage", "duration_seconds",
              postgresql_where=text("left_at IS NOT NULL"), sqlite_where=text("left_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    stage: Mapped[str] = mapped_column(String(40))
    # The trigger that brought the case here (empty for the first stage).
    trigger: Mapped[str | None] = mapped_column(String(64))
    reopened: Mapped[bool] = mapped_column(default=False)
    # A final stage or a reopening entered by a case that had been reopened before: the
    # only stays by which a case can enter a counted figure a second time.
    repeat_entry: Mapped[bool] = mapped_column(default=False, server_default=false())
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    # For a final stage: why a closed-unresolved case was closed.
    closure_reason: Mapped[str | None] = mapped_column(String(40))

    @classmethod
    def record_entry(cls, case: Any, trigger: str | None = None, *, reopened: bool = False,
                     previous_entered_at: datetime | None = None) -> None:
        """Close the case's current stay (entered at `previous_entered_at`) and open one for
        the stage it is now in. Core statements: this runs on every move of every case."""
        entry = cls.entry(case, trigger, reopened=reopened, previous_entered_at=previous_entered_at)
        connection = db.session.connection()
        if previous_entered_at is not None:
            connection.execute(CLOSE_STAY, entry)
        connection.execute(OPEN_STAY, entry)

    @staticmethod
    def entry(case: Any, trigger: str | None = None, *, reopened: bool = False,
              previous_entered_at: datetime | None = None) -> dict[str, Any]:
        """The parameters of CLOSE_STAY and OPEN_STAY for the case's entry into the stage it
        is now in (a writer that sends them with other statements at once takes these)."""
        now = case.stage_entered_at
        return {
            "stay_case_id": case.id, "stay_stage": case.state, "stay_trigger": trigger, "stay_reopened": reopened,
            # Whether it is a repeat is read by OPEN_STAY itself: only a reopening or a final
            # stage can be one.
            "stay_may_repeat": reopened or case.closed_at is not None,
            "stay_entered_at": now, "stay_due_at": case.stage_due_at, "stay_closure_reason": case.closure_reason,
            "stay_duration": (max(0, int((now - previous_entered_at).total_seconds()))
                              if previous_entered_at is not None else None),
        }


# Built once, with bind parameters: building them cost more than running them.
_stays = CaseStageHistory.__table__
_stay_case = bindparam("stay_case_id")
CLOSE_STAY = (_stays.update().where(_stays.c.case_id == _stay_case, _stays.c.left_at.is_(None))
              .values(left_at=bindparam("stay_entered_at"), duration_seconds=bindparam("stay_duration")))
_earlier_reopening = select(_stays.c.id).where(_stays.c.case_id == _stay_case, _stays.c.reopened == true()).exists()
OPEN_STAY = _stays.insert().values(
    case_id=_stay_case, stage=bindparam("stay_stage"), trigger=bindparam("stay_trigger"),
    reopened=bindparam("stay_reopened"),
    repeat_entry=and_(bindparam("stay_may_repeat", type_=Boolean), _earlier_reopening),
    entered_at=bindparam("stay_entered_at"), due_at=bindparam("stay_due_at"),
    closure_reason=bindparam("stay_closure_reason"),
)


class ReportJob(db.Model):
    """A long import or export: its state lives in the database so any worker can report it."""

    __tablename__ = "report_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # import / export
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/running/done/failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReportFile(db.Model):
    """The file an export job produced. It lives in the database, so whichever worker
    answers the download can serve it; it holds personal data, so it is deleted when it
    expires (transfers.export_jobs.purge_expired) or when its owner deletes it."""

    __tablename__ = "report_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("report_jobs.id"), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ReportFilePart(db.Model):
    """One piece of a ReportFile (about a megabyte), so neither writing nor serving a long
    export ever holds the whole file in memory."""

    __tablename__ = "report_file_parts"

    file_id: Mapped[int] = mapped_column(ForeignKey("report_files.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ReportSnapshot(db.Model):
    """A national dashboard as computed a few minutes ago: programme-wide figures are
    read from here instead of being recomputed on every page view (see reports.snapshots)."""

    __tablename__ = "report_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[Any] = mapped_column(JSON, nullable=False)
