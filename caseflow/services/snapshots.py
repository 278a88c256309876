"""Keeping a programme-wide dashboard for a few minutes (`report_snapshots`): what the read
side computed, stored so the next views from any worker can read it (reports.snapshots)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete

from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import ReportSnapshot


def store_snapshot(key: str, payload: Any) -> datetime:
    """Replace the snapshot under `key` (two workers storing at once: the later one wins)."""
    now = utcnow()
    with write_transaction():
        db.session.execute(delete(ReportSnapshot).where(ReportSnapshot.key == key))
        db.session.add(ReportSnapshot(key=key, created_at=now, payload=payload))
    return now
