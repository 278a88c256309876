"""The supervisor's word reaches the facilitator.

- A rejected termination request is told to the case's facilitator as a notification,
  and it stands on the case page and the case list until the next request is made.
- A new request shows its decider the earlier rejections of the same request, each with
  what changed on the case after it (the evaluation's ratings, the goals, the steps
  logged, the termination request), read from the case's audit trail and steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.sql.selectable import ScalarSelect

from ..extensions import db
from ..models import AuditEvent, Case, SignOff, Step
from ..signals import sign_off_decided
from . import notifications
from .context import Actor

REJECTED = "rejected"
TERMINATION_REJECTED = "termination.rejected"


def init_app(_app: Flask) -> None:
    sign_off_decided.connect(_on_decided)


def _on_decided(case: Case, *, sign_off: SignOff, actor: Actor, **_: Any) -> None:
    """A rejection goes to the case's facilitator (in the decision's transaction)."""
    if sign_off.decision != REJECTED:
        return
    notifications.notify(case.facilitator_id, TERMINATION_REJECTED, case.id, {
        "case_number": case.number, "sign_off_id": sign_off.id, "reason": sign_off.reason or "",
        "by": actor.user.full_name if actor.user else "",
    })


@notifications.text_for(TERMINATION_REJECTED)
def _rejected_text(data: dict) -> str:
    return _("%(by)s rejected the termination request for case %(number)s: “%(reason)s”",
             by=data.get("by"), number=data.get("case_number"), reason=data.get("reason"))


# --- reading -------------------------------------------------------------------------------


def standing_rejection(case: Case) -> SignOff | None:
    """The case's last request, when it was rejected: it stands until the next request."""
    latest = max(case.sign_offs, key=lambda s: (s.requested_at, s.id), default=None)
    return latest if latest is not None and latest.decision == REJECTED else None


def latest_request(column: Any) -> ScalarSelect:
    """`column` of a case's last request (`standing_rejection`'s), correlated to Case: a
    list shows it when its decision is REJECTED."""
    return (select(column).where(SignOff.case_id == Case.id)
            .order_by(SignOff.requested_at.desc(), SignOff.id.desc()).limit(1).correlate(Case).scalar_subquery())


def standing_rejections(case_ids: list[int]) -> dict[int, SignOff]:
    """`standing_rejection` for a page of cases, in one query."""
    if not case_ids:
        return {}
    latest: dict[int, SignOff] = {}
    for sign_off in db.session.execute(
        select(SignOff).where(SignOff.case_id.in_(case_ids)).order_by(SignOff.requested_at, SignOff.id)
    ).scalars():
        latest[sign_off.case_id] = sign_off
    return {case_id: s for case_id, s in latest.items() if s.decision == REJECTED}


@dataclass
class Changes:
    """What changed on a case between a rejection and the next request."""

    ratings: list[dict] = field(default_factory=list)  # {goal, before, after}
    goals_added: list[str] = field(default_factory=list)
    goals_removed: list[str] = field(default_factory=list)
    goals_changed: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    termination: dict | None = None  # {before, after} outcome codes

    @property
    def nothing(self) -> bool:
        return not (self.ratings or self.goals_added or self.goals_removed or self.goals_changed
                    or self.steps or self.termination)


@dataclass
class EarlierRejection:
    sign_off: SignOff
    changes: Changes


def earlier_rejections(sign_off: SignOff) -> list[EarlierRejection]:
    """The rejections of this case's earlier requests for the same decision, oldest first,
    each with what changed after it until the request that followed it."""
    requests = sorted((s for s in sign_off.case.sign_offs if s.requested_trigger == sign_off.requested_trigger
                       and (s.requested_at, s.id) <= (sign_off.requested_at, sign_off.id)),
                      key=lambda s: (s.requested_at, s.id))
    found = []
    for earlier, following in zip(requests, requests[1:], strict=False):
        if earlier.decision == REJECTED and earlier.decided_at is not None:
            found.append(EarlierRejection(earlier, changes_between(sign_off.case, earlier.decided_at,
                                                                   following.requested_at)))
    return found


_TRACKED = ("evaluation.saved", "plan.saved", "termination.saved")


def changes_between(case: Case, since: datetime, until: datetime) -> Changes:
    """The case's records as they stood at `since` compared with `until` (audit trail)."""
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action.in_(_TRACKED),
                                 AuditEvent.occurred_at >= since, AuditEvent.occurred_at <= until)
        .order_by(AuditEvent.seq)
    ).scalars().all()
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for event in events:
        first.setdefault(event.action, event.before)
        last[event.action] = event.after
    goal_names = {g.id: g.description for g in (case.plan.goals if case.plan else [])}
    changes = Changes()
    if "evaluation.saved" in last:
        before = {r["goal_id"]: r.get("rating") for r in (first["evaluation.saved"] or {}).get("ratings", [])}
        after = {r["goal_id"]: r.get("rating") for r in (last["evaluation.saved"] or {}).get("ratings", [])}
        changes.ratings = [{"goal": goal_names.get(goal_id, "?"), "before": before.get(goal_id),
                            "after": after.get(goal_id)}
                           for goal_id in sorted(set(before) | set(after)) if before.get(goal_id) != after.get(goal_id)]
    if "plan.saved" in last:
        before = {g["id"]: g for g in (first["plan.saved"] or {}).get("goals", [])}
        after = {g["id"]: g for g in (last["plan.saved"] or {}).get("goals", [])}
        changes.goals_added = [g["description"] for i, g in after.items() if i not in before]
        changes.goals_removed = [g["description"] for i, g in before.items() if i not in after]
        changes.goals_changed = [g["description"] for i, g in after.items() if i in before and before[i] != g]
    if "termination.saved" in last:
        old = (first["termination.saved"] or {}).get("outcome")
        new = (last["termination.saved"] or {}).get("outcome")
        if old != new:
            changes.termination = {"before": old, "after": new}
    changes.steps = list(db.session.execute(
        select(Step).where(Step.case_id == case.id, Step.recorded_at >= since, Step.recorded_at <= until)
        .order_by(Step.occurred_at)
    ).scalars())
    return changes
