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


def test_the_users_read_sends_no_begin_when_nothing_has_begun(app, team):
    """database.read_one_before_begin: on PostgreSQL the read goes outside any transaction
    when none has begun (psycopg in autocommit for that one statement), and the connection
    is back out of autocommit after it, even when it fails; once a transaction has begun,
    the read is part of it."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from psycopg.pq import TransactionStatus
    from sqlalchemy import bindparam
    from sqlalchemy.exc import DBAPIError

    from caseflow.database import read_one_before_begin

    statement = select(User.id, User.username).where(User.id == bindparam("user_id"))
    db.session.close()
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    if driver.pgconn.transaction_status != TransactionStatus.IDLE:
        pytest.skip("the tests' connection is in a transaction already")
    row = read_one_before_begin(connection, statement, {"user_id": team.facilitator.id})
    assert row.username == team.facilitator.username
    assert driver.pgconn.transaction_status == TransactionStatus.IDLE and driver.autocommit is False
    assert read_one_before_begin(connection, statement, {"user_id": -1}) is None
    db.session.execute(text("SELECT 1"))  # the next statement begins the transaction, as always
    assert driver.pgconn.transaction_status == TransactionStatus.INTRANS
    assert read_one_before_begin(connection, statement, {"user_id": team.facilitator.id}) == row
    assert driver.pgconn.transaction_status == TransactionStatus.INTRANS
    db.session.rollback()
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    with pytest.raises(DBAPIError):
        read_one_before_begin(connection, text("SELECT 1 / (:user_id - :user_id)"), {"user_id": 1})
    assert driver.autocommit is False
    db.session.rollback()
