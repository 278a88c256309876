"""A role's monitoring dashboard, assembled in one place: the figures it computes, the
tables under them (each number linked to the cases behind it), its charts and headline
numbers. The monitoring page and its exports show it; bench/reports.py times it.

Programme-wide dashboards are kept a few minutes as snapshots (`snapshots`), so the next
views within that time read them instead of computing them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup

from ..i18n.formatting import Month, Rate, month
from ..i18n.labels import CLOSURE_REASON_NAMES
from ..models import Role, User
from ..services.snapshots import store_snapshot
from . import charts, followup_tables, snapshots, tables
from . import figures as fg
from .tables import Table

# The address of the cases behind a number: (figure, key, by) → URL, or None for no link.
Link = Callable[[str, Any, str | None], str | None]

SNAPSHOT_SHAPE = 3  # part of a snapshot's key: a change of what it holds leaves the old ones unread
HEADLINE_FIGURES = ("recorded", "in_progress", "resolved", "closed_unresolved", "reopened", "overdue")
COMPARED_FIGURES = ("recorded", "in_progress", "overdue", "resolved", "closed_unresolved")


@dataclass
class Figures:
    """Everything a role's dashboard computes, for one scope and period."""

    headline: dict[str, Any]
    comparisons: dict[str, dict[Any, dict[str, Any]]]  # by province, category or facilitator
    trend: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    caseload: list[dict[str, Any]] | None  # not shown to facilitators
    distribution: dict[str, list[int]]
    aftercare: dict[str, Any] | None = None  # figures.aftercare (raw only)
    referrals: dict[str, Any] | None = None  # figures.referrals (raw only)


def figures(filters: fg.Filters, user: User) -> Figures:
    """The figures of `user`'s dashboard: the headline, the comparisons of the role, the
    trend and steps per month, the caseload and the time spent in each stage."""
    headline = fg.headline(filters, user)
    comparisons = {by: fg.comparison(by, filters, user) for by in fg.comparisons_for(filters, user)}
    return Figures(
        headline=headline,
        comparisons=comparisons,
        trend=fg.monthly_trend(filters, user),
        steps=fg.steps_per_case_per_month(filters, user),
        caseload=fg.caseload(filters, user) if user.role != Role.FACILITATOR else None,
        distribution=fg.duration_distribution(filters, user),
        aftercare=fg.aftercare_summary(filters, user),
        referrals=fg.referral_summary(filters, user),
    )


@dataclass
class Dashboard:
    """What the page shows: headline numbers, tables and charts (name, title, svg)."""

    stats: dict[str, Any]
    tables: list[Table]
    charts: list[tuple[str, str, Any]]
    computed_at: datetime | None = None  # when read from a snapshot, or kept as one

    def payload(self) -> dict[str, Any]:
        return {"stats": self.stats, "tables": [_table_dict(t) for t in self.tables],
                "charts": [[name, title, str(svg)] for name, title, svg in self.charts]}

    @classmethod
    def from_payload(cls, payload: dict[str, Any], computed_at: datetime) -> Dashboard:
        return cls(stats=payload["stats"], tables=[_table_from(t) for t in payload["tables"]],
                   charts=[(name, title, Markup(svg)) for name, title, svg in payload["charts"]],
                   computed_at=computed_at)


def assemble(filters: fg.Filters, user: User, locale: str, link: Link) -> Dashboard:
    """`user`'s dashboard. Programme-wide ones come from a snapshot of the last few minutes
    when there is one, and are kept as one when computed."""
    key = None
    if _national(user):
        key = snapshots.snapshot_key("dashboard", SNAPSHOT_SHAPE, user.role, locale, asdict(filters))
        found = snapshots.fresh(key)
        if found is not None:
            created, payload = found
            return Dashboard.from_payload(payload, created)
    result = build(figures(filters, user), user, locale, link)
    if key is not None:
        result.computed_at = store_snapshot(key, result.payload())
    return result


def build(found: Figures, user: User, locale: str, link: Link) -> Dashboard:
    """The tables, charts and headline numbers of the figures `found`."""
    names = {by: tables.key_names(by, locale) for by in found.comparisons}
    headline = found.headline
    stats = {"recorded": headline["recorded"], "resolved": headline["resolved"],
             "rate": headline["resolution_rate"]["rate"], "overdue": sum(headline["overdue"].values())}
    return Dashboard(stats=stats, tables=_tables(found, names, user, locale, link),
                     charts=_charts(found, names, locale))


def _national(user: User) -> bool:
    return user.role == Role.PROGRAMME_MANAGER or (
        user.role == Role.AUDITOR and not user.auditor_scope_province_code)


def _tables(found: Figures, names: dict[str, dict[Any, str]], user: User, locale: str, link: Link) -> list[Table]:
    """Every table of the dashboard, with the address of the cases behind each number."""
    headline = found.headline
    reason_names = {code: str(name) for code, name in CLOSURE_REASON_NAMES.items()}
    result = tables.headline_tables(headline, locale, reason_names)
    counts, stages, reasons = result
    for row, figure in enumerate(HEADLINE_FIGURES):
        _link(counts, row, 1, link(figure, None, None))
    for row, stage in enumerate(fg.open_stages()):
        _link(stages, row, 1, link("in_progress", stage, None))
        _link(stages, row, 2, link("overdue", stage, None))
    for row, reason in enumerate(sorted(headline["closed_unresolved"])):
        _link(reasons, row, 1, link("closed_unresolved", reason, None))
    for by, rows in found.comparisons.items():
        table = tables.comparison_table(by, rows, locale)
        ordered = sorted(rows, key=lambda key, names=names[by]: names.get(key, str(key)))
        for index, key in enumerate(ordered):
            for column, figure in enumerate(COMPARED_FIGURES, 1):
                _link(table, index, column, link(figure, key, by))
        result.append(table)
    result.append(tables.trend_table(found.trend))
    result.append(tables.steps_table(found.steps))
    if found.caseload is not None:
        result.append(tables.caseload_table(found.caseload, personal="facilitator" in found.comparisons))
    result.extend(_followup_tables(found, link))
    return result


def _followup_tables(found: Figures, link: Link) -> list[Table]:
    """Aftercare and referrals, each number linked to the cases (or referrals) behind it."""
    result = []
    if found.aftercare is not None:
        aftercare = followup_tables.aftercare_table(found.aftercare)
        for row, (_label, figure, key) in enumerate(followup_tables.AFTERCARE_ROWS):
            _link(aftercare, row, 1, link(figure, key, None))
        result.append(aftercare)
    if found.referrals is not None:
        referrals = followup_tables.referral_table(found.referrals)
        for row, (destination, _values) in enumerate(followup_tables.referral_rows(found.referrals)):
            for column, (_header, figure) in enumerate(followup_tables.REFERRAL_COLUMNS, 1):
                _link(referrals, row, column, link(figure, destination, None))
        result.append(referrals)
    return result


def _link(table: Table, row: int, column: int, url: str | None) -> None:
    if url and row < len(table.rows):
        table.links[(row, column)] = url


def _charts(found: Figures, names: dict[str, dict[Any, str]], locale: str) -> list[tuple[str, str, Any]]:
    """(name, title, svg) of each chart: the title is shown above it and read out with it."""
    headline = found.headline
    in_progress = sum(headline["in_progress"].values())
    terminated = headline["resolution_rate"]["terminated"]
    result = []

    def add(name: str, title: str, svg: Any) -> None:
        result.append((name, title, svg))

    title = _("From recorded to resolved")
    add("funnel", title, charts.bars(title, [
        (_("Recorded"), [headline["recorded"]]),
        (_("In progress"), [in_progress]),
        (_("Terminated"), [terminated]),
        (_("Resolved"), [headline["resolved"]]),
    ], [_("Cases")]))
    trend = found.trend
    title = _("Recorded and resolved per month")
    add("trend", title, charts.columns(
        title, [month(m["month"]) for m in trend],
        {_("Recorded"): [m["recorded"] for m in trend], _("Resolved"): [m["resolved"] for m in trend],
         _("Closed unresolved"): [m["closed_unresolved"] for m in trend]}))
    title = _("Days spent in each stage (stays ended in the period)")
    add("time_in_stage", title, charts.bars(
        title, [(tables.stage_title(stage, locale), buckets) for stage, buckets in found.distribution.items()],
        ["≤7", "≤14", "≤30", "≤60", "≤90", "≤180", ">180"], stacked=True))
    for by, title in (("category", _("Cases per PPKS category")), ("province", _("Province comparison"))):
        if by in found.comparisons:
            top = sorted(found.comparisons[by].items(), key=lambda item: -item[1]["recorded"])[:15]
            add(by, title, charts.bars(title, [
                (names[by].get(key, key), [row["recorded"], row["resolved"]]) for key, row in top
            ], [_("Recorded"), _("Resolved")]))
    return result


def _table_dict(table: Table) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        # Shares and months keep their kind through the snapshot's JSON.
        if isinstance(value, Rate):
            return {"rate": float(value)}
        if isinstance(value, Month):
            return {"month": value.isoformat()}
        return value if value is None or isinstance(value, bool | int | float) else str(value)

    return {"name": table.name, "title": str(table.title), "headers": [str(h) for h in table.headers],
            "rows": [[plain(v) for v in row] for row in table.rows],
            "links": [[r, c, url] for (r, c), url in table.links.items()]}


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and "rate" in value:
        return Rate(value["rate"])
    if isinstance(value, dict) and "month" in value:
        return Month.of(value["month"])
    return value


def _table_from(data: dict[str, Any]) -> Table:
    return Table(data["name"], data["title"], data["headers"], [[_typed(v) for v in row] for row in data["rows"]],
                 {(r, c): url for r, c, url in data["links"]})
