"""The administrator's pages: accounts and roles, creating an account, a supervisor's
team, an auditor's scope, deactivating and reactivating accounts, and the privileged
changes waiting for a second administrator's confirmation.

Administrators see no case content: only how many open cases a facilitator holds (a
facilitator is deactivated once those are reassigned).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from ..errors import CaseflowError, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import AccountChange, Case, EmploymentStatus, Province, Role, User
from ..reports.figures import final_stages
from ..schemas import parse_row_id
from ..services import account_changes as change_services
from ..services import users as user_services
from . import navigation
from .account_changes import kind_name
from .auth import request_actor
from .errors import flash_error, render_invalid
from .formatting import role_name
from .helpers import blank_to_none, containing, paginate, require_role, search_text

bp = Blueprint("admin", __name__, url_prefix="/admin")

navigation.register("admin.users", _l("Users"), (Role.ADMIN,), order=10)
navigation.register("admin.new_user", _l("New user"), (Role.ADMIN,), order=20)
navigation.register("admin.changes", _l("Waiting for confirmation"), (Role.ADMIN,), order=30)

PAGE_SIZE = 50
EMPLOYMENT_NAMES = {
    EmploymentStatus.PPPK: _l("PPPK (contract civil servant)"),
    EmploymentStatus.ASN: _l("ASN (civil servant)"),
    EmploymentStatus.VOLUNTEER: _l("Volunteer"),
}


@bp.before_request
@login_required
def _admins_only():
    require_role(Role.ADMIN)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."))
    return user


def open_case_counts(user_ids: list[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    return dict(db.session.execute(
        select(Case.facilitator_id, func.count(Case.id))
        .where(Case.facilitator_id.in_(user_ids), Case.state.not_in(final_stages()))
        .group_by(Case.facilitator_id)
    ).all())


def _options() -> dict[str, Any]:
    provinces = [(p.code, f"{p.name} ({p.code})")
                 for p in db.session.execute(select(Province).order_by(Province.name)).scalars()]
    supervisors = [(str(u.id), f"{u.full_name} ({u.username}) · {u.province_code or '—'}")
                   for u in db.session.execute(
                       select(User).where(User.role == Role.SUPERVISOR, User.active.is_(True))
                       .order_by(User.full_name)).scalars()]
    return {
        "province_options": provinces,
        "supervisor_options": supervisors,
        "role_options": [(r.value, role_name(r.value)) for r in Role],
        "employment_options": [(k.value, str(v)) for k, v in EMPLOYMENT_NAMES.items()],
    }


# --- the list ---------------------------------------------------------------------------


@bp.route("/users")
def users():
    query = search_text()
    role = request.args.get("role") or ""
    statement = select(User)
    if query:
        statement = statement.where(containing(query, User.username, User.full_name))
    if role:
        statement = statement.where(User.role == role)
    found = paginate(statement.order_by(User.active.desc(), User.role, User.full_name), PAGE_SIZE)
    people = found.items
    return render_template(
        "admin/users.html", people=people, **found.fields(),
        filters={"q": query, "role": role},
        open_cases=open_case_counts([u.id for u in people if u.role == Role.FACILITATOR]),
        **_options(),
    )


# --- creating an account ------------------------------------------------------------------


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    if request.method == "GET":
        return render_template("admin/new_user.html", errors={}, form={"locale": "id"}, **_options())
    data = blank_to_none(request.form.to_dict(), "province_code", "supervisor_id", "nip_pppk",
                         "employment_status", "auditor_scope_province_code")
    data.pop("csrf_token", None)
    try:
        user = user_services.create_user(request_actor(), data)
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("admin/new_user.html", error, **_options())
    if user.active:
        flash(_("The account %(username)s is created.", username=user.username), "success")
    else:
        flash(_("The account %(username)s is created but cannot be used yet: a second administrator "
                "must confirm a new supervisor, auditor or administrator.", username=user.username), "info")
    return redirect(url_for("admin.user", user_id=user.id), code=303)


# --- one account -------------------------------------------------------------------------


def _user_context(user: User) -> dict[str, Any]:
    team = []
    if user.role == Role.SUPERVISOR:
        team = list(db.session.execute(
            select(User).where(User.supervisor_id == user.id).order_by(User.full_name)).scalars())
    return {"person": user, "team": team, "open_cases": open_case_counts([user.id]).get(user.id, 0),
            "waiting": user_services.pending_changes(user.id), **_options()}


def _flash_waiting(user_id: int, before: set[int]) -> None:
    """Say so when the request left a change waiting for a second administrator."""
    if {c.id for c in user_services.pending_changes(user_id)} - before:
        flash(_("The new supervisor, scope or team members take effect when a second administrator "
                "confirms them (see “Waiting for confirmation”)."), "info")


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    """An account: its details (name, province, supervisor or scope) and its activation."""
    person = _user_or_404(user_id)
    if request.method == "GET":
        form = {key: getattr(person, key) or "" for key in
                ("full_name", "province_code", "supervisor_id", "auditor_scope_province_code")}
        return render_template("admin/user.html", errors={}, form=form, **_user_context(person))
    data = blank_to_none(
        {key: request.form.get(key, "") for key in
         ("full_name", "province_code", "supervisor_id", "auditor_scope_province_code")},
        "province_code", "supervisor_id", "auditor_scope_province_code")
    before = {c.id for c in user_services.pending_changes(user_id)}
    try:
        user_services.update_user(request_actor(), user_id, data)
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("admin/user.html", error, **_user_context(_user_or_404(user_id)))
    flash(_("The account is saved."), "success")
    _flash_waiting(user_id, before)
    return redirect(url_for("admin.user", user_id=user_id), code=303)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int):
    """Deactivate (its history stays; a facilitator's open cases must be reassigned
    first) or reactivate an account."""
    person = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    if not active and person.id == current_user.id:
        error = ValidationError(_("You cannot deactivate your own account."),
                                fields={"active": [_("You cannot deactivate your own account.")]})
        return _refused_activation(person, error)
    try:
        person = user_services.set_active(request_actor(), user_id, active)
    except ValidationError as error:
        db.session.rollback()
        return _refused_activation(_user_or_404(user_id), error)
    if active and not person.active:
        flash(_("The account %(username)s can be used again once a second administrator confirms it.",
                username=person.username), "info")
    elif active:
        flash(_("The account %(username)s is active again.", username=person.username), "success")
    else:
        flash(_("The account %(username)s is deactivated; its history stays.", username=person.username), "success")
    return redirect(url_for("admin.user", user_id=user_id), code=303)


def _refused_activation(person: User, error: ValidationError):
    form = {key: getattr(person, key) or "" for key in
            ("full_name", "province_code", "supervisor_id", "auditor_scope_province_code")}
    return render_invalid("admin/user.html", error, form=form, **_user_context(person))


# --- a supervisor's team -----------------------------------------------------------------


def _team_context(supervisor: User) -> dict[str, Any]:
    """Facilitators of the supervisor's province, and any already in the team elsewhere."""
    candidates = list(db.session.execute(
        select(User).where(User.role == Role.FACILITATOR,
                           or_(User.province_code == supervisor.province_code,
                               User.supervisor_id == supervisor.id))
        .order_by(User.active.desc(), User.full_name)
    ).scalars())
    others = {u.supervisor_id for u in candidates if u.supervisor_id not in (None, supervisor.id)}
    names = {u.id: u.full_name for u in db.session.execute(
        select(User).where(User.id.in_(others))).scalars()} if others else {}
    return {"supervisor": supervisor, "candidates": candidates, "other_supervisors": names,
            "open_cases": open_case_counts([u.id for u in candidates])}


@bp.route("/users/<int:user_id>/team", methods=["GET", "POST"])
def team(user_id: int):
    """Which facilitators this supervisor supervises."""
    supervisor = _user_or_404(user_id)
    if supervisor.role != Role.SUPERVISOR:
        raise NotFound(_l("Only a supervisor has a team."))
    if request.method == "GET":
        return render_template("admin/team.html", errors={},
                               chosen={u.id for u in _team_context(supervisor)["candidates"]
                                       if u.supervisor_id == supervisor.id},
                               **_team_context(supervisor))
    chosen = [parse_row_id(value) for value in request.form.getlist("facilitator_ids")]
    if None in chosen:
        error = ValidationError(_("Choose facilitators only."),
                                fields={"facilitator_ids": [_("Choose facilitators only.")]})
        return render_invalid("admin/team.html", error, chosen=set(), **_team_context(supervisor))
    before = {c.id for c in user_services.pending_changes(user_id)}
    try:
        changed = user_services.set_team(request_actor(), supervisor.id, chosen)
    except ValidationError as error:
        db.session.rollback()
        supervisor = _user_or_404(user_id)
        return render_invalid("admin/team.html", error, chosen=set(chosen), **_team_context(supervisor))
    flash(_("The team is saved (%(n)s change(s)).", n=len(changed)), "success")
    _flash_waiting(user_id, before)
    return redirect(url_for("admin.user", user_id=user_id), code=303)


# --- privileged changes waiting for a second administrator ---------------------------------


@bp.route("/changes")
def changes():
    return render_template("admin/changes.html", changes=change_services.waiting_changes(),
                           errors={}, form={})


def _change_or_404(change_id: int) -> AccountChange:
    change = db.session.get(AccountChange, change_id)
    if change is None:
        raise NotFound(_l("No such account change."))
    return change


def _decision_refused(error: CaseflowError):
    """The waiting changes again, saying why the decision was refused."""
    db.session.rollback()
    flash_error(error)
    return redirect(url_for("admin.changes"), code=303)


@bp.route("/changes/<int:change_id>/confirm", methods=["POST"])
def confirm_change(change_id: int):
    """A different administrator confirms: only now does the change take effect."""
    change = _change_or_404(change_id)
    try:
        change_services.confirm_change(request_actor(), change_id)
    except CaseflowError as error:
        return _decision_refused(error)
    flash(_("Confirmed: %(kind)s for %(name)s.", kind=kind_name(change.kind), name=change.target.full_name), "success")
    return redirect(url_for("admin.changes"), code=303)


@bp.route("/changes/<int:change_id>/reject", methods=["POST"])
def reject_change(change_id: int):
    change = _change_or_404(change_id)
    try:
        change_services.reject_change(request_actor(), change_id, request.form.get("reason", ""))
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("admin/changes.html", error, changes=change_services.waiting_changes(),
                              rejecting=change_id)
    except CaseflowError as error:
        return _decision_refused(error)
    flash(_("Rejected: %(kind)s for %(name)s.", kind=kind_name(change.kind), name=change.target.full_name), "info")
    return redirect(url_for("admin.changes"), code=303)

