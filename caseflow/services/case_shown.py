"""A case as its page and the API's detail show it (services.cases.read_case): the locked
case itself, the session's object that the read's audit event advances, with the records
it shows read as values in the same row.

Loading the one-to-one records (client, facilitator, province, category, assessment, plan
with its goals, evaluation, termination) as objects of the session cost about twice the
Python of the same columns as values (0.9 ms against 0.35 ms for a case page, warm); a
page only shows them. The values keep the names and the few rules (`masked_nik`,
`active_goals`, a category's `name`) of the models, taken from the models themselves, so
guards, templates and schemas read them as they read the objects. A change is never made
through them: services load the case anew, locked, for every write.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import aliased

from ..models import (
    Assessment,
    Case,
    Client,
    Evaluation,
    Goal,
    InterventionPlan,
    PpksCategory,
    Province,
    TerminationRequest,
    User,
)


class Values:
    """A row's values as attributes: a record shown, not an object of the session."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def values(self) -> dict[str, Any]:
        """The record's columns by name (a form filled with what is saved)."""
        return dict(self.__dict__)


class ClientShown(Values):
    masked_nik = Client.masked_nik
    age_on = Client.age_on


class CategoryShown(Values):
    name = PpksCategory.name


class ProvinceShown(Values):
    timezone_abbreviation = Province.timezone_abbreviation


class PlanShown(Values):
    goals: list[Values]
    active_goals = InterventionPlan.active_goals

    def values(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "goals"}


class EvaluationShown(Values):
    ratings: list[Any]  # the GoalRating objects (read_case reads them only when there is an evaluation)

    def values(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "ratings"}


class FacilitatorShown(Values):
    supervisor: Values | None


def _columns(model: type) -> list[Any]:
    return [getattr(model, column.key) for column in model.__table__.columns]


_Supervisor = aliased(User)
# The facilitator as a case's page and its rules read them (never the password's hash nor
# the sealed offline key: nothing decrypts what is not shown).
_FACILITATOR = [User.id, User.username, User.full_name, User.role, User.active, User.province_code,
                User.supervisor_id]
_SUPERVISOR = [_Supervisor.id, _Supervisor.full_name]

# (attribute, value class, columns, outer-joined): in the order of the row.
_RECORDS: list[tuple[str, type[Values], list[Any], bool]] = [
    ("client", ClientShown, _columns(Client), False),
    ("facilitator", FacilitatorShown, _FACILITATOR, False),
    ("supervisor", Values, _SUPERVISOR, True),
    ("province", ProvinceShown, _columns(Province), False),
    ("ppks_category", CategoryShown, _columns(PpksCategory), False),
    ("assessment", Values, _columns(Assessment), True),
    ("plan", PlanShown, _columns(InterventionPlan), True),
    ("evaluation", EvaluationShown, _columns(Evaluation), True),
    ("termination", Values, _columns(TerminationRequest), True),
    ("goal", Values, _columns(Goal), True),
]
_NAMES = [[column.key for column in columns] for _name, _kind, columns, _outer in _RECORDS]


def record_columns() -> list[Any]:
    """The columns a case's row carries for its records (after the case and its own extras)."""
    return [column for _name, _kind, columns, _outer in _RECORDS for column in columns]


def join_records(statement: Any) -> Any:
    """`statement` (a select from Case) joined to the tables of `record_columns`: one row
    per goal of the plan (removed goals too, as Plan.goals has them), in the plan's order."""
    return (statement
            .join(Client, Client.id == Case.client_id)
            .join(User, User.id == Case.facilitator_id)
            .outerjoin(_Supervisor, _Supervisor.id == User.supervisor_id)
            .join(Province, Province.code == Case.province_code)
            .join(PpksCategory, PpksCategory.code == Case.ppks_category_code)
            .outerjoin(Assessment, Assessment.case_id == Case.id)
            .outerjoin(InterventionPlan, InterventionPlan.case_id == Case.id)
            .outerjoin(Evaluation, Evaluation.case_id == Case.id)
            .outerjoin(TerminationRequest, TerminationRequest.case_id == Case.id)
            .outerjoin(Goal, Goal.plan_id == InterventionPlan.id)
            .order_by(Goal.position))


class CaseShown:
    """The case with its records as values (`Values`): every other attribute is the case's
    own (its columns, its sign-offs, its rules), read from the session's object."""

    __slots__ = ("_case", "client", "facilitator", "province", "ppks_category", "assessment", "plan",
                 "evaluation", "termination")

    def __init__(self, case: Case, rows: list[Any], first: int) -> None:
        """`rows`: the case's rows (one per goal), its records' columns from `first` on."""
        self._case = case
        records: dict[str, Any] = {}
        start = first
        for (name, kind, columns, outer), names in zip(_RECORDS, _NAMES, strict=True):
            values = rows[0][start:start + len(columns)]
            records[name] = None if outer and values[0] is None else kind(dict(zip(names, values, strict=True)))
            start += len(columns)
        facilitator = records["facilitator"]
        facilitator.supervisor = records["supervisor"]
        if records["plan"] is not None:
            goal_start = start - len(_RECORDS[-1][2])
            records["plan"].goals = [Values(dict(zip(_NAMES[-1], row[goal_start:], strict=True)))
                                     for row in rows if row[goal_start] is not None]
        self.client, self.facilitator = records["client"], facilitator
        self.province, self.ppks_category = records["province"], records["ppks_category"]
        self.assessment, self.plan = records["assessment"], records["plan"]
        self.evaluation, self.termination = records["evaluation"], records["termination"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._case, name)

    @property
    def record(self) -> Case:
        """The session's case (what a write would change)."""
        return self._case

    @property
    def active_goals(self) -> list[Values]:
        return self.plan.active_goals if self.plan is not None else []

    def __repr__(self) -> str:
        return f"<CaseShown {self._case!r}>"
