"""A case locked for change (services.locking) is read as a row and made into a persistent
Case when the session does not hold it yet: it must be what the ORM's loading makes."""

from __future__ import annotations

import pytest
from sqlalchemy import event, inspect, select

from caseflow.database import write_transaction
from caseflow.errors import NotFound
from caseflow.extensions import db
from caseflow.models import Case, User
from caseflow.services.locking import lock_case, lock_case_of_client


def _loaded_by_the_orm(case_id: int) -> dict:
    with db.engine.connect() as connection:
        row = connection.execute(select(Case.__table__).where(Case.__table__.c.id == case_id)).one()
    return dict(row._mapping)


def _statements():
    sent: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


@pytest.mark.parametrize("lock", [lock_case, lambda case_id: lock_case_of_client(case_id)[0]])
def test_a_locked_case_is_persistent_clean_and_whole(app, make, team, lock):
    case_id = make.case(team.facilitator, to="intervention").id
    db.session.rollback()
    db.session.expunge_all()
    stored = _loaded_by_the_orm(case_id)

    with write_transaction():
        case = lock(case_id)
        state = inspect(case)
        assert state.persistent and not state.modified and not state.expired_attributes
        assert {key: getattr(case, key) for key in stored} == stored
        sent = _statements()
        assert db.session.get(Case, case_id) is case  # in the identity map
        assert case.client.id == case.client_id  # relationships load when first used
        assert case.facilitator is db.session.get(User, case.facilitator_id)
        assert len(sent) <= 2
        case.summary = "changed once locked"
    db.session.expunge_all()
    assert db.session.get(Case, case_id).summary == "changed once locked"


def test_the_client_s_birth_date_comes_with_the_lock(app, make, team):
    case = make.case(team.facilitator, to="intervention")
    birth_date, case_id = case.client.birth_date, case.id
    db.session.rollback()
    db.session.expunge_all()
    with write_transaction():
        assert lock_case_of_client(case_id)[1] == birth_date


def test_a_case_the_session_holds_is_read_again_over_it(app, make, team):
    case = make.case(team.facilitator, to="intervention")
    case_id = case.id
    db.session.rollback()
    with db.engine.begin() as connection:
        connection.execute(Case.__table__.update().where(Case.__table__.c.id == case_id).values(summary="elsewhere"))
    with write_transaction():
        assert lock_case(case_id) is case
        assert case.summary == "elsewhere"


def test_what_the_session_holds_unwritten_is_written_before_the_lock(app, make, team):
    case_id, user_id = make.case(team.facilitator, to="intervention").id, team.facilitator.id
    db.session.rollback()
    db.session.expunge_all()
    with write_transaction():
        user = db.session.get(User, user_id)
        user.full_name = "Written before the lock"
        sent = _statements()
        lock_case(case_id)
        assert not db.session.dirty
        assert [s.split()[0] for s in sent[-2:]] == ["UPDATE", "SELECT"]


def test_an_unknown_case_is_not_found(app, make, team):
    with write_transaction():
        with pytest.raises(NotFound):
            lock_case(987654321)
        with pytest.raises(NotFound):
            lock_case_of_client(987654321)
