"""Sign-off policies from the workflow file: working-day deadlines, escalation when they
pass, acting supervisors (delegation), and the in-app notifications they send.

- A sign-off with `within_working_days: N` is due at the end of the N-th working day
  after it was requested, in the case's province time zone. Saturdays, Sundays and the
  dates in CASEFLOW_HOLIDAYS (ISO dates; a list, or comma-separated text) do not count.
- `escalate_to: supervisors_supervisor`: once overdue, the deciding supervisor's own
  supervisor is notified and may decide too (four eyes still apply). With a role name,
  every active user of that role in the case's province is notified. With nobody to
  escalate to, the administrators are notified (they can delegate an acting supervisor).
- A supervisor (or an administrator) delegates an acting supervisor for a date range;
  the acting supervisor then sees and decides for that team. Delegations are audited,
  and every decision taken under one records it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import Select, select

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..i18n.agenda_labels import agenda_reminder_text
from ..models import AccountChange, AccountChangeKind, Case, Role, SignOff, User
from ..models.sign_off_policy import Delegation, Notification, SignOffEscalation
from ..schemas import is_plausible_day, is_row_id
from ..workflow.definition import SUPERVISORS_SUPERVISOR, SignOffPolicy
from . import access, notifications
from .audit import append_case_event, append_event, user_chain
from .context import Actor
from .locking import lock_case
from .runtime import engine
from .users import record_change

# --- working days -----------------------------------------------------------------


def holidays() -> frozenset[date]:
    value = None
    if has_app_context():
        value = current_app.config.get("CASEFLOW_HOLIDAYS")
    if value is None:
        value = os.environ.get("CASEFLOW_HOLIDAYS", "")
    items = value if isinstance(value, list | tuple | set | frozenset) else str(value).split(",")
    days = set()
    for item in items:
        if isinstance(item, date):
            days.add(item)
        elif str(item).strip():
            days.add(date.fromisoformat(str(item).strip()))
    return frozenset(days)


def is_working_day(day: date, off: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in off  # Monday–Friday, not a holiday


def add_working_days(start: date, count: int, off: frozenset[date] | None = None) -> date:
    """The `count`-th working day after `start`."""
    off = holidays() if off is None else off
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, off):
            remaining -= 1
    return day


def sign_off_due_at(sign_off: SignOff, policy: SignOffPolicy | None = None) -> datetime | None:
    """End of the last working day allowed, in the case's province zone (as UTC)."""
    case = sign_off.case
    policy = policy or engine(case.workflow).definition.sign_off_policy(sign_off.requested_trigger)
    if policy is None or policy.within_working_days is None:
        return None
    return decision_due_at(sign_off.requested_at, policy.within_working_days, case.timezone)


def request_due_at(workflow: str, trigger: str, requested_at: datetime, zone: str) -> datetime | None:
    """`sign_off_due_at` from a request's values (a list that reads them without the rows)."""
    policy = engine(workflow).definition.sign_off_policy(trigger)
    if policy is None or policy.within_working_days is None:
        return None
    return decision_due_at(requested_at, policy.within_working_days, zone)


def decision_due_at(requested_at: datetime, working_days: int, zone_name: str) -> datetime:
    zone = ZoneInfo(zone_name)
    requested_day = requested_at.astimezone(zone).date()
    last_day = add_working_days(requested_day, working_days)
    return datetime.combine(last_day + timedelta(days=1), time.min, zone).astimezone(ZoneInfo("UTC"))


# --- who decides ---------------------------------------------------------------------


def escalated_sign_off_ids(user: User) -> Select:
    return select(SignOffEscalation.sign_off_id).where(SignOffEscalation.escalated_to_id == user.id)


def decision_authority(user: User, case: Case, sign_off: SignOff, policy: SignOffPolicy) -> dict:
    """Under what the user decides: {} for their own team, `acting_for`/`delegation_id` for
    an acting supervisor, `escalated_to` for the supervisor's supervisor after escalation.
    The caller still checks the role and the four-eyes rule."""
    if user is None:
        return {}
    supervisor_id = case.facilitator.supervisor_id
    if Role.SUPERVISOR in policy.decided_by and user.role == Role.SUPERVISOR and supervisor_id != user.id:
        delegation_id = access.acting_for(user, supervisor_id)
        if delegation_id is not None:
            return {"acting_for": supervisor_id, "delegation_id": delegation_id}
    if supervisor_id != user.id and user.is_active and db.session.execute(
        select(SignOffEscalation.sign_off_id).where(SignOffEscalation.sign_off_id == sign_off.id,
                                                    SignOffEscalation.escalated_to_id == user.id)
    ).first() is not None:
        return {"escalated_to": user.id}
    return {}


# --- delegation ------------------------------------------------------------------------


def _delegation_dict(delegation: Delegation) -> dict:
    return {"id": delegation.id, "supervisor_id": delegation.supervisor_id, "acting_id": delegation.acting_id,
            "starts_on": delegation.starts_on, "ends_on": delegation.ends_on, "reason": delegation.reason}


# An acting supervisor decides sign-offs for another team: for a leave or a transfer, not
# for good.
MAX_DELEGATION_DAYS = 366


def delegate_supervisor(actor: Actor, data: dict) -> Delegation | AccountChange:
    """A supervisor (for their own team) or an administrator names an acting supervisor
    for a date range: the acting supervisor sees and decides for that team meanwhile. An
    administrator's delegation waits for a second administrator (an AccountChange)."""
    user = actor.user
    if user is None or user.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise NotAllowed(_l("Only a supervisor or an administrator may delegate."))
    errors: dict[str, list] = {}
    try:
        supervisor_id = int(data.get("supervisor_id", user.id if user.role == Role.SUPERVISOR else 0))
        acting_id = int(data.get("acting_id") or 0)
    except (TypeError, ValueError):
        supervisor_id, acting_id = 0, 0
    dates = {}
    for name in ("starts_on", "ends_on"):
        try:
            value = data.get(name)
            dates[name] = value if isinstance(value, date) else date.fromisoformat(str(value))
        except (TypeError, ValueError):
            errors[name] = [_l("Enter a date (YYYY-MM-DD).")]
    reason = str(data.get("reason") or "").strip()
    if not reason:
        errors["reason"] = [_l("Say why (leave, transfer…).")]
    elif len(reason) > 500:
        errors["reason"] = [_l("Use at most %(n)s characters.", n=500)]
    for name, day in dates.items():
        if not is_plausible_day(day):
            errors[name] = [_l("Use a date between 1900 and 2100.")]
    if not errors and dates["ends_on"] < dates["starts_on"]:
        errors["ends_on"] = [_l("Choose a date on or after the start.")]
    elif not errors and dates["ends_on"] < utcnow().astimezone(ZoneInfo(user.timezone)).date():
        errors["ends_on"] = [_l("This day has passed: a delegation that is over would change nothing.")]
    elif not errors and (dates["ends_on"] - dates["starts_on"]).days > MAX_DELEGATION_DAYS:
        errors["ends_on"] = [_l("A delegation lasts at most a year; name it again after that.")]
    with write_transaction():
        supervisor = db.session.get(User, supervisor_id) if is_row_id(supervisor_id) else None
        acting = db.session.get(User, acting_id) if is_row_id(acting_id) else None
        if supervisor is None or supervisor.role != Role.SUPERVISOR:
            errors.setdefault("supervisor_id", [_l("Choose a supervisor.")])
        elif user.role == Role.SUPERVISOR and supervisor.id != user.id:
            raise NotAllowed(_l("A supervisor delegates only their own team."))
        if acting is None or acting.role != Role.SUPERVISOR or not acting.active:
            errors.setdefault("acting_id", [_l("Choose an active supervisor.")])
        elif supervisor is not None and acting.id == supervisor.id:
            errors.setdefault("acting_id", [_l("Choose another supervisor.")])
        if errors:
            raise ValidationError(_l("Some fields need attention."), fields=errors)
        if user.role == Role.ADMIN:
            # An administrator giving a team to another supervisor, even for a while, puts
            # facilitators under a new supervisor: a second administrator confirms it.
            return record_change(actor, AccountChangeKind.DELEGATION, acting, {
                "supervisor_id": supervisor.id, "acting_id": acting.id, "reason": reason,
                "starts_on": dates["starts_on"].isoformat(), "ends_on": dates["ends_on"].isoformat()})
        return create_delegation(actor, supervisor, acting, dates["starts_on"], dates["ends_on"], reason,
                                 created_by_id=user.id)


def create_delegation(actor: Actor, supervisor: User, acting: User, starts_on: date, ends_on: date,
                      reason: str, *, created_by_id: int | None, context: dict | None = None) -> Delegation:
    """Record a checked delegation, on both people's chains, and tell the acting supervisor."""
    delegation = Delegation(supervisor_id=supervisor.id, acting_id=acting.id, starts_on=starts_on,
                            ends_on=ends_on, reason=reason, created_by_id=created_by_id, created_at=utcnow())
    db.session.add(delegation)
    db.session.flush()
    for chain in {user_chain(supervisor.id), user_chain(acting.id)}:
        append_event(chain=chain, action="delegation.created", actor=actor, after=_delegation_dict(delegation),
                     context=context)
    _notify(acting.id, "delegation.created", None, {"supervisor": supervisor.full_name,
                                                    "starts_on": starts_on.isoformat(),
                                                    "ends_on": ends_on.isoformat()})
    return delegation


def revoke_delegation(actor: Actor, delegation_id: int) -> Delegation:
    user = actor.user
    with write_transaction():
        delegation = db.session.get(Delegation, delegation_id, with_for_update=True) if is_row_id(delegation_id) else None
        if delegation is None or user is None or not (
                user.role == Role.ADMIN or user.id in (delegation.supervisor_id, delegation.acting_id)):
            raise NotFound(_l("No such delegation."))  # someone else's looks like none
        if not (user.role == Role.ADMIN or user.id == delegation.supervisor_id):
            raise NotAllowed(_l("Only the supervisor who delegated or an administrator may end a delegation."))
        if delegation.revoked_at is None:
            delegation.revoked_at = utcnow()
            for chain in {user_chain(delegation.supervisor_id), user_chain(delegation.acting_id)}:
                append_event(chain=chain, action="delegation.revoked", actor=actor, before=_delegation_dict(delegation))
        return delegation


# --- escalation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalated:
    sign_off_id: int
    case_number: str
    to_user_ids: tuple[int, ...]
    to_role: str | None


def escalate_overdue_sign_offs(actor: Actor | None = None, now: datetime | None = None) -> list[Escalated]:
    """Escalate every undecided sign-off past its working-day deadline (once each).
    Run it regularly (cron: `caseflow sign-offs escalate`)."""
    actor = actor or Actor.system()
    now = now or utcnow()
    done: list[Escalated] = []
    pending = db.session.execute(
        select(SignOff.id).where(SignOff.decision.is_(None),
                                 SignOff.id.not_in(select(SignOffEscalation.sign_off_id)))
        .order_by(SignOff.requested_at)
    ).scalars().all()
    db.session.rollback()
    for sign_off_id in pending:
        result = _escalate_one(actor, sign_off_id, now)
        if result is not None:
            done.append(result)
    return done


def _escalate_one(actor: Actor, sign_off_id: int, now: datetime) -> Escalated | None:
    with write_transaction():
        sign_off = db.session.get(SignOff, sign_off_id)
        case = lock_case(sign_off.case_id)
        db.session.refresh(sign_off)
        if sign_off.decision is not None or db.session.get(SignOffEscalation, sign_off.id) is not None:
            return None
        policy = engine(case.workflow).definition.sign_off_policy(sign_off.requested_trigger)
        due = sign_off_due_at(sign_off, policy)
        if due is None or now < due or policy.escalate_to is None:
            return None
        excluded = {case.facilitator_id, sign_off.requested_by_id}
        target_id, role = None, None
        supervisor = case.facilitator.supervisor
        if policy.escalate_to == SUPERVISORS_SUPERVISOR and supervisor is not None and supervisor.supervisor is not None \
                and supervisor.supervisor.active and supervisor.supervisor_id not in excluded:
            target_id = supervisor.supervisor_id
            recipients = [target_id]
        else:
            role = Role.ADMIN.value if policy.escalate_to == SUPERVISORS_SUPERVISOR else policy.escalate_to
            statement = select(User.id).where(User.role == role, User.active.is_(True), User.id.not_in(excluded))
            if role != Role.ADMIN:
                statement = statement.where(User.province_code == case.province_code)
            recipients = list(db.session.execute(statement).scalars())
        db.session.add(SignOffEscalation(sign_off_id=sign_off.id, due_at=due, escalated_at=now,
                                         escalated_to_id=target_id, escalated_to_role=role))
        for user_id in recipients:
            _notify(user_id, "sign_off.escalated", case.id, {"case_number": case.number, "sign_off_id": sign_off.id,
                                                              "may_decide": user_id == target_id})
        if supervisor is not None and supervisor.id not in recipients:
            _notify(supervisor.id, "sign_off.overdue", case.id, {"case_number": case.number,
                                                                  "sign_off_id": sign_off.id})
        append_case_event(case, action="sign_off.escalated", actor=actor, context={
            "sign_off_id": sign_off.id, "due_at": due, "escalated_to": target_id, "escalated_to_role": role,
            "notified": recipients})
        return Escalated(sign_off.id, case.number, tuple(recipients), role)


# --- notifications ---------------------------------------------------------------------


def _notify(user_id: int, kind: str, case_id: int | None, data: dict) -> None:
    db.session.add(Notification(user_id=user_id, kind=kind, case_id=case_id, data=data, created_at=utcnow()))


def notifications_for(user: User, *, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    statement = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    return list(db.session.execute(statement.order_by(Notification.id.desc()).limit(limit)).scalars())


def mark_notifications_read(actor: Actor) -> int:
    if actor.user is None:
        raise NotAllowed(_l("Sign in first."))
    with write_transaction():
        items = db.session.execute(
            select(Notification).where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        ).scalars().all()
        now = utcnow()
        for item in items:
            item.read_at = now
        return len(items)


def notification_text(notification: Notification) -> str:
    """The message in the reader's language."""
    data = notification.data or {}
    if notification.kind == "sign_off.escalated":
        if data.get("may_decide"):
            return _("The sign-off for case %(number)s is overdue and was escalated to you: you may decide it.",
                     number=data.get("case_number"))
        return _("The sign-off for case %(number)s is overdue. Arrange for a decision (for example an acting "
                 "supervisor).", number=data.get("case_number"))
    if notification.kind == "sign_off.overdue":
        return _("The sign-off for case %(number)s is overdue and was escalated.", number=data.get("case_number"))
    if notification.kind == "client.duplicate_nik":
        return _duplicate_nik_text(data)
    if notification.kind.startswith("agenda."):
        return agenda_reminder_text(notification.kind, data)
    if notification.kind == "delegation.created":
        return _("You act for %(supervisor)s from %(start)s to %(end)s.", supervisor=data.get("supervisor"),
                 start=data.get("starts_on"), end=data.get("ends_on"))
    return notifications.render(notification) or notification.kind


def _duplicate_nik_text(data: dict) -> str:
    """What a supervisor is asked to check (services/duplicates.py): who, and how many."""
    if data.get("via") == "import":
        text = _("%(name)s's register import held %(n)s NIK(s) already registered to clients outside their "
                 "reach (rows %(rows)s). Check them with them.", name=data.get("by"), n=data.get("count"),
                 rows=", ".join(str(r) for r in data.get("rows") or []))
    else:
        text = _("%(name)s could not register a client: the NIK is already registered to a client outside "
                 "their reach. Check it with them.", name=data.get("by"))
    if data.get("refused"):
        text += " " + _("They have reached the limit of such checks for 24 hours.")
    if data.get("client_id"):
        text += " " + _("It is a client you can see: you may open a new case for them.")
    return text
