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
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import InvalidTransition
from ..extensions import db
from ..i18n import _l
from ..models import Case, PpksCategory, Province, Role, User
from ..reports import charts, documents, export_jobs, snapshots, tables
from ..reports import figures as fg
from ..reports.exports import Table, case_table, to_csv, to_xlsx
from ..schemas import is_plausible_day, page_number, parse_row_id
from ..services import cases as case_services
from . import navigation
from .auth import request_actor
from .errors import error_page
from .formatting import locale_code, safe_url_for, viewer_zone
from .labels import CLOSURE_REASON_NAMES, labels

bp = Blueprint("reports", __name__, url_prefix="/reports")

FIGURE_READERS = (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR, Role.PROGRAMME_MANAGER)
CASE_READERS = (Role.FACILITATOR, Role.SUPERVISOR, Role.AUDITOR)
PAGE_SIZE = 50

navigation.register("reports.dashboard", _l("Monitoring"), FIGURE_READERS, order=60)


def _require(*roles: str) -> None:
    if current_user.role not in roles:
        abort(403)


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
        start, end = default_period(fg.utcnow().date())
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
    return url_for("reports.cases", figure=figure, **args)


# --- dashboards ------------------------------------------------------------------------


def _reason_names() -> dict[str, str]:
    return {code: str(name) for code, name in CLOSURE_REASON_NAMES.items()}


def build_tables(filters: fg.Filters, user: User) -> tuple[dict[str, Any], list[Table]]:
    """The dashboard of `user`'s role: its figures and tables (with drill-down links)."""
    locale = locale_code()
    figures = fg.headline(filters, user)
    result = tables.headline_tables(figures, locale, _reason_names())
    counts, stages, reasons = result
    for row, figure in enumerate(["recorded", "in_progress", "resolved", "closed_unresolved", "reopened", "overdue"]):
        _link(counts, row, 1, _drill_url(filters, figure))
    for row, stage in enumerate(fg.open_stages()):
        _link(stages, row, 1, _drill_url(filters, "in_progress", stage))
        _link(stages, row, 2, _drill_url(filters, "overdue", stage))
    for row, reason in enumerate(sorted(figures["closed_unresolved"])):
        _link(reasons, row, 1, _drill_url(filters, "closed_unresolved", reason))
    comparisons = fg.comparisons_for(filters, user)
    extra: dict[str, Any] = {"figures": figures, "comparisons": {}}
    for by in comparisons:
        rows = fg.comparison(by, filters, user)
        table = tables.comparison_table(by, rows, locale)
        names = tables.key_names(by, locale)
        ordered = sorted(rows, key=lambda key, names=names: names.get(key, str(key)))
        for index, key in enumerate(ordered):
            for column, figure in enumerate(["recorded", "in_progress", "overdue", "resolved", "closed_unresolved"], 1):
                _link(table, index, column, _drill_url(filters, figure, key, by))
        result.append(table)
        extra["comparisons"][by] = (rows, names)
    trend = fg.monthly_trend(filters, user)
    result.append(tables.trend_table(trend))
    steps = fg.steps_per_case_per_month(filters, user)
    result.append(tables.steps_table(steps))
    caseload = fg.caseload(filters, user)
    personal = "facilitator" in comparisons
    if user.role != Role.FACILITATOR:
        result.append(tables.caseload_table(caseload, personal=personal))
    extra.update(trend=trend, steps=steps, caseload=caseload)
    return extra, result


def _link(table: Table, row: int, column: int, url: str | None) -> None:
    if url and row < len(table.rows):
        table.links[(row, column)] = url


def build_charts(filters: fg.Filters, user: User, extra: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(name, title, svg) of each chart: the title is shown above it and read out with it."""
    figures = extra["figures"]
    locale = locale_code()
    in_progress = sum(figures["in_progress"].values())
    terminated = figures["resolution_rate"]["terminated"]
    result = []

    def add(name: str, title: str, svg: Any) -> None:
        result.append((name, title, svg))

    title = _("From recorded to resolved")
    add("funnel", title, charts.bars(title, [
        (_("Recorded"), [figures["recorded"]]),
        (_("In progress"), [in_progress]),
        (_("Terminated"), [terminated]),
        (_("Resolved"), [figures["resolved"]]),
    ], [_("Cases")]))
    trend = extra["trend"]
    title = _("Recorded and resolved per month")
    add("trend", title, charts.columns(
        title, [m["month"] for m in trend],
        {_("Recorded"): [m["recorded"] for m in trend], _("Resolved"): [m["resolved"] for m in trend],
         _("Closed unresolved"): [m["closed_unresolved"] for m in trend]}))
    distribution = fg.duration_distribution(filters, user)
    title = _("Days spent in each stage (stays ended in the period)")
    add("time_in_stage", title, charts.bars(
        title, [(tables.stage_title(stage, locale), buckets) for stage, buckets in distribution.items()],
        ["≤7", "≤14", "≤30", "≤60", "≤90", "≤180", ">180"], stacked=True))
    for by, title in (("category", _("Cases per PPKS category")), ("province", _("Province comparison"))):
        if by in extra["comparisons"]:
            rows, names = extra["comparisons"][by]
            top = sorted(rows.items(), key=lambda item: -item[1]["recorded"])[:15]
            add(by, title, charts.bars(title, [
                (names.get(key, key), [row["recorded"], row["resolved"]]) for key, row in top
            ], [_("Recorded"), _("Resolved")]))
    return result


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


def _national(user: User) -> bool:
    return user.role == Role.PROGRAMME_MANAGER or (
        user.role == Role.AUDITOR and not user.auditor_scope_province_code)


def _table_dict(table: Table) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value if value is None or isinstance(value, bool | int | float) else str(value)

    return {"name": table.name, "title": str(table.title), "headers": [str(h) for h in table.headers],
            "rows": [[plain(v) for v in row] for row in table.rows],
            "links": [[r, c, url] for (r, c), url in table.links.items()]}


def _table_from(data: dict[str, Any]) -> Table:
    return Table(data["name"], data["title"], data["headers"], data["rows"],
                 {(r, c): url for r, c, url in data["links"]})


SNAPSHOT_SHAPE = 2  # part of a snapshot's key: a change of what it holds leaves the old ones unread


def dashboard_content(filters: fg.Filters, user: User) -> dict[str, Any]:
    """Headline numbers, tables and charts of `user`'s dashboard. Programme-wide ones come
    from a snapshot of the last few minutes when there is one (reports.snapshots)."""
    key = None
    if _national(user):
        key = snapshots.snapshot_key("dashboard", SNAPSHOT_SHAPE, user.role, locale_code(), _filter_args(filters))
        found = snapshots.fresh(key)
        if found is not None:
            created, payload = found
            return {"stats": payload["stats"], "tables": [_table_from(t) for t in payload["tables"]],
                    "charts": [(name, title, Markup(svg)) for name, title, svg in payload["charts"]],
                    "computed_at": created}
    extra, all_tables = build_tables(filters, user)
    figures = extra["figures"]
    stats = {"recorded": figures["recorded"], "resolved": figures["resolved"],
             "rate": figures["resolution_rate"]["rate"], "overdue": sum(figures["overdue"].values())}
    chart_list = build_charts(filters, user, extra)
    content = {"stats": stats, "tables": all_tables, "charts": chart_list, "computed_at": None}
    if key is not None:
        content["computed_at"] = snapshots.store(key, {
            "stats": stats, "tables": [_table_dict(t) for t in all_tables],
            "charts": [[name, title, str(svg)] for name, title, svg in chart_list]})
    return content


@bp.route("/")
@login_required
def dashboard():
    _require(*FIGURE_READERS)
    filters = current_filters()
    content = dashboard_content(filters, current_user)
    context: dict[str, Any] = {
        "filters": filters, "filter_args": _filter_args(filters), "options": _options(), **content,
    }
    if current_user.role == Role.FACILITATOR:
        today = fg.utcnow().date()
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
    _require(*FIGURE_READERS)
    filters = current_filters(for_file=True)
    all_tables = dashboard_content(filters, current_user)["tables"]
    stamp = fg.utcnow().strftime("%Y%m%d")
    if fmt == "xlsx":
        return _download(to_xlsx(all_tables, viewer_zone()), f"caseflow-figures-{stamp}.xlsx")
    if fmt == "csv":
        wanted = request.args.get("table", "figures")
        table = next((t for t in all_tables if t.name == wanted), None)
        if table is None:
            abort(404)
        return _download(to_csv(table, viewer_zone()), f"caseflow-{table.name}-{stamp}.csv")
    abort(404)


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
    _require(*CASE_READERS)
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
    whose page shows its progress (reports.export_jobs)."""
    _require(*CASE_READERS)
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
}


# --- printable documents ---------------------------------------------------------------------


def _user_name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.full_name if user else "—"


@bp.route("/case/<int:case_id>/file.pdf")
@login_required
def case_file(case_id: int):
    _require(*CASE_READERS)
    case = case_services.get_case(current_user, case_id)
    case_services.record_case_view(request_actor(), case_id, "pdf:case_file")
    body = documents.case_pdf(case, locale=locale_code(), zone=viewer_zone(), names=labels)
    return _download(body, f"kasus-{case.number}.pdf")


@bp.route("/case/<int:case_id>/termination.pdf")
@login_required
def termination_report(case_id: int):
    _require(*CASE_READERS)
    case = case_services.get_case(current_user, case_id)
    case_services.record_case_view(request_actor(), case_id, "pdf:termination_report")
    db.session.refresh(case)
    try:
        body = documents.termination_pdf(case, locale=locale_code(), zone=viewer_zone(), names=labels,
                                         user_name=_user_name)
    except LookupError:
        # Allowed to see the case, but there is nothing to print yet: not a denied access.
        raise InvalidTransition(_l("The termination has not been decided yet: there is no report to print.")) from None
    return _download(body, f"berita-acara-terminasi-{case.number}.pdf")


def period_label(filters: fg.Filters) -> str:
    end = filters.end or fg.utcnow().date()
    return f"{filters.start.isoformat() if filters.start else '…'} – {end.isoformat()}"


@bp.app_template_global()
def report_period(filters: fg.Filters) -> str:
    return period_label(filters)


