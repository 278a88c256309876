"""A service's last statement held for its caller (database.last_statement_held): an API
step's answer is stored with the step's audit event and case head, in one statement on
PostgreSQL, and nothing held is lost, sent out of order or sent after an error."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from caseflow.database import last_statement_held, send_last, write_transaction
from caseflow.extensions import db
from caseflow.models import Case, IdempotencyRecord
from tests.support.factories import a_step


def _risk(case_id: int) -> str:
    with db.engine.connect() as connection:
        return connection.execute(select(Case.risk_level).where(Case.id == case_id)).scalar_one()


def _set_risk(case_id: int, risk: str):
    return update(Case.__table__).where(Case.__table__.c.id == case_id).values(risk_level=risk), {}


def _service(case_id: int, *risks: str) -> None:
    """A service whose last statements set the case's risk."""
    with write_transaction():
        for risk in risks:
            send_last(*_set_risk(case_id, risk))


def test_what_the_caller_does_not_take_is_sent_when_the_block_ends(app, make, team):
    case_id = make.case(team.facilitator, to="intervention").id
    with write_transaction(), last_statement_held():
        _service(case_id, "tinggi")
    assert _risk(case_id) == "tinggi"


def test_the_caller_takes_it_on_postgresql_only(app, make, team):
    case_id = make.case(team.facilitator, to="intervention").id
    with write_transaction():
        with last_statement_held() as held:
            _service(case_id, "tinggi")
            taken = held.take()
        if db.engine.dialect.name == "postgresql":
            assert taken is not None
            db.session.connection().execute(*taken)
        else:  # SQLite takes no data-modifying WITH clause: sent at once
            assert taken is None
    assert _risk(case_id) == "tinggi"


def test_a_second_last_statement_sends_the_first_in_order(app, make, team):
    case_id = make.case(team.facilitator, to="intervention").id
    with write_transaction(), last_statement_held():
        _service(case_id, "sedang", "tinggi")
    assert _risk(case_id) == "tinggi"


def test_only_the_service_called_directly_leaves_its_statement(app, make, team):
    """A service nested in another is followed by the other's statements: sent at once."""
    case_id = make.case(team.facilitator, to="intervention").id
    with write_transaction(), last_statement_held() as held, write_transaction():
        _service(case_id, "tinggi")
        assert db.session.connection().execute(
            select(Case.risk_level).where(Case.id == case_id)).scalar_one() == "tinggi"
        assert held.take() is None


def test_an_error_drops_what_was_held(app, make, team):
    case_id = make.case(team.facilitator, to="intervention").id
    before = _risk(case_id)
    with pytest.raises(RuntimeError), write_transaction(), last_statement_held():
        _service(case_id, "tinggi" if before != "tinggi" else "rendah")
        raise RuntimeError("refused")
    assert _risk(case_id) == before


def test_a_step_answer_is_stored_with_its_case_head(app, signed_in, team, make):
    """The answer, the step's audit event and the new head commit together; a retry gets
    the same bytes."""
    case = make.case(team.facilitator, to="intervention")
    client = signed_in(team.facilitator)
    key = str(uuid.uuid4())
    headers = {"Idempotency-Key": key, "If-Match": f'"{case.version}"'}
    body = a_step()
    first = client.post(f"/api/v1/cases/{case.id}/steps", json=body, headers=headers)
    assert first.status_code == 201
    with db.engine.connect() as connection:
        stored = connection.execute(select(IdempotencyRecord.body, IdempotencyRecord.etag)
                                    .where(IdempotencyRecord.key == key)).one()
        version = connection.execute(select(Case.version).where(Case.id == case.id)).scalar_one()
    assert stored.body == first.get_data(as_text=True)
    assert stored.etag == first.headers["ETag"] == f'"{version}"'
    again = client.post(f"/api/v1/cases/{case.id}/steps", json=body, headers=headers)
    assert again.get_data() == first.get_data() and again.headers["Idempotent-Replayed"] == "true"
