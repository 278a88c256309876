"""The programme manager's headline figures: cases recorded, in progress, resolved and
closed unresolved, for the whole programme, by province and by PPKS category.

Aggregates only — counts per key, never a case, a client or a person. Each figure is the
one defined in `figures` (the same population a deeper dashboard drills into).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import PpksCategory, Province, User
from . import figures

COLUMNS = ("recorded", "in_progress", "resolved", "closed_unresolved")


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    recorded: int
    in_progress: int
    resolved: int
    closed_unresolved: int

    @property
    def rate(self) -> float | None:
        """Resolved among the cases that ended: closed-unresolved ones count against it."""
        ended = self.resolved + self.closed_unresolved
        return round(self.resolved / ended, 4) if ended else None


def _counts(by: str | None, user: User | None) -> dict[Any, dict[str, int]]:
    """{key: {column: count}}: each column is one figure's distinct cases per key. "In
    progress" is at this moment; the others count everything up to now."""
    filters = figures.Filters()
    result: dict[Any, dict[str, int]] = {}
    for column in COLUMNS:
        if by is None:
            values = {None: figures.total(column, filters, user)}
        else:
            values = figures.tally(column, filters, user, by=by)
        for key, count in values.items():
            result.setdefault(key, dict.fromkeys(COLUMNS, 0))[column] = count
    return result


def totals(user: User | None = None) -> Row:
    counts = _counts(None, user)[None]
    return Row(key="", name="", **counts)


def by_province(user: User | None = None) -> list[Row]:
    counts = _counts("province", user)
    names = dict(db.session.execute(select(Province.code, Province.name)).all())
    return [Row(key=code, name=names.get(code, code), **values)
            for code, values in sorted(counts.items(), key=lambda item: names.get(item[0], str(item[0])))
            if code is not None]


def by_category(user: User | None = None, locale: str = "id") -> list[Row]:
    counts = _counts("category", user)
    categories = {c.code: c for c in db.session.execute(select(PpksCategory)).scalars()}
    return [Row(key=code, name=categories[code].name(locale) if code in categories else code, **values)
            for code, values in sorted(counts.items(), key=lambda item: str(item[0]))
            if code is not None]
