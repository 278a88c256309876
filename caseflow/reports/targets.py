"""Progress against work targets (target kinerja): the period's measures
(figures/targets.py) beside the target in force for each facilitator — the one their
supervisor set for that period, else the national default — for a facilitator, a team
(sortable, with the previous period beside it) and, aggregated, a province or the
programme (no client and no facilitator named)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Role, User
from ..models.agenda import MEASURES, PERIOD_KINDS, WorkTarget
from .figures.scope import Filters
from .figures.targets import measures_by


@dataclass(frozen=True)
class Period:
    kind: str  # month / quarter / year
    start: date

    @property
    def end(self) -> date:
        """The last day of the period."""
        return self.following().start - timedelta(days=1)

    def following(self) -> Period:
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        index = self.start.year * 12 + self.start.month - 1 + months
        return Period(self.kind, date(index // 12, index % 12 + 1, 1))

    def previous(self) -> Period:
        months = {"month": 1, "quarter": 3, "year": 12}[self.kind]
        index = self.start.year * 12 + self.start.month - 1 - months
        return Period(self.kind, date(index // 12, index % 12 + 1, 1))

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%Y-%m")
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    def filters(self) -> Filters:
        return Filters(start=self.start, end=self.end)


def period_containing(kind: str, day: date) -> Period:
    """The month, quarter or year that `day` falls in."""
    if kind not in PERIOD_KINDS:
        raise ValueError(kind)
    if kind == "month":
        return Period(kind, day.replace(day=1))
    if kind == "quarter":
        return Period(kind, date(day.year, (day.month - 1) // 3 * 3 + 1, 1))
    return Period(kind, date(day.year, 1, 1))


def parse_period(kind: str | None, start: str | None, today: date) -> Period:
    """The period a query string names (?period=month&start=2026-11-01), or the current
    month; a start that is not the first day of such a period is read as the period it
    falls in."""
    kind = kind if kind in PERIOD_KINDS else "month"
    try:
        day = date.fromisoformat(start) if start else today
    except ValueError:
        day = today
    if not (1900 <= day.year <= 2100):
        day = today
    return period_containing(kind, day)


def national_defaults(kind: str) -> dict[str, int | None]:
    """The national default of each measure for this kind of period (the latest set)."""
    found: dict[str, int | None] = dict.fromkeys(MEASURES)
    rows = db.session.execute(
        select(WorkTarget).where(WorkTarget.facilitator_id.is_(None), WorkTarget.period_kind == kind)
        .order_by(WorkTarget.set_at, WorkTarget.id)).scalars()
    for row in rows:
        found[row.measure] = row.target
    return found


def targets_for(facilitator_ids: list[int], period: Period) -> dict[int, dict[str, dict[str, Any]]]:
    """{facilitator: {measure: {"target": n or None, "own": set for them?, "reason": …}}}."""
    defaults = national_defaults(period.kind)
    result = {fid: {m: {"target": defaults[m], "own": False, "reason": ""} for m in MEASURES}
              for fid in facilitator_ids}
    if not facilitator_ids:
        return result
    rows = db.session.execute(
        select(WorkTarget).where(WorkTarget.facilitator_id.in_(facilitator_ids),
                                 WorkTarget.period_kind == period.kind, WorkTarget.period_start == period.start)
        .order_by(WorkTarget.set_at, WorkTarget.id)).scalars()
    for row in rows:
        result[row.facilitator_id][row.measure] = {"target": row.target, "own": True, "reason": row.reason}
    return result


def _percent(actual: int, target: int | None) -> int | None:
    if not target:
        return None
    return round(100 * actual / target)


def progress_rows(facilitators: list[User], period: Period, viewer: User | None = None) -> list[dict[str, Any]]:
    """One row per facilitator: each measure's count, target and percentage, and the count
    of the period before (the trend)."""
    ids = [f.id for f in facilitators]
    now_figures = measures_by(period.filters(), viewer) if ids else {}
    before = measures_by(period.previous().filters(), viewer) if ids else {}
    targets = targets_for(ids, period)
    rows = []
    for person in facilitators:
        measures = {}
        for measure in MEASURES:
            actual = now_figures.get(person.id, {}).get(measure, 0)
            target = targets[person.id][measure]
            measures[measure] = {"actual": actual, "target": target["target"], "own": target["own"],
                                 "reason": target["reason"], "percent": _percent(actual, target["target"]),
                                 "previous": before.get(person.id, {}).get(measure, 0)}
        percents = [m["percent"] for m in measures.values() if m["percent"] is not None]
        rows.append({"facilitator": person, "measures": measures,
                     "overall": round(sum(min(p, 100) for p in percents) / len(percents)) if percents else None})
    return rows


def sort_rows(rows: list[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    """By a measure's percentage (lowest first: who needs help), by overall, or by name."""
    if key in MEASURES:
        return sorted(rows, key=lambda r: (r["measures"][key]["percent"] is None,
                                           r["measures"][key]["percent"] or 0, r["facilitator"].full_name))
    if key == "overall":
        return sorted(rows, key=lambda r: (r["overall"] is None, r["overall"] or 0, r["facilitator"].full_name))
    return sorted(rows, key=lambda r: (r["facilitator"].full_name, r["facilitator"].id))


def province_progress(period: Period) -> list[dict[str, Any]]:
    """Per province, and for the programme: each measure's count and the sum of the
    facilitators' targets in force. Aggregates only."""
    facilitators = db.session.execute(
        select(User.id, User.province_code).where(User.role == Role.FACILITATOR, User.active.is_(True))
    ).all()
    targets = targets_for([f.id for f in facilitators], period)
    counts = measures_by(period.filters(), None, by="province")
    provinces: dict[str, dict[str, Any]] = {}
    for fid, province in facilitators:
        entry = provinces.setdefault(province or "", {"facilitators": 0, "targets": dict.fromkeys(MEASURES, 0)})
        entry["facilitators"] += 1
        for measure in MEASURES:
            entry["targets"][measure] += targets[fid][measure]["target"] or 0
    for province in counts:
        provinces.setdefault(province, {"facilitators": 0, "targets": dict.fromkeys(MEASURES, 0)})
    rows = []
    for province, entry in sorted(provinces.items()):
        actual = counts.get(province, dict.fromkeys(MEASURES, 0))
        rows.append({"province": province, "facilitators": entry["facilitators"], "measures": {
            m: {"actual": actual[m], "target": entry["targets"][m] or None,
                "percent": _percent(actual[m], entry["targets"][m] or None)} for m in MEASURES}})
    total = {"province": None, "facilitators": sum(r["facilitators"] for r in rows), "measures": {}}
    for m in MEASURES:
        actual = sum(r["measures"][m]["actual"] for r in rows)
        target = sum(r["measures"][m]["target"] or 0 for r in rows) or None
        total["measures"][m] = {"actual": actual, "target": target, "percent": _percent(actual, target)}
    return [*rows, total]


def report_figures(row: dict[str, Any], period: Period) -> dict[str, Any]:
    """What a performance report approves: the period and each measure's count and target."""
    return {"facilitator_id": row["facilitator"].id, "period_kind": period.kind,
            "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
            "measures": {m: {"actual": v["actual"], "target": v["target"]} for m, v in row["measures"].items()}}
