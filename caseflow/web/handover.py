"""Handing a facilitator's cases over (bulk reassignment): choose the cases and the
receivers, look at the plan, confirm it (services.handover). For the facilitator's
supervisor and for administrators; an administrator sees case numbers and stages only,
no client data."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import ValidationError
from ..models import Role
from ..schemas import ascii_number
from ..services import handover
from .auth import request_actor
from .errors import field_errors

bp = Blueprint("handover", __name__)


def _ids(name: str) -> list[Any]:
    """Ids as the form sends them; a value that is no number goes on as it is, for the
    schema to name."""
    return [ascii_number(value, max_digits=20) or value for value in request.form.getlist(name) if value.strip()]


def _page(source, status: int = 200, **context: Any):
    actor = request_actor()
    return render_template("handover/page.html", source=source, cases=handover.cases_in_work(source),
                           receivers=handover.receiver_options(actor, source),
                           admin_view=current_user.role == Role.ADMIN, errors=context.pop("errors", {}),
                           form=request.form, **context), status


@bp.route("/facilitators/<int:user_id>/handover", methods=["GET", "POST"])
@login_required
def page(user_id: int):
    if current_user.role not in (Role.SUPERVISOR, Role.ADMIN):
        abort(403)
    actor = request_actor()
    source = handover.require_may_hand_over(actor, user_id)
    if request.method == "GET":
        return _page(source)
    reason = request.form.get("reason", "")
    if request.form.get("step") != "confirm":
        try:
            source, plan = handover.plan_handover(actor, user_id, {
                "case_ids": _ids("case_ids"), "receiver_ids": _ids("receiver_ids")})
        except ValidationError as error:
            return _page(source, 422, errors=field_errors(error))
        return _page(source, plan=plan, reason=reason)
    assignments = [{"case_id": ascii_number(key.split("-", 1)[1], max_digits=20) or key.split("-", 1)[1],
                    "facilitator_id": ascii_number(value, max_digits=20) or value}
                   for key, value in request.form.items() if key.startswith("assign-")]
    try:
        done = handover.hand_over(actor, user_id, {"assignments": assignments, "reason": reason})
    except ValidationError as error:
        return _page(source, 422, errors=field_errors(error))
    flash(_("%(n)s case(s) of %(name)s were handed over.", n=len(done), name=source.full_name), "success")
    if current_user.role == Role.ADMIN:
        return redirect(url_for("admin.user", user_id=user_id, _anchor="activation"), code=303)
    return redirect(url_for("supervision.team"), code=303)
