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
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import exists, func, not_, select
from sqlalchemy.sql.selectable import ScalarSelect

from ..database import utcnow
from ..extensions import db
from ..i18n import _l
from ..models import Case, Role, SignOff, User
from ..models.deadlines import DeadlineStatus, deadline_status, last_day
from ..models.reference import TIMEZONE_ABBREVIATIONS
from . import access
from .runtime import engine, engines
from .sign_off_policy import request_due_at, sign_off_due_at

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
    def zone_abbreviation(self) -> str:
        return TIMEZONE_ABBREVIATIONS.get(self.zone, self.zone)

    @property
    def overdue(self) -> bool:
        return self.status == DeadlineStatus.OVERDUE

    def as_dict(self) -> dict[str, Any]:
        return {"holder": self.holder, "holder_name": self.holder_name, "what": str(self.what),
                "due_at": self.due_at, "last_day": self.last_day, "status": self.status.value if self.status else None,
                "mine": self.mine}


class CaseFacts(NamedTuple):
    """What `next_action` reads of a case, for a list that selects these values itself."""

    workflow: str
    state: str
    zone: str  # the case's province zone
    facilitator_id: int
    facilitator_name: str
    supervisor_name: str | None  # the facilitator's supervisor
    stage_due_at: datetime | None
    pending_trigger: str | None  # the request waiting for a decision, if any
    pending_requested_at: datetime | None


def next_action(case: Case, viewer: User | None, now: datetime | None = None) -> NextAction | None:
    """The next move on `case`: who must make it, what, by when (the case's zone)."""
    now = now or utcnow()
    if engine(case.workflow).is_final(case.state):
        return None
    zone = case.timezone
    pending = case.pending_sign_off
    if pending is not None:
        supervisor = case.facilitator.supervisor
        # From the request's values and the case's (a case read as values has no object
        # for the request to find it by).
        due_at = request_due_at(case.workflow, pending.requested_trigger, pending.requested_at, zone)
        return _decision_action(case.workflow, pending.requested_trigger, due_at, zone,
                                case.facilitator_id, supervisor.full_name if supervisor else "", viewer, now)
    return _stage_action(case.workflow, case.state, case.stage_due_at, zone, case.facilitator_id,
                         case.facilitator.full_name, viewer, now)


def pending_request(column: Any) -> ScalarSelect:
    """`column` of the request a case waits on (Case.pending_sign_off: its first undecided
    one), correlated to Case: for a list that selects `CaseFacts` itself."""
    return (select(column).where(SignOff.case_id == Case.id, SignOff.decision.is_(None))
            .order_by(SignOff.requested_at, SignOff.id).limit(1).correlate(Case).scalar_subquery())


def next_action_of(facts: CaseFacts, viewer: User | None, now: datetime) -> NextAction | None:
    """`next_action` from a case's values (`CaseFacts`)."""
    if engine(facts.workflow).is_final(facts.state):
        return None
    if facts.pending_trigger is not None:
        due = request_due_at(facts.workflow, facts.pending_trigger, facts.pending_requested_at, facts.zone)
        return _decision_action(facts.workflow, facts.pending_trigger, due, facts.zone, facts.facilitator_id,
                                facts.supervisor_name or "", viewer, now)
    return _stage_action(facts.workflow, facts.state, facts.stage_due_at, facts.zone, facts.facilitator_id,
                         facts.facilitator_name, viewer, now)


def _what(kind: str, workflow: str, name: str) -> Any:
    """What must be done, as a lazy string (translated when shown): one per stage or request
    and application, so that a page of cases renders each wording once (a page memoises
    by the object)."""
    texts = current_app.extensions.setdefault("caseflow.next_action_texts", {})
    text = texts.get((kind, workflow, name))
    if text is None:
        definition = engine(workflow).definition
        if kind == SUPERVISOR:
            requested = definition.triggers.get(name)
            text = _l("Decide the request “%(request)s”", request=requested[0].lazy_title if requested else name)
        else:
            text = _l("Finish the stage “%(stage)s”", stage=definition.states[name].lazy_title)
        texts[kind, workflow, name] = text
    return text


def _decision_action(workflow: str, trigger: str, due: datetime | None, zone: str, facilitator_id: int,
                     supervisor_name: str, viewer: User | None, now: datetime) -> NextAction:
    """A request waits for a decision: the deciding supervisor's move (never the facilitator's)."""
    what = _what(SUPERVISOR, workflow, trigger)
    mine = viewer is not None and viewer.role == Role.SUPERVISOR and viewer.id != facilitator_id
    return NextAction(SUPERVISOR, supervisor_name, what, due, zone,
                      deadline_status(due, now, zone) if due else None, mine)


def _stage_action(workflow: str, state: str, due: datetime | None, zone: str, facilitator_id: int,
                  facilitator_name: str, viewer: User | None, now: datetime) -> NextAction:
    """The facilitator's move: finish the stage by its deadline."""
    what = _what(FACILITATOR, workflow, state)
    mine = viewer is not None and viewer.id == facilitator_id
    return NextAction(FACILITATOR, facilitator_name, what, due, zone,
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


def overdue_states() -> tuple[str, ...]:
    """The stages a case can be overdue in: every workflow's stages but its final ones."""
    return tuple(s for w in engines().values() for s in w.definition.stage_order() if not w.is_final(s))


def overdue_conditions(now: Any, states: tuple[str, ...] | None = None) -> list:
    """The conditions on Case of an open case whose stage deadline passed by `now` (an
    instant, or a bound parameter for a statement built once) and that waits for no
    decision: the facilitator's to act on. `states`: `overdue_states()`, if already known."""
    return [Case.state.in_(states if states is not None else overdue_states()), Case.stage_due_at.is_not(None),
            Case.stage_due_at <= now, not_(_waiting_for_decision())]


def overdue_with_facilitators(viewer: User, now: datetime | None = None):
    """The viewer's open cases whose stage deadline passed and that wait for no decision:
    the facilitator's to act on (a statement over Case)."""
    return access.visible_cases(viewer, select(Case)).where(*overdue_conditions(now or utcnow()))


def overdue_counts_by_facilitator(viewer: User, now: datetime | None = None) -> dict[int, int]:
    """{facilitator id: cases overdue with them} among the cases `viewer` sees."""
    statement = overdue_with_facilitators(viewer, now).with_only_columns(Case.facilitator_id, func.count()) \
        .group_by(Case.facilitator_id)
    return dict(db.session.execute(statement).all())


def decisions_overdue(sign_offs: list[SignOff], now: datetime | None = None) -> list[SignOff]:
    """The requests among `sign_offs` (undecided) whose decision deadline has passed."""
    now = now or utcnow()
    return [s for s in sign_offs if (due := sign_off_due_at(s)) is not None and now >= due]


class RequestFacts(NamedTuple):
    """What a request's decision deadline reads, for a list that selects these values itself."""

    workflow: str
    trigger: str
    requested_at: datetime
    zone: str  # the case's province zone


def requests_overdue(requests: list[RequestFacts], now: datetime | None = None) -> list[RequestFacts]:
    """`decisions_overdue` from the requests' values."""
    now = now or utcnow()
    return [r for r in requests
            if (due := request_due_at(r.workflow, r.trigger, r.requested_at, r.zone)) is not None and now >= due]
