"""A case as its page and the API's detail show it (services.cases.read_case): the case's
row and the records it shows, read as values in one statement.

Loading the case with its one-to-one records (client, facilitator, province, category,
assessment, plan with its goals, evaluation, termination) as objects of the session cost
about three times the Python of the same columns as values (0.9 ms against 0.35 ms for a
case page, warm); a page only shows them. The values keep the names and the few rules
(`masked_nik`, `active_goals`, `pending_sign_off`, a category's `name`) of the models,
taken from the models themselves, so guards, templates and schemas read them as they read
the objects. A change is never made through them: services load the case anew, locked,
for every write; the read's own audit event is written with the case's head from these
values (services.cases.read_case).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from ..models import (
    Assessment,
    Case,
    Client,
    Evaluation,
    Goal,
    GoalRating,
    InterventionPlan,
    PpksCategory,
    Province,
    SignOff,
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
    ratings: list[Values]  # ratings_shown (read_case reads them only when there is an evaluation)

    def values(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "ratings"}


class FacilitatorShown(Values):
    supervisor: Values | None


def _columns(model: type, *left_out: str) -> list[Any]:
    return [getattr(model, column.key) for column in model.__table__.columns if column.key not in left_out]


_Supervisor = aliased(User)
# What a case's page, the API's detail and the rules read of each record, no more: every
# column costs the driver and the row's handling (a quarter of the row was never read).
# The facilitator never brings the password's hash nor the sealed offline key.
_FACILITATOR = [User.id, User.full_name, User.supervisor_id]
_SUPERVISOR = [_Supervisor.id, _Supervisor.full_name]
_WHO_AND_WHEN = ("case_id", "updated_by_id")  # a record's own bookkeeping (updated_at is shown)

# (attribute, value class, columns, outer-joined): in the order of the row.
_RECORDS: list[tuple[str, type[Values], list[Any], bool]] = [
    ("client", ClientShown, _columns(Client, "consent_given_by", "consent_recorded_by_id", "consent_recorded_at",
                                     "created_by_id", "created_at", "anonymised_at"), False),
    ("facilitator", FacilitatorShown, _FACILITATOR, False),
    ("supervisor", Values, _SUPERVISOR, True),
    ("province", ProvinceShown, _columns(Province), False),
    ("ppks_category", CategoryShown, _columns(PpksCategory), False),
    ("assessment", Values, _columns(Assessment, *_WHO_AND_WHEN), True),
    ("plan", PlanShown, _columns(InterventionPlan, *_WHO_AND_WHEN), True),
    ("evaluation", EvaluationShown, _columns(Evaluation, *_WHO_AND_WHEN), True),
    ("termination", Values, _columns(TerminationRequest, *_WHO_AND_WHEN), True),
    ("goal", Values, _columns(Goal, "plan_id", "position"), True),
]
_NAMES = [[column.key for column in columns] for _name, _kind, columns, _outer in _RECORDS]


_CASE = _columns(Case)
_CASE_NAMES = [column.key for column in _CASE]
CASE_WIDTH = len(_CASE)  # where a row's extras start


def case_columns() -> list[Any]:
    """The columns of a case's row: its own (as CaseShown names them)."""
    return list(_CASE)


def record_columns() -> list[Any]:
    """The columns a case's row carries for its records (after the case and its extras)."""
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
    """A case's row (its columns by name) with its records as values (`Values`) and its
    sign-offs, and the case's rules that read them, from the model."""

    client: ClientShown
    facilitator: FacilitatorShown
    province: ProvinceShown
    ppks_category: CategoryShown
    assessment: Values | None
    plan: PlanShown | None
    evaluation: EvaluationShown | None
    termination: Values | None
    sign_offs: list[Values]  # sign_off_columns' values (read_case reads them only when there are some)

    is_overdue = Case.is_overdue
    has_step_recorded_since = Case.has_step_recorded_since
    timezone = Case.timezone
    active_goals = Case.active_goals
    pending_sign_off = Case.pending_sign_off

    def __init__(self, rows: list[Any], extras: int) -> None:
        """`rows`: the case's rows (one per goal): the case's columns, `extras` more, then
        its records' columns."""
        first = rows[0]
        self.__dict__.update(zip(_CASE_NAMES, first[:len(_CASE_NAMES)], strict=True))
        start = len(_CASE_NAMES) + extras
        records: dict[str, Any] = {}
        for (name, kind, columns, outer), names in zip(_RECORDS, _NAMES, strict=True):
            values = first[start:start + len(columns)]
            records[name] = None if outer and values[0] is None else kind(dict(zip(names, values, strict=True)))
            start += len(columns)
        records["facilitator"].supervisor = records.pop("supervisor")
        records.pop("goal")  # the plan's, from every row
        if records["plan"] is not None:
            goal_start = start - len(_NAMES[-1])
            records["plan"].goals = [Values(dict(zip(_NAMES[-1], row[goal_start:], strict=True)))
                                     for row in rows if row[goal_start] is not None]
        self.__dict__.update(records)
        self.sign_offs = []

    def __repr__(self) -> str:
        return f"<Case {self.number} {self.state} v{self.version} (shown)>"


# A case's sign-offs as its page and the API's detail show them: the request's columns,
# with who asked and who decided by name (the page names them; as objects, with the two
# users joined, reading one request cost about 0.25 ms more of Python).
_Requester, _Decider = aliased(User), aliased(User)
_SIGN_OFF_NAMES = tuple(column.key for column in SignOff.__table__.columns)


def sign_offs_statement() -> Any:
    """A case's sign-offs (bound parameter case_id) in the order of Case.sign_offs."""
    return (select(*(getattr(SignOff, name) for name in _SIGN_OFF_NAMES), _Requester.full_name,
                   _Decider.full_name)
            .join(_Requester, _Requester.id == SignOff.requested_by_id)
            .outerjoin(_Decider, _Decider.id == SignOff.decided_by_id)
            .where(SignOff.case_id == bindparam("case_id")).order_by(SignOff.requested_at))


def sign_offs_shown(rows: list[Any]) -> list[Values]:
    """sign_offs_statement's rows as values named as SignOff's (with `requested_by` and
    `decided_by` naming their users: `id`, `full_name`)."""
    width = len(_SIGN_OFF_NAMES)
    shown = []
    for row in rows:
        sign_off = Values(dict(zip(_SIGN_OFF_NAMES, row[:width], strict=True)))
        sign_off.requested_by = Values({"id": sign_off.requested_by_id, "full_name": row[width]})
        sign_off.decided_by = (None if sign_off.decided_by_id is None
                               else Values({"id": sign_off.decided_by_id, "full_name": row[width + 1]}))
        shown.append(sign_off)
    return shown


_RATING_NAMES = tuple(column.key for column in GoalRating.__table__.columns)


def ratings_statement() -> Any:
    """An evaluation's ratings (bound parameter evaluation_id), as Evaluation.ratings reads
    them (in no order of its own)."""
    return (select(*(getattr(GoalRating, name) for name in _RATING_NAMES))
            .where(GoalRating.evaluation_id == bindparam("evaluation_id")))


def ratings_shown(rows: list[Any]) -> list[Values]:
    """ratings_statement's rows as values named as GoalRating's columns."""
    return [Values(dict(zip(_RATING_NAMES, row, strict=True))) for row in rows]
