"""Separation of duties for accounts: a privileged change one administrator asked for
through the web (a new supervisor, auditor or administrator, a reactivation, a new
supervisor or auditor scope, facilitators put in a team, a team given to an acting
supervisor) takes effect only when a different
administrator, or the server's command line, confirms it. Every request and decision is an
audit event on the account's chain, and auditors see the list."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import AccountChange, AccountChangeKind, AccountChangeStatus, Role, User
from ..schemas import is_row_id
from .audit import append_event, user_chain
from .context import Actor
from .sign_off_policy import create_delegation
from .users import (
    apply_details,
    change_dict,
    check_details,
    from_the_server,
    move_to_team,
    require_admin,
    supervisor_problem,
    user_dict,
)

REASON_MAX = 500


def _load_pending(change_id: int) -> AccountChange:
    change = db.session.get(AccountChange, change_id, with_for_update=True) if is_row_id(change_id) else None
    if change is None:
        raise NotFound(_l("No such account change."))
    if change.status != AccountChangeStatus.PENDING:
        raise ValidationError(_l("This change was already decided."),
                              fields={"change_id": [_l("This change was already decided.")]})
    return change


def _decide(actor: Actor, change: AccountChange, status: str, reason: str | None) -> None:
    change.status = status
    change.decided_by_id = actor.user_id
    change.decided_via = actor.via
    change.decided_at = utcnow()
    change.reason = reason
    append_event(chain=user_chain(change.target_user_id), action=f"account_change.{status}",
                 actor=actor, after=change_dict(change))


def confirm_change(actor: Actor, change_id: int) -> AccountChange:
    """A second administrator (never the one who asked) or the server's command line
    confirms a waiting change, which then takes effect, checked again as things are now."""
    require_admin(actor)
    with write_transaction():
        change = _load_pending(change_id)
        if not from_the_server(actor) and change.requested_by_id == actor.user_id:
            raise NotAllowed(_l("A different administrator must confirm a change you asked for."))
        target = db.session.get(User, change.target_user_id, with_for_update=True)
        context = {"account_change_id": change.id, "requested_by_id": change.requested_by_id}
        if change.kind in (AccountChangeKind.CREATE, AccountChangeKind.REACTIVATE):
            if not target.active:
                before = user_dict(target)
                target.active = True
                append_event(chain=user_chain(target.id), action="user.activated", actor=actor,
                             before=before, after=user_dict(target), context=context)
        elif change.kind == AccountChangeKind.DETAILS:
            values = dict(change.payload)
            check_details(target, values)
            apply_details(actor, target, values, context=context)
        elif change.kind == AccountChangeKind.TEAM:
            _add_to_team(actor, target, change.payload.get("add", []), context)
        elif change.kind == AccountChangeKind.DELEGATION:
            _delegate(actor, change, target, context)
        _decide(actor, change, AccountChangeStatus.CONFIRMED, None)
        return change


def _add_to_team(actor: Actor, supervisor: User, ids: list[int], context: dict) -> None:
    problem = supervisor_problem(supervisor.id)
    if problem:
        raise ValidationError(problem[0], fields={"supervisor_id": problem})
    people = list(db.session.execute(
        select(User).where(User.id.in_(ids)).order_by(User.id).with_for_update()).scalars())
    if len(people) != len(set(ids)) or any(u.role != Role.FACILITATOR for u in people):
        raise ValidationError(_l("Choose facilitators only."),
                              fields={"facilitator_ids": [_l("Choose facilitators only.")]})
    for person in people:
        if person.supervisor_id != supervisor.id:
            move_to_team(actor, person, supervisor.id, context=context)


def _delegate(actor: Actor, change: AccountChange, acting: User, context: dict) -> None:
    payload = change.payload
    supervisor = db.session.get(User, payload["supervisor_id"])
    if supervisor is None or supervisor.role != Role.SUPERVISOR:
        raise ValidationError(_l("Choose a supervisor."), fields={"supervisor_id": [_l("Choose a supervisor.")]})
    if acting.role != Role.SUPERVISOR or not acting.active:
        raise ValidationError(_l("Choose an active supervisor."),
                              fields={"acting_id": [_l("Choose an active supervisor.")]})
    create_delegation(actor, supervisor, acting, date.fromisoformat(payload["starts_on"]),
                      date.fromisoformat(payload["ends_on"]), payload["reason"],
                      created_by_id=change.requested_by_id, context=context)


def reject_change(actor: Actor, change_id: int, reason: str) -> AccountChange:
    """Any administrator (the one who asked withdraws it this way) turns a waiting change
    down, with a reason; it never takes effect."""
    require_admin(actor)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError(_l("Say why the change is rejected."),
                              fields={"reason": [_l("Say why the change is rejected.")]})
    if len(reason) > REASON_MAX:
        raise ValidationError(_l("At most %(n)s characters.", n=REASON_MAX),
                              fields={"reason": [_l("At most %(n)s characters.", n=REASON_MAX)]})
    with write_transaction():
        change = _load_pending(change_id)
        _decide(actor, change, AccountChangeStatus.REJECTED, reason)
        return change


def waiting_changes() -> list[AccountChange]:
    return list(db.session.execute(
        select(AccountChange).where(AccountChange.status == AccountChangeStatus.PENDING)
        .order_by(AccountChange.requested_at, AccountChange.id)).scalars())
