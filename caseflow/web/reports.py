"""Monitoring pages: one dashboard per role, the cases behind each figure, exports of
every table and list, and the printable case documents.

Programme managers see aggregates only: no names, no case lists, nothing personal in
their pages or their exports. Everyone else sees the figures of the cases they may read.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..database import utcnow
from ..errors import InvalidTransition
from ..extensions import db
from ..i18n import _l
from ..i18n.labels import labels
from ..models import Case, PpksCategory, Province, Role, User
from ..reports import documents
from ..reports import figures as fg
from ..reports import monthly as monthly_reports
from ..reports.dashboard import Dashboard, assemble
from ..reports.tables import about_table, case_table
from ..schemas import is_plausible_day, page_number, parse_row_id
from ..services import attachments as attachment_services
from ..services import cases as case_services
from ..transfers import export_jobs
from ..transfers.exports import to_csv, to_xlsx
from . import navigation
from .auth import request_actor
from .errors import error_page
from .formatting import localdate, locale_code, safe_url_for, viewer_zone
from .helpers import require_role

bp = Blueprint("reports", __name__, url_prefix="/reports")

FIGURE_READERS = (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR, Role.PROGRAMME_MANAGER)
CASE_READERS = (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR)
PAGE_SIZE = 50

navigation.register("reports.dashboard", _l("Monitoring"), FIGURE_READERS, order=60)


def _date_arg(name: str, problems: list[str]) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append(_("%(field)s: '%(value)s' is not a date (use YYYY-MM-DD)",
                       field=FILTER_NAMES[name], value=text))
        return None
    if not is_plausible_day(day):
        problems.append(_("%(field)s: use a date between 1900 and 2100", field=FILTER_NAMES[name]))
        return None
    return day


def _id_arg(name: str, problems: list[str]) -> int | None:
    text = (request.args.get(name) or "").strip()
    row_id = parse_row_id(text) if text else None
    if text and row_id is None:
        problems.append(_("%(field)s: '%(value)s' is not a number", field=FILTER_NAMES[name], value=text))
    return row_id


def _code_arg(name: str, model: Any, problems: list[str]) -> str | None:
    code = (request.args.get(name) or "").strip() or None
    if code is not None and db.session.get(model, code) is None:
        problems.append(_("%(field)s: there is no code '%(value)s'", field=FILTER_NAMES[name], value=code))
        return None
    return code


FILTER_NAMES = {
    "start": _l("From"), "end": _l("Until"), "province": _l("Province"), "category": _l("PPKS category"),
    "facilitator": _l("Facilitator"), "supervisor": _l("Supervisor"),
}


def default_period(today: date) -> tuple[date, date]:
    """The last twelve calendar months, this one included."""
    index = today.year * 12 + today.month - 1 - 11
    return date(index // 12, index % 12 + 1, 1), today


def current_filters(*, for_file: bool = False) -> fg.Filters:
    """Filters from the query string, limited to what the viewer's role may filter on.

    A wrong value is named: as a warning on a page (and left out), as a refusal (400) of
    a file, since nobody would see a warning on a spreadsheet covering something else."""
    problems: list[str] = []
    start, end = _date_arg("start", problems), _date_arg("end", problems)
    if start is None and end is None:
        start, end = default_period(utcnow().date())
    if start and end and start > end:
        flash(_("The period starts after it ends; the dates were swapped."), "warning")
        start, end = end, start
    filters = fg.Filters(
        province=_code_arg("province", Province, problems),
        category=_code_arg("category", PpksCategory, problems),
        facilitator_id=_id_arg("facilitator", problems),
        supervisor_id=_id_arg("supervisor", problems),
        start=start, end=end,
    )
    if problems:
        if for_file:
            message = _("No file was made: %(problems)s. Correct the filter and download again.",
                        problems="; ".join(problems))
            abort(Response(error_page(400, message)[0], status=400))
        for problem in problems:
            flash(_("%(problem)s; it was ignored.", problem=problem), "warning")
    if current_user.role == Role.PROGRAMME_MANAGER:
        # Aggregates by place and category only: no filter can single out a person.
        filters = filters.with_(facilitator_id=None, supervisor_id=None)
    return filters


def _filter_args(filters: fg.Filters) -> dict[str, Any]:
    values = {
        "start": filters.start.isoformat() if filters.start else None,
        "end": filters.end.isoformat() if filters.end else None,
        "province": filters.province, "category": filters.category,
        "facilitator": filters.facilitator_id, "supervisor": filters.supervisor_id,
    }
    return {k: v for k, v in values.items() if v}


def _drill_url(filters: fg.Filters, figure: str, key: Any = None, by: str | None = None) -> str | None:
    if current_user.role not in CASE_READERS:
        return None
    args = _filter_args(filters)
    if key is not None:
        args["key"] = key
    if by:
        args["by"] = by
    if figure in fg.REFERRAL_POPULATIONS:  # referrals, not cases: their own list (web/referrals.py)
        return url_for("referrals.figure", figure=figure, **args)
    return url_for("reports.cases", figure=figure, **args)


# --- dashboards ------------------------------------------------------------------------


def dashboard_content(filters: fg.Filters, user: User) -> Dashboard:
    """Headline numbers, tables and charts of `user`'s dashboard (reports.dashboard)."""
    return assemble(filters, user, locale_code(),
                    lambda figure, key, by: _drill_url(filters, figure, key, by))


def _options() -> dict[str, Any]:
    locale = locale_code()
    options: dict[str, Any] = {
        "provinces": [(p.code, p.name) for p in db.session.execute(select(Province).order_by(Province.name)).scalars()],
        "categories": [(c.code, c.name(locale)) for c in db.session.execute(select(PpksCategory).order_by(PpksCategory.code)).scalars()],
        "facilitators": [],
    }
    if current_user.role == Role.SUPERVISOR:
        options["facilitators"] = [(u.id, u.full_name) for u in db.session.execute(
            select(User).where(User.supervisor_id == current_user.id).order_by(User.full_name)).scalars()]
    return options


@bp.route("/")
@login_required
def dashboard():
    require_role(*FIGURE_READERS)
    filters = current_filters()
    content = dashboard_content(filters, current_user)
    context: dict[str, Any] = {
        "filters": filters, "filter_args": _filter_args(filters), "options": _options(),
        "stats": content.stats, "tables": content.tables, "charts": content.charts,
        "computed_at": content.computed_at,
    }
    if current_user.role == Role.FACILITATOR:
        today = utcnow().date()
        this_month = fg.Filters(start=today.replace(day=1), end=today)
        context["resolved_this_month"] = fg.total("resolved", this_month, current_user)
    if current_user.role == Role.SUPERVISOR:
        context["pending"] = case_services.pending_sign_offs_for(current_user)
    context["facilitators_by_province"] = (
        current_user.role == Role.AUDITOR and "facilitator" not in fg.comparisons_for(filters, current_user))
    return render_template("reports/dashboard.html", **context)


@bp.route("/export.<fmt>")
@login_required
def export(fmt: str):
    """Every table of the viewer's dashboard: all sheets in XLSX, or one table in CSV."""
    require_role(*FIGURE_READERS)
    filters = current_filters(for_file=True)
    all_tables = dashboard_content(filters, current_user).tables
    stamp = utcnow().strftime("%Y%m%d")
    if fmt == "xlsx":
        about = about_table(_("Monitoring figures, one sheet per table"), current_user, filters, utcnow(),
                            locale_code())
        return _download(to_xlsx(all_tables, viewer_zone(), about), f"caseflow-figures-{stamp}.xlsx")
    if fmt == "csv":
        wanted = request.args.get("table", "figures")
        table = next((t for t in all_tables if t.name == wanted), None)
        if table is None:
            abort(404)
        return _download(to_csv(table, viewer_zone()), f"caseflow-{table.name}-{stamp}.csv")
    abort(404)


@bp.route("/monthly.pdf", defaults={"fmt": "pdf"})
@bp.route("/monthly.xlsx", defaults={"fmt": "xlsx"})
@login_required
def monthly(fmt: str):
    """The facilitator's monthly report, or a supervisor's team report (or one of their
    facilitators'), for `month` (YYYY-MM, this month by default), as PDF or XLSX."""
    require_role(Role.FACILITATOR, Role.SUPERVISOR)
    text = (request.args.get("month") or "").strip()
    try:
        month = date.fromisoformat(text + "-01") if text else utcnow().date().replace(day=1)
    except ValueError:
        month = None
    if month is None or not is_plausible_day(month):
        message = _("Month: '%(value)s' is not a month (use YYYY-MM). No file was made.", value=text)
        abort(Response(error_page(400, message)[0], status=400))
    facilitator = request.args.get("facilitator")
    facilitator_id = parse_row_id(facilitator) if facilitator else None
    if facilitator and facilitator_id is None:
        abort(404)
    report = monthly_reports.monthly_report(current_user, facilitator_id, month, locale_code())
    name = f"laporan-bulanan-{report.author.username}-{month:%Y-%m}.{fmt}"
    if fmt == "pdf":
        return _download(monthly_reports.monthly_pdf(report, locale=locale_code(), zone=viewer_zone()), name)
    return _download(to_xlsx(report.tables, viewer_zone(), report.about), name)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(body: bytes, filename: str) -> Response:
    kind = {"xlsx": XLSX, "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}[filename.rsplit(".", 1)[1]]
    response = Response(body, content_type=kind)  # kind names its charset already
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the cases behind a figure --------------------------------------------------------------


def _drill_key(figure: str) -> tuple[Any, str | None]:
    """(key, by) of the cases behind `figure`, from the query string."""
    if figure not in fg.POPULATIONS:
        abort(404)
    by = request.args.get("by") or None
    if by is not None and by not in fg.BREAKDOWNS:
        abort(404)
    key: Any = request.args.get("key") or None
    if key is not None and by == "facilitator":
        key = parse_row_id(key) or -1  # no facilitator has that id
    return key, by


@bp.route("/cases/<figure>")
@login_required
def cases(figure: str):
    require_role(*CASE_READERS)
    filters = current_filters()
    key, by = _drill_key(figure)
    total = fg.drill_total(figure, filters, current_user, key=key, by=by)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page_number(request.args.get("page")), pages)  # past the end: the last page
    rows = fg.drill_page(figure, filters, current_user, key=key, by=by, limit=PAGE_SIZE,
                         offset=(page - 1) * PAGE_SIZE,
                         options=(selectinload(Case.client), selectinload(Case.facilitator),
                                  selectinload(Case.ppks_category), selectinload(Case.province)))
    table = case_table(rows, current_user, locale_code(), title=FIGURE_TITLES.get(figure, figure))
    table.headers.extend([_("Case file"), _("Termination report")])
    pdf_column = len(table.headers) - 2
    for index, case in enumerate(rows):
        url = safe_url_for("cases.show", case_id=case.id)
        if url:
            table.links[(index, 0)] = url
        table.rows[index].extend(["PDF", "PDF" if case.state in fg.final_stages() else ""])
        table.links[(index, pdf_column)] = url_for("reports.case_file", case_id=case.id)
        if case.state in fg.final_stages():
            table.links[(index, pdf_column + 1)] = url_for("reports.termination_report", case_id=case.id)
    args = _filter_args(filters) | {k: request.args[k] for k in ("key", "by") if request.args.get(k)}
    return render_template("reports/cases.html", table=table, figure=figure, total=total, page=page,
                           pages=pages, args=args, back_args=_filter_args(filters),
                           title=FIGURE_TITLES.get(figure, figure))


@bp.route("/cases/<figure>.<fmt>")
@login_required
def cases_export(figure: str, fmt: str):
    """The list as a file: written now when it is short, else prepared by an export job
    whose page shows its progress (transfers.export_jobs)."""
    require_role(*CASE_READERS)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    key, by = _drill_key(figure)
    wanted = export_jobs.CaseList(figure, current_filters(for_file=True), key=key, by=by, fmt=fmt, locale=locale_code(),
                                  zone=viewer_zone(), title=str(FIGURE_TITLES.get(figure, figure)))
    result = export_jobs.export_cases(request_actor(), wanted)
    if isinstance(result, export_jobs.DirectExport):
        return _download(result.body, result.filename)
    return redirect(url_for("exports.show", token=result.token), code=303)


FIGURE_TITLES = {
    "recorded": _l("Recorded cases"),
    "in_progress": _l("Cases in progress"),
    "overdue": _l("Overdue cases"),
    "resolved": _l("Resolved cases"),
    "closed_unresolved": _l("Cases closed unresolved"),
    "terminated": _l("Terminated cases"),
    "reopened": _l("Reopened cases"),
    "resolved_as_of": _l("Closed cases"),
    "resolved_within_90": _l("Resolved within 90 days"),
    "resolved_within_180": _l("Resolved within 180 days"),
    "in_aftercare": _l("Cases in aftercare"),
    "aftercare_ended": _l("Aftercare ended"),
}


# --- printable documents ---------------------------------------------------------------------


def _user_name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.full_name if user else "—"


def _client_signature(case_id: int, purposes: tuple[str, ...], document: str) -> documents.SignatureImage | None:
    """The client's or guardian's consent signature for a printed document, through the
    attachments service (which checks the printer may open the case and records the view)."""
    found = attachment_services.signature_to_print(request_actor(), case_id, purposes, document)
    if found is None:
        return None
    attachment, content = found
    return documents.SignatureImage(content=content, captured_at=attachment.created_at)


def _case_to_print(case_id: int, document: str) -> Case:
    """The case a reader prints `document` of, the printing recorded on the case."""
    require_role(*CASE_READERS)
    case = case_services.get_case(current_user, case_id)
    case_services.record_case_view(request_actor(), case_id, f"pdf:{document}")
    return case


@bp.route("/case/<int:case_id>/file.pdf")
@login_required
def case_file(case_id: int):
    case = _case_to_print(case_id, "case_file")
    signature = _client_signature(case_id, ("consent_registration",), "pdf:case_file")
    body = documents.case_pdf(case, locale=locale_code(), zone=viewer_zone(), names=labels,
                              client_signature=signature)
    return _download(body, f"kasus-{case.number}.pdf")


@bp.route("/case/<int:case_id>/termination.pdf")
@login_required
def termination_report(case_id: int):
    case = _case_to_print(case_id, "termination_report")
    db.session.refresh(case)
    try:
        documents.termination_sign_off(case)
    except LookupError:
        # Allowed to see the case, but there is nothing to print yet: not a denied access.
        raise InvalidTransition(_l("The termination has not been decided yet: there is no report to print.")) from None
    signature = _client_signature(case_id, ("consent_termination", "consent_registration"),
                                  "pdf:termination_report")
    body = documents.termination_pdf(case, locale=locale_code(), zone=viewer_zone(), names=labels,
                                     user_name=_user_name, client_signature=signature)
    return _download(body, f"berita-acara-terminasi-{case.number}.pdf")


def period_label(filters: fg.Filters) -> str:
    end = filters.end or utcnow().date()
    return f"{localdate(filters.start) if filters.start else '…'} – {localdate(end)}"


@bp.app_template_global()
def report_period(filters: fg.Filters) -> str:
    return period_label(filters)


