"""Supervision as a record (sesi supervisi).

- A supervisor records a session held with one facilitator of the team (individual) or
  several (group), about none, one or more of their cases: notes, and action points, each
  with an owner (a facilitator of the session, or the supervisor), a due date and maybe a
  case. Every id is checked here: the facilitators are of the supervisor's team (or one
  they act for today), the cases are visible to the supervisor and held by one of the
  session's facilitators, an action point's case is one of the session's.
- The session is audited on each facilitator's chain and on each case's; owners of action
  points are notified.
- An action point appears on its case's page (and the owner's agenda); its owner or the
  supervisor ticks it off there, once.
- The team page shows when each facilitator was last supervised.

An action point's due date is a day: it ends at 23:59 in the zone of its case's province
(or of its owner's, without a case), by the rule of caseflow/models/deadlines.py.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import Select, Subquery, bindparam, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.selectable import ScalarSelect

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import ActionPoint, Case, Role, SupervisionSession, User
from ..models.deadlines import DeadlineStatus, deadline_status, end_of_day
from ..models.supervision import INDIVIDUAL, session_facilitators
from ..schemas import is_row_id, load
from ..schemas.supervision import SupervisionSessionSchema
from . import access, notifications, sync_health
from .audit import append_case_event, append_event, user_chain
from .cases import record_refusal
from .context import Actor
from .locking import lock_case
from .sync_health import SyncHealth

ACTION_POINT_ASSIGNED = "supervision.action_point"
# A session is written down soon after it was held: not in the future, not long ago.
RECORDED_WITHIN_DAYS = 30


def _today(user: User) -> date:
    return utcnow().astimezone(ZoneInfo(user.timezone)).date()


def _in_team(supervisor: User, facilitator: User | None) -> bool:
    return (facilitator is not None and facilitator.role == Role.FACILITATOR and facilitator.supervisor_id is not None
            and (facilitator.supervisor_id == supervisor.id
                 or access.acting_for(supervisor, facilitator.supervisor_id) is not None))


def team_facilitators(supervisor: User) -> list[User]:
    """The facilitators a supervisor may hold a session with (active, of the team)."""
    return list(db.session.execute(
        select(User).where(User.id.in_(access.supervised_ids(supervisor)), User.role == Role.FACILITATOR,
                           User.active.is_(True)).order_by(User.full_name)).scalars())


def _session_dict(session: SupervisionSession) -> dict:
    # The notes stay in the session record; the trail says that there were notes.
    return {"id": session.id, "kind": session.kind, "held_on": session.held_on,
            "facilitator_ids": [u.id for u in session.facilitators], "case_ids": [c.id for c in session.cases],
            "notes": bool(session.notes),
            "action_points": [{"id": p.id, "owner_id": p.owner_id, "due_on": p.due_on, "case_id": p.case_id}
                              for p in session.action_points]}


def record_session(actor: Actor, data: dict) -> SupervisionSession:
    """Record a supervision session held by the acting supervisor (see the module)."""
    values = load(SupervisionSessionSchema(), data)
    user = actor.user
    if user is None or user.role != Role.SUPERVISOR:
        raise NotAllowed(_l("Only a supervisor records a supervision session."))
    errors: dict[str, list] = {}
    today = _today(user)
    if values["held_on"] > today:
        errors["held_on"] = [_l("This day is still to come.")]
    elif values["held_on"] < today - timedelta(days=RECORDED_WITHIN_DAYS):
        errors["held_on"] = [_l("Record a session within %(n)s days of holding it.", n=RECORDED_WITHIN_DAYS)]
    facilitator_ids = list(dict.fromkeys(values["facilitator_ids"]))
    if values["kind"] == INDIVIDUAL and len(facilitator_ids) != 1:
        errors["facilitator_ids"] = [_l("An individual session is with one facilitator.")]
    with write_transaction():
        facilitators = [db.session.get(User, i) for i in facilitator_ids]
        if not all(_in_team(user, f) and f.active for f in facilitators):
            record_refusal(actor, "supervision session: facilitator")
            errors["facilitator_ids"] = [_l("Choose active facilitators of your team.")]
        participant_ids = {f.id for f in facilitators if f is not None}
        cases = []
        for case_id in dict.fromkeys(values["case_ids"]):
            case = db.session.get(Case, case_id)
            if case is None or not access.can_view_case(user, case) or case.facilitator_id not in participant_ids:
                record_refusal(actor, "supervision session: case", case_id if case else None)
                errors["case_ids"] = [_l("Choose cases of the session's facilitators.")]
                break
            cases.append(case)
        owners = participant_ids | {user.id}
        for index, point in enumerate(values["action_points"]):
            if point["owner_id"] not in owners:
                errors[f"action_points.{index}.owner_id"] = [_l("Choose a facilitator of the session, or yourself.")]
            if point["case_id"] is not None and point["case_id"] not in {c.id for c in cases}:
                errors[f"action_points.{index}.case_id"] = [_l("Choose one of the session's cases.")]
            if point["due_on"] < values["held_on"]:
                errors[f"action_points.{index}.due_on"] = [_l("Choose a day on or after the session.")]
            elif point["due_on"] > values["held_on"] + timedelta(days=366):
                errors[f"action_points.{index}.due_on"] = [_l("Choose a day within a year of the session.")]
        if errors:
            raise ValidationError(_l("Some fields need attention."), fields=errors)
        session = SupervisionSession(supervisor_id=user.id, kind=values["kind"], held_on=values["held_on"],
                                     notes=values["notes"], created_at=utcnow(), facilitators=facilitators,
                                     cases=cases)
        for point in values["action_points"]:
            session.action_points.append(ActionPoint(owner_id=point["owner_id"], description=point["description"],
                                                     due_on=point["due_on"], case_id=point["case_id"]))
        db.session.add(session)
        db.session.flush()
        after = _session_dict(session)
        for facilitator in facilitators:
            append_event(chain=user_chain(facilitator.id), action="supervision.session_recorded", actor=actor,
                         after=after)
        for case in cases:
            append_case_event(lock_case(case.id), action="supervision.session_recorded", actor=actor, after=after)
        for point in session.action_points:
            if point.owner_id != user.id:
                notifications.notify(point.owner_id, ACTION_POINT_ASSIGNED, point.case_id, {
                    "by": user.full_name, "description": point.description[:200], "due_on": point.due_on.isoformat(),
                    "case_number": point.case.number if point.case else None})
        return session


@notifications.text_for(ACTION_POINT_ASSIGNED)
def _assigned_text(data: dict) -> str:
    if data.get("case_number"):
        return _("Action point from supervision with %(by)s, case %(number)s, due %(day)s: %(what)s",
                 by=data.get("by"), number=data.get("case_number"), day=data.get("due_on"),
                 what=data.get("description"))
    return _("Action point from supervision with %(by)s, due %(day)s: %(what)s", by=data.get("by"),
             day=data.get("due_on"), what=data.get("description"))


# --- action points ----------------------------------------------------------------------------


def _may_see_point(user: User, point: ActionPoint) -> bool:
    if point.case is not None and access.can_view_case(user, point.case):
        return True
    return user.id in (point.owner_id, point.session.supervisor_id)


def complete_action_point(actor: Actor, point_id: object) -> ActionPoint:
    """Its owner, or the supervisor who held the session, ticks an action point off (once)."""
    user = actor.user
    with write_transaction():
        point = db.session.get(ActionPoint, point_id, with_for_update=True) if is_row_id(point_id) else None
        if point is None or user is None or not user.is_active or not _may_see_point(user, point):
            raise NotFound(_l("No such action point."))
        if user.id not in (point.owner_id, point.session.supervisor_id):
            raise NotAllowed(_l("Only the action point's owner or the supervisor ticks it off."))
        if point.done_at is None:
            point.done_at = utcnow()
            point.done_by_id = user.id
            detail = {"action_point_id": point.id, "session_id": point.session_id, "done_at": point.done_at}
            if point.case_id is not None:
                append_case_event(lock_case(point.case_id), action="supervision.action_point_done", actor=actor,
                                  after=detail)
            else:
                append_event(chain=user_chain(point.owner_id), action="supervision.action_point_done", actor=actor,
                             after=detail)
        return point


def action_point_due_at(point: ActionPoint) -> datetime:
    """When the action point is overdue: the end of its due day (models/deadlines.py), in
    its case's zone, or else its owner's."""
    zone = point.case.timezone if point.case is not None else point.owner.timezone
    return end_of_day(point.due_on, zone)


def action_point_status(point: ActionPoint, now: datetime | None = None) -> DeadlineStatus | None:
    if point.done_at is not None:
        return None
    zone = point.case.timezone if point.case is not None else point.owner.timezone
    return deadline_status(action_point_due_at(point), now or utcnow(), zone)


def action_points_of_case(case: Case) -> list[ActionPoint]:
    """The case's action points, those still open first (the viewer may see the case)."""
    points = db.session.execute(
        select(ActionPoint).where(ActionPoint.case_id == case.id)
        .options(selectinload(ActionPoint.owner), selectinload(ActionPoint.session))
    ).scalars().all()
    return sorted(points, key=lambda p: (p.done_at is not None, p.due_on, p.id))


def open_action_points_of(user: User) -> list[ActionPoint]:
    """The action points `user` owns and has not ticked off, the earliest due first."""
    return list(db.session.execute(
        select(ActionPoint).where(ActionPoint.owner_id == user.id, ActionPoint.done_at.is_(None))
        .order_by(ActionPoint.due_on, ActionPoint.id)).scalars())


# --- reading sessions ---------------------------------------------------------------------------


def sessions_for(user: User, limit: int = 100) -> list[SupervisionSession]:
    """Sessions the supervisor held, or the facilitator took part in; the latest first."""
    statement = select(SupervisionSession).order_by(SupervisionSession.held_on.desc(), SupervisionSession.id.desc())
    if user.role == Role.SUPERVISOR:
        statement = statement.where(SupervisionSession.supervisor_id == user.id)
    elif user.role == Role.FACILITATOR:
        statement = statement.join(session_facilitators).where(session_facilitators.c.user_id == user.id)
    else:
        return []
    return list(db.session.execute(statement.limit(limit)).scalars())


def get_session(user: User, session_id: object) -> SupervisionSession:
    session = db.session.get(SupervisionSession, session_id) if is_row_id(session_id) else None
    if session is None or not (session.supervisor_id == user.id or (
            user.role == Role.FACILITATOR and user in session.facilitators)):
        raise NotFound(_l("No such supervision session."))
    return session


def last_supervised_day() -> ScalarSelect:
    """The day of the latest supervision session of each User row (correlated)."""
    return (select(func.max(SupervisionSession.held_on))
            .join(session_facilitators, SupervisionSession.id == session_facilitators.c.session_id)
            .where(session_facilitators.c.user_id == User.id).correlate(User).scalar_subquery())


def last_supervised(facilitator_ids: list[int]) -> dict[int, date]:
    """{facilitator id: the day of their latest supervision session}."""
    if not facilitator_ids:
        return {}
    return {user_id: day for user_id, day in db.session.execute(
        select(User.id, last_supervised_day()).where(User.id.in_(facilitator_ids))) if day is not None}


class TeamMember(NamedTuple):
    """A facilitator of the team as the team page shows them."""

    id: int
    full_name: str
    username: str
    active: bool
    last_supervised: date | None
    sync: SyncHealth
    figures: tuple  # the values of the figures joined to the team, in their order (0 for none)


@functools.cache
def _team_statement(figures: tuple[Subquery, ...]) -> Select:
    """The team with when each was last supervised, their sync health, the figures of
    `figures` and the menu's unread count: built once per process and set of figures
    (building it costs more Python than reading it)."""
    statement = sync_health.with_health(
        select(User.id, User.full_name, User.username, User.active, last_supervised_day())
        .where(User.supervisor_id == bindparam("supervisor_id"), User.role == Role.FACILITATOR)
        .order_by(User.active.desc(), User.full_name, User.id))
    for subquery in figures:
        statement = statement.outerjoin(subquery, subquery.c.facilitator_id == User.id).add_columns(
            *(func.coalesce(column, 0) for column in subquery.c if column.key != "facilitator_id"))
    return statement.add_columns(notifications.unread_of_bound_user())


def team_overview(supervisor: User, figures: tuple[Subquery, ...] = (),
                  params: dict[str, Any] | None = None) -> tuple[list[TeamMember], int | None]:
    """The supervisor's own team (active first, by name), each with when they were last
    supervised, their sync health and the values of `figures` (subqueries of a
    `facilitator_id` and figures, made once, whose bound parameters `params` gives), in one
    statement; and the supervisor's unread notifications read with them: None for an
    empty team."""
    rows = db.session.execute(_team_statement(figures),
                              {**(params or {}), "supervisor_id": supervisor.id, "user_id": supervisor.id}).all()
    members = [TeamMember(*row[:5], SyncHealth(*row[5:9]), tuple(row[9:-1])) for row in rows]
    return members, (rows[0][-1] if rows else None)
