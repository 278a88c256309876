"""Duplicates by NIK, answered without telling anyone about clients outside their reach.

A NIK is unique: a second record is refused (the database holds the rule). What the
refusal says depends on the existing client:

- within the actor's reach (`access.visible_clients`): it is named and pointed to, since a
  returning client gets a new case, not a second record;
- out of reach: a neutral message that names no person, province or record. The check is
  an audit event on the actor's chain (`client.duplicate_nik_checked`: how many, from
  where, never the other client's data) and a notification to the actor's supervisor, who
  can follow it up. Each person meets at most CASEFLOW_NIK_CHECKS_PER_DAY such NIKs in 24
  hours, counted from those events (so every worker sees the same count).

A registration that is not a duplicate registers a real, audited client, so probing NIKs
through the registration form is neither free nor silent: there the limit changes only the
answer. An import check writes nothing and takes 20,000 NIKs at once, so there the limit is
strict: a file with more such NIKs than the person has left is refused as a whole, and once
nothing is left, every file with a NIK is refused, whatever it holds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from flask import current_app
from sqlalchemy import func, select

from ..database import after_transaction, utcnow, write_transaction
from ..errors import TooMany, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import AuditEvent, Client, User
from ..models.sign_off_policy import Notification
from . import access
from .audit import append_event, user_chain
from .context import Actor

ACTION = "client.duplicate_nik_checked"
NOTIFICATION = "client.duplicate_nik"
WINDOW = timedelta(hours=24)
_CHUNK = 500
_ROWS_KEPT = 100  # row numbers named in the audit event and the notification


def daily_limit() -> int:
    return int(current_app.config["CASEFLOW_NIK_CHECKS_PER_DAY"])


def checks_used(user_id: int) -> int:
    """NIKs out of reach this person met in the last 24 hours (refused files included)."""
    return db.session.execute(
        select(func.coalesce(func.sum(AuditEvent.context["outside_reach"].as_integer()), 0)).where(
            AuditEvent.actor_id == user_id, AuditEvent.occurred_at >= utcnow() - WINDOW,
            AuditEvent.action == ACTION)
    ).scalar_one()


def checks_left(user: User) -> int:
    return max(daily_limit() - checks_used(user.id), 0)


def neutral_message(user: User):
    """The same words whoever holds the NIK, wherever they are."""
    if user.supervisor_id is not None:
        return _l("This NIK cannot be registered here. Your supervisor has been asked to check it.")
    return _l("This NIK cannot be registered here. The check is recorded for the auditors.")


def within_reach_message(name: str):
    return _l("This client is already registered: %(name)s. Open a new case for them instead of "
              "registering them again.", name=name)


def _limit_message():
    return _l("You have met %(n)s NIKs registered outside your reach in 24 hours, the most one person "
              "may check. Ask your supervisor to register this client.", n=daily_limit())


# --- registering one client -----------------------------------------------------------------


def refuse_registration(actor: Actor, existing: Client, via: str = "registration") -> NoReturn:
    """Refuse registering `existing`'s NIK again, in the words the actor's reach allows."""
    user = actor.user
    if access.can_see_client(user, existing):
        message = within_reach_message(existing.full_name)
        raise ValidationError(message, fields={"nik": [message]}, current={"client_id": existing.id})
    over = checks_used(user.id) >= daily_limit()
    existing_id = existing.id
    # The refusal rolls back the transaction it happens in: the evidence is written after.
    after_transaction(lambda: _record(actor, via=via, outside_reach=1, refused="limit" if over else None,
                                      client_id=existing_id))
    if over:
        raise TooMany(_limit_message(), fields={"nik": [_limit_message()]})
    raise ValidationError(_l("Some fields need attention."), fields={"nik": [neutral_message(user)]})


# --- checking a register's NIKs at once --------------------------------------------------------


def registered(user: User, niks: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """Which of `niks` are registered ({nik: client id}), and the names of those clients
    `user` may see ({client id: name}). Nothing else of the others is read."""
    found: dict[str, int] = {}
    for start in range(0, len(niks), _CHUNK):
        found.update(db.session.execute(
            select(Client.nik, Client.id).where(Client.nik.in_(niks[start:start + _CHUNK]))).all())
    ids = sorted(set(found.values()))
    names: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        names.update(db.session.execute(access.visible_clients(
            user, select(Client.id, Client.full_name).where(Client.id.in_(ids[start:start + _CHUNK])))).all())
    return found, names


def charge_import(actor: Actor, rows_out_of_reach: list[int], *, has_niks: bool) -> None:
    """Count an import check's NIKs out of reach (their row numbers) against the person's
    limit, audit it and tell the supervisor; refuse the whole file (TooMany on `file`) if it
    holds more than the person has left, or any NIK once nothing is left. Commits its own
    transaction, so the evidence stays when the file is refused."""
    user = actor.user
    count = len(rows_out_of_reach)
    with write_transaction():
        # One person's checks one after the other (PostgreSQL; SQLite writes one at a time).
        db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
        left = daily_limit() - checks_used(user.id)
        refused = None
        if left <= 0 and has_niks:
            refused = "limit"
        elif count > max(left, 0):
            refused = "file"
        if count or refused:
            _record(actor, via="import", outside_reach=count, refused=refused, rows=rows_out_of_reach)
    if refused == "limit":
        message = _l("You have met %(n)s NIKs registered outside your reach in 24 hours, the most one "
                     "person may check: no file with NIKs can be checked until then. Ask your supervisor "
                     "to look at the register.", n=daily_limit())
        raise TooMany(message, fields={"file": [message]})
    if refused == "file":
        message = _l("This file holds more NIKs registered outside your reach than you may still check "
                     "(%(left)s; at most %(n)s in 24 hours), so none of it was checked. Your supervisor "
                     "has been told; ask them to look at the register.", left=max(left, 0), n=daily_limit())
        raise TooMany(message, fields={"file": [message]})


# --- the evidence ----------------------------------------------------------------------------------


def _record(actor: Actor, *, via: str, outside_reach: int, refused: str | None = None,
            rows: list[int] | None = None, client_id: int | None = None) -> None:
    """The audit event on the actor's chain and the notice to their supervisor. Neither
    holds the other client's data; the notice leads to the client only if the supervisor
    may see them (a team-mate's client, say)."""
    user = db.session.get(User, actor.user_id)
    context: dict = {"via": via, "outside_reach": outside_reach}
    if refused:
        context["refused"] = refused
    if rows is not None:
        context["rows"] = rows[:_ROWS_KEPT]
    append_event(chain=user_chain(user.id), action=ACTION, actor=actor, context=context)
    supervisor = user.supervisor
    if supervisor is None or not supervisor.active:
        return
    data = {"by": user.full_name, "via": via, "count": outside_reach}
    if refused:
        data["refused"] = refused
    if rows is not None:
        data["rows"] = rows[:_ROWS_KEPT]
    if client_id is not None and access.can_see_client(supervisor, db.session.get(Client, client_id)):
        data["client_id"] = client_id
    db.session.add(Notification(user_id=supervisor.id, kind=NOTIFICATION, case_id=None, data=data,
                                created_at=utcnow()))
