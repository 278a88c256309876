"""The guard vocabulary workflow files may name.

A guard looks at a case and returns what is missing (an empty list means the move may
go ahead). Only names registered here can appear in a workflow file: the file never
supplies code or importable callback strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..i18n import _l


@dataclass(frozen=True)
class Missing:
    """One thing a guard needs: which record and field, and a sentence for people."""

    record: str
    field: str | None
    message: Any

    def __str__(self) -> str:
        return str(self.message)


Guard = Callable[[Any], list[Missing]]
GUARDS: dict[str, Guard] = {}


def guard(name: str) -> Callable[[Guard], Guard]:
    def register(func: Guard) -> Guard:
        GUARDS[name] = func
        return func

    return register


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def active_goals(case: Any) -> list[Any]:
    return case.active_goals


@guard("assessment_complete")
def assessment_complete(case) -> list[Missing]:
    assessment = case.assessment
    if assessment is None:
        return [Missing("assessment", None, _l("The assessment has not been filled in."))]
    labels = {
        "problem": _l("the problem"),
        "needs": _l("the needs"),
        "strengths": _l("the strengths"),
        "risk_level": _l("the risk level"),
    }
    return [
        Missing("assessment", name, _l("The assessment lacks %(what)s.", what=label))
        for name, label in labels.items()
        if _blank(getattr(assessment, name))
    ]


@guard("plan_complete")
def plan_complete(case) -> list[Missing]:
    if case.plan is None:
        return [Missing("plan", None, _l("The intervention plan has not been made."))]
    goals = active_goals(case)
    if not goals:
        return [Missing("plan", "goals", _l("The intervention plan needs at least one goal."))]
    missing = []
    for number, goal in enumerate(goals, start=1):
        if _blank(goal.description):
            missing.append(Missing("plan", f"goals.{number}.description",
                                   _l("Goal %(n)s has no description.", n=number)))
        if goal.target_date is None:
            missing.append(Missing("plan", f"goals.{number}.target_date",
                                   _l("Goal %(n)s has no target date.", n=number)))
        if _blank(goal.responsible_party):
            missing.append(Missing("plan", f"goals.{number}.responsible_party",
                                   _l("Goal %(n)s has no responsible party.", n=number)))
    return missing


# A reader that loads a case may read whether a step was recorded in its current stage
# with the case's row (services.cases.read_case) and leave the answer here: the guard then
# asks the database nothing. The answer holds for that stage and version only (every
# logged step bumps the case's version).
_STEP_IN_STAGE = "_caseflow_step_in_stage"


def remember_step_in_stage(case: Any, recorded: bool) -> None:
    setattr(case, _STEP_IN_STAGE, (case.stage_entered_at, case.version, bool(recorded)))


def step_recorded_in_stage(case: Any) -> bool:
    known = getattr(case, _STEP_IN_STAGE, None)
    if known is not None and known[0] == case.stage_entered_at and known[1] == case.version:
        return known[2]
    return case.has_step_recorded_since(case.stage_entered_at)


@guard("intervention_step_logged")
def intervention_step_logged(case) -> list[Missing]:
    if step_recorded_in_stage(case):
        return []
    return [Missing("steps", None,
                    _l("Log at least one step of the intervention before evaluating it."))]


@guard("evaluation_complete")
def evaluation_complete(case) -> list[Missing]:
    if case.evaluation is None:
        return [Missing("evaluation", None, _l("The evaluation has not been filled in."))]
    rated = {rating.goal_id for rating in case.evaluation.ratings}
    return [
        Missing("evaluation", f"goals.{number}",
                _l("The evaluation does not rate goal %(n)s.", n=number))
        for number, goal in enumerate(active_goals(case), start=1)
        if goal.id not in rated
    ]


@guard("some_goal_not_achieved")
def some_goal_not_achieved(case) -> list[Missing]:
    if case.evaluation and any(r.rating != "achieved" for r in case.evaluation.ratings):
        return []
    if case.evaluation is None or not case.evaluation.ratings:
        # Nothing rated is not "everything achieved": say what is really missing.
        return [Missing("evaluation", None, _l("No goal is rated yet."))]
    return [Missing("evaluation", None,
                    _l("Every goal is rated achieved: there is nothing to plan again."))]


@guard("termination_request_complete")
def termination_request_complete(case) -> list[Missing]:
    request = case.termination
    if request is None:
        return [Missing("termination", None, _l("The termination request has not been filled in."))]
    missing = []
    if request.outcome == "closed_unresolved" and _blank(request.closure_reason):
        missing.append(Missing("termination", "closure_reason",
                               _l("Say why the case closes unresolved.")))
    if request.outcome == "resolved" and _blank(request.aftercare_plan):
        missing.append(Missing("termination", "aftercare_plan",
                               _l("A resolved case needs an aftercare plan.")))
    return missing


@guard("termination_outcome_resolved")
def termination_outcome_resolved(case) -> list[Missing]:
    if case.termination is not None and case.termination.outcome == "resolved":
        return []
    return [Missing("termination", "outcome", _l("The requested outcome is not 'resolved'."))]


@guard("termination_outcome_closed_unresolved")
def termination_outcome_closed_unresolved(case) -> list[Missing]:
    if case.termination is not None and case.termination.outcome == "closed_unresolved":
        return []
    return [Missing("termination", "outcome",
                    _l("The requested outcome is not 'closed unresolved'."))]
