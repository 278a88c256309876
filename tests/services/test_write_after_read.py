"""A write that follows a read in the same request (the signed-in user, a page's rows)
sees and locks the rows as they are when it runs, whatever the read saw and however the
read is ended (database.write_transaction), on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text, update

from caseflow.database import end_read, keep_through_writes, write_transaction
from caseflow.extensions import db
from caseflow.models import Case, User
from caseflow.services.locking import lock_case


def _set_risk_elsewhere(case_id: int, risk: str) -> None:
    """Another request's change, committed on a connection of its own."""
    with db.engine.begin() as connection:
        connection.execute(update(Case.__table__).where(Case.__table__.c.id == case_id).values(risk_level=risk))


def _read_as_a_request_does(user_id: int, case_id: int) -> Case:
    user = db.session.execute(select(User).where(User.id == user_id)).scalar_one()
    keep_through_writes(user, user.province)
    return db.session.get(Case, case_id)


def test_a_write_sees_what_was_committed_after_the_read(app, make, team):
    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    seen = _read_as_a_request_does(team.facilitator.id, case_id)
    before = seen.risk_level
    _set_risk_elsewhere(case_id, "tinggi" if before != "tinggi" else "rendah")

    with write_transaction():
        locked = lock_case(case_id)
        assert locked.risk_level != before
        assert db.session.get(Case, case_id).risk_level == locked.risk_level


def test_a_read_at_another_isolation_level_is_ended_before_the_write(app, make, team):
    """At REPEATABLE READ the read's snapshot would hide the change (and locking the
    changed row would fail): the write gets a transaction of its own."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("isolation levels are PostgreSQL's")
    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    before = _read_as_a_request_does(team.facilitator.id, case_id).risk_level
    _set_risk_elsewhere(case_id, "tinggi" if before != "tinggi" else "rendah")

    with write_transaction():
        assert lock_case(case_id).risk_level != before


def test_on_postgresql_the_write_goes_on_in_the_reads_transaction(app, make, team):
    """No COMMIT, checkout and BEGIN between them: the transaction began with the read."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's write begins with BEGIN IMMEDIATE, a transaction of its own")
    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    _read_as_a_request_does(team.facilitator.id, case_id)
    began = db.session.execute(text("SELECT pg_backend_pid(), now()")).one()

    with write_transaction():
        assert db.session.execute(text("SELECT pg_backend_pid(), now()")).one() == began
        lock_case(case_id).risk_level = "tinggi"

    with db.engine.connect() as connection:  # committed, as a write of its own would be
        assert connection.execute(select(Case.risk_level).where(Case.id == case_id)).scalar_one() == "tinggi"


def test_what_the_read_remembered_for_its_transaction_is_not_carried_into_the_write(app, make, team):
    """A dashboard's answers are kept per transaction (reports.figures.memo); a write that
    follows (sealing a month) asks again, as it did when the read's transaction ended."""
    from caseflow.reports.figures.memo import per_transaction

    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    _read_as_a_request_does(team.facilitator.id, case_id)
    assert per_transaction("the question", lambda: "the read's answer") == "the read's answer"

    with write_transaction():
        assert per_transaction("the question", lambda: "asked again") == "asked again"


def test_a_read_is_ended_with_a_commit_which_keeps_psycopgs_prepared_statements(app, make, team):
    """end_read: a COMMIT, not the ROLLBACK of the session's close; psycopg forgets the
    statements it prepared on the connection at a rollback (its DEALLOCATE ALL)."""
    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    _read_as_a_request_does(team.facilitator.id, case_id)
    connection = db.session.connection()
    ended = []
    event.listen(connection, "commit", lambda _c: ended.append("commit"))
    event.listen(connection, "rollback", lambda _c: ended.append("rollback"))
    end_read()
    assert ended == ["commit"] and not db.session().in_transaction()
    end_read()  # nothing to end
    assert ended == ["commit"]


def test_a_read_that_wrote_is_not_committed_by_end_read(app, make, team):
    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    case = _read_as_a_request_does(team.facilitator.id, case_id)
    before = case.risk_level
    case.risk_level = "tinggi" if before != "tinggi" else "rendah"
    db.session.flush()
    end_read()
    assert db.session().in_transaction()  # left to the rollback of the request's end
    db.session.rollback()
    assert db.session.get(Case, case_id).risk_level == before
