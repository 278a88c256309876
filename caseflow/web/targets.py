"""Work targets (target kinerja) on the pages: a facilitator's own progress, the
supervisor's team (sortable, with the previous period), the programme manager's figures
by province with the national defaults, a facilitator's target set by their supervisor,
and the performance report of a period, printable and signed by the supervisor."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..errors import ValidationError
from ..extensions import db
from ..i18n import _l
from ..i18n.agenda_labels import agenda_labels
from ..models import Province, Role, User
from ..models.agenda import MEASURES, figures_digest
from ..reports import targets as progress
from ..services import agenda as agenda_services
from ..services import targets as target_services
from . import navigation
from .auth import request_actor
from .errors import render_invalid

bp = Blueprint("targets", __name__)

navigation.register("targets.index", _l("Work targets"), (Role.FACILITATOR, Role.SUPERVISOR,
                                                         Role.PROGRAMME_MANAGER), order=45)

TARGET_ROLES = (Role.FACILITATOR, Role.SUPERVISOR, Role.PROGRAMME_MANAGER)


def _period() -> progress.Period:
    return progress.parse_period(request.args.get("period") or request.form.get("period"),
                                 request.args.get("start") or request.form.get("start"),
                                 agenda_services.today_for(current_user))


def _period_args(period: progress.Period) -> dict[str, str]:
    return {"period": period.kind, "start": period.start.isoformat()}


# A template global, not a context processor: the same at every page (see
# web.formatting.init_app).
bp.add_app_template_global(MEASURES, "target_measures")


@bp.route("/targets")
@login_required
def index():
    """Progress against the targets of a period: one's own, the team's, or by province."""
    if current_user.role not in TARGET_ROLES:
        abort(403)
    period = _period()
    context = {"period": period, "args": _period_args(period), "sort": None}
    if current_user.role == Role.PROGRAMME_MANAGER:
        return render_template("targets/provinces.html", errors={}, form={}, **_provinces_context(period))
    if current_user.role == Role.FACILITATOR:
        people = [current_user]
    else:
        people = agenda_services.team_members(current_user)
    sort = request.args.get("sort") if request.args.get("sort") in (*MEASURES, "overall") else None
    rows = progress.sort_rows(progress.progress_rows(people, period, current_user), sort)
    return render_template("targets/index.html", rows=rows, **(context | {"sort": sort}))


def _provinces_context(period: progress.Period) -> dict[str, Any]:
    names = dict(db.session.execute(select(Province.code, Province.name)).all())
    return {"period": period, "args": _period_args(period), "rows": progress.province_progress(period),
            "defaults": progress.national_defaults(period.kind), "province_names": names}


@bp.route("/targets/defaults", methods=["POST"])
@login_required
def set_default():
    """The programme manager sets a national default."""
    period = _period()
    data = {key: request.form.get(key, "") for key in ("period_kind", "measure", "target")}
    try:
        target_services.set_national_target(request_actor(), data)
    except ValidationError as error:
        db.session.rollback()
        return render_invalid("targets/provinces.html", error, **_provinces_context(period))
    flash(_("The national target is saved."), "success")
    return redirect(url_for("targets.index", **_period_args(period)), code=303)


def _subject(user_id: int) -> User:
    return target_services.report_subject(request_actor(), user_id)


def _report_context(person: User, period: progress.Period) -> dict[str, Any]:
    [row] = progress.progress_rows([person], period)
    figures = progress.report_figures(row, period)
    signed = target_services.signed_report(person.id, period.kind, period.start)
    return {"person": person, "row": row, "period": period, "args": _period_args(period),
            "digest": figures_digest(figures), "figures": figures, "signed": signed,
            "can_sign": current_user.role == Role.SUPERVISOR and signed is None}


@bp.route("/targets/facilitators/<int:user_id>", methods=["GET", "POST"])
@login_required
def facilitator(user_id: int):
    """A facilitator's targets and results of a period; their supervisor sets a target
    for that period here, with a reason."""
    if current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        abort(403)
    person = _subject(user_id)
    period = _period()
    if request.method == "POST":
        if current_user.role != Role.SUPERVISOR:
            abort(403)
        data = {key: request.form.get(key, "") for key in ("measure", "target", "reason")}
        data |= {"facilitator_id": person.id, "period_kind": period.kind, "period_start": period.start.isoformat()}
        try:
            target_services.set_facilitator_target(request_actor(), data)
        except ValidationError as error:
            db.session.rollback()
            return render_invalid("targets/report.html", error, **_report_context(person, period))
        flash(_("The target is saved."), "success")
        return redirect(url_for("targets.facilitator", user_id=person.id, **_period_args(period)), code=303)
    return render_template("targets/report.html", errors={}, form={}, **_report_context(person, period))


@bp.route("/targets/facilitators/<int:user_id>/sign", methods=["POST"])
@login_required
def sign(user_id: int):
    """The supervisor signs the facilitator's report of the period, as shown (its digest)."""
    if current_user.role != Role.SUPERVISOR:
        abort(403)
    person = _subject(user_id)
    period = _period()
    context = _report_context(person, period)
    target_services.sign_performance_report(request_actor(), person.id, context["figures"],
                                            request.form.get("digest", ""), request.form.get("note", ""))
    flash(_("The performance report is signed."), "success")
    return redirect(url_for("targets.facilitator", user_id=person.id, **_period_args(period)), code=303)


@bp.route("/targets/facilitators/<int:user_id>/report.csv")
@login_required
def report_csv(user_id: int):
    """The performance report of the period as a spreadsheet file."""
    if current_user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        abort(403)
    person = _subject(user_id)
    context = _report_context(person, _period())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Facilitator"), person.full_name, person.nip_pppk or ""])
    writer.writerow([_("Period"), context["period"].label])
    writer.writerow([_("Measure"), _("Result"), _("Target"), _("Achieved (%)")])
    for measure, value in context["row"]["measures"].items():
        writer.writerow([agenda_labels.measure(measure), value["actual"], value["target"] or "",
                         value["percent"] if value["percent"] is not None else ""])
    signed = context["signed"]
    writer.writerow([_("Signed by"), signed.signed_by.full_name if signed else "",
                     signed.signed_at.isoformat() if signed else "", context["digest"]])
    response = Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="kinerja-{person.id}-{context["period"].label}.csv"')
    return response
