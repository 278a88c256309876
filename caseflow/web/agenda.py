"""The agenda (agenda kerja) on the pages: the person's own agenda (today, this week,
overdue), the supervisor's view of the team's, planning a visit on a case and cancelling
it, the agenda settings (reminders, the private calendar feed) and the feed itself."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..errors import NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..i18n.agenda_labels import agenda_labels
from ..i18n.labels import labels
from ..models import Case, Role
from ..schemas import ascii_number
from ..schemas.agenda import VISIT_STEP_TYPES
from ..services import agenda as agenda_services
from ..services import cases as case_services
from ..services.agenda import AgendaItem
from . import navigation
from .auth import request_actor
from .calendar_feed import calendar_bytes
from .errors import render_invalid
from .formatting import local_input_value
from .helpers import facilitator_form

bp = Blueprint("agenda", __name__)

navigation.register("agenda.index", _l("Agenda"), (Role.FACILITATOR, Role.SUPERVISOR), order=5)
navigation.register("agenda.team", _l("Team agenda"), (Role.SUPERVISOR,), order=6)

AGENDA_ROLES = (Role.FACILITATOR, Role.SUPERVISOR)


def _require_agenda_role() -> None:
    if current_user.role not in AGENDA_ROLES:
        abort(403)


def item_link(item: AgendaItem) -> str:
    """Where the item's work is done."""
    if item.kind == "referral_answer":
        return url_for("referrals.show", referral_id=item.record_id)
    if item.kind == "sign_off":
        return url_for("supervision.sign_off", sign_off_id=item.record_id)
    anchors = {"planned_visit": "visits", "goal_target": "plan-record", "aftercare_contact": "aftercare",
               "action_point": f"action-point-{item.record_id}"}
    return url_for("cases.show", case_id=item.case_id, _anchor=anchors.get(item.kind))


# Template globals, not a context processor: the same at every page (see
# web.formatting.init_app).
bp.add_app_template_global(agenda_labels, "agenda_labels")
bp.add_app_template_global(item_link, "agenda_item_link")


@bp.route("/agenda")
@login_required
def index():
    """The viewer's own agenda: overdue, today, the rest of the week."""
    _require_agenda_role()
    agenda = agenda_services.agenda_for(current_user)
    return render_template("agenda/index.html", agenda=agenda, team=None, members=None, chosen=None)


@bp.route("/agenda/team")
@login_required
def team():
    """A supervisor's view of the team's agenda, or of one facilitator's (?facilitator=)."""
    if current_user.role != Role.SUPERVISOR:
        abort(403)
    raw = request.args.get("facilitator")
    chosen = ascii_number(raw) if raw else None
    if raw and chosen is None:
        abort(404)
    agenda = agenda_services.team_agenda(request_actor(), chosen)
    members = agenda_services.team_members(current_user)
    names = {m.id: m.full_name for m in members} | {current_user.id: current_user.full_name}
    return render_template("agenda/index.html", agenda=agenda, team=names, members=members, chosen=chosen,
                           member_options=[(str(m.id), m.full_name) for m in members])


# --- planned visits --------------------------------------------------------------------------


def _visit_context(case: Case) -> dict[str, Any]:
    options = [(code, label) for code, label in labels.step_type_options() if code in VISIT_STEP_TYPES]
    return {"case": case, "step_type_options": options, "default_when": local_input_value()}


@bp.route("/cases/<int:case_id>/visits/new", methods=["GET", "POST"])
@login_required
@facilitator_form("agenda/plan_visit.html", _visit_context, what="plan visit")
def plan_visit(case_id: int):
    """Plan a visit or contact: what kind, when (the facilitator's zone), where, why."""
    data = {key: request.form.get(key, "") for key in ("step_type", "planned_at", "place", "purpose")}
    data = {key: value for key, value in data.items() if value != "" or key in ("place", "purpose")}
    try:
        agenda_services.plan_visit(request_actor(), case_id, data)
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("agenda/plan_visit.html", error,
                              **_visit_context(case_services.get_case(current_user, case_id)))
    flash(_("The visit is planned. Log the step on its day and it is marked done."), "success")
    return redirect(url_for("agenda.index"), code=303)


@bp.route("/visits/<int:visit_id>/cancel", methods=["POST"])
@login_required
def cancel_visit(visit_id: int):
    """Cancel a planned (or missed) visit, with a reason."""
    # A reason left out comes back to the page with its message (web/errors.py).
    visit = agenda_services.cancel_visit(request_actor(), visit_id, {"reason": request.form.get("reason", "")})
    flash(_("The planned visit is cancelled."), "success")
    return redirect(url_for("cases.show", case_id=visit.case_id, _anchor="visits"), code=303)


@bp.app_template_global()
def visit_missed(visit) -> bool:
    return agenda_services.is_missed(visit)


# --- settings and the calendar feed ---------------------------------------------------------------


def _settings_page(new_feed_url: str | None = None, status: int = 200):
    settings = agenda_services.settings_for(current_user)
    return render_template("agenda/settings.html", settings=settings, new_feed_url=new_feed_url), status


@bp.route("/agenda/settings", methods=["GET", "POST"])
@login_required
def settings():
    """Which reminders to get; the private calendar address, and what its events say."""
    _require_agenda_role()
    if request.method == "POST":
        agenda_services.update_settings(request_actor(), {
            name: request.form.get(name) == "1" for name in ("remind_tomorrow", "remind_overdue", "feed_details")})
        flash(_("Your agenda settings are saved."), "success")
        return redirect(url_for("agenda.settings"), code=303)
    return _settings_page()


@bp.route("/agenda/settings/feed", methods=["POST"])
@login_required
def create_feed():
    """A new private calendar address (the previous one stops working). Shown once."""
    _require_agenda_role()
    token = agenda_services.create_feed(request_actor())
    flash(_("Your new calendar address is below. Copy it now: it is shown only once."), "success")
    return _settings_page(url_for("agenda.feed", token=token, _external=True))


@bp.route("/agenda/settings/feed/revoke", methods=["POST"])
@login_required
def revoke_feed():
    _require_agenda_role()
    agenda_services.revoke_feed(request_actor())
    flash(_("Your calendar address no longer works."), "success")
    return redirect(url_for("agenda.settings"), code=303)


@bp.route("/calendar/<token>.ics")
def feed(token: str):
    """The private calendar feed: no session (a calendar app cannot sign in); the secret
    address is the key. An unknown or revoked address finds nothing."""
    found = agenda_services.feed_owner(token)
    if found is None:
        raise NotFound(_l("No such calendar."))
    user, settings = found
    body = calendar_bytes(user, agenda_services.feed_items(user), details=settings.feed_details,
                          base_url=request.host_url)
    response = Response(body, content_type="text/calendar; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = 'inline; filename="caseflow-agenda.ics"'
    return response
