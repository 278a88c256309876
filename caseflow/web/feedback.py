"""The supervisor's word on the pages: a rejection on the case page and the case list
(until the next request), the earlier rejections on a new request's page, and the
number of unread notifications in the menu (services.feedback, services.notifications)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import ValidationError
from ..models import Case, SignOff
from ..schemas import ascii_number
from ..services import deadlines, evaluation, feedback, notifications
from . import navigation
from .auth import request_actor
from .cases import rating_errors, ratings_from_form, render_case
from .formatting import state_title
from .next_actions import action_note

bp = Blueprint("feedback", __name__)

navigation.register_count("sign_off_policy.notifications", notifications.unread_count)


@bp.app_template_global()
def standing_rejection(case: Case) -> SignOff | None:
    """The rejection the case page shows (the viewer may see the case)."""
    return feedback.standing_rejection(case)


@bp.app_template_global()
def earlier_rejections(sign_off: SignOff) -> list[feedback.EarlierRejection]:
    """Earlier rejections of the same request, with what changed after each."""
    return feedback.earlier_rejections(sign_off)


@bp.app_template_global()
def next_action(case: Case):
    """Who must act next on the case, what, and by when (services.deadlines)."""
    return deadlines.next_action(case, current_user if current_user.is_authenticated else None)


bp.add_app_template_global(action_note, "action_note")


# --- the evaluation stage: one form, one action ------------------------------------------


@bp.app_template_global()
def evaluation_summary(case: Case) -> evaluation.EvaluationSummary:
    return evaluation.summary_of(case)


@bp.app_template_global()
def resolution_flags(case: Case) -> list[tuple[str, str]]:
    return evaluation.resolution_flags(case)


@bp.route("/cases/<int:case_id>/evaluation/submit", methods=["POST"])
@login_required
def submit_evaluation(case_id: int):
    """Rate the goals, sum up and go on (save, plan again, or ask to end the case)."""
    ratings = ratings_from_form()
    data = {key: request.form.get(key) or None for key in ("next", "outcome", "closure_reason")}
    data |= {key: request.form.get(key, "") for key in ("summary", "reason_details", "aftercare_plan")}
    data["ratings"] = ratings
    try:
        case = evaluation.submit_evaluation(request_actor(), case_id, data, ascii_number(
            request.form.get("expected_version")))
    except ValidationError as error:
        return render_case(case_id, status=422, form_name="evaluation-form", errors=rating_errors(error, ratings))
    if data["next"] == evaluation.REQUEST_TERMINATION:
        flash(_("Sent: your supervisor decides whether the case ends."), "success")
    elif data["next"] == evaluation.REVISE_PLAN:
        flash(_("Done: the case is now in “%(state)s”.", state=state_title(case)), "success")
    else:
        flash(_("The evaluation is saved."), "success")
    return redirect(url_for("cases.show", case_id=case_id), code=303)
