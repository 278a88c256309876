"""Sync health (issue 15): each facilitator's last outbox sync and what their tablet still
held then, and the work that reached the server more than CASEFLOW_SYNC_REVIEW_DAYS after
it was done on the tablet, for the supervisor's review.

The tablet reports, with each outbox batch, how many entries stay behind in its outbox
(outside the batch) and when the oldest of them was queued; absent means unknown. The
entries of the batch the server did not apply (refused, held back) stay on the tablet too,
so they are added here: the row says what the tablet holds after this sync. Written in the
sync's own transaction; not audited (one row per person, overwritten at every sync, tells
nothing about a case)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import Select, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from ..database import utcnow, write_transaction
from ..extensions import db
from ..models import Case, LateArrival, Role, Step, SyncReport, User
from . import access, idempotency
from .context import Actor

DEFAULT_REVIEW_DAYS = 3


def review_days() -> int:
    """CASEFLOW_SYNC_REVIEW_DAYS: work done on the tablet this many days before it reached
    the server is marked for review; a last sync older than this is highlighted."""
    if has_app_context():
        return int(current_app.config.get("CASEFLOW_SYNC_REVIEW_DAYS", DEFAULT_REVIEW_DAYS))
    return DEFAULT_REVIEW_DAYS


def is_stale(moment: datetime | None, now: datetime | None = None) -> bool:
    """Older than the review threshold (None: never, so stale as well)."""
    return moment is None or (now or utcnow()) - moment > timedelta(days=review_days())


@dataclass(frozen=True)
class TabletReport:
    waiting: int | None = None
    oldest_waiting_at: datetime | None = None


def note_entry(actor: Actor, kind: str, case_id: int | None, result) -> None:
    """Inside an applied outbox entry: mark it for review when it was done on the tablet
    more than the review threshold before now."""
    done_at = actor.device_time
    if done_at is None or actor.user is None:
        return
    now = utcnow()
    if now - done_at <= timedelta(days=review_days()):
        return
    step_id = result.id if isinstance(result, Step) else None
    if case_id is None and isinstance(result, Step):
        case_id = result.case_id
    db.session.add(LateArrival(user_id=actor.user.id, case_id=case_id, step_id=step_id, kind=kind,
                               created_on_tablet_at=done_at, reached_server_at=now))


def sync_outbox(user: User, batch: idempotency.Batch, items: list[idempotency.Item], refused: Callable,
                report: TabletReport, device_times: Sequence[datetime | None]) -> list[idempotency.StoredResult]:
    """Apply a tablet's batch (idempotency.Batch) and record, in the same transaction, the
    sync and what the tablet still holds."""
    with write_transaction():
        answers = batch.run(items, refused)
        staying = [when for when, answer in zip(device_times, answers, strict=True)
                   if not 200 <= answer.status < 300]
        waiting = None if report.waiting is None else report.waiting + len(staying)
        times = [t for t in (report.oldest_waiting_at, *staying) if t is not None]
        oldest = min(times) if times and waiting else None
        _upsert(user.id, utcnow(), waiting, oldest)
    return answers


def _upsert(user_id: int, now: datetime, waiting: int | None, oldest: datetime | None) -> None:
    connection = db.session.connection()
    connection.execute(_upsert_statement(connection.dialect.name), {
        "user_id": user_id, "last_sync_at": now, "waiting": waiting, "oldest_waiting_at": oldest})


@functools.cache
def _upsert_statement(dialect_name: str):
    """Every outbox sent ends with this: built once per process, the row's values bound."""
    table = SyncReport.__table__
    statement = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)
    return statement.on_conflict_do_update(index_elements=["user_id"], set_={
        name: statement.excluded[name] for name in ("last_sync_at", "waiting", "oldest_waiting_at")})


@dataclass(frozen=True)
class SyncHealth:
    last_sync_at: datetime | None
    waiting: int | None
    oldest_waiting_at: datetime | None
    late: int  # entries that reached the server late (for review)

    @property
    def blind(self) -> bool:
        """No sync within the threshold, or work waiting on the tablet longer than it."""
        if self.last_sync_at is None:  # never used the offline app: nothing to say
            return False
        return is_stale(self.last_sync_at) or (
            self.oldest_waiting_at is not None and is_stale(self.oldest_waiting_at))


def with_health(statement: Select) -> Select:
    """`statement` (over User) with each person's last sync, what their tablet held then
    and their late-work count as its last four columns (`SyncHealth(*row[-4:])`)."""
    late = (select(func.count(LateArrival.id)).where(LateArrival.user_id == User.id)
            .correlate(User).scalar_subquery())
    return (statement.add_columns(SyncReport.last_sync_at, SyncReport.waiting, SyncReport.oldest_waiting_at, late)
            .outerjoin(SyncReport, SyncReport.user_id == User.id))


def late_arrivals_for(supervisor: User) -> list[LateArrival]:
    """The late work of the supervisor's team (their own and the teams they act for),
    latest first; nothing for anyone else."""
    if supervisor.role != Role.SUPERVISOR:
        return []
    return list(db.session.execute(
        select(LateArrival).options(selectinload(LateArrival.user), selectinload(LateArrival.case))
        .where(LateArrival.user_id.in_(access.supervised_ids(supervisor)))
        .order_by(LateArrival.reached_server_at.desc(), LateArrival.id.desc()).limit(200)).scalars())


def late_step_ids(viewer: User, case: Case, step_ids: list[int]) -> set[int]:
    """Which of the case's shown steps reached the server late: for the supervisor who
    reviews them (no statement for anyone else)."""
    if viewer.role != Role.SUPERVISOR or not step_ids:
        return set()
    return set(db.session.execute(select(LateArrival.step_id).where(
        and_(LateArrival.case_id == case.id, LateArrival.step_id.in_(step_ids)))).scalars())


def sync_lag() -> tuple[float, int]:
    """For the metrics: the age in seconds of the oldest entry any tablet reported waiting
    (0: none), and how many active facilitators who use the offline app have not synced
    within the threshold."""
    now = utcnow()
    oldest = db.session.execute(select(func.min(SyncReport.oldest_waiting_at))).scalar()
    cutoff = now - timedelta(days=review_days())
    stale = db.session.execute(
        select(func.count(User.id)).join(SyncReport, SyncReport.user_id == User.id)
        .where(User.role == Role.FACILITATOR, User.active.is_(True), SyncReport.last_sync_at < cutoff)).scalar() or 0
    return ((now - oldest).total_seconds() if oldest else 0.0), stale
