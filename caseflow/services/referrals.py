"""Referrals (rujukan): a client sent to another service (Dukcapil, a Puskesmas, a school,
an LKS, UPTD PPA…) for a goal of their plan, and the answer that comes back.

Sending one is work on the case like a step (it logs a step of type "referral", the
evidence on the case's timeline, and is refused on a closed case out of aftercare).
Recording the answer is allowed whatever the case's state: a service may answer after the
case ended. Both are the case facilitator's, audited on the case's chain; whoever may
open the case may read its referrals.

Old data keeps its meaning: steps of type "referral" logged before referrals were records
stay on the timeline as they were, and "referred elsewhere" stays a closure reason.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from ..database import utcnow, write_transaction
from ..errors import InvalidTransition, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..i18n.referral_labels import REFERRAL_STATUS_NAMES
from ..models import Case, Referral, Role, User
from ..models.referral import ANSWER_DAYS, ANSWERED, NEXT_STATUSES, SENT
from ..schemas import load
from ..schemas.referrals import ReferralAnswerSchema, ReferralSchema
from . import access
from . import cases as case_services
from .audit import append_case_event
from .context import Actor
from .locking import lock_case, lock_case_of


def today_for(user: User) -> date:
    """Referral dates are days on the facilitator's own calendar."""
    return utcnow().astimezone(ZoneInfo(user.timezone)).date()


def referral_dict(referral: Referral) -> dict[str, Any]:
    return {name: getattr(referral, name) for name in (
        "id", "destination_type", "institution", "reason", "goal_id", "sent_on", "expected_answer_on",
        "status", "feedback", "answered_on", "step_id")}


def _invalid(field: str, message) -> ValidationError:
    return ValidationError(_l("Some fields need attention."), fields={field: [message]})


def send_referral(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Referral:
    """The case's facilitator refers the client to a service, for a goal of the plan (or
    none). A step of type "referral" is logged with it."""
    values = load(ReferralSchema(), data)
    with write_transaction():
        case = lock_case(case_id)
        case_services._authorize(actor, case, (Role.FACILITATOR,), _l("refer the client"), expected_version,
                                 ids_checked=True)
        goal_id = values.get("goal_id")
        if goal_id is not None and goal_id not in case_services._active_goal_ids(case):
            raise _invalid("goal_id", _l("This goal is not part of the case's plan."))
        case_services._check_version(case, expected_version)
        case_services._require_in_work(case)
        today = today_for(actor.user)
        sent_on = values.get("sent_on") or today
        if sent_on > today:
            raise _invalid("sent_on", _l("This day is in the future."))
        expected = values.get("expected_answer_on") or sent_on + timedelta(
            days=ANSWER_DAYS[values["destination_type"]])
        step = case_services.log_step(actor, case.id, {
            "step_type": "referral", "occurred_at": _occurred_at(actor.user, sent_on, today),
            "notes": f"{values['institution']}: {values['reason']}", "goal_id": goal_id,
        })
        now = utcnow()
        referral = Referral(
            case_id=case.id, destination_type=values["destination_type"], institution=values["institution"],
            reason=values["reason"], goal_id=goal_id, sent_on=sent_on, expected_answer_on=expected,
            status=SENT, feedback="", step_id=step.id, created_by_id=actor.user_id, created_at=now,
            updated_by_id=actor.user_id, updated_at=now,
        )
        db.session.add(referral)
        db.session.flush()
        append_case_event(case, action="referral.sent", actor=actor, after=referral_dict(referral),
                          context={"version": case.version})
        return referral


def _occurred_at(user: User, day: date, today: date) -> str:
    """The referral step's time, in the facilitator's zone: now for today, midday otherwise."""
    if day == today:
        local = utcnow().astimezone(ZoneInfo(user.timezone)) - timedelta(minutes=1)
        return local.replace(tzinfo=None, microsecond=0).isoformat()
    return datetime(day.year, day.month, day.day, 12).isoformat()


def get_referral(user: User, referral_id: int) -> Referral:
    """A referral of a case `user` may open; any other looks like none."""
    referral = db.session.get(Referral, referral_id)
    if referral is None or not access.can_view_case(user, referral.case):
        raise NotFound(_l("No such referral."))
    return referral


def record_answer(actor: Actor, referral_id: int, data: dict, expected_version: int | None = None) -> Referral:
    """The case's facilitator records what came back: accepted, service given, refused (with
    the day it was received and the feedback), or no answer; or, still waiting, a new day
    the answer is expected."""
    values = load(ReferralAnswerSchema(), data)
    with write_transaction():
        referral, case = lock_case_of(Referral, referral_id, actor.user, _l("No such referral."))
        case_services._authorize(actor, case, (Role.FACILITATOR,), _l("record the referral's answer"),
                                 expected_version)
        before = referral_dict(referral)
        status = values["status"]
        today = today_for(actor.user)
        if status == referral.status == SENT:
            if values.get("expected_answer_on") is None:
                raise _invalid("expected_answer_on", _l("Give the new day the answer is expected, or the answer."))
        elif status not in NEXT_STATUSES[referral.status]:
            raise InvalidTransition(
                _l("This referral cannot go from “%(old)s” to “%(new)s”.", old=_status_name(referral.status),
                   new=_status_name(status)), fields={"status": [_l("Not possible from the current status.")]})
        answered_on = values.get("answered_on")
        if status in ANSWERED:
            answered_on = answered_on or today
            if answered_on > today:
                raise _invalid("answered_on", _l("This day is in the future."))
            if answered_on < referral.sent_on:
                raise _invalid("answered_on", _l("The answer cannot come before the referral was sent."))
            referral.answered_on = answered_on
        elif answered_on is not None:
            raise _invalid("answered_on", _l("Only an answer (accepted, service given, refused) has a day received."))
        if values.get("expected_answer_on") is not None:
            if values["expected_answer_on"] < referral.sent_on:
                raise _invalid("expected_answer_on",
                               _l("The answer cannot be expected before the referral is sent."))
            referral.expected_answer_on = values["expected_answer_on"]
        referral.status = status
        if values.get("feedback"):
            referral.feedback = values["feedback"]
        referral.updated_by_id = actor.user_id
        referral.updated_at = utcnow()
        case_services._touch(case)
        append_case_event(case, action="referral.answered", actor=actor, before=before,
                          after=referral_dict(referral), context={"version": case.version})
        return referral


def _status_name(code: str):
    return REFERRAL_STATUS_NAMES.get(code, code)


# --- reading -------------------------------------------------------------------------------


def visible_referrals(user: User, statement: Select | None = None, today: Any = None) -> Select:
    """Referrals of the cases `user` may open (access.visible_cases; `today` as there)."""
    statement = statement if statement is not None else select(Referral)
    return statement.where(Referral.case_id.in_(access.visible_cases(user, select(Case.id), today)))


def referrals_of(case: Case) -> list[Referral]:
    """The referrals of a case the caller may see, newest first."""
    return list(db.session.execute(
        select(Referral).where(Referral.case_id == case.id).order_by(Referral.sent_on.desc(), Referral.id.desc())
    ).scalars())


def overdue(user: User, statement: Select | None = None, today: Any = None) -> Select:
    """Referrals still waiting for an answer after the day it was expected, oldest first
    (`today`: the viewer's day, or a bound parameter for a statement built once)."""
    if today is None:
        today = today_for(user)
    return visible_referrals(user, statement, today).where(Referral.status == SENT, Referral.expected_answer_on < today)


def overdue_with_cases(user: User) -> list[Referral]:
    """`overdue` read with each referral's case and client (the notice on the viewer's lists)."""
    return list(db.session.execute(overdue(user).order_by(Referral.expected_answer_on, Referral.id).options(
        selectinload(Referral.case).selectinload(Case.client))).scalars())


def list_referrals(user: User, *, status: str | None = None, overdue_only: bool = False) -> Select:
    """The referrals `user` follows (their cases'; a supervisor's team's): the overdue ones
    first, then those waiting, then the rest, each by expected day."""
    statement = overdue(user) if overdue_only else visible_referrals(user)
    if status:
        statement = statement.where(Referral.status == status)
    return statement.order_by((Referral.status != SENT), Referral.expected_answer_on, Referral.id)
