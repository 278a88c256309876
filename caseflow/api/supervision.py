"""The supervisor's word and the supervision record: notifications, the evaluation stage
in one call, earlier rejections of a request, handing a facilitator's cases over, and
supervision sessions with their action points."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..extensions import db
from ..i18n import _l
from ..models import ActionPoint, SignOff
from ..schemas import api as s
from ..schemas.supervision import (
    ActionPointOut,
    EvaluationSubmitSchema,
    HandoverOut,
    HandoverPlanSchema,
    HandoverSchema,
    MarkedReadOut,
    NotificationListOut,
    RejectionOut,
    SupervisionSessionOut,
    SupervisionSessionSchema,
)
from ..services import (
    access,
    evaluation,
    feedback,
    handover,
    notifications,
    sign_off_policy,
    supervision,
)
from ..services import cases as case_services
from .common import (
    actor,
    case_change,
    expected_version,
    json_body,
    make_blueprint,
    scope,
    user,
    write,
    write_case,
)

blp = make_blueprint("api_supervision", "Feedback, hand-overs and supervision sessions.")


# --- notifications ------------------------------------------------------------------------------


@blp.route("/notifications", methods=["GET"])
@blp.response(200, NotificationListOut)
@scope(None)
def list_notifications():
    """Your notifications (the latest 50) in your language, and how many are unread."""
    items = sign_off_policy.notifications_for(user())
    return {"unread": notifications.unread_count(user()), "items": [
        {"id": n.id, "kind": n.kind, "case_id": n.case_id, "text": sign_off_policy.notification_text(n),
         "created_at": n.created_at, "read_at": n.read_at} for n in items]}


@blp.route("/notifications/read", methods=["POST"])
@blp.response(200, MarkedReadOut)
@scope(None)
def mark_read():
    """Mark all your notifications as read."""
    return write(lambda: {"marked": sign_off_policy.mark_notifications_read(actor())}, MarkedReadOut())


# --- the evaluation stage, and a request's earlier rejections -------------------------------------


@blp.route("/cases/<int:case_id>/evaluation/submit", methods=["POST"])
@case_change(blp, EvaluationSubmitSchema, s.CaseSummaryOut)
def submit_evaluation(_values, case_id: int):
    """Rate the goals, sum up and say what next in one transaction: `save`, `revise_plan`
    (goals not met) or `request_termination` with the outcome (resolved: aftercare_plan;
    closed_unresolved: closure_reason)."""
    version = expected_version()
    return write_case(lambda: evaluation.submit_evaluation(actor(), case_id, json_body(), version))


@blp.route("/sign-offs/<int:sign_off_id>/earlier-rejections", methods=["GET"])
@blp.response(200, RejectionOut(many=True))
@scope("cases:read")
def earlier_rejections(sign_off_id: int):
    """The earlier rejections of the same request on this case, oldest first, each with
    what changed after it (ratings, goals, steps logged)."""
    sign_off = db.session.get(SignOff, sign_off_id)
    if sign_off is None or not access.can_view_case(user(), sign_off.case):
        raise NotFound(_l("No such sign-off request."))
    case_services.record_case_view(actor(), sign_off.case_id, what="api earlier rejections")
    return [_rejection(item) for item in feedback.earlier_rejections(sign_off)]


def _rejection(item: feedback.EarlierRejection) -> dict[str, Any]:
    changes = item.changes
    return {"sign_off_id": item.sign_off.id, "decided_at": item.sign_off.decided_at,
            "decided_by_id": item.sign_off.decided_by_id, "reason": item.sign_off.reason,
            "nothing_changed": changes.nothing, "ratings_changed": changes.ratings,
            "goals_added": changes.goals_added, "goals_removed": changes.goals_removed,
            "goals_changed": changes.goals_changed, "steps_logged": len(changes.steps)}


# --- handing a facilitator's cases over ------------------------------------------------------------


def _handover_out(facilitator_id: int, assignments) -> dict[str, Any]:
    return {"facilitator_id": facilitator_id, "items": [
        {"case_id": a.case.id, "case_number": a.case.number, "facilitator_id": a.receiver.id} for a in assignments]}


@blp.route("/facilitators/<int:facilitator_id>/handover/plan", methods=["POST"])
@blp.arguments(s.strict(HandoverPlanSchema))
@blp.response(200, HandoverOut)
@scope("cases:write")
def plan_handover(_values, facilitator_id: int):
    """The preview (changes nothing): the chosen cases in work (none: all) shared out among
    the receivers, the fewest cases first."""
    _source, plan = handover.plan_handover(actor(), facilitator_id, json_body())
    return _handover_out(facilitator_id, plan)


@blp.route("/facilitators/<int:facilitator_id>/handover", methods=["POST"])
@blp.arguments(s.strict(HandoverSchema))
@blp.response(200, HandoverOut)
@scope("cases:write")
def hand_over(_values, facilitator_id: int):
    """Carry out a plan: each case with its receiver, and the reason (one transaction)."""
    return write(lambda: _handover_out(facilitator_id, handover.hand_over(actor(), facilitator_id, json_body())),
                 HandoverOut())


# --- supervision sessions and action points --------------------------------------------------------


def _point(point: ActionPoint) -> dict[str, Any]:
    status = supervision.action_point_status(point)
    return {"id": point.id, "session_id": point.session_id, "case_id": point.case_id, "owner_id": point.owner_id,
            "description": point.description, "due_on": point.due_on,
            "due_at": supervision.action_point_due_at(point), "status": status.value if status else None,
            "done_at": point.done_at}


def _session(session) -> dict[str, Any]:
    return {"id": session.id, "supervisor_id": session.supervisor_id, "kind": session.kind,
            "held_on": session.held_on, "notes": session.notes,
            "facilitator_ids": [u.id for u in session.facilitators], "case_ids": [c.id for c in session.cases],
            "action_points": [_point(p) for p in session.action_points]}


@blp.route("/supervision/sessions", methods=["GET"])
@blp.response(200, SupervisionSessionOut(many=True))
@scope("cases:read")
def list_sessions():
    """Sessions you held (supervisor) or took part in (facilitator), the latest first."""
    return [_session(item) for item in supervision.sessions_for(user())]


@blp.route("/supervision/sessions", methods=["POST"])
@blp.arguments(s.strict(SupervisionSessionSchema))
@blp.response(201, SupervisionSessionOut)
@scope("cases:write")
def record_session(_values):
    """Record a session you held with facilitators of your team, with notes and action points."""
    return write(lambda: _session(supervision.record_session(actor(), json_body())), SupervisionSessionOut(),
                 status=201)


@blp.route("/cases/<int:case_id>/action-points", methods=["GET"])
@blp.response(200, ActionPointOut(many=True))
@scope("cases:read")
def case_action_points(case_id: int):
    """The case's action points from supervision, those still open first. Reading them is
    recorded on the case."""
    case_services.record_case_view(actor(), case_id, what="api action points")
    case = case_services.get_case(user(), case_id)
    return [_point(p) for p in supervision.action_points_of_case(case)]


@blp.route("/action-points/<int:point_id>/done", methods=["POST"])
@blp.response(200, ActionPointOut)
@scope("cases:write")
def complete_action_point(point_id: int):
    """Tick an action point off (its owner, or the supervisor who held the session)."""
    return write(lambda: _point(supervision.complete_action_point(actor(), point_id)), ActionPointOut())
