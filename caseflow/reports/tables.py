"""Tables: figures laid out under each chart, and lists of cases with the columns each
role may see. The same tables are shown on pages and written to files (`transfers.exports`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..i18n import _l
from ..i18n import formatting as fmt
from ..i18n.formatting import Month, Rate
from ..models import Case, PpksCategory, Province, Role, User, mask_nik
from ..services.runtime import engine, engines
from . import figures as fg


@dataclass
class Table:
    """A titled table: what a page shows and what every export writes."""

    name: str
    title: Any
    headers: list[Any]
    rows: list[list[Any]] = field(default_factory=list)
    # (row, column) → address of the cases behind that number (pages only, not exports).
    links: dict[tuple[int, int], str] = field(default_factory=dict)


def stage_title(stage: str, locale: str) -> str:
    for workflow in engines().values():
        if stage in workflow.definition.states:
            return workflow.definition.states[stage].title(locale)
    return stage


def key_names(by: str, locale: str) -> dict[Any, str]:
    if by == "province":
        return {p.code: p.name for p in db.session.execute(select(Province)).scalars()}
    if by == "category":
        return {c.code: c.name(locale) for c in db.session.execute(select(PpksCategory)).scalars()}
    if by == "facilitator":
        return dict(db.session.execute(select(User.id, User.full_name)).all())
    return {}


def _percent(value: float | None) -> Rate | None:
    """A share kept as a number: pages write it `55,6%`, spreadsheets as a percentage cell."""
    return None if value is None else Rate(value)


def headline_tables(figures: dict[str, Any], locale: str, reason_names: dict[str, str]) -> list[Table]:
    rate = figures["resolution_rate"]
    within = figures["resolved_within"]
    to_resolution = figures["days_to_resolution"] or {}
    turnaround = figures["sign_off_turnaround"]
    counts = Table("figures", _l("Figures"), [_l("Figure"), _l("Value")], [
        [_l("Recorded"), figures["recorded"]],
        [_l("In progress"), sum(figures["in_progress"].values())],
        [_l("Resolved"), figures["resolved"]],
        [_l("Closed unresolved"), sum(figures["closed_unresolved"].values())],
        [_l("Reopened"), figures["reopened"]],
        [_l("Overdue"), sum(figures["overdue"].values())],
        [_l("Resolution rate (resolved / terminated)"), _percent(rate["rate"])],
        [_l("Resolved within 90 days of recording"), _percent(within[90]["share"])],
        [_l("Resolved within 180 days of recording"), _percent(within[180]["share"])],
        [_l("Days from recorded to resolved, median"), to_resolution.get("p50", "")],
        [_l("Days from recorded to resolved, 90th percentile"), to_resolution.get("p90", "")],
        [_l("Sign-off turnaround in hours, median"), turnaround["decided"]["p50"] or ""],
        [_l("Sign-off turnaround in hours, 90th percentile"), turnaround["decided"]["p90"] or ""],
        [_l("Sign-offs pending"), turnaround["pending"]],
    ])
    stages = Table("stages", _l("Stages"), [
        _l("Stage"), _l("In progress"), _l("Overdue"), _l("Stays ended"),
        _l("Days, median"), _l("Days, 90th percentile"),
    ])
    for stage in fg.open_stages():
        durations = figures["stage_durations"].get(stage, {})
        stages.rows.append([
            stage_title(stage, locale), figures["in_progress"].get(stage, 0), figures["overdue"].get(stage, 0),
            durations.get("count", 0), durations.get("p50", ""), durations.get("p90", ""),
        ])
    reasons = Table("closure_reasons", _l("Closed unresolved, per reason"), [_l("Reason"), _l("Cases")], [
        [reason_names.get(reason, reason), count]
        for reason, count in sorted(figures["closed_unresolved"].items())
    ])
    return [counts, stages, reasons]


def comparison_table(by: str, rows: dict[Any, dict[str, Any]], locale: str) -> Table:
    names = key_names(by, locale)
    title = {"province": _l("Per province"), "category": _l("Per PPKS category"),
             "facilitator": _l("Per facilitator")}[by]
    head = {"province": _l("Province"), "category": _l("PPKS category"), "facilitator": _l("Facilitator")}[by]
    table = Table(f"by_{by}", title, [head, _l("Recorded"), _l("In progress"), _l("Overdue"),
                                      _l("Resolved"), _l("Closed unresolved"), _l("Resolution rate")])
    for key, row in sorted(rows.items(), key=lambda item: names.get(item[0], str(item[0]))):
        table.rows.append([names.get(key, key), row["recorded"], row["in_progress"], row["overdue"],
                           row["resolved"], row["closed_unresolved"], _percent(row["rate"])])
    return table


def trend_table(trend: list[dict[str, Any]]) -> Table:
    return Table("trend", _l("Per month"), [
        _l("Month"), _l("Recorded"), _l("Resolved"), _l("Closed unresolved"), _l("Resolution rate"),
    ], [[Month.of(m["month"]), m["recorded"], m["resolved"], m["closed_unresolved"], _percent(m["rate"])] for m in trend])


def steps_table(months: list[dict[str, Any]]) -> Table:
    return Table("steps", _l("Steps per case per month"), [
        _l("Month"), _l("Steps logged"), _l("Open cases"), _l("Steps per case"),
    ], [[Month.of(m["month"]), m["steps"], m["open_cases"], m["steps_per_case"] if m["steps_per_case"] is not None else ""]
        for m in months])


def caseload_table(rows: list[dict[str, Any]], personal: bool) -> Table:
    """Per facilitator for supervisors and auditors; without names (a summary) otherwise."""
    if not personal:
        summary = fg.caseload_summary(rows)
        return Table("caseload", _l("Caseload against 1 facilitator : 100 clients"), [_l("Figure"), _l("Value")], [
            [_l("Active facilitators"), summary["facilitators"]],
            [_l("Clients in open cases"), summary["clients"]],
            [_l("Facilitators needed at 1:100"), summary["ideal_facilitators"]],
            [_l("Average clients per facilitator"), summary["average_clients"] or ""],
            [_l("Facilitators above 100 clients"), summary["over_ratio"]],
        ])
    return Table("caseload", _l("Caseload against 1 facilitator : 100 clients"), [
        _l("Facilitator"), _l("Open cases"), _l("Clients"), _l("Share of 100 clients"),
    ], [[r["name"], r["open_cases"], r["clients"], _percent(r["load"])] for r in rows])


# --- case lists, masked per role ---------------------------------------------------------


def personal_columns(user: User, listed: str) -> tuple[bool, bool]:
    """(client name, masked NIK) a role may see in a list or export of `listed` (cases,
    referrals). Programme managers and administrators get no such list at all."""
    if user.role in (Role.FACILITATOR, Role.SUPERVISOR):
        return True, True
    if user.role == Role.AUDITOR:
        return False, True
    raise PermissionError(f"{listed} lists are for case readers only")


def case_table(cases: Iterable[Case], user: User, locale: str = "id", title: Any = None, *,
               lazy: bool = False) -> Table:
    """The list of `cases` with the columns `user`'s role may see. With `lazy`, the rows are
    a generator read once, as the export writes them (long lists: `cases` may be one too)."""
    with_name, with_nik = personal_columns(user, "case")
    headers: list[Any] = [_l("Case number"), _l("Stage"), _l("PPKS category"), _l("Province"),
                          _l("Facilitator"), _l("Recorded"), _l("Stage due"), _l("Closure reason")]
    if with_name:
        headers.append(_l("Client"))
    if with_nik:
        headers.append(_l("NIK (masked)"))
    rows = _case_rows(cases, locale, with_name, with_nik)
    return Table("cases", title or _l("Cases"), headers, rows if lazy else list(rows))


def _case_rows(cases: Iterable[Case], locale: str, with_name: bool, with_nik: bool) -> Iterator[list[Any]]:
    for case in cases:
        row = [
            case.number,
            engine(case.workflow).definition.states[case.state].title(locale),
            case.ppks_category.name(locale),
            case.province.name,
            case.facilitator.full_name,
            case.opened_at,
            case.stage_due_at,
            case.closure_reason or "",
        ]
        if with_name:
            row.append(case.client.full_name if not case.client.anonymised_at else "")
        if with_nik:
            row.append(mask_nik(case.client.nik))
        yield row


def about_table(contents: Any, user: User, filters: fg.Filters, made_at: Any, locale: str) -> Table:
    """The first sheet of a workbook: what it holds, for whom, the filters and when it
    was made (a spreadsheet travels without the page it came from)."""
    names = {by: key_names(by, locale) for by in ("province", "category", "facilitator")}
    period = f"{fmt.short_date(filters.start, locale) or '…'} – {fmt.short_date(filters.end, locale) or '…'}"
    rows: list[list[Any]] = [
        [_l("Contents"), contents],
        [_l("Made for"), f"{user.full_name} ({user.username})"],
        [_l("Period"), period],
        [_l("Province"), names["province"].get(filters.province, filters.province) if filters.province else _l("All")],
        [_l("PPKS category"), names["category"].get(filters.category, filters.category) if filters.category
         else _l("All")],
    ]
    if filters.facilitator_id:
        rows.append([_l("Facilitator"), names["facilitator"].get(filters.facilitator_id, "")])
    rows.append([_l("Made at"), made_at])
    rows.append([_l("Made by"), "Caseflow"])
    return Table("about", _l("About this file"), [_l("Item"), _l("Value")], rows)
