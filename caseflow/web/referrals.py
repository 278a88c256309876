"""Referrals (rujukan) on the pages: the facilitator's and supervisor's referral list (the
overdue ones first), sending a referral from a case, recording its answer, and the
referral letter (PDF, in Indonesian)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..database import utcnow
from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l
from ..i18n.referral_labels import followup_labels
from ..models import Case, Referral, Role
from ..models.referral import DESTINATION_TYPES, NEXT_STATUSES
from ..reports import figures as fg
from ..reports.followup_tables import referral_list_table
from ..reports.referral_letter import referral_letter_pdf
from ..schemas import ascii_number
from ..services import access
from ..services import cases as case_services
from ..services import referrals as referral_services
from ..transfers.exports import to_csv, to_xlsx
from . import navigation
from .auth import request_actor
from .errors import render_invalid
from .formatting import viewer_zone
from .helpers import facilitator_form, paginate
from .reports import XLSX, current_filters
from .reports import _filter_args as filter_args

bp = Blueprint("referrals", __name__)

navigation.register("referrals.index", _l("Referrals"), (Role.FACILITATOR, Role.SUPERVISOR), order=25)

SHOW = ("overdue", "waiting", "all")
LIST_SIZE = 200


def _expected_version() -> int | None:
    return ascii_number(request.form.get("expected_version"))


@bp.route("/referrals")
@login_required
def index():
    """The referrals of the viewer's cases (a supervisor's: the team's), overdue first."""
    if current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        abort(403)
    show = request.args.get("show") if request.args.get("show") in SHOW else "waiting"
    if show == "overdue":
        statement = referral_services.list_referrals(current_user, overdue_only=True)
    elif show == "waiting":
        statement = referral_services.list_referrals(current_user, status="sent")
    else:
        statement = referral_services.list_referrals(current_user)
    rows = db.session.execute(statement.options(
        selectinload(Referral.case).selectinload(Case.client),
        selectinload(Referral.case).selectinload(Case.facilitator)).limit(LIST_SIZE)).scalars().all()
    overdue_count = db.session.execute(
        select(func.count()).select_from(referral_services.overdue(current_user).subquery())).scalar_one()
    return render_template("referrals/index.html", referrals=rows, show=show, overdue_count=overdue_count,
                           today=referral_services.today_for(current_user))


# --- sending one ----------------------------------------------------------------------------


def _new_context(case: Case) -> dict[str, Any]:
    goals = case.active_goals
    return {"case": case, "goal_options": [(str(g.id), g.description) for g in goals],
            "today": referral_services.today_for(current_user)}


@bp.route("/cases/<int:case_id>/referrals/new", methods=["GET", "POST"])
@login_required
@facilitator_form("referrals/new.html", _new_context, what="new referral")
def new(case_id: int):
    """Refer the client: the kind of service and the institution, why, for which goal."""
    data = {key: (request.form.get(key) or "").strip() or None
            for key in ("destination_type", "goal_id", "sent_on", "expected_answer_on")}
    data |= {key: request.form.get(key, "") for key in ("institution", "reason")}
    try:
        referral = referral_services.send_referral(request_actor(), case_id, data, _expected_version())
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("referrals/new.html", error, **_new_context(case_services.get_case(current_user, case_id)))
    flash(_("The referral to %(institution)s is recorded. Print the letter to send with the client.",
            institution=referral.institution), "success")
    return redirect(url_for("referrals.show", referral_id=referral.id), code=303)


# --- one referral and its answer ------------------------------------------------------------


def _show_context(referral: Referral) -> dict[str, Any]:
    case = referral.case
    # What the answer may be now (the service holds the rule): the next statuses, and "sent"
    # again while waiting, to record that the service asked for more time.
    allowed = set(NEXT_STATUSES[referral.status]) | ({"sent"} if referral.status == "sent" else set())
    return {"referral": referral, "case": case,
            "can_answer": bool(allowed) and access.holds_case_role(current_user, case, Role.FACILITATOR),
            "status_options": [(code, label) for code, label in followup_labels.referral_status_options()
                               if code in allowed],
            "today": referral_services.today_for(current_user)}


@bp.route("/referrals/<int:referral_id>", methods=["GET", "POST"])
@login_required
def show(referral_id: int):
    referral = referral_services.get_referral(current_user, referral_id)
    if request.method == "GET":
        case_services.record_case_view(request_actor(), referral.case_id, what="referral")
        return render_template("referrals/show.html", errors={}, form={}, **_show_context(referral))
    data = {key: (request.form.get(key) or "").strip() or None
            for key in ("status", "answered_on", "expected_answer_on")}
    data["feedback"] = request.form.get("feedback", "")
    if data["status"] is None:
        data.pop("status")
    try:
        referral_services.record_answer(request_actor(), referral_id, data, _expected_version())
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("referrals/show.html", error,
                              **_show_context(referral_services.get_referral(current_user, referral_id)))
    flash(_("The referral's answer is recorded."), "success")
    return redirect(url_for("referrals.show", referral_id=referral_id), code=303)


@bp.route("/referrals/<int:referral_id>/letter.pdf")
@login_required
def letter(referral_id: int):
    """The referral letter to take to the service: Indonesian, with the case number and
    the facilitator's details. Printing it is a read of the case, and recorded as one."""
    if current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR):
        abort(403)
    referral = referral_services.get_referral(current_user, referral_id)
    case_services.record_case_view(request_actor(), referral.case_id, "pdf:referral_letter")
    body = referral_letter_pdf(referral, zone=viewer_zone())
    response = Response(body, content_type="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="surat-rujukan-{referral.case.number}-{referral.id}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- on other pages ---------------------------------------------------------------------------


@bp.app_template_global()
def overdue_referrals() -> list[Referral]:
    """The viewer's overdue referrals (their lists show them)."""
    if not current_user.is_authenticated or current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        return []
    return referral_services.overdue_with_cases(current_user)


# A template global, not a context processor: the same at every page, so not made and
# merged into each page's context (see web.formatting.init_app).
bp.add_app_template_global(followup_labels, "followup_labels")


@bp.app_template_global()
def referral_today_for_viewer():
    """Today on the viewer's calendar: a referral is overdue from the day after it was due."""
    return referral_services.today_for(current_user)


# --- the referrals behind a monitoring figure -------------------------------------------------

FIGURE_TITLES = {
    "referrals_sent": _l("Referrals sent"),
    "referrals_answered": _l("Referrals answered"),
    "referrals_answered_within": _l("Referrals answered in time"),
    "referrals_service_given": _l("Referrals: service given"),
    "referrals_refused": _l("Referrals refused"),
    "referrals_no_answer": _l("Referrals without an answer"),
    "referrals_overdue": _l("Overdue referrals"),
}
FIGURE_PAGE = 50


def _figure_query(figure: str):
    if figure not in fg.REFERRAL_POPULATIONS:
        abort(404)
    if current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR):
        abort(403)
    key = request.args.get("key") or None
    if key is not None and key not in DESTINATION_TYPES:
        abort(404)
    return key


@bp.route("/reports/referrals/<figure>")
@login_required
def figure(figure: str):
    """The referrals behind a number of the monitoring page (the same definition)."""
    key = _figure_query(figure)
    filters = current_filters()
    statement = fg.referral_drill(figure, filters, current_user, key)
    found = paginate(statement.options(*_row_options()), FIGURE_PAGE)
    rows = found.items
    title = FIGURE_TITLES[figure]
    table = referral_list_table(rows, current_user, title)
    for index, referral in enumerate(rows):
        table.links[(index, 0)] = url_for("cases.show", case_id=referral.case_id)
        table.links[(index, 2)] = url_for("referrals.show", referral_id=referral.id)
    args = filter_args(filters) | ({"key": key} if key else {})
    return render_template("referrals/figure.html", table=table, figure=figure, **found.fields(), args=args, back_args=filter_args(filters), title=title)


@bp.route("/reports/referrals/<figure>.<fmt>")
@login_required
def figure_export(figure: str, fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    key = _figure_query(figure)
    filters = current_filters(for_file=True)
    rows = db.session.execute(fg.referral_drill(figure, filters, current_user, key)
                              .options(*_row_options()).execution_options(yield_per=500)).scalars()
    table = referral_list_table(rows, current_user, FIGURE_TITLES[figure], lazy=fmt == "csv")
    stamp = utcnow().strftime("%Y%m%d")
    body = to_csv(table, viewer_zone()) if fmt == "csv" else to_xlsx([table], viewer_zone())
    response = Response(body, content_type="text/csv; charset=utf-8" if fmt == "csv" else XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="caseflow-{figure}-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _row_options():
    return (selectinload(Referral.case).selectinload(Case.client),
            selectinload(Referral.case).selectinload(Case.facilitator))
