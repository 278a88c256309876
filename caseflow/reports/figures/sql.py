"""Expressions that read the same on SQLite and PostgreSQL: times between two columns,
the month of a time, a list of ids given as one parameter."""

from __future__ import annotations

import json

from sqlalchemy import Integer, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY

from ...extensions import db


def dialect() -> str:
    return db.session.get_bind().dialect.name


def days_between(later, earlier):
    if dialect() == "postgresql":
        return func.extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def seconds_between(later, earlier):
    """Whole seconds from `earlier` to `later`, on either database."""
    if dialect() == "postgresql":
        difference = func.extract("epoch", later - earlier)
    else:
        difference = (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.round(difference), Integer)


def month_of(column):
    """'YYYY-MM' of a UTC time column, on either database."""
    if dialect() == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column), literal_column("'YYYY-MM'"))
    # Literal SQL, not parameters: GROUP BY must repeat exactly the selected expression.
    return func.strftime(literal_column("'%Y-%m'"), column)


def one_of(column, ids: list[int]):
    """`column` is one of `ids`, given as one parameter (a team's few thousand ids as
    separate parameters cost more to render and parse than the query takes)."""
    if dialect() == "postgresql":
        return column == func.any(literal(ids, ARRAY(Integer)))
    # SQLite: one JSON text, read back as rows by json_each.
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(ids))))
