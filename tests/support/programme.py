"""A small programme placed in time: five cases whose every move happened on a known day,
so each figure has an exact expected value (worked out by hand in tests/reports/test_figures.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from caseflow.database import simulated_time
from caseflow.extensions import db
from caseflow.services import cases
from caseflow.services.context import Actor

from .factories import COMPLETE_ASSESSMENT, a_step, approve, complete_plan, terminate

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STAGES = ("assessment", "planning", "intervention", "evaluation", "termination_review")


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def advance(case, facilitator, supervisor, plan: dict[str, float], *, outcome: str | None = None):
    """Walk `case` forward; `plan` maps each stage entered to its day. The termination asks
    for `outcome`: by default the end the plan reaches."""
    me = Actor(user=facilitator)
    outcome = outcome or ("closed_unresolved" if "closed_unresolved" in plan else "resolved")
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
                terminate(me, case, outcome)
            elif stage in ("resolved", "closed_unresolved"):
                approve(supervisor, case)
        db.session.refresh(case)
    return case


def walked(*days: float, end: str = "resolved") -> dict[str, float]:
    """The plan of a case walked from assessment to `end`, entering each stage on its day."""
    return dict(zip((*STAGES, end), days, strict=True))


def opened(make, facilitator, when: float, category: str = "P02"):
    with simulated_time(day(when)):
        return make.case(facilitator, category=category)


class Programme:
    """A: resolved on day 72. B: closed unresolved (moved) on day 120. C: facilitator 2,
    category P03, in assessment since day 50. D: NTT, recorded on day 40. E: resolved on
    day 150, reopened on day 160."""

    def __init__(self, team, make) -> None:
        sup = team.supervisor
        a = advance(opened(make, team.facilitator, 0), team.facilitator, sup, walked(10, 20, 30, 60, 70, 72))
        b = advance(opened(make, team.facilitator, 0), team.facilitator, sup,
                    walked(5, 15, 25, 105, 115, 120, end="closed_unresolved"))
        c = advance(opened(make, team.facilitator2, 30, "P03"), team.facilitator2, sup, {"assessment": 50})
        d = opened(make, team.other_facilitator, 40)
        e = advance(opened(make, team.facilitator, 0), team.facilitator, sup, walked(1, 2, 3, 140, 145, 150))
        e = advance(e, team.facilitator, sup, {"assessment": 160})
        self.a, self.b, self.c, self.d, self.e = a, b, c, d, e
        self.team = team
        self.half_year = dict(start=date(2026, 1, 1), end=date(2026, 6, 30))
