"""A facilitator's contract ends: their cases handed over to others in one audited action.

- A supervisor (for a facilitator of the team they lead or act for today) or an
  administrator moves all, or some, of a facilitator's cases in work (open, or followed in
  aftercare) to one or several active facilitators.
- First a plan (a preview, read only): each case with its receiver, shared out so that
  the receivers' caseloads stay as even as possible. Then the confirmed plan is carried
  out in one transaction: every case id and receiver id is checked again here.
- A receiver is an active facilitator of the same team as the one leaving; an
  administrator may also choose one of another team in the case's province.
- Each case keeps its history and gets its own "case.reassigned" event; the handover as a
  whole is an event on the leaving facilitator's chain; each receiver is notified. The
  account can then be deactivated (services/users.set_active).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..database import write_transaction
from ..errors import NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Aftercare, Case, Role, User
from ..schemas import is_row_id, load
from ..schemas.supervision import HandoverPlanSchema, HandoverSchema
from . import access, notifications
from .audit import append_case_event, append_event, user_chain
from .cases import accepts_steps, case_summary, record_refusal
from .context import Actor
from .locking import lock_case
from .runtime import engines

CASES_HANDED_OVER = "cases.handed_over"


@dataclass(frozen=True)
class Assignment:
    case: Case
    receiver: User


# --- who may, and to whom -------------------------------------------------------------------


def require_may_hand_over(actor: Actor, facilitator_id: object) -> User:
    """The facilitator whose cases `actor` may hand over; anyone else is 'not found'."""
    user = actor.user
    if user is None or user.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise NotAllowed(_l("Only a supervisor or an administrator hands cases over."))
    source = db.session.get(User, facilitator_id) if is_row_id(facilitator_id) else None
    if source is None or source.role != Role.FACILITATOR or not _leads(user, source):
        raise NotFound(_l("No such facilitator in your team."))
    return source


def _leads(user: User, facilitator: User) -> bool:
    if user.role == Role.ADMIN:
        return True
    return facilitator.supervisor_id is not None and (
        facilitator.supervisor_id == user.id or access.acting_for(user, facilitator.supervisor_id) is not None)


def receiver_options(actor: Actor, source: User) -> list[User]:
    """The active facilitators who may receive `source`'s cases (see the module)."""
    statement = select(User).where(User.role == Role.FACILITATOR, User.active.is_(True), User.id != source.id)
    if actor.user is not None and actor.user.role == Role.ADMIN:
        statement = statement.where((User.supervisor_id == source.supervisor_id)
                                    | (User.province_code == source.province_code))
    else:
        statement = statement.where(User.supervisor_id == source.supervisor_id)
    return list(db.session.execute(statement.order_by(User.full_name)).scalars())


def _may_receive(actor: Actor, source: User, receiver: User | None, case: Case) -> bool:
    if receiver is None or receiver.role != Role.FACILITATOR or not receiver.active or receiver.id == source.id:
        return False
    if receiver.supervisor_id is not None and receiver.supervisor_id == source.supervisor_id:
        return True
    return actor.user.role == Role.ADMIN and receiver.province_code == case.province_code


def cases_in_work(source: User) -> list[Case]:
    """The facilitator's cases someone must go on with: open, or in aftercare."""
    final = {s for e in engines().values() for s, d in e.definition.states.items() if d.final}
    followed = select(Aftercare.case_id).where(Aftercare.outcome.is_(None))
    candidates = db.session.execute(
        select(Case).where(Case.facilitator_id == source.id)
        .where(Case.state.not_in(final) | Case.id.in_(followed)).order_by(Case.opened_at, Case.id)
    ).scalars().all()
    return [case for case in candidates if accepts_steps(case)]


# --- the plan (preview) -------------------------------------------------------------------


def plan_handover(actor: Actor, facilitator_id: int, data: dict) -> tuple[User, list[Assignment]]:
    """The preview: the chosen cases (none chosen: all in work) shared out among the chosen
    receivers, the fewest cases in work first. Changes nothing."""
    values = load(HandoverPlanSchema(), data)
    source = require_may_hand_over(actor, facilitator_id)
    in_work = {case.id: case for case in cases_in_work(source)}
    chosen_ids = values["case_ids"] or list(in_work)
    unknown = [i for i in chosen_ids if i not in in_work]
    if unknown:
        record_refusal(actor, "hand over: case")
        raise ValidationError(_l("Some fields need attention."),
                              fields={"case_ids": [_l("Not a case in work of this facilitator.")]})
    if not chosen_ids:
        raise ValidationError(_l("This facilitator has no case in work."),
                              fields={"case_ids": [_l("This facilitator has no case in work.")]})
    allowed = {u.id: u for u in receiver_options(actor, source)}
    if any(i not in allowed for i in values["receiver_ids"]):
        record_refusal(actor, "hand over: receiver")
        raise ValidationError(_l("Some fields need attention."),
                              fields={"receiver_ids": [_l("Choose active facilitators of the team.")]})
    receivers = [allowed[i] for i in dict.fromkeys(values["receiver_ids"])]
    load_of = _caseloads([u.id for u in receivers])
    plan = []
    for case_id in chosen_ids:
        receiver = min(receivers, key=lambda u: (load_of[u.id], receivers.index(u)))
        load_of[receiver.id] += 1
        plan.append(Assignment(in_work[case_id], receiver))
    return source, plan


def _caseloads(user_ids: list[int]) -> dict[int, int]:
    final = {s for e in engines().values() for s, d in e.definition.states.items() if d.final}
    counted = dict(db.session.execute(
        select(Case.facilitator_id, func.count()).where(Case.facilitator_id.in_(user_ids), Case.state.not_in(final))
        .group_by(Case.facilitator_id)).all())
    return {i: counted.get(i, 0) for i in user_ids}


# --- carrying it out ---------------------------------------------------------------------------


def hand_over(actor: Actor, facilitator_id: int, data: dict) -> list[Assignment]:
    """Carry out a confirmed plan in one transaction (see the module)."""
    values = load(HandoverSchema(), data)
    with write_transaction():
        source = require_may_hand_over(actor, facilitator_id)
        done: list[Assignment] = []
        seen: set[int] = set()
        for index, item in enumerate(values["assignments"]):
            if item["case_id"] in seen:
                raise ValidationError(_l("Some fields need attention."), fields={
                    f"assignments.{index}.case_id": [_l("This case is named twice.")]})
            seen.add(item["case_id"])
            case = _case_of(actor, source, item["case_id"], index)
            receiver = db.session.get(User, item["facilitator_id"])
            if not _may_receive(actor, source, receiver, case):
                record_refusal(actor, "hand over: receiver", case.id)
                raise ValidationError(_l("Some fields need attention."), fields={
                    f"assignments.{index}.facilitator_id": [_l("Choose active facilitators of the team.")]})
            before = case_summary(case)
            case.facilitator = receiver
            case.version += 1
            append_case_event(case, action="case.reassigned", actor=actor, before=before, after=case_summary(case),
                              context={"reason": values["reason"], "handover_from": source.id})
            done.append(Assignment(case, receiver))
        append_event(chain=user_chain(source.id), action=CASES_HANDED_OVER, actor=actor, after={
            "cases": [{"case_id": a.case.id, "to": a.receiver.id} for a in done]},
            context={"reason": values["reason"]})
        for receiver_id, numbers in _by_receiver(done).items():
            notifications.notify(receiver_id, CASES_HANDED_OVER, None, {
                "count": len(numbers), "numbers": numbers[:20], "from": source.full_name,
                "by": actor.user.full_name, "reason": values["reason"]})
        return done


def _case_of(actor: Actor, source: User, case_id: int, index: int) -> Case:
    """A case of `source` still in work, within the actor's reach; anything else is named."""
    try:
        case = lock_case(case_id)
    except NotFound:
        case = None
    reach = case is not None and (actor.user.role == Role.ADMIN or access.can_view_case(actor.user, case))
    if not reach:
        record_refusal(actor, "hand over: case", case_id)
    if not reach or case.facilitator_id != source.id or not accepts_steps(case):
        # Also a case reassigned or closed since the preview: the plan is looked at again.
        raise ValidationError(_l("Some fields need attention."), fields={
            f"assignments.{index}.case_id": [_l("Not a case in work of this facilitator (any more).")]})
    return case


def _by_receiver(done: list[Assignment]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for assignment in done:
        grouped.setdefault(assignment.receiver.id, []).append(assignment.case.number)
    return grouped


@notifications.text_for(CASES_HANDED_OVER)
def _handed_over_text(data: dict) -> str:
    return _("%(by)s handed %(n)s case(s) of %(from)s over to you: %(numbers)s. Reason: %(reason)s",
             by=data.get("by"), n=data.get("count"), numbers=", ".join(data.get("numbers") or []),
             reason=data.get("reason"), **{"from": data.get("from")})
