"""The supervisor's word on the pages: a rejection on the case page and the case list
(until the next request), the earlier rejections on a new request's page, and the
number of unread notifications in the menu (services.feedback, services.notifications)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..models import Case, SignOff
from ..services import deadlines, feedback, notifications
from . import navigation

bp = Blueprint("feedback", __name__)

navigation.register_count("sign_off_policy.notifications", notifications.unread_count)


@bp.app_template_global()
def standing_rejection(case: Case) -> SignOff | None:
    """The rejection the case page shows (the viewer may see the case)."""
    return feedback.standing_rejection(case)


@bp.app_template_global()
def standing_rejections(cases: list[Case]) -> dict[int, SignOff]:
    """The rejections standing on a page of cases (the viewer's list)."""
    if not current_user.is_authenticated:
        return {}
    return feedback.standing_rejections([case.id for case in cases])


@bp.app_template_global()
def earlier_rejections(sign_off: SignOff) -> list[feedback.EarlierRejection]:
    """Earlier rejections of the same request, with what changed after each."""
    return feedback.earlier_rejections(sign_off)


@bp.app_template_global()
def next_action(case: Case):
    """Who must act next on the case, what, and by when (services.deadlines)."""
    return deadlines.next_action(case, current_user if current_user.is_authenticated else None)


@bp.app_template_global()
def next_actions(cases: list[Case]) -> dict:
    """`next_action` for a page of cases."""
    return deadlines.next_actions(cases, current_user if current_user.is_authenticated else None)
