"""How a privileged account change reads on the administrators' and the auditors' pages."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..i18n import _l
from ..models import AccountChange, AccountChangeKind, AccountChangeStatus, Province, User
from .formatting import role_name

KIND_NAMES = {
    AccountChangeKind.CREATE: _l("New account"),
    AccountChangeKind.REACTIVATE: _l("Reactivation"),
    AccountChangeKind.DETAILS: _l("Supervisor or scope"),
    AccountChangeKind.TEAM: _l("Facilitators added to the team"),
    AccountChangeKind.DELEGATION: _l("Acting supervisor"),
}
STATUS_NAMES = {
    AccountChangeStatus.PENDING: _l("Waiting for a second administrator"),
    AccountChangeStatus.CONFIRMED: _l("Confirmed"),
    AccountChangeStatus.REJECTED: _l("Rejected"),
    AccountChangeStatus.APPLIED: _l("Made on the server's command line"),
}


def kind_name(kind: str) -> str:
    return str(KIND_NAMES.get(kind, kind))


def status_name(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))


def _person(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id is not None else None
    return f"{user.full_name} ({user.username})" if user else _("nobody")


def _scope(code: str | None) -> str:
    if not code:
        return _("national")
    province = db.session.get(Province, code)
    return province.name if province else code


def who(user: User | None, via: str | None) -> str:
    """The person, or the server's command line when no one signed in did it."""
    if user is not None:
        return f"{user.full_name} ({user.username})"
    return _("the server's command line") if via in ("cli", "system") else "—"


def describe(change: AccountChange) -> list[str]:
    """What the change gives, in words: the role and scope of a new account, the new
    supervisor or scope, the facilitators added."""
    payload = change.payload or {}
    if change.kind == AccountChangeKind.CREATE:
        lines = [_("Role: %(role)s", role=role_name(payload.get("role")))]
        if payload.get("role") == "auditor":
            lines.append(_("Scope: %(scope)s", scope=_scope(payload.get("auditor_scope_province_code"))))
        return lines
    if change.kind == AccountChangeKind.REACTIVATE:
        return [_("The account can sign in again.")]
    if change.kind == AccountChangeKind.DETAILS:
        lines = []
        if "supervisor_id" in payload:
            lines.append(_("Supervisor: %(name)s", name=_person(payload["supervisor_id"])))
        if "auditor_scope_province_code" in payload:
            lines.append(_("Scope: %(scope)s", scope=_scope(payload["auditor_scope_province_code"])))
        return lines
    if change.kind == AccountChangeKind.TEAM:
        ids = payload.get("add", [])
        names = [f"{u.full_name} ({u.username})" for u in db.session.execute(
            select(User).where(User.id.in_(ids)).order_by(User.full_name)).scalars()] if ids else []
        return [_("Added: %(names)s", names=", ".join(names))]
    if change.kind == AccountChangeKind.DELEGATION:
        return [_("Acting for %(name)s from %(start)s to %(end)s", name=_person(payload.get("supervisor_id")),
                  start=payload.get("starts_on"), end=payload.get("ends_on")),
                _("Reason: %(reason)s", reason=payload.get("reason", ""))]
    return []


def init_app(app) -> None:
    app.jinja_env.globals.update(change_kind_name=kind_name, change_status_name=status_name,
                                 describe_change=describe, change_who=who)
