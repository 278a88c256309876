"""Runs of the background tasks: when each periodic task last ran and how it ended, so the
administrator's page, /readyz and the metrics can say when one has stopped running."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class TaskRun(db.Model):
    __tablename__ = "task_runs"
    __table_args__ = (Index("ix_task_runs_name_started", "name", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))  # the task's name in caseflow.tasks
    status: Mapped[str] = mapped_column(String(16), default="running")  # running / done / failed
    message: Mapped[str] = mapped_column(Text, default="")  # what it did, or why it failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
