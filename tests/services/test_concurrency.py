"""Conflicting operations on one case from real concurrent connections: exactly one wins,
the other gets a clear conflict, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from caseflow.errors import CaseflowError, Conflict
from caseflow.extensions import db
from caseflow.models import AuditEvent, SignOff, Step
from caseflow.services import audit as audit_service
from caseflow.services import cases
from caseflow.services.audit import verify_everything
from caseflow.services.context import Actor
from tests.support.factories import a_step


def run_concurrently(app, calls, slow_first_commit: float = 0.3):
    """Run each call in its own thread with its own app context (own connection).

    The first call to reach the audit append holds its transaction open a little longer,
    so the others really arrive while it still holds the case.
    """
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    first = threading.Lock()
    original_append = audit_service.append_event

    def slow_append(**kwargs):
        event = original_append(**kwargs)
        if first.acquire(blocking=False):
            time.sleep(slow_first_commit)
        return event

    def worker(index, call):
        with app.app_context():
            try:
                barrier.wait()
                results[index] = ("ok", call())
            except CaseflowError as exc:
                results[index] = ("error", exc)
            except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
                results[index] = ("crash", exc)
            finally:
                db.session.remove()

    cases.append_event = slow_append
    try:
        threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        cases.append_event = original_append
    assert all(r is not None and r[0] != "crash" for r in results), results
    return results


def test_two_decisions_on_the_same_termination_at_once(app, make, team):
    """Approve on the office desktop and reject on the tablet, at the same moment."""
    case = make.case(team.facilitator, to="termination_review")
    sign_off_id = case.pending_sign_off.id
    decider_a = decider_b = team.supervisor.id

    def decide(user_id, decision):
        def call():
            from caseflow.models import User

            user = db.session.get(User, user_id)
            return cases.decide_sign_off(Actor(user=user), sign_off_id, {
                "decision": decision, "reason": "Belum cukup bukti" if decision == "reject" else None,
            })
        return call

    results = run_concurrently(app, [decide(decider_a, "approve"), decide(decider_b, "reject")])
    outcomes = sorted(r[0] for r in results)
    assert outcomes == ["error", "ok"]
    loser = next(r[1] for r in results if r[0] == "error")
    assert isinstance(loser, Conflict)
    assert "already decided" in str(loser) or "changed by someone else" in str(loser)
    db.session.rollback()  # end this thread's read snapshot: see what the workers committed
    sign_off = db.session.get(SignOff, sign_off_id)
    assert sign_off.decision in ("approved", "rejected")
    transitions = db.session.execute(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == case.id, AuditEvent.action == "case.transition")
    ).scalar_one()
    assert transitions == 6  # five moves to termination_review, then exactly one decision
    assert verify_everything().ok


def test_step_logged_while_the_case_is_reassigned(app, make, team):
    case = make.case(team.facilitator, to="intervention")
    version = case.version
    facilitator_id, supervisor_id, new_id = team.facilitator.id, team.supervisor.id, team.facilitator2.id

    def log():
        from caseflow.models import User

        return cases.log_step(Actor(user=db.session.get(User, facilitator_id)), case.id, a_step(),
                              expected_version=version)

    def reassign():
        from caseflow.models import User

        return cases.reassign_case(Actor(user=db.session.get(User, supervisor_id)), case.id,
                                   {"facilitator_id": new_id, "reason": "Cuti"}, expected_version=version)

    results = run_concurrently(app, [log, reassign])
    assert sorted(r[0] for r in results) == ["error", "ok"]
    loser = next(r[1] for r in results if r[0] == "error")
    assert isinstance(loser, Conflict), loser
    db.session.rollback()  # end this thread's read snapshot: see what the workers committed
    steps = db.session.execute(select(func.count()).select_from(Step).where(Step.case_id == case.id)).scalar_one()
    reassigned = db.session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case.id, AuditEvent.action == "case.reassigned")).scalar_one()
    assert steps + reassigned == 1  # exactly one of the two operations happened
    assert verify_everything().ok


@pytest.mark.parametrize("attempts", [4])
def test_many_writers_on_different_cases_all_succeed(app, make, team, attempts):
    """Writes to different cases do not conflict: each case has its own chain."""
    created = [make.case(team.facilitator) for _ in range(attempts)]
    facilitator_id = team.facilitator.id

    def start(case_id):
        def call():
            from caseflow.models import User

            return cases.fire_trigger(Actor(user=db.session.get(User, facilitator_id)), case_id,
                                      "start_assessment")
        return call

    results = run_concurrently(app, [start(c.id) for c in created], slow_first_commit=0.05)
    assert [r[0] for r in results] == ["ok"] * attempts
    assert verify_everything().ok


def test_cases_opened_at_once_get_distinct_numbers(app, make, team):
    """The first cases of a province and year, opened at the same moment by two people."""
    clients = [make.client(team.facilitator), make.client(team.facilitator2)]
    people = [team.facilitator.id, team.facilitator2.id]

    def opener(user_id, client_id):
        def call():
            from caseflow.models import User

            return cases.open_case(Actor(user=db.session.get(User, user_id)),
                                   {"client_id": client_id, "ppks_category_code": "P02"}).number
        return call

    results = run_concurrently(app, [opener(u, c.id) for u, c in zip(people, clients, strict=True)],
                               slow_first_commit=0.2)
    numbers = [r[1] for r in results]
    assert [r[0] for r in results] == ["ok", "ok"]
    assert sorted(number[-6:] for number in numbers) == ["000001", "000002"]
