"""What a move writes: the case's row once, with its stage, version and audit head as the
service returns them; a sign-off request with it; nothing at all when the move fails."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.extensions import db
from caseflow.models import AuditEvent, CaseStageHistory, SignOff
from caseflow.services import cases
from caseflow.services.audit import verify_everything
from caseflow.services.context import Actor
from caseflow.signals import case_moved
from tests.support.factories import a_step, approve, rate_all, terminate
from tests.support.queries import count, fresh, statements

MOVED = ("state", "stage_entered_at", "stage_due_at", "closed_at", "closure_reason", "version",
         "audit_seq", "audit_hash")


def _moved(case) -> dict:
    return {name: getattr(case, name) for name in MOVED}


def _writes(seen: list[str], table: str) -> list[str]:
    """The statements that write `table` (PostgreSQL writes a move's stays in its case's UPDATE)."""
    return [s for s in seen if f"UPDATE {table} SET" in s or f"INSERT INTO {table} (" in s]


def test_a_move_writes_the_case_row_once_as_it_returns_it(team, make):
    case = make.case(team.facilitator)
    with statements() as seen:
        moved = cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment", expected_version=1)
    returned = _moved(moved)
    assert len(_writes(seen, "cases")) == 1
    assert returned == _moved(fresh(case))
    assert returned["state"] == "assessment" and returned["version"] == 2
    left, entered = db.session.execute(select(CaseStageHistory).where(CaseStageHistory.case_id == case.id)
                                       .order_by(CaseStageHistory.id)).scalars()
    assert (left.stage, left.left_at, entered.stage, entered.trigger, entered.left_at) == (
        "recorded", returned["stage_entered_at"], "assessment", "start_assessment", None)
    assert (entered.entered_at, entered.due_at) == (returned["stage_entered_at"], returned["stage_due_at"])
    assert verify_everything().ok


def test_a_move_asking_for_a_sign_off_writes_the_request_with_the_new_version(team, make):
    me = Actor(user=team.facilitator)
    case = make.case(team.facilitator, to="evaluation")
    cases.save_evaluation(me, case.id, rate_all(case, "achieved"))
    cases.save_termination_request(me, case.id, {"outcome": "resolved", "aftercare_plan": "Kunjungan bulanan"})
    with statements() as seen:
        moved = cases.fire_trigger(me, case.id, "request_termination")
    returned = _moved(moved)
    request = moved.pending_sign_off
    assert len(_writes(seen, "cases")) == 1 and len(_writes(seen, "sign_offs")) == 1
    assert (request.requested_trigger, request.case_version, request.decision) == (
        "request_termination", returned["version"], None)
    assert returned == _moved(fresh(case))
    assert fresh(case).pending_sign_off.id == request.id


def test_a_resolution_that_starts_aftercare_stores_the_case_as_returned(team, make):
    case = make.case(team.facilitator, to="termination_review")
    approve(team.supervisor, case)
    decided = fresh(case)
    assert decided.state == "resolved" and decided.closed_at is not None
    last = db.session.execute(select(AuditEvent).where(AuditEvent.chain == f"case:{case.id}")
                              .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    # The aftercare's event, appended after the move's by a receiver, is the stored head.
    assert last.action == "aftercare.started"
    assert (decided.audit_seq, decided.audit_hash) == (last.seq, last.hash)
    # The move's own event, written with the case's row unless a receiver appends one
    # first, is stored before the aftercare's: the rows follow their chain's order.
    stored = db.session.execute(select(AuditEvent.action).where(AuditEvent.chain == f"case:{case.id}")
                                .order_by(AuditEvent.id.desc()).limit(2)).scalars().all()
    assert stored == ["aftercare.started", "case.transition"]
    assert verify_everything().ok


def test_a_move_sends_its_writes_together_where_the_database_allows(team, make):
    case = make.case(team.facilitator)
    with statements() as seen:
        cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment")
    writes = [s for s in seen if s.lstrip().startswith(("UPDATE", "INSERT", "WITH"))]
    # PostgreSQL: the stays, the event and the case's row in one statement; SQLite: the
    # event, the stay closed, the stay opened and the case's row.
    postgresql = db.engine.dialect.name == "postgresql"
    assert len(writes) == (1 if postgresql else 4)
    assert len(_writes(seen, "audit_events")) == 1
    assert len(_writes(seen, "case_stage_history")) == (1 if postgresql else 2)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.chain == f"case:{case.id}")
                               .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    assert (event.action, event.after["state"], event.context["trigger"]) == (
        "case.transition", "assessment", "start_assessment")
    assert verify_everything().ok


def test_a_move_whose_receiver_fails_leaves_nothing_written(team, make):
    case = make.case(team.facilitator)
    before = _moved(fresh(case))
    stays = count(CaseStageHistory, CaseStageHistory.case_id == case.id)
    events = count(AuditEvent, AuditEvent.case_id == case.id)

    def refuse(_case, **_kwargs):
        raise RuntimeError("receiver failed")

    case_moved.connect(refuse)
    try:
        with pytest.raises(RuntimeError, match="receiver failed"):
            cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment")
    finally:
        case_moved.disconnect(refuse)
    assert _moved(fresh(case)) == before
    assert count(CaseStageHistory, CaseStageHistory.case_id == case.id) == stays
    assert count(AuditEvent, AuditEvent.case_id == case.id) == events
    assert count(SignOff, SignOff.case_id == case.id) == 0
    # and the same move then goes through
    assert cases.fire_trigger(Actor(user=team.facilitator), case.id, "start_assessment").state == "assessment"
    assert verify_everything().ok


def test_only_a_stay_after_an_earlier_reopening_is_a_repeat(team, make):
    case = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    me, supervisor = Actor(user=team.facilitator), Actor(user=team.supervisor)
    cases.fire_trigger(supervisor, case.id, "reopen", {"reason": "Klien kembali"})
    for trigger in ("complete_assessment", "start_intervention", "start_evaluation"):
        if trigger == "start_evaluation":
            cases.log_step(me, case.id, a_step())
        cases.fire_trigger(me, case.id, trigger)
    terminate(me, fresh(case), "closed_unresolved")
    approve(team.supervisor, fresh(case))
    cases.fire_trigger(supervisor, case.id, "reopen", {"reason": "Sekali lagi"})
    stays = db.session.execute(select(CaseStageHistory.stage, CaseStageHistory.reopened, CaseStageHistory.repeat_entry)
                               .where(CaseStageHistory.case_id == case.id,
                                      CaseStageHistory.stage.in_(["closed_unresolved", "assessment"]))
                               .order_by(CaseStageHistory.id)).all()
    assert [tuple(stay) for stay in stays] == [
        ("assessment", False, False),
        ("closed_unresolved", False, False),
        ("assessment", True, False),  # the first reopening: nothing reopened before it
        ("closed_unresolved", False, True),
        ("assessment", True, True),
    ]


def test_only_a_move_that_closes_or_reopens_the_case_writes_its_closed_at(team, make):
    # SQLite rewrites the index entries of every column an UPDATE sets, changed or not:
    # there a move of an open case leaves closed_at (two indexes) out of its UPDATE.
    case = make.case(team.facilitator, to="closed_unresolved", supervisor=team.supervisor)
    assert fresh(case).closed_at is not None

    def case_update(seen: list[str]) -> str:
        return next(s for s in seen if "UPDATE cases SET" in s)

    with statements() as reopening:
        cases.fire_trigger(Actor(user=team.supervisor), case.id, "reopen", {"reason": "Klien kembali"})
    assert "closed_at" in case_update(reopening).split("UPDATE cases SET", 1)[1]
    assert fresh(case).closed_at is None
    with statements() as moving:
        moved = cases.fire_trigger(Actor(user=team.facilitator), case.id, "complete_assessment")
    assert (moved.state, moved.closed_at) == ("planning", None)
    assert _moved(moved) == _moved(fresh(case))
    if db.engine.dialect.name == "sqlite":
        assert "closed_at" not in case_update(moving)
    assert verify_everything().ok
