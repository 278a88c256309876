"""Every request's read ends with a COMMIT, not the ROLLBACK of the session's close:
psycopg forgets every statement it prepared on the connection at a rollback, so one
read-only request ending in a rollback sent the worker's next requests back to planning
each statement anew (database.end_request_read)."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from caseflow.database import end_request_read
from caseflow.extensions import db


@pytest.fixture
def endings():
    ended: list[str] = []
    listeners = [("commit", lambda _c: ended.append("commit")), ("rollback", lambda _c: ended.append("rollback"))]
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    yield ended
    for name, listener in listeners:
        event.remove(db.engine, name, listener)


@pytest.mark.parametrize(("who", "path", "status"), [
    ("supervisor", "/team", 200),
    ("supervisor", "/team/sign-offs", 200),
    ("facilitator", "/cases", 200),
    ("facilitator", "/api/v1/cases", 200),
    ("facilitator", "/team", 403),
])
def test_a_read_only_request_ends_without_a_rollback(signed_in, team, make, endings, who, path, status):
    make.case(team.facilitator, to="intervention")
    client = signed_in(getattr(team, who))
    endings.clear()
    assert client.get(path).status_code == status
    assert "rollback" not in endings


def test_a_refused_read_rolls_back_only_its_write(signed_in, team, endings):
    """A case page refused inside the read's write (its audit event) rolls that back —
    what it wrote cannot be told apart from what it would have written — and the
    evidence of the refusal is committed; the request itself ends with no rollback."""
    client = signed_in(team.facilitator)
    endings.clear()
    assert client.get("/cases/999999").status_code == 404
    assert endings.count("rollback") == 1 and endings[-1] == "commit"


def test_a_transaction_that_cannot_commit_is_rolled_back_quietly(app, team):
    db.session.execute(text("SELECT 1"))
    with pytest.raises(Exception):  # noqa: B017 (each database words it its own way)
        db.session.execute(text("SELECT * FROM no_such_table"))
    end_request_read()
    assert not db.session().in_transaction()
    assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_a_request_that_raised_is_left_to_the_rollback(app, team, endings):
    db.session.execute(text("SELECT 1"))
    end_request_read(RuntimeError("the view failed"))
    assert db.session().in_transaction() and endings == []
    db.session.rollback()
