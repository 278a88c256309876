"""Who may see and do what, by role and by record. The one place these rules live."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, or_, select, union
from sqlalchemy.orm import aliased

from ..database import utcnow
from ..errors import NotAllowed, NotFound
from ..extensions import db
from ..i18n import _l
from ..models import Case, Client, Role, SignOff, User
from ..models.sign_off_policy import Delegation, SignOffEscalation
from ..workflow import TransitionDef


def acting_for_ids(user: User, today: Any = None) -> Select:
    """The supervisors `user` stands in for today (an active delegation, in the acting
    supervisor's own calendar day; `today`: that day as a bound parameter, for a
    statement built once)."""
    if today is None:
        today = utcnow().astimezone(ZoneInfo(user.timezone)).date()
    return select(Delegation.supervisor_id).where(
        Delegation.acting_id == user.id, Delegation.revoked_at.is_(None),
        Delegation.starts_on <= today, Delegation.ends_on >= today,
    )


def acting_for(user: User, supervisor_id: int | None) -> int | None:
    """The delegation under which `user` acts for `supervisor_id` today, if any."""
    if supervisor_id is None or user.role != Role.SUPERVISOR:
        return None
    return db.session.execute(
        select(Delegation.id).where(Delegation.supervisor_id == supervisor_id,
                                    Delegation.supervisor_id.in_(acting_for_ids(user)),
                                    Delegation.acting_id == user.id, Delegation.revoked_at.is_(None))
        .order_by(Delegation.id.desc()).limit(1)
    ).scalar_one_or_none()


def supervised_ids(supervisor: User, today: Any = None):
    """The supervisor's own team, and the teams of supervisors they act for today (a
    union, so the database sees a team of a few people, not an OR it cannot estimate)."""
    return union(select(User.id).where(User.supervisor_id == supervisor.id),
                 select(User.id).where(User.supervisor_id.in_(acting_for_ids(supervisor, today))))


def escalated_case_ids(user: User) -> Select:
    """Cases with a sign-off escalated to `user` (the supervisor's own supervisor)."""
    return select(SignOff.case_id).join(SignOffEscalation, SignOffEscalation.sign_off_id == SignOff.id).where(
        SignOffEscalation.escalated_to_id == user.id)


# The team's cases, inside a supervisor's restriction. Made once: an alias of Case builds
# its column collection when made (about 3 ms of CPU, on every list a supervisor reads).
_TEAM_CASE = aliased(Case)


def visible_cases(user: User, statement: Select | None = None, today: Any = None) -> Select:
    """Restrict a case query to the cases `user` may open (read). `today`: the viewer's
    day, which a supervisor's delegations depend on (a bound parameter, for a statement
    built once; by default their day now)."""
    statement = statement if statement is not None else select(Case)
    if user.role == Role.FACILITATOR:
        return statement.where(Case.facilitator_id == user.id)
    if user.role == Role.SUPERVISOR:
        # One id list from two index lookups (the team's cases, the escalated ones): an OR
        # of the two would make the database read every case.
        team_cases = select(_TEAM_CASE.id).where(_TEAM_CASE.facilitator_id.in_(supervised_ids(user, today)))
        return statement.where(Case.id.in_(union(team_cases, escalated_case_ids(user))))
    if user.role == Role.AUDITOR:
        if user.auditor_scope_province_code:
            return statement.where(Case.province_code == user.auditor_scope_province_code)
        return statement
    # Programme managers see figures only; administrators see no case content.
    return statement.where(False)


def can_view_case(user: User, case: Case) -> bool:
    if not user.is_active:
        return False
    if user.role == Role.FACILITATOR:
        return case.facilitator_id == user.id
    if user.role == Role.SUPERVISOR:
        return holds_case_role(user, case, Role.SUPERVISOR) or is_escalated_to(user, case)
    if user.role == Role.AUDITOR:
        scope = user.auditor_scope_province_code
        return scope is None or case.province_code == scope
    return False


def client_registrars(user: User) -> Select | None:
    """Whose registrations of clients `user` may see: their own and their team's (a
    facilitator: their supervisor's and those who share that supervisor, so a client a colleague registered
    but never gave a case is not lost); a supervisor those of the team (and of the teams
    they act for today). None: nobody's. Health notes stay with the case's readers."""
    if user.role == Role.FACILITATOR:
        if user.supervisor_id is None:
            return select(User.id).where(User.id == user.id)
        return union(select(User.id).where(User.id.in_((user.id, user.supervisor_id))),
                     select(User.id).where(User.supervisor_id == user.supervisor_id))
    if user.role == Role.SUPERVISOR:
        return union(select(User.id).where(User.id == user.id),
                     select(User.id).where(User.supervisor_id == user.id),
                     select(User.id).where(User.supervisor_id.in_(acting_for_ids(user))))
    return None


def visible_clients(user: User, statement: Select | None = None) -> Select:
    """Restrict a client query to the clients `user` may see (their personal data, and a
    new case for them): those they or their team registered (see `client_registrars`),
    and those with a case they may open (`visible_cases`), so a returning client is seen
    by whoever may see one of their cases. Programme managers and administrators see none.

    Checked per client row (an EXISTS on that client's cases): meant for a query that is
    already narrowed, by id, NIK or name."""
    statement = statement if statement is not None else select(Client)
    if not user.is_active or user.role not in (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR):
        return statement.where(false())
    through_a_case = visible_cases(user, select(Case.id)).where(Case.client_id == Client.id).exists()
    registrars = client_registrars(user)
    if registrars is None:
        return statement.where(through_a_case)
    return statement.where(or_(Client.created_by_id.in_(registrars), through_a_case))


def can_see_client(user: User, client) -> bool:
    """May `user` see this client (and open a case for them)? The rule of `visible_clients`."""
    if client is None:
        return False
    return db.session.execute(
        visible_clients(user, select(Client.id).where(Client.id == client.id)).limit(1)
    ).first() is not None


def require_view(user: User, case: Case | None) -> Case:
    """Unknown and invisible cases look the same: nothing leaks that a case exists."""
    if case is None or not can_view_case(user, case):
        raise NotFound(_l("No such case."))
    return case


def holds_case_role(user: User, case: Case, role: str) -> bool:
    """Does `user` act on `case` in `role` (the role and the assignment both hold)?"""
    if user.role != role or not user.is_active:
        return False
    if role == Role.FACILITATOR:
        return case.facilitator_id == user.id
    if role == Role.SUPERVISOR:
        supervisor_id = case.facilitator.supervisor_id
        return supervisor_id == user.id or acting_for(user, supervisor_id) is not None
    return False


def is_escalated_to(user: User, case: Case) -> bool:
    """A sign-off of this case was escalated to `user`: they may see the case and decide it."""
    return db.session.execute(
        select(SignOff.id).join(SignOffEscalation, SignOffEscalation.sign_off_id == SignOff.id)
        .where(SignOff.case_id == case.id, SignOffEscalation.escalated_to_id == user.id).limit(1)
    ).first() is not None


def may_fire(user: User, case: Case, transition: TransitionDef) -> bool:
    return any(holds_case_role(user, case, role) for role in transition.roles)


def require_case_role(user: User, case: Case, roles: tuple[str, ...] | list[str], what) -> None:
    require_view(user, case)
    if any(holds_case_role(user, case, role) for role in roles):
        return
    if user.role not in roles:
        names = ", ".join(str(ROLE_LABELS.get(role, role)) for role in roles)
        raise NotAllowed(_l("Only %(roles)s may %(what)s.", roles=names, what=what))
    raise NotAllowed(_l("This case is not assigned to you, so you may not %(what)s.", what=what))


# Roles that review cases and never change one: auditors read the history, they take no
# part in it.
REVIEWING_ROLES = frozenset({Role.AUDITOR})


def require_may_change_cases(user: User) -> None:
    """Refuse any change to a case by a reviewing role before anything of it is read: each
    change checks its own rights too, this only answers first what could never be."""
    if user.role in REVIEWING_ROLES:
        raise NotAllowed(_l("Auditors review cases; they do not change them."))


ROLE_LABELS = {
    Role.FACILITATOR: _l("the case's facilitator"),
    Role.SUPERVISOR: _l("the facilitator's supervisor"),
    Role.AUDITOR: _l("an auditor"),
    Role.PROGRAMME_MANAGER: _l("a programme manager"),
    Role.ADMIN: _l("an administrator"),
}
