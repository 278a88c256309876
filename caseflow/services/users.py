"""Accounts: creating users, checking passwords, activation."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select

from ..database import utcnow, write_transaction
from ..errors import NotAllowed, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import (
    PRIVILEGED_ROLES,
    AccountChange,
    AccountChangeKind,
    AccountChangeStatus,
    Case,
    Province,
    Role,
    User,
)
from ..schemas import UserSchema, is_row_id, load
from ..security.fields import new_key
from ..security.passwords import password_problems
from .api_tokens import revoke_all_of
from .audit import append_event, user_chain
from .context import Actor
from .runtime import engines


@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
    # Verifying against this keeps an unknown user as slow as a wrong password.
    return hasher, hasher.hash("caseflow-timing-equaliser")


def _hasher() -> tuple[PasswordHasher, str]:
    """argon2id with OWASP's recommended settings (19 MiB, 2 iterations, 1 lane) unless the
    configuration says otherwise (the test suite uses cheap ones; hashes carry their own
    settings, so every stored hash verifies whatever the current ones are)."""
    config = current_app.config if has_app_context() else {}
    return _hasher_for(int(config.get("CASEFLOW_ARGON2_TIME_COST", 2)),
                       int(config.get("CASEFLOW_ARGON2_MEMORY_KIB", 19 * 1024)))


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def password_matches(user: User | None, password: str) -> bool:
    hasher, dummy = _hasher()
    try:
        return hasher.verify(user.password_hash if user else dummy, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def user_dict(user: User) -> dict:
    return {
        "id": user.id, "username": user.username, "full_name": user.full_name, "role": user.role,
        "active": user.active, "province_code": user.province_code, "supervisor_id": user.supervisor_id,
        "nip_pppk": user.nip_pppk, "employment_status": user.employment_status,
        "auditor_scope_province_code": user.auditor_scope_province_code,
    }


def from_the_server(actor: Actor) -> bool:
    """The server's command line (and the system itself) needs no second administrator:
    whoever runs it already holds the server."""
    return actor.via in ("cli", "system")


def require_admin(actor: Actor) -> None:
    if from_the_server(actor):
        return
    if actor.user is None or actor.role != Role.ADMIN:
        raise NotAllowed(_l("Only administrators manage accounts."))


def change_dict(change: AccountChange) -> dict:
    return {"id": change.id, "kind": change.kind, "target_user_id": change.target_user_id,
            "payload": change.payload, "status": change.status,
            "requested_by_id": change.requested_by_id, "requested_via": change.requested_via,
            "decided_by_id": change.decided_by_id, "decided_via": change.decided_via,
            "reason": change.reason}


def pending_changes(user_id: int, *kinds: str) -> list[AccountChange]:
    statement = select(AccountChange).where(AccountChange.target_user_id == user_id,
                                            AccountChange.status == AccountChangeStatus.PENDING)
    if kinds:
        statement = statement.where(AccountChange.kind.in_(kinds))
    return list(db.session.execute(statement.order_by(AccountChange.id)).scalars())


def record_change(actor: Actor, kind: str, target: User, payload: dict) -> AccountChange:
    """A privileged change: from the server's command line it is applied (by the caller) and
    listed; through the web it waits for a second administrator and changes nothing yet."""
    applied = from_the_server(actor)
    if not applied:
        for waiting in pending_changes(target.id, kind):
            if waiting.payload == payload:  # asked again (a second click): one request
                return waiting
    now = utcnow()
    change = AccountChange(
        kind=kind, target_user_id=target.id, payload=payload,
        status=AccountChangeStatus.APPLIED if applied else AccountChangeStatus.PENDING,
        requested_by_id=actor.user_id, requested_via=actor.via, requested_at=now,
        decided_by_id=actor.user_id if applied else None, decided_via=actor.via if applied else None,
        decided_at=now if applied else None,
    )
    db.session.add(change)
    db.session.flush()
    append_event(chain=user_chain(target.id),
                 action="account_change.applied" if applied else "account_change.requested",
                 actor=actor, after=change_dict(change))
    return change


def create_user(actor: Actor, data: dict) -> User:
    """An administrator (or the command line) creates an account with a role. A supervisor,
    auditor or administrator made through the web stays unusable (deactivated) until a
    second administrator confirms it; the command line makes it usable at once."""
    require_admin(actor)
    values = load(UserSchema(), data)
    with write_transaction():
        errors: dict[str, list] = {}
        weak = password_problems(values["password"], username=values["username"],
                                 full_name=values.get("full_name"))
        if weak:
            errors["password"] = weak
        if db.session.execute(select(User.id).where(User.username == values["username"])).first():
            errors["username"] = [_l("This username is taken.")]
        for key in ("province_code", "auditor_scope_province_code"):
            if values.get(key) and db.session.get(Province, values[key]) is None:
                errors[key] = [_l("Unknown province.")]
        supervisor_id = values.get("supervisor_id")
        if supervisor_id is not None:
            supervisor = db.session.get(User, supervisor_id)
            if supervisor is None or supervisor.role != Role.SUPERVISOR:
                errors["supervisor_id"] = [_l("Choose a supervisor.")]
        if values.get("nip_pppk") and db.session.execute(
            select(User.id).where(User.nip_pppk == values["nip_pppk"])
        ).first():
            errors["nip_pppk"] = [_l("This NI PPPK number belongs to another account.")]
        if errors:
            raise ValidationError(_l("Some fields need attention."), fields=errors)
        password = values.pop("password")
        privileged = values["role"] in PRIVILEGED_ROLES
        user = User(**values, password_hash=hash_password(password),
                    active=not privileged or from_the_server(actor))
        db.session.add(user)
        db.session.flush()
        append_event(chain=user_chain(user.id), action="user.created", actor=actor, after=user_dict(user))
        if privileged:
            record_change(actor, AccountChangeKind.CREATE, user, user_dict(user) | {"active": True})
        return user


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate or reactivate an account. A facilitator with open cases cannot be
    deactivated until those cases are reassigned. Reactivating a supervisor, auditor or
    administrator through the web waits for a second administrator."""
    require_admin(actor)
    with write_transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise ValidationError(_l("No such user."), fields={"user_id": [_l("No such user.")]})
        if active and not user.active and user.role in PRIVILEGED_ROLES:
            if pending_changes(user.id, AccountChangeKind.CREATE, AccountChangeKind.REACTIVATE):
                raise ValidationError(_l("This account already waits for a second administrator."),
                                      fields={"active": [_l("This account already waits for a second administrator.")]})
            change = record_change(actor, AccountChangeKind.REACTIVATE, user, {"active": True})
            if change.status == AccountChangeStatus.PENDING:
                return user
        if not active and user.role == Role.FACILITATOR:
            final_states = {s for e in engines().values() for s, d in e.definition.states.items() if d.final}
            open_cases = db.session.execute(
                select(func.count()).select_from(Case).where(
                    Case.facilitator_id == user.id, Case.state.not_in(final_states))
            ).scalar_one()
            if open_cases:
                raise ValidationError(
                    _l("Reassign this facilitator's %(n)s open case(s) first.", n=open_cases),
                    fields={"active": [_l("Open cases must be reassigned first.")]},
                )
        before = user_dict(user)
        user.active = active
        if not active:
            user.session_generation += 1
            # Reactivating the account later must not bring its old tokens back.
            revoke_all_of(actor, user, "account deactivated")
        append_event(chain=user_chain(user.id), action="user.activated" if active else "user.deactivated",
                     actor=actor, before=before, after=user_dict(user))
        return user


# Fields an administrator may change on an existing account (the role and username stay).
_EDITABLE = ("full_name", "province_code", "supervisor_id", "auditor_scope_province_code")


def supervisor_problem(supervisor_id: int | None) -> list | None:
    if supervisor_id is None:
        return None
    supervisor = db.session.get(User, supervisor_id)
    if supervisor is None or supervisor.role != Role.SUPERVISOR:
        return [_l("Choose a supervisor.")]
    if not supervisor.active:
        return [_l("That supervisor's account is deactivated.")]
    return None


def _supervises_up_to(start_id: int, user_id: int) -> bool:
    """Is `user_id` the chosen supervisor itself, or somewhere above them?"""
    seen: set[int] = set()
    current: int | None = start_id
    while current is not None and current not in seen:
        if current == user_id:
            return True
        seen.add(current)
        current = db.session.execute(select(User.supervisor_id).where(User.id == current)).scalar_one_or_none()
    return False


def _details_problems(user: User, values: dict) -> dict[str, list]:
    errors: dict[str, list] = {}
    for key in ("province_code", "auditor_scope_province_code"):
        if values.get(key) and db.session.get(Province, values[key]) is None:
            errors[key] = [_l("Unknown province.")]
    if "province_code" in values and user.role == Role.FACILITATOR and not values["province_code"]:
        errors["province_code"] = [_l("A facilitator works in a province.")]
    chosen = values.get("supervisor_id")
    if chosen is not None and user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        errors["supervisor_id"] = [_l("Only facilitators and supervisors have a supervisor.")]
    elif problem := supervisor_problem(chosen):
        errors["supervisor_id"] = problem
    elif chosen is not None and _supervises_up_to(chosen, user.id):
        # A supervisor's own supervisor (a coordinator) receives escalated sign-offs;
        # a circle would escalate forever.
        errors["supervisor_id"] = [_l("That would make a circle of supervisors.")]
    if values.get("auditor_scope_province_code") and user.role != Role.AUDITOR:
        errors["auditor_scope_province_code"] = [_l("Only auditors have a scope.")]
    return errors


def _privileged_details(user: User, values: dict) -> dict:
    """The part of an edit that gives the account, or someone else, more to see: a new
    supervisor (whose team then includes this account's cases) and any change of an
    auditor's scope. Taking a supervisor away gives no one more and is not in it."""
    asked: dict = {}
    chosen = values.get("supervisor_id")
    if chosen is not None and chosen != user.supervisor_id:
        asked["supervisor_id"] = chosen
    if user.role == Role.AUDITOR and values.get("auditor_scope_province_code") != user.auditor_scope_province_code:
        asked["auditor_scope_province_code"] = values.get("auditor_scope_province_code")
    return asked


def apply_details(actor: Actor, user: User, values: dict, context: dict | None = None) -> User:
    """Set the given fields of an account (already checked) and record what changed."""
    before = user_dict(user)
    for key, value in values.items():
        setattr(user, key, value)
    after = user_dict(user)
    if after != before:
        append_event(chain=user_chain(user.id), action="user.updated", actor=actor,
                     before=before, after=after, context=context)
    return user


def check_details(user: User, values: dict) -> None:
    errors = _details_problems(user, values)
    if errors:
        raise ValidationError(_l("Some fields need attention."), fields=errors)


def update_user(actor: Actor, user_id: int, data: dict) -> User:
    """An administrator changes an account's name, province, supervisor (facilitators, and
    supervisors' coordinators) or scope (auditors: one province, or national when empty).
    The role stays. A new supervisor or a changed scope, asked through the web, waits for a
    second administrator; the rest of the edit is saved at once."""
    require_admin(actor)
    values = load(UserSchema(only=_EDITABLE), data)
    with write_transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise ValidationError(_l("No such user."), fields={"user_id": [_l("No such user.")]})
        values = {key: values.get(key) for key in _EDITABLE}
        check_details(user, values)
        privileged = _privileged_details(user, values)
        if privileged:
            change = record_change(actor, AccountChangeKind.DETAILS, user, privileged)
            if change.status == AccountChangeStatus.PENDING:
                values = {key: value for key, value in values.items() if key not in privileged}
        return apply_details(actor, user, values)


def set_team(actor: Actor, supervisor_id: int, facilitator_ids: list[int]) -> list[User]:
    """An administrator decides which facilitators a supervisor supervises. Facilitators
    added leave their previous team; those taken out are left without a supervisor (their
    cases then wait for a new team). Each change is an event on the facilitator's chain.
    Through the web, facilitators added wait for a second administrator (the supervisor
    would read their cases); those taken out leave at once. Returns who changed now."""
    require_admin(actor)
    with write_transaction():
        supervisor = db.session.get(User, supervisor_id)
        if supervisor is None or supervisor.role != Role.SUPERVISOR:
            raise ValidationError(_l("Choose a supervisor."), fields={"supervisor_id": [_l("Choose a supervisor.")]})
        wanted = set(facilitator_ids)
        # An id beyond INTEGER names nobody (and PostgreSQL would refuse the whole query).
        chosen = list(db.session.execute(
            select(User).where(User.id.in_(wanted)).with_for_update()).scalars()
        ) if wanted and all(map(is_row_id, wanted)) else []
        if len(chosen) != len(wanted) or any(u.role != Role.FACILITATOR for u in chosen):
            raise ValidationError(_l("Choose facilitators only."),
                                  fields={"facilitator_ids": [_l("Choose facilitators only.")]})
        if wanted and not supervisor.active:
            raise ValidationError(_l("That supervisor's account is deactivated."),
                                  fields={"supervisor_id": [_l("That supervisor's account is deactivated.")]})
        current = list(db.session.execute(
            select(User).where(User.supervisor_id == supervisor.id).with_for_update()).scalars())
        added = [u for u in chosen if u.supervisor_id != supervisor.id]
        if added:
            change = record_change(actor, AccountChangeKind.TEAM, supervisor,
                                    {"add": sorted(u.id for u in added)})
            if change.status == AccountChangeStatus.PENDING:
                added = []
        changed = []
        for user in [*added, *(u for u in current if u.id not in wanted)]:
            move_to_team(actor, user, supervisor.id if user.id in wanted else None)
            changed.append(user)
        return changed


def move_to_team(actor: Actor, user: User, supervisor_id: int | None, context: dict | None = None) -> None:
    before = user_dict(user)
    user.supervisor_id = supervisor_id
    append_event(chain=user_chain(user.id), action="user.team_changed", actor=actor,
                 before=before, after=user_dict(user), context=context)


def change_password(actor: Actor, data: dict) -> User:
    """A user changes their own password after giving the current one. Every session of
    the account ends (the one making the change must sign in again, or be re-issued) and
    every API token is revoked: a token made by whoever knew the old password dies with it."""
    if actor.user is None:
        raise NotAllowed(_l("Sign in first."))
    current = data.get("current_password") if isinstance(data, dict) else None
    new = data.get("new_password") if isinstance(data, dict) else None
    errors: dict[str, list] = {}
    if not isinstance(current, str) or not current:
        errors["current_password"] = [_l("Enter your current password.")]
    if not isinstance(new, str) or not new:
        errors["new_password"] = [_l("Enter a new password.")]
    if errors:
        raise ValidationError(_l("Some fields need attention."), fields=errors)
    with write_transaction():
        user = db.session.get(User, actor.user_id, with_for_update=True)
        wrong_current = not password_matches(user, current)
        if wrong_current:
            # The refusal is evidence too: it commits, then the error is reported.
            append_event(chain=user_chain(user.id), action="user.password_change_refused", actor=actor,
                         context={"reason": "wrong current password"})
    if wrong_current:
        raise ValidationError(_l("Your current password is not right."),
                              fields={"current_password": [_l("Your current password is not right.")]})
    with write_transaction():
        user = db.session.get(User, actor.user_id, with_for_update=True)
        if not password_matches(user, current):  # changed meanwhile by another session
            raise ValidationError(_l("Your current password is not right."),
                                  fields={"current_password": [_l("Your current password is not right.")]})
        weak = password_problems(new, username=user.username, full_name=user.full_name)
        if not weak and password_matches(user, new):
            weak = [_l("Choose a password different from the current one.")]
        if weak:
            raise ValidationError(_l("Choose another password."), fields={"new_password": weak})
        user.password_hash = hash_password(new)
        user.session_generation += 1
        revoked = revoke_all_of(actor, user, "password changed")
        append_event(chain=user_chain(user.id), action="user.password_changed", actor=actor,
                     context={"sessions_ended": True, "tokens_revoked": len(revoked)})
        return user


def record_login(actor: Actor, user: User | None, username: str, success: bool) -> None:
    with write_transaction():
        if user is None:
            append_event(chain="system", action="login.failed", actor=actor,
                         context={"username": username[:64], "reason": "unknown user"})
            return
        append_event(chain=user_chain(user.id), action="login.succeeded" if success else "login.failed",
                     actor=Actor(user=user, origin_ip=actor.origin_ip, user_agent=actor.user_agent, via=actor.via))


def record_logout(actor: Actor) -> None:
    with write_transaction():
        user = db.session.get(User, actor.user_id, with_for_update=True)
        user.session_generation += 1
        append_event(chain=user_chain(user.id), action="logout", actor=actor)


def offline_key(actor: Actor) -> str:
    """The signed-in person's key for sealing the work their tablet keeps unsent (urlsafe
    base64, 32 bytes), made the first time it is needed. It never changes, so work sealed
    in one session opens in the next session of the same person."""
    if actor.user is None:
        raise NotAllowed(_l("Sign in first."))
    user = db.session.get(User, actor.user_id)
    if user.offline_key:
        return user.offline_key
    with write_transaction():
        user = db.session.get(User, actor.user_id, with_for_update=True)
        if not user.offline_key:
            user.offline_key = new_key()
            append_event(chain=user_chain(user.id), action="user.offline_key_created", actor=actor)
        return user.offline_key


def set_locale(actor: Actor, locale: str) -> User:
    """A user chooses the language of their pages; the choice follows them to any device."""
    if actor.user is None:
        raise NotAllowed(_l("Sign in first."))
    if locale not in ("id", "en"):
        raise ValidationError(_l("Unknown language."), fields={"locale": [_l("Choose Indonesian or English.")]})
    with write_transaction():
        user = db.session.get(User, actor.user_id, with_for_update=True)
        before = user.locale
        if before != locale:
            user.locale = locale
            append_event(chain=user_chain(user.id), action="user.locale_changed", actor=actor,
                         before={"locale": before}, after={"locale": locale})
        return user
