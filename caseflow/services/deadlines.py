"""Who holds the ball: what must be done next on a case, by whom, and by when.

- A case waiting for a sign-off is with the deciding supervisor: its deadline is the
  sign-off's (working days, services/sign_off_policy.py), and it is never overdue for the
  facilitator.
- Any other open case is with its facilitator: finish the stage by the stage deadline.
- Closed cases hold no deadline here (aftercare and referrals keep their own).

Deadlines follow the one rule of caseflow/models/deadlines.py (the end of the last day
in the case's province zone; overdue, due today or upcoming, never two at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import LazyString
from sqlalchemy import exists, func, not_, select

from ..database import utcnow
from ..extensions import db
from ..i18n import _l
from ..models import Case, Role, SignOff, User
from ..models.deadlines import DeadlineStatus, deadline_status, last_day
from . import access
from .runtime import engine, engines
from .sign_off_policy import sign_off_due_at

FACILITATOR = "facilitator"
SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class NextAction:
    """What must happen next on a case, as `viewer` reads it."""

    holder: str  # FACILITATOR or SUPERVISOR: whose move it is
    holder_name: str
    what: Any  # a lazy translated string
    due_at: datetime | None
    zone: str
    status: DeadlineStatus | None
    mine: bool  # the viewer is the one who must act

    @property
    def last_day(self):
        return last_day(self.due_at, self.zone) if self.due_at else None

    @property
    def overdue(self) -> bool:
        return self.status == DeadlineStatus.OVERDUE

    def as_dict(self) -> dict[str, Any]:
        return {"holder": self.holder, "holder_name": self.holder_name, "what": str(self.what),
                "due_at": self.due_at, "last_day": self.last_day, "status": self.status.value if self.status else None,
                "mine": self.mine}


def _stage_title(case: Case) -> LazyString:
    return engine(case.workflow).definition.states[case.state].lazy_title


def next_action(case: Case, viewer: User | None, now: datetime | None = None) -> NextAction | None:
    """The next move on `case`: who must make it, what, by when (the case's zone)."""
    now = now or utcnow()
    workflow = engine(case.workflow)
    if workflow.is_final(case.state):
        return None
    zone = case.timezone
    pending = case.pending_sign_off
    if pending is not None:
        supervisor = case.facilitator.supervisor
        due = sign_off_due_at(pending)
        requested = workflow.definition.triggers.get(pending.requested_trigger)
        what = _l("Decide the request “%(request)s”",
                  request=requested[0].lazy_title if requested else pending.requested_trigger)
        mine = viewer is not None and viewer.role == Role.SUPERVISOR and viewer.id != case.facilitator_id
        return NextAction(SUPERVISOR, supervisor.full_name if supervisor else "", what, due, zone,
                          deadline_status(due, now, zone) if due else None, mine)
    due = case.stage_due_at
    what = _l("Finish the stage “%(stage)s”", stage=_stage_title(case))
    mine = viewer is not None and viewer.id == case.facilitator_id
    return NextAction(FACILITATOR, case.facilitator.full_name, what, due, zone,
                      deadline_status(due, now, zone) if due else None, mine)


def next_actions(cases: list[Case], viewer: User | None, now: datetime | None = None) -> dict[int, NextAction]:
    """`next_action` for a page of cases (one clock for all)."""
    now = now or utcnow()
    found = {}
    for case in cases:
        action = next_action(case, viewer, now)
        if action is not None:
            found[case.id] = action
    return found


# --- overdue, counted against whoever must act ---------------------------------------------


def _waiting_for_decision():
    return exists().where(SignOff.case_id == Case.id, SignOff.decision.is_(None))


def overdue_with_facilitators(viewer: User, now: datetime | None = None):
    """The viewer's open cases whose stage deadline passed and that wait for no decision:
    the facilitator's to act on (a statement over Case)."""
    now = now or utcnow()
    open_states = [s for w in engines().values() for s in w.definition.stage_order() if not w.is_final(s)]
    return access.visible_cases(viewer, select(Case)).where(
        Case.state.in_(open_states), Case.stage_due_at.is_not(None), Case.stage_due_at <= now,
        not_(_waiting_for_decision()))


def overdue_counts_by_facilitator(viewer: User, now: datetime | None = None) -> dict[int, int]:
    """{facilitator id: cases overdue with them} among the cases `viewer` sees."""
    statement = overdue_with_facilitators(viewer, now).with_only_columns(Case.facilitator_id, func.count()) \
        .group_by(Case.facilitator_id)
    return dict(db.session.execute(statement).all())


def decisions_overdue(sign_offs: list[SignOff], now: datetime | None = None) -> list[SignOff]:
    """The requests among `sign_offs` (undecided) whose decision deadline has passed."""
    now = now or utcnow()
    return [s for s in sign_offs if (due := sign_off_due_at(s)) is not None and now >= due]
