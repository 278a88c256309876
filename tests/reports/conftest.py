"""A small programme placed in time: five cases whose every move happened on a known day,
so each figure has an exact expected value (worked out by hand in test_figures.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from caseflow.database import simulated_time
from caseflow.extensions import db
from caseflow.services import cases
from caseflow.services.context import Actor
from tests.conftest import COMPLETE_ASSESSMENT, a_step, complete_plan, rate_all

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def advance(case, facilitator, supervisor, plan: dict[str, float], *, outcome: str = "resolved"):
    """Walk `case` forward; `plan` maps each stage entered to its day."""
    me = Actor(user=facilitator)
    for stage, when in plan.items():
        with simulated_time(day(when)):
            if stage == "assessment" and case.state in ("resolved", "closed_unresolved"):
                cases.fire_trigger(Actor(user=supervisor), case.id, "reopen", {"reason": "Kambuh"})
            elif stage == "assessment":
                cases.fire_trigger(me, case.id, "start_assessment")
            elif stage == "planning":
                cases.save_assessment(me, case.id, COMPLETE_ASSESSMENT)
                cases.fire_trigger(me, case.id, "complete_assessment")
            elif stage == "intervention":
                cases.save_plan(me, case.id, complete_plan())
                cases.fire_trigger(me, case.id, "start_intervention")
            elif stage == "evaluation":
                cases.log_step(me, case.id, a_step())
                cases.fire_trigger(me, case.id, "start_evaluation")
            elif stage == "termination_review":
                cases.save_evaluation(me, case.id, rate_all(case, "achieved"))
                cases.save_termination_request(me, case.id, {
                    "outcome": outcome, "aftercare_plan": "Kunjungan bulanan",
                    "closure_reason": "moved" if outcome == "closed_unresolved" else None,
                })
                cases.fire_trigger(me, case.id, "request_termination")
            elif stage in ("resolved", "closed_unresolved"):
                db.session.refresh(case)
                cases.decide_sign_off(Actor(user=supervisor), case.pending_sign_off.id, {"decision": "approve"})
        db.session.refresh(case)
    return case


def opened(make, facilitator, when: float, category: str = "P02"):
    with simulated_time(day(when)):
        return make.case(facilitator, category=category)


@pytest.fixture
def programme(team, make):
    """A: resolved on day 72. B: closed unresolved (moved) on day 120. C: facilitator 2,
    category P03, in assessment since day 50. D: NTT, recorded on day 40. E: resolved on
    day 150, reopened on day 160."""
    sup = team.supervisor
    a = advance(opened(make, team.facilitator, 0), team.facilitator, sup, {
        "assessment": 10, "planning": 20, "intervention": 30, "evaluation": 60,
        "termination_review": 70, "resolved": 72})
    b = advance(opened(make, team.facilitator, 0), team.facilitator, sup, {
        "assessment": 5, "planning": 15, "intervention": 25, "evaluation": 105,
        "termination_review": 115, "closed_unresolved": 120}, outcome="closed_unresolved")
    c = advance(opened(make, team.facilitator2, 30, "P03"), team.facilitator2, sup, {"assessment": 50})
    d = opened(make, team.other_facilitator, 40)
    e = advance(opened(make, team.facilitator, 0), team.facilitator, sup, {
        "assessment": 1, "planning": 2, "intervention": 3, "evaluation": 140,
        "termination_review": 145, "resolved": 150})
    e = advance(e, team.facilitator, sup, {"assessment": 160})

    class Programme:
        pass

    p = Programme()
    p.a, p.b, p.c, p.d, p.e = a, b, c, d, e
    p.team = team
    p.half_year = dict(start=date(2026, 1, 1), end=date(2026, 6, 30))
    return p
