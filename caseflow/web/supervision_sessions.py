"""Supervision sessions on the pages: the sessions a supervisor held (or a facilitator
took part in), recording one in two steps (who and what about, then the notes and action
points), one session, and ticking an action point off from the case page
(services.supervision)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Case, Role
from ..schemas import ascii_number
from ..services import access, supervision
from . import navigation
from .auth import request_actor
from .errors import field_errors
from .formatting import local_input_value

bp = Blueprint("supervision_sessions", __name__)

navigation.register("supervision_sessions.index", _l("Supervision"), (Role.SUPERVISOR, Role.FACILITATOR), order=35)

ACTION_POINT_ROWS = 4


def _ids(name: str) -> list[Any]:
    return [ascii_number(v, max_digits=20) or v for v in request.form.getlist(name) if v.strip()]


@bp.route("/supervision")
@login_required
def index():
    if current_user.role not in (Role.SUPERVISOR, Role.FACILITATOR):
        abort(403)
    sessions = supervision.sessions_for(current_user)
    points = supervision.open_action_points_of(current_user)
    return render_template("supervision_sessions/index.html", sessions=sessions, points=points,
                           status_of=supervision.action_point_status)


def _team_cases() -> list[Case]:
    """The open cases of the team, to choose what the session was about."""
    return list(db.session.execute(
        access.visible_cases(current_user, select(Case)).where(Case.closed_at.is_(None))
        .options(selectinload(Case.client), selectinload(Case.facilitator))
        .order_by(Case.facilitator_id, Case.number)).scalars())


def _action_point_rows() -> tuple[list[dict], list[int]]:
    """The filled action point rows, and the row number of each (for its messages)."""
    points, rows = [], []
    for row in range(ACTION_POINT_ROWS):
        values = {name: request.form.get(f"ap-{row}-{name}", "").strip()
                  for name in ("description", "owner_id", "due_on", "case_id")}
        if not values["description"]:
            continue
        points.append({"description": values["description"],
                       "owner_id": ascii_number(values["owner_id"], max_digits=20) or values["owner_id"] or None,
                       "due_on": values["due_on"] or None,
                       "case_id": ascii_number(values["case_id"], max_digits=20) or values["case_id"] or None})
        rows.append(row)
    return points, rows


def _errors_for_rows(error: ValidationError, rows: list[int]) -> dict[str, list]:
    errors = {}
    for name, messages in field_errors(error).items():
        parts = name.split(".")
        position = ascii_number(parts[1]) if len(parts) == 3 and parts[0] == "action_points" else None
        if position is not None and position < len(rows):
            name = f"ap-{rows[position]}-{parts[2]}"
        errors[name] = messages
    return errors


def _form_page(status: int = 200, **context: Any):
    cases = _team_cases()
    chosen_facilitators = set(_ids("facilitator_ids"))
    chosen_cases = set(_ids("case_ids"))
    if request.method == "GET":  # from a case page: that case and its facilitator
        chosen_cases = {c.id for c in cases if c.id == ascii_number(request.args.get("case_id"), max_digits=20)}
        chosen_facilitators = {c.facilitator_id for c in cases if c.id in chosen_cases}
    facilitators = supervision.team_facilitators(current_user)
    owner_options = [(str(f.id), f.full_name) for f in facilitators if f.id in chosen_facilitators]
    owner_options.append((str(current_user.id), _("Me (%(name)s)", name=current_user.full_name)))
    session_cases = [c for c in cases if c.id in chosen_cases]
    return render_template(
        "supervision_sessions/new.html", owner_options=owner_options, session_cases=session_cases,
        case_options=[(str(c.id), f"{c.number} · {c.client.full_name}") for c in session_cases],
        facilitators=facilitators, cases=cases,
        chosen_facilitators=chosen_facilitators, chosen_cases=chosen_cases,
        today=local_input_value()[:10], rows=range(ACTION_POINT_ROWS), form=request.form,
        errors=context.pop("errors", {}), **context), status


@bp.route("/supervision/new", methods=["GET", "POST"])
@login_required
def new():
    """Step 1: kind, day, facilitators, cases. Step 2: notes and action points; save."""
    if current_user.role != Role.SUPERVISOR:
        abort(403)
    if request.method == "GET" or request.form.get("step") != "save":
        return _form_page(step=2 if request.method == "POST" else 1)
    points, rows = _action_point_rows()
    data = {"kind": request.form.get("kind") or None, "held_on": request.form.get("held_on") or None,
            "facilitator_ids": _ids("facilitator_ids"), "case_ids": _ids("case_ids"),
            "notes": request.form.get("notes", ""), "action_points": points}
    try:
        session = supervision.record_session(request_actor(), data)
    except ValidationError as error:
        return _form_page(422, step=2, errors=_errors_for_rows(error, rows))
    flash(_("The supervision session is recorded."), "success")
    return redirect(url_for("supervision_sessions.show", session_id=session.id), code=303)


@bp.route("/supervision/<int:session_id>")
@login_required
def show(session_id: int):
    if current_user.role not in (Role.SUPERVISOR, Role.FACILITATOR):
        abort(403)
    session = supervision.get_session(current_user, session_id)
    return render_template("supervision_sessions/show.html", session=session,
                           status_of=supervision.action_point_status)


@bp.route("/action-points/<int:point_id>/done", methods=["POST"])
@login_required
def done(point_id: int):
    """Tick an action point off (from the case page or the supervision list)."""
    point = supervision.complete_action_point(request_actor(), point_id)
    flash(_("The action point is done."), "success")
    if point.case_id is not None and access.can_view_case(current_user, point.case):
        return redirect(url_for("cases.show", case_id=point.case_id, _anchor="action-points"), code=303)
    return redirect(url_for("supervision_sessions.index"), code=303)


@bp.app_template_global()
def action_point_status(point) -> str | None:
    status = supervision.action_point_status(point)
    return status.value if status else None
