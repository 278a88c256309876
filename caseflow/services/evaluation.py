"""The evaluation stage as one form with one action: rate every goal, sum it up, and say
what comes next — keep working on it, plan again (goals not met), or ask the supervisor
to end the case (resolved with an aftercare plan, or closed unresolved with the reason).
It saves the evaluation, the termination request and fires the trigger in one
transaction: nothing half-written when something is refused.

The summary shown is computed from the ratings entered, never assumed: no "all goals
achieved" before every goal is rated. A request to close as resolved while some goal is
only partly (or not) achieved is flagged to the deciding supervisor.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Exists, select

from ..database import write_transaction
from ..errors import GuardFailed, ValidationError
from ..i18n import _l
from ..models import Case, Evaluation, Goal, GoalRating, InterventionPlan, TerminationRequest
from . import cases as case_services
from .context import Actor

SAVE, REVISE_PLAN, REQUEST_TERMINATION = "save", "revise_plan", "request_termination"
NEXT_STEPS = (SAVE, REVISE_PLAN, REQUEST_TERMINATION)
# The triggers this form fires: the case page offers them through the form only.
FORM_TRIGGERS = frozenset({REVISE_PLAN, REQUEST_TERMINATION})
ACHIEVED = "achieved"


@dataclass(frozen=True)
class EvaluationSummary:
    goals: int
    achieved: int
    partly: int
    not_achieved: int

    @property
    def unrated(self) -> int:
        return self.goals - self.achieved - self.partly - self.not_achieved

    @property
    def all_achieved(self) -> bool:
        return self.goals > 0 and self.achieved == self.goals

    @property
    def sentence(self):
        if self.goals == 0:
            return _l("The plan has no goals to rate.")
        if self.unrated == self.goals:
            return _l("No goal is rated yet.")
        if self.unrated:
            return _l("%(rated)s of %(n)s goals rated (%(a)s achieved, %(p)s partly, %(x)s not achieved); "
                      "%(u)s still to rate.", rated=self.goals - self.unrated, n=self.goals, a=self.achieved,
                      p=self.partly, x=self.not_achieved, u=self.unrated)
        if self.all_achieved:
            return _l("All %(n)s goals are rated achieved.", n=self.goals)
        return _l("All %(n)s goals rated: %(a)s achieved, %(p)s partly, %(x)s not achieved.", n=self.goals,
                  a=self.achieved, p=self.partly, x=self.not_achieved)


def summary_of(case: Case, ratings: dict[int, str] | None = None) -> EvaluationSummary:
    """Counts over the plan's current goals, from `ratings` ({goal id: rating}, what the
    form holds) or else from the saved evaluation."""
    goals = [g.id for g in (case.plan.goals if case.plan else []) if not g.archived]
    if ratings is None:
        ratings = {r.goal_id: r.rating for r in (case.evaluation.ratings if case.evaluation else [])}
    given = [ratings.get(goal_id) for goal_id in goals]
    return EvaluationSummary(len(goals), given.count(ACHIEVED), given.count("partly_achieved"),
                             given.count("not_achieved"))


def resolution_flags(case: Case) -> list[tuple[str, str]]:
    """(goal, rating) of the goals not achieved, when the case is asked to close as
    resolved: the supervisor is asked to look at them."""
    if case.termination is None or case.termination.outcome != "resolved" or case.evaluation is None:
        return []
    names = {g.id: g.description for g in (case.plan.goals if case.plan else []) if not g.archived}
    return [(names[r.goal_id], r.rating) for r in case.evaluation.ratings
            if r.goal_id in names and r.rating != ACHIEVED]


def resolution_flagged() -> Exists:
    """Whether `resolution_flags(case)` has any, as an EXISTS correlated to Case: for a list
    that reads its values in one statement (tests/services/test_evaluation_form.py compares)."""
    return (select(GoalRating.id)
            .join(Evaluation, Evaluation.id == GoalRating.evaluation_id)
            .join(Goal, Goal.id == GoalRating.goal_id)
            .join(InterventionPlan, InterventionPlan.id == Goal.plan_id)
            .join(TerminationRequest, TerminationRequest.case_id == Evaluation.case_id)
            .where(Evaluation.case_id == Case.id, InterventionPlan.case_id == Case.id,
                   TerminationRequest.outcome == "resolved", Goal.archived.is_(False), GoalRating.rating != ACHIEVED)
            .correlate(Case).exists())


def submit_evaluation(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Case:
    """The facilitator's one evaluation form (see the module). `data`: summary, ratings,
    next (save / revise_plan / request_termination) and, to end the case, the
    termination request's fields."""
    step = data.get("next") or SAVE
    if step not in NEXT_STEPS:
        raise ValidationError(_l("Some fields need attention."), fields={"next": [_l("Choose what comes next.")]})
    with write_transaction():
        case = case_services.save_evaluation(actor, case_id, {"summary": data.get("summary", ""),
                                                              "ratings": data.get("ratings") or []},
                                             expected_version)
        if step == SAVE:
            return case
        unrated = [goal_id for goal_id, rating in _ratings(case).items() if rating is None]
        if unrated:
            message = _l("Rate this goal before you go on.")
            raise ValidationError(_l("Rate every goal before you go on."),
                                  fields={f"goals.{goal_id}": [message] for goal_id in unrated})
        if step == REQUEST_TERMINATION:
            case_services.save_termination_request(actor, case_id, {
                key: data[key] for key in ("outcome", "closure_reason", "reason_details", "aftercare_plan")
                if data.get(key) is not None})
        try:
            return case_services.fire_trigger(actor, case_id, step)
        except GuardFailed as refused:
            raise ValidationError(refused.message, fields=_fields_of(refused)) from refused


def _ratings(case: Case) -> dict[int, str | None]:
    given = {r.goal_id: r.rating for r in (case.evaluation.ratings if case.evaluation else [])}
    return {g.id: given.get(g.id) for g in (case.plan.goals if case.plan else []) if not g.archived}


def _fields_of(refused: GuardFailed) -> dict[str, list]:
    fields: dict[str, list] = {}
    for missing in refused.missing:
        name = missing.field if missing.record == "termination" and missing.field else "next"
        fields.setdefault(name, []).append(missing.message)
    return fields
