"""On PostgreSQL, psycopg's cursors describe their results lazily (database._Description):
the same columns as psycopg's own description, made only when looked at."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import select, text

from caseflow.extensions import db
from caseflow.models import User


def test_the_description_is_psycopgs_own_made_when_first_used(app, team):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's cursors only")
    raw = db.session.connection().connection.dbapi_connection
    with raw.cursor() as cursor:
        assert type(cursor) is not psycopg.Cursor and isinstance(cursor, psycopg.Cursor)
        cursor.execute("SELECT id, username, created_at, 1.5::numeric(4, 2) AS n FROM users ORDER BY id LIMIT 1")
        lazy = cursor.description
        own = psycopg.Cursor.description.fget(cursor)
        assert len(lazy) == 4 and lazy._columns is None  # nothing made until looked at
        assert [tuple(column) for column in lazy] == [tuple(column) for column in own]
        assert [c.name for c in lazy] == ["id", "username", "created_at", "n"] and lazy[3].precision == 4
        cursor.execute("SELECT 1 WHERE false")
        assert len(cursor.description) == 1 and cursor.fetchall() == []
        cursor.execute("SELECT")
        assert cursor.description is not None and len(cursor.description) == 0
        cursor.execute("SET LOCAL statement_timeout = 1000")
        assert cursor.description is None
        cursor.execute("SELECT 1 AS a")
        moved = cursor.description
        cursor.execute("SELECT 2 AS b")
        with pytest.raises(RuntimeError):
            list(moved)
    # Through SQLAlchemy: the names, the values.
    row = db.session.execute(select(User.id, User.username).where(User.id == team.facilitator.id)).one()
    assert row._mapping["username"] == team.facilitator.username
    assert db.session.execute(text("SELECT 7 AS seven")).mappings().one() == {"seven": 7}
    db.session.rollback()
