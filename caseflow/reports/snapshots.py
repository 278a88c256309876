"""Programme-wide dashboards kept for a few minutes in `report_snapshots`.

National figures read hundreds of thousands of stage stays; programme managers and
national auditors need them fresh to the quarter hour, not to the second. The first
view computes the dashboard and stores it (services.snapshots), the next views within the
freshness window read it here (from any worker). Team and facilitator dashboards are always
computed live.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..database import utcnow
from ..extensions import db
from ..models import ReportSnapshot

DEFAULT_SECONDS = 600


def snapshot_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def fresh(key: str) -> tuple[datetime, Any] | None:
    seconds = current_app.config.get("CASEFLOW_REPORT_SNAPSHOT_SECONDS", DEFAULT_SECONDS)
    if not seconds:
        return None
    row = db.session.execute(select(ReportSnapshot).where(ReportSnapshot.key == key)).scalar_one_or_none()
    if row is None or row.created_at < utcnow() - timedelta(seconds=seconds):
        return None
    return row.created_at, row.payload
