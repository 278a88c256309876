"""The supervisor's pages: the team at a glance, the sign-off queue (oldest first), one
request on one page with everything needed to decide it, reassigning a case within the
team, and the team's overdue cases.

Case details live on the case page (cases.show); these pages link to it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..database import utcnow
from ..errors import NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import Case, Role, SignOff, User
from ..reports import figures
from ..schemas import ascii_number
from ..services import access, deadlines, notifications, sign_off_queue, sync_health
from ..services import cases as case_services
from ..services import supervision as supervision_records
from ..services.cases import record_denied_access
from . import navigation
from .auth import request_actor
from .errors import render_invalid
from .formatting import to_zone, viewer_zone
from .helpers import require_role, url_maker
from .next_actions import action_notes

bp = Blueprint("supervision", __name__, url_prefix="/team")

navigation.register("supervision.team", _l("My team"), (Role.SUPERVISOR,), order=10)
navigation.register("supervision.sign_offs", _l("Sign-off requests"), (Role.SUPERVISOR,), order=20)
navigation.register("supervision.overdue", _l("Overdue cases"), (Role.SUPERVISOR,), order=30)


@bp.before_request
@login_required
def _supervisors_only():
    require_role(Role.SUPERVISOR)


def _expected_version() -> int | None:
    return ascii_number(request.form.get("expected_version"))


def _team() -> list[User]:
    return list(db.session.execute(
        select(User).where(User.supervisor_id == current_user.id, User.role == Role.FACILITATOR)
        .order_by(User.active.desc(), User.full_name)
    ).scalars())


def _month_start() -> date:
    """The first day of this month where the supervisor works. Like every figure, the
    count then runs from midnight UTC of that day (caseflow/reports/figures/)."""
    return to_zone(utcnow(), viewer_zone()).date().replace(day=1)


# --- the team ------------------------------------------------------------------------


@bp.route("")
def team():
    """Each facilitator's open cases, overdue cases and cases resolved this month."""
    viewer = current_user._get_current_object()
    month_start = _month_start()
    # Overdue against whoever must act: a case waiting for a decision is the supervisor's.
    team_figures = figures.team_member_figures(deadlines.overdue_conditions, deadlines.overdue_states())
    team, menu = supervision_records.team_overview(viewer, team_figures, {
        "now": utcnow(), "period_start": figures.Filters(start=month_start).start_at})
    if menu is not None:  # the menu's count came with the team
        navigation.known_count(notifications.unread_count, menu)
    rows = [
        {"user": member, "open": member.figures[0], "overdue": member.figures[1], "resolved": member.figures[2],
         "last_supervised": member.last_supervised, "sync": member.sync, "late": member.sync.late}
        for member in team
    ]
    totals = {key: sum(row[key] for row in rows) for key in ("open", "overdue", "resolved", "late")}
    waiting = sign_off_queue.waiting_decisions(viewer)
    return render_template("supervision/team.html", rows=rows, totals=totals, waiting=len(waiting),
                           decisions_overdue=len(deadlines.requests_overdue(waiting)), month_start=month_start,
                           review_days=sync_health.review_days(),
                           handover_url=url_maker("handover.page", "user_id"))


LATE_KINDS = {"step": _l("Step"), "assessment": _l("Assessment"), "plan": _l("Plan"), "evaluation": _l("Evaluation"),
              "termination": _l("Termination request"), "transition": _l("Stage move"), "client": _l("New client"),
              "case": _l("New case"), "attachment": _l("Attachment")}


@bp.route("/late-work")
def late_work():
    """Work that reached the server long after it was done on a tablet, for review."""
    return render_template("supervision/late_work.html", arrivals=sync_health.late_arrivals_for(current_user),
                           review_days=sync_health.review_days(), kinds=LATE_KINDS)


# --- sign-offs ---------------------------------------------------------------------


@bp.route("/sign-offs")
def sign_offs():
    viewer = current_user._get_current_object()
    pending, menu = sign_off_queue.sign_off_queue(viewer, notifications.unread_statement(viewer))
    if menu is not None:  # the menu's count came with the rows
        navigation.known_count(notifications.unread_count, menu[0])
    now = utcnow()
    return render_template(
        "supervision/sign_offs.html", pending=pending, now=now, sign_off_url=url_maker("supervision.sign_off", "sign_off_id"),
        actions=action_notes({s.case_id: a for s in pending if (a := deadlines.next_action_of(s.facts, viewer, now))}))


def _sign_off_or_404(sign_off_id: int) -> SignOff:
    """A request on a case this supervisor may see; any other is 'not found', and the
    attempt is recorded against the case it was about."""
    sign_off = db.session.get(SignOff, sign_off_id)
    if sign_off is None:
        raise NotFound(_l("No such sign-off request."))
    if not access.can_view_case(current_user, sign_off.case):
        record_denied_access(request_actor(), sign_off.case_id, what=f"{request.endpoint} (not found)")
        g.denial_recorded = True  # with the case it was about; the error page adds no second one
        raise NotFound(_l("No such sign-off request."))
    return sign_off


def _sign_off_context(sign_off: SignOff) -> dict[str, Any]:
    case = case_services.get_case(current_user, sign_off.case_id)
    goals = case.plan.goals if case.plan else []
    return {
        "sign_off": sign_off,
        "case": case,
        "steps": sorted(case.steps, key=lambda s: s.occurred_at, reverse=True),
        "goal_names": {g.id: g.description for g in goals},
        "is_requester_or_facilitator": current_user.id in (case.facilitator_id, sign_off.requested_by_id),
    }


@bp.route("/sign-offs/<int:sign_off_id>", methods=["GET", "POST"])
def sign_off(sign_off_id: int):
    """One request on one page: the case summary, plan, evaluation, termination request
    and steps; approve, or reject with a reason."""
    sign_off = _sign_off_or_404(sign_off_id)
    if request.method == "GET":
        case_services.record_case_view(request_actor(), sign_off.case_id, what="sign-off")
        return render_template("supervision/sign_off.html", errors={}, form={}, **_sign_off_context(sign_off))
    data = {"decision": request.form.get("decision", ""), "reason": request.form.get("reason") or None}
    try:
        decided = case_services.decide_sign_off(request_actor(), sign_off_id, data, _expected_version())
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("supervision/sign_off.html", error, **_sign_off_context(sign_off))
    if decided.decision == "approved":
        flash(_("Approved: case %(number)s is now closed.", number=decided.case.number), "success")
    else:
        flash(_("Rejected: case %(number)s goes back to its facilitator for evaluation.",
                number=decided.case.number), "success")
    return redirect(url_for("supervision.sign_offs"), code=303)


# --- reassigning a case ---------------------------------------------------------------


def _reassign_context(case: Case) -> dict[str, Any]:
    options = [(str(u.id), u.full_name) for u in _team() if u.active and u.id != case.facilitator_id]
    return {"case": case, "facilitator_options": options}


@bp.route("/cases/<int:case_id>/reassign", methods=["GET", "POST"])
def reassign(case_id: int):
    """Move an open case of the team to another active facilitator of the team."""
    case = case_services.get_case(current_user, case_id)
    if request.method == "GET":
        case_services.record_case_view(request_actor(), case_id, what="reassign")
        return render_template("supervision/reassign.html", errors={}, form={}, **_reassign_context(case))
    data = {"facilitator_id": request.form.get("facilitator_id") or None,
            "reason": request.form.get("reason", "")}
    try:
        case = case_services.reassign_case(request_actor(), case_id, data, _expected_version())
    except ValidationError as error:
        db.session.rollback()
        case = case_services.get_case(current_user, case_id)
        return render_invalid("supervision/reassign.html", error, **_reassign_context(case))
    flash(_("Case %(number)s is now assigned to %(name)s.", number=case.number, name=case.facilitator.full_name),
          "success")
    return redirect(url_for("supervision.team"), code=303)


# --- overdue -------------------------------------------------------------------------


@bp.route("/overdue")
def overdue():
    """What is overdue, by whoever must act: the decisions waiting for this supervisor past
    their deadline first, then the team's cases past their stage deadline (longest first)."""
    now = utcnow()
    cases = db.session.execute(
        deadlines.overdue_with_facilitators(current_user, now)
        .options(selectinload(Case.client), selectinload(Case.facilitator), selectinload(Case.ppks_category))
        .order_by(Case.stage_due_at, Case.id)
    ).scalars().all()
    late_decisions = deadlines.decisions_overdue(case_services.pending_sign_offs_for(current_user, due_dates=True),
                                                 now)
    return render_template("supervision/overdue.html", cases=cases, now=now, late_decisions=late_decisions,
                           actions=deadlines.next_actions(cases + [s.case for s in late_decisions],
                                                          current_user, now))
