"""Accounts: creating users, checking passwords, activation."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select

from ..database import write_transaction
from ..errors import NotAllowed, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Case, Province, Role, User
from ..schemas import UserSchema, is_row_id, load
from ..security.passwords import password_problems
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


def create_user(actor: Actor, data: dict) -> User:
    """An administrator (or the command line) creates an account with a role."""
    if actor.user is not None and actor.role != Role.ADMIN:
        raise NotAllowed(_l("Only administrators manage accounts."))
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
        user = User(**values, password_hash=hash_password(password), active=True)
        db.session.add(user)
        db.session.flush()
        append_event(chain=user_chain(user.id), action="user.created", actor=actor, after=user_dict(user))
        return user


def set_active(actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate or reactivate an account. A facilitator with open cases cannot be
    deactivated until those cases are reassigned."""
    if actor.user is not None and actor.role != Role.ADMIN:
        raise NotAllowed(_l("Only administrators manage accounts."))
    with write_transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise ValidationError(_l("No such user."), fields={"user_id": [_l("No such user.")]})
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
        append_event(chain=user_chain(user.id), action="user.activated" if active else "user.deactivated",
                     actor=actor, before=before, after=user_dict(user))
        return user


# Fields an administrator may change on an existing account (the role and username stay).
_EDITABLE = ("full_name", "province_code", "supervisor_id", "auditor_scope_province_code")


def _require_admin(actor: Actor) -> None:
    if actor.user is not None and actor.role != Role.ADMIN:
        raise NotAllowed(_l("Only administrators manage accounts."))


def _supervisor_problem(supervisor_id: int | None) -> list | None:
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


def update_user(actor: Actor, user_id: int, data: dict) -> User:
    """An administrator changes an account's name, province, supervisor (facilitators, and
    supervisors' coordinators) or
    scope (auditors: one province, or national when empty). The role stays."""
    _require_admin(actor)
    values = load(UserSchema(only=_EDITABLE), data)
    with write_transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise ValidationError(_l("No such user."), fields={"user_id": [_l("No such user.")]})
        errors: dict[str, list] = {}
        for key in ("province_code", "auditor_scope_province_code"):
            if values.get(key) and db.session.get(Province, values[key]) is None:
                errors[key] = [_l("Unknown province.")]
        if user.role == Role.FACILITATOR and not values.get("province_code"):
            errors["province_code"] = [_l("A facilitator works in a province.")]
        chosen = values.get("supervisor_id")
        if chosen is not None and user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
            errors["supervisor_id"] = [_l("Only facilitators and supervisors have a supervisor.")]
        elif problem := _supervisor_problem(chosen):
            errors["supervisor_id"] = problem
        elif chosen is not None and _supervises_up_to(chosen, user.id):
            # A supervisor's own supervisor (a coordinator) receives escalated sign-offs;
            # a circle would escalate forever.
            errors["supervisor_id"] = [_l("That would make a circle of supervisors.")]
        if values.get("auditor_scope_province_code") and user.role != Role.AUDITOR:
            errors["auditor_scope_province_code"] = [_l("Only auditors have a scope.")]
        if errors:
            raise ValidationError(_l("Some fields need attention."), fields=errors)
        before = user_dict(user)
        for key in _EDITABLE:
            setattr(user, key, values.get(key))
        after = user_dict(user)
        if after != before:
            append_event(chain=user_chain(user.id), action="user.updated", actor=actor,
                         before=before, after=after)
        return user


def set_team(actor: Actor, supervisor_id: int, facilitator_ids: list[int]) -> list[User]:
    """An administrator decides which facilitators a supervisor supervises. Facilitators
    added leave their previous team; those taken out are left without a supervisor (their
    cases then wait for a new team). Each change is an event on the facilitator's chain."""
    _require_admin(actor)
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
        changed = []
        for user in [*chosen, *(u for u in current if u.id not in wanted)]:
            target = supervisor.id if user.id in wanted else None
            if user.supervisor_id == target:
                continue
            before = user_dict(user)
            user.supervisor_id = target
            append_event(chain=user_chain(user.id), action="user.team_changed", actor=actor,
                         before=before, after=user_dict(user))
            changed.append(user)
        return changed


def change_password(actor: Actor, data: dict) -> User:
    """A user changes their own password after giving the current one. Every session of
    the account ends (the one making the change must sign in again, or be re-issued)."""
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
        append_event(chain=user_chain(user.id), action="user.password_changed", actor=actor,
                     context={"sessions_ended": True})
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
