"""`database.session_connection`: the session's connection, kept by the write transaction
instead of asked of the session at every statement — never one the session has let go."""

from __future__ import annotations

from caseflow.database import session_connection, write_transaction
from caseflow.extensions import db


def test_in_a_write_transaction_it_is_the_session_s(app):
    with write_transaction():
        assert session_connection() is db.session.connection()
        with write_transaction():  # a nested call joins the transaction, and its connection
            assert session_connection() is db.session.connection()
        with db.session.begin_nested():
            assert session_connection() is db.session.connection()
    assert session_connection() is db.session.connection()  # outside: asked of the session


def test_once_the_session_let_its_connection_go_it_is_asked_again(app):
    with write_transaction():
        kept = session_connection()
        db.session.rollback()  # the transaction and its connection are gone
        assert kept.closed
        assert session_connection() is db.session.connection()
        assert session_connection() is not kept


def test_the_transaction_s_connection_is_forgotten_when_it_ends(app):
    with write_transaction():
        kept = session_connection()
    assert session_connection() is not kept
