"""`database.session_connection`: the session's connection, kept by the write transaction
instead of asked of the session at every statement — never one outside the session's
transaction. And the session's own connection on SQLite (`extensions.Session`), kept from
one transaction to the next until the session closes."""

from __future__ import annotations

import sqlite3

from caseflow.database import session_connection, write_transaction
from caseflow.extensions import db


def _is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def test_in_a_write_transaction_it_is_the_session_s(app):
    with write_transaction():
        assert session_connection() is db.session.connection()
        with write_transaction():  # a nested call joins the transaction, and its connection
            assert session_connection() is db.session.connection()
        with db.session.begin_nested():
            assert session_connection() is db.session.connection()
    assert session_connection() is db.session.connection()  # outside: asked of the session


def test_once_the_session_ended_its_transaction_it_is_asked_again(app):
    with write_transaction():
        used = session_connection()
        db.session.rollback()  # the transaction is gone (on PostgreSQL its connection too)
        assert not used.in_transaction()
        assert used.closed != _is_sqlite()
        again = session_connection()
        assert again is db.session.connection()
        assert again.in_transaction() and db.session().in_transaction()


def test_the_transaction_s_connection_is_not_used_once_it_ended(app):
    with write_transaction():
        used = session_connection()
    again = session_connection()
    assert again.in_transaction() and db.session().in_transaction()
    # SQLite's is the same connection, in the session's new transaction.
    assert (again is used) == _is_sqlite()


def test_sqlite_s_connection_is_kept_between_transactions_holding_no_lock(app):
    if not _is_sqlite():
        assert db.session.get_bind() is db.engine  # PostgreSQL: the pool's, per transaction
        return
    with write_transaction():
        first = db.session.connection()
    assert not first.closed and not first.in_transaction()
    # Nothing is held between transactions: another writer takes the lock at once.
    other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("COMMIT")
    finally:
        other.close()
    with write_transaction():
        assert db.session.connection() is first
    db.session.remove()  # the end of the request, task or command
    assert first.closed


def test_sqlite_s_kept_connection_is_let_go_with_a_disposed_pool(app):
    if not _is_sqlite():
        return
    with write_transaction():
        first = db.session.connection()
    db.engine.dispose()  # as when the database file was replaced under its name
    with write_transaction():
        assert db.session.connection() is not first
    assert first.closed
    # Not in the middle of the session's transaction: that goes on where it began.
    with write_transaction():
        during = db.session.connection()
        db.engine.dispose()
        assert db.session.get_bind() is during
