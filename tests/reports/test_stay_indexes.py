"""The stage history's partial indexes (reopenings, repeat entries, ended stays) hold only
the stays their figures read, and those figures' conditions, written as the figures write
them, still find their stays through them on both databases. A case's stays, its open one
too (which every move closes), are found by the (case_id, stage, entered_at) index: there is
no index of their own by (case_id, left_at) for a move to write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import and_, bindparam, select, true

from caseflow.extensions import db
from caseflow.models import CaseStageHistory as H
from caseflow.models.reports import CLOSE_STAY

_START, _END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


def _plan(statement) -> str:
    connection = db.session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "sqlite":
        return " ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    # An empty table is read whole whatever its indexes: ask whether the index can serve.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))


@pytest.mark.parametrize(("condition", "index"), [
    # populations.reopened: the reopenings in the period.
    ((H.reopened == true(), H.entered_at >= _START, H.entered_at < _END), "ix_case_stage_history_reopened"),
    # sealing.cells.twice_in: the repeat entries in the period.
    ((H.repeat_entry == true(), H.entered_at >= _START, H.entered_at < _END), "ix_case_stage_history_repeat"),
    # durations.stay_values: the stays that ended in the period.
    ((H.left_at.is_not(None), H.left_at >= _START, H.left_at < _END), "ix_case_stage_history_left_stage"),
])
def test_the_figures_find_their_stays_through_the_partial_indexes(app, condition, index):
    plan = _plan(select(H.case_id if index != "ix_case_stage_history_left_stage" else H.stage).where(*condition))
    assert index in plan
    db.session.rollback()


def test_the_database_holds_them_as_partial_indexes(app):
    """As built by the migrations (or the models, whichever made the test database)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'case_stage_history'").all()
    else:
        rows = connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'case_stage_history'").all()
    partial = {name for name, definition in rows if definition and " WHERE " in definition.upper()}
    assert partial == {"ix_case_stage_history_reopened", "ix_case_stage_history_repeat",
                       "ix_case_stage_history_left_stage"}
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    # A move closing the case's open stay (services.cases._save_moved_case), on case 7.
    H.__table__.update().where(H.case_id == 7, H.left_at.is_(None)).values(left_at=_START, duration_seconds=60),
    # The case's stays, as the case services and the figures of one case read them.
    select(H.id).where(H.case_id == 7),
])
def test_a_case_s_stays_are_found_by_its_case_index(app, statement):
    assert "ix_case_stage_history_case_stage" in _plan(statement)
    db.session.rollback()


def test_the_move_closes_the_stay_on_that_condition(app):
    condition = and_(H.case_id == bindparam("stay_case_id"), H.left_at.is_(None))
    assert str(CLOSE_STAY.whereclause) == str(condition)


def test_no_index_of_a_case_s_stays_by_when_they_ended(app):
    assert not any(index.name == "ix_case_stage_history_case_left" for index in H.__table__.indexes)
