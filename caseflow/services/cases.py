"""Use cases on a case: open it, save its stage records, log steps, fire triggers,
decide sign-offs, reassign it. Each function is one transaction with its audit event.

Every function follows the same order: load the case with a lock → check the actor's
right on that case, and on every id the request names (a client, a goal, a facilitator:
someone else's looks like an unknown one) → check the version the actor saw → check the
guard → change → append the audit event.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import LazyString
from sqlalchemy import (
    and_,
    bindparam,
    exists,
    func,
    insert,
    inspect,
    null,
    or_,
    select,
    union,
    update,
)
from sqlalchemy import case as sql_case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import (
    aliased,
    contains_eager,
    joinedload,
    make_transient_to_detached,
    selectinload,
)
from sqlalchemy.orm.attributes import set_committed_value

from ..database import (
    after_transaction,
    send_last,
    session_connection,
    take_held,
    utcnow,
    write_transaction,
)
from ..errors import Conflict, InvalidTransition, NotAllowed, NotFound, ValidationError
from ..extensions import db
from ..i18n import _l
from ..models import (
    ActionPoint,
    Aftercare,
    Assessment,
    Attachment,
    AuditEvent,
    Case,
    CaseNumberCounter,
    CaseStageHistory,
    Client,
    Evaluation,
    Goal,
    GoalRating,
    InterventionPlan,
    LateArrival,
    PlannedVisit,
    PpksCategory,
    Referral,
    Role,
    SignOff,
    Step,
    TerminationRequest,
    User,
)
from ..models.agenda import waiting_for_step
from ..models.reports import CLOSE_STAY, OPEN_STAY
from ..prepared import Prepared
from ..schemas import (
    AssessmentSchema,
    EvaluationSchema,
    OpenCaseSchema,
    PlanSchema,
    ReassignSchema,
    SignOffDecisionSchema,
    StepSchema,
    TerminationSchema,
    TransitionSchema,
    load,
)
from ..security.fields import marker as sensitive_marker
from ..signals import case_moved, sign_off_decided, step_logged
from ..workflow import STAGE_COLUMNS, Missing, TransitionDef
from ..workflow.guards import remember_step_in_stage
from . import access, case_shown, notifications
from .audit import (
    append_case_event,
    append_event,
    event_params,
    insert_event_under,
    take_deferred_case_event,
    user_chain,
    write_deferred_case_event,
)
from .case_shown import CaseShown
from .context import Actor
from .idempotency import LockAlong
from .locking import (
    case_lock,
    case_of_client_lock,
    lock_case,
    lock_case_of,
    lock_case_of_client,
    lock_cases_of_clients,
)
from .runtime import default_workflow_name, engine, engines
from .sign_off_policy import decision_authority, escalated_sign_off_ids

# --- loading and checks --------------------------------------------------------------


def _require_visible(actor: Actor, case: Case, expected_version: int | None) -> None:
    """Invisible cases are 'not found' — except for a facilitator acting on a case that was
    reassigned away while they worked on it: they get told so, as a conflict."""
    if access.can_view_case(actor.user, case):
        return
    if expected_version is not None and _was_assigned_to(case, actor.user_id):
        raise Conflict(
            _l("This case was reassigned to another facilitator meanwhile; you can no longer change it."),
            current={"id": case.id, "reassigned": True},
        )
    raise NotFound(_l("No such case."))


def _was_assigned_to(case: Case, user_id: int | None) -> bool:
    events = db.session.execute(
        select(AuditEvent.before).where(AuditEvent.case_id == case.id, AuditEvent.action == "case.reassigned")
    ).scalars()
    return any((before or {}).get("facilitator_id") == user_id for before in events)


def _authorize(actor: Actor, case: Case, roles, what, expected_version: int | None, *,
               ids_checked: bool = False) -> None:
    """The actor holds one of `roles` on this very case, and saw its current version.

    With `ids_checked`, the caller checks the version itself once it has checked the ids
    the request names (a goal, a facilitator): those are part of the permission, and a
    stale version must not hide that one was refused."""
    _require_visible(actor, case, expected_version)
    access.require_case_role(actor.user, case, roles, what)
    if not ids_checked:
        _check_version(case, expected_version)


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != case.version:
        raise Conflict(
            _l("The case was changed by someone else (you saw version %(seen)s, it is now "
               "version %(now)s). Look at it again before you continue.",
               seen=expected_version, now=case.version),
            current=case_summary(case),
        )


def _require_open(case: Case) -> None:
    if engine(case.workflow).is_final(case.state):
        raise InvalidTransition(_l("The case is closed; reopen it first."), current=case_summary(case))


def accepts_steps(case: Case) -> bool:
    """Work is logged on an open case, and on a resolved case during its aftercare period
    (which leaves the case resolved: services/aftercare.py)."""
    return not engine(case.workflow).is_final(case.state) or Aftercare.running_for(case.id) is not None


def _require_in_work(case: Case) -> None:
    if not accepts_steps(case):
        raise InvalidTransition(_l("The case is closed and its aftercare is over; reopen it first."),
                                current=case_summary(case))


def _require_record_editable(case: Case, record: str) -> None:
    definition = engine(case.workflow).definition
    if record not in definition.editable_records(case.state):
        states = [s.lazy_title for s in definition.states.values() if record in s.records]
        raise InvalidTransition(
            _l("The %(record)s can only be changed in the stage(s): %(states)s.",
               record=RECORD_LABELS[record], states=LazyString(lambda: ", ".join(map(str, states)))),
            current=case_summary(case),
        )


def _active_goal_ids(case: Case) -> set[int]:
    """The goals a request may name: those of this case's plan that were not removed."""
    return {g.id for g in case.active_goals}


def record_refusal(actor: Actor, what: str, case_id: int | None = None) -> None:
    """A refused id is evidence too, on the actor's chain: it is written once the refusing
    transaction has ended, so the refusal's rollback does not take it along."""
    if actor.user is None:
        return
    user_id = actor.user.id
    after_transaction(lambda: append_event(chain=user_chain(user_id), action="access.denied", actor=actor,
                                           context={"what": what, "case_id": case_id}))


RECORD_LABELS = {
    "assessment": _l("assessment"),
    "plan": _l("intervention plan"),
    "evaluation": _l("evaluation"),
    "termination": _l("termination request"),
}


def _touch(case: Case) -> None:
    case.version += 1


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "number": case.number,
        "state": case.state,
        "version": case.version,
        "facilitator_id": case.facilitator_id,
        "risk_level": case.risk_level,
        "stage_due_at": case.stage_due_at,
    }


def _audit(actor: Actor, case: Case, action: str, before: Any, after: Any, **context: Any) -> None:
    append_case_event(
        case, action=action, actor=actor,
        before=before, after=after, context={k: v for k, v in context.items() if v is not None},
    )


# --- opening a case ---------------------------------------------------------------


def _next_case_number(province_code: str, year: int) -> str:
    """Serial per province and year. The counter row is created race-free (two offices
    opening the first case of a year at once) and then locked while it is incremented."""
    connection = db.session.connection()
    counters = CaseNumberCounter.__table__
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(
        dialect_insert(counters).values(province_code=province_code, year=year, last_serial=0)
        .on_conflict_do_nothing(index_elements=["province_code", "year"])
    )
    serial = connection.execute(
        counters.update()
        .where(counters.c.province_code == province_code, counters.c.year == year)
        .values(last_serial=counters.c.last_serial + 1)
        .returning(counters.c.last_serial)
    ).scalar_one()
    return f"{province_code}-{year}-{serial:06d}"


def open_case(actor: Actor, data: dict) -> Case:
    """A facilitator (for themselves) or a supervisor (for a facilitator of their team)
    opens a case for a registered client. The case starts in the workflow's first state."""
    values = load(OpenCaseSchema(), data)
    user = actor.user
    if user is None or user.role not in (Role.FACILITATOR, Role.SUPERVISOR):
        raise NotAllowed(_l("Only facilitators and supervisors open cases."))
    with write_transaction():
        client = db.session.get(Client, values["client_id"])
        if client is None or not access.can_see_client(user, client):
            # A client out of reach answers like an unknown id: ids are sequential, and a
            # case would show the client's NIK, address and health notes.
            record_refusal(actor, "open case: client")
            raise ValidationError(_l("Unknown client."), fields={"client_id": [_l("Unknown client.")]})
        if db.session.get(PpksCategory, values["ppks_category_code"]) is None:
            raise ValidationError(_l("Unknown PPKS category."),
                                  fields={"ppks_category_code": [_l("Unknown PPKS category.")]})
        facilitator = _facilitator_for_new_case(user, values.get("facilitator_id"))
        now = utcnow()
        case = Case(
            number=_next_case_number(client.province_code, now.year),
            client=client,
            ppks_category_code=values["ppks_category_code"],
            province_code=client.province_code,
            facilitator=facilitator,
            summary=values["summary"],
            version=1,
            opened_at=now,
            created_by_id=user.id,
        )
        workflow_name = values.get("workflow") or default_workflow_name()
        if workflow_name not in engines():
            raise ValidationError(_l("Unknown workflow."), fields={"workflow": [_l("Unknown workflow.")]})
        earlier = _require_no_open_case(user, client)
        engine(workflow_name).start(case, now)
        db.session.add(case)
        db.session.flush()
        CaseStageHistory.record_entry(case)
        _audit(actor, case, "case.opened", None, case_summary(case) | {
            "client_id": client.id, "ppks_category_code": case.ppks_category_code,
            "workflow": case.workflow,
        }, earlier_case_ids=earlier or None)
        return case


def _require_no_open_case(user: User, client: Client) -> list[int]:
    """A client has one open case at a time: a returning client whose earlier cases are
    closed gets a new case, linked to them (the ids go in the new case's audit event)."""
    rows = db.session.execute(
        select(Case.id, Case.closed_at).where(Case.client_id == client.id).order_by(Case.opened_at)
    ).all()
    for case_id, closed_at in rows:
        if closed_at is None:
            current = db.session.get(Case, case_id)
            # The number only to whoever may open that case; the others learn only that it exists.
            if access.can_view_case(user, current):
                message = _l("This client already has an open case (%(number)s): continue it instead of "
                             "opening another.", number=current.number)
                raise ValidationError(message, fields={"client_id": [message]}, current={"case_id": case_id})
            message = _l("This client already has an open case, held by another facilitator. Ask your "
                         "supervisor.")
            raise ValidationError(message, fields={"client_id": [message]})
    return [case_id for case_id, _closed in rows]


def _facilitator_for_new_case(user: User, facilitator_id: int | None) -> User:
    if user.role == Role.FACILITATOR:
        if facilitator_id not in (None, user.id):
            raise NotAllowed(_l("A facilitator opens cases for themselves only."))
        return user
    if user.role == Role.SUPERVISOR:
        facilitator = db.session.get(User, facilitator_id) if facilitator_id else None
        if facilitator is None or facilitator.supervisor_id != user.id or facilitator.role != Role.FACILITATOR:
            raise ValidationError(
                _l("Choose a facilitator of your team."),
                fields={"facilitator_id": [_l("Choose a facilitator of your team.")]},
            )
        if not facilitator.active:
            raise ValidationError(_l("That facilitator's account is deactivated."),
                                  fields={"facilitator_id": [_l("Deactivated account.")]})
        return facilitator
    raise NotAllowed(_l("Only facilitators and supervisors open cases."))


# --- stage records -----------------------------------------------------------------


def _assessment_dict(a: Assessment | None) -> dict | None:
    if a is None:
        return None
    return {k: getattr(a, k) for k in ("problem", "needs", "strengths", "resources", "risk_level")} | {
        # Encrypted at rest, so never copied into the audit trail: only whether it is filled in.
        "protection_notes": sensitive_marker(a.protection_notes),
    }


def save_assessment(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Case:
    """The facilitator fills in the assessment while the case is in a stage that allows it.
    Saving a partial assessment is allowed; moving on needs it complete."""
    values = load(AssessmentSchema(), data)
    # The case carries the assessment's risk level for the lists and figures that show it.
    return _save_form_record(actor, case_id, expected_version, "assessment", values, model=Assessment,
                             as_dict=_assessment_dict, doing=_l("edit the assessment"),
                             action="assessment.saved", on_case={"risk_level": values.get("risk_level")})


def _save_form_record(actor: Actor, case_id: int, expected_version: int | None, record: str, values: dict, *,
                      model: type, as_dict: Callable[[Any], dict | None], doing: LazyString,
                      action: str, on_case: dict[str, Any] | None = None) -> Case:
    """A stage record that is one form (the assessment, the termination request): the
    facilitator's right and the version, the stage allowing `record`, then the form's values
    copied onto the case's record (made when it has none) and `action` audited (spelt out
    by the callers: tests/i18n/test_audit_labels.py finds every event type in the code)."""
    with write_transaction():
        case = lock_case(case_id)
        _authorize(actor, case, (Role.FACILITATOR,), doing, expected_version)
        before, row = _record_to_change(actor, case, record, model, as_dict)
        for key, value in values.items():
            setattr(row, key, value)
        db.session.add(row)
        for key, value in (on_case or {}).items():
            setattr(case, key, value)
        _touch(case)
        _audit(actor, case, action, before, as_dict(row), version=case.version)
        return case


def _record_to_change(actor: Actor, case: Case, record: str, model: type,
                      as_dict: Callable[[Any], dict | None]) -> tuple[dict | None, Any]:
    """Refused unless the case's stage allows changing `record`; else what the record was (for
    the audit event) and the record itself (made when the case has none), marked as changed
    by the actor now."""
    _require_record_editable(case, record)
    before = as_dict(getattr(case, record))
    row = getattr(case, record) or model(case=case, updated_by_id=actor.user_id)
    row.updated_by_id = actor.user_id
    row.updated_at = utcnow()
    return before, row


def _plan_dict(plan: InterventionPlan | None) -> dict | None:
    if plan is None:
        return None
    return {
        "summary": plan.summary,
        "goals": [
            {"id": g.id, "description": g.description, "target_date": g.target_date,
             "responsible_party": g.responsible_party}
            for g in plan.active_goals
        ],
    }


def save_plan(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Case:
    """The facilitator writes the intervention plan: goals are added, changed or removed.
    A removed goal is archived so the steps that served it keep their meaning."""
    values = load(PlanSchema(), data)
    with write_transaction():
        case = lock_case(case_id)
        _authorize(actor, case, (Role.FACILITATOR,), _l("edit the plan"), expected_version, ids_checked=True)
        existing_ids = _active_goal_ids(case)
        for position, goal_values in enumerate(values["goals"]):
            if goal_values.get("id") is not None and goal_values["id"] not in existing_ids:
                raise ValidationError(
                    _l("Some fields need attention."),
                    fields={f"goals.{position}.id": [_l("This goal is not part of the plan.")]},
                )
        _check_version(case, expected_version)
        before, plan = _record_to_change(actor, case, "plan", InterventionPlan, _plan_dict)
        plan.summary = values["summary"]
        existing = {goal.id: goal for goal in plan.active_goals}
        kept: set[int] = set()
        _refuse_targets_before_the_case(case, values["goals"], existing)
        for position, goal_values in enumerate(values["goals"]):
            goal_id = goal_values.get("id")
            if goal_id is not None:
                goal = existing[goal_id]  # checked above
                kept.add(goal_id)
            else:
                goal = Goal(plan=plan)  # the relationship adds it to plan.goals
            goal.position = position
            goal.description = goal_values["description"]
            goal.target_date = goal_values.get("target_date")
            goal.responsible_party = goal_values.get("responsible_party", "")
        for goal_id, goal in existing.items():
            if goal_id not in kept:
                goal.archived = True
        db.session.add(plan)
        db.session.flush()
        _touch(case)
        _audit(actor, case, "plan.saved", before, _plan_dict(plan), version=case.version)
        return case


def _refuse_targets_before_the_case(case: Case, goals: list[dict], existing: dict[int, Goal]) -> None:
    """A goal's target date, when set or changed, is not before the case began (the day it
    was recorded, less the tolerance for work written down late)."""
    earliest = earliest_case_day(case)
    errors = {}
    for position, goal in enumerate(goals):
        target = goal.get("target_date")
        unchanged = goal.get("id") in existing and existing[goal["id"]].target_date == target
        if target is not None and not unchanged and target < earliest:
            errors[f"goals.{position}.target_date"] = [
                _l("A target date cannot be before %(day)s, when the case began.", day=earliest.isoformat())]
    if errors:
        raise ValidationError(_l("Some fields need attention."), fields=errors)


def _evaluation_dict(evaluation: Evaluation | None) -> dict | None:
    if evaluation is None:
        return None
    return {
        "summary": evaluation.summary,
        "ratings": sorted(
            ({"goal_id": r.goal_id, "rating": r.rating, "notes": r.notes} for r in evaluation.ratings),
            key=lambda r: r["goal_id"],
        ),
    }


def save_evaluation(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Case:
    """The facilitator rates the goals of the plan."""
    values = load(EvaluationSchema(), data)
    with write_transaction():
        case = lock_case(case_id)
        _authorize(actor, case, (Role.FACILITATOR,), _l("edit the evaluation"), expected_version,
                   ids_checked=True)
        goals = _active_goal_ids(case)
        seen: set[int] = set()
        for index, rating in enumerate(values["ratings"]):
            if rating["goal_id"] not in goals:
                raise ValidationError(_l("Some fields need attention."), fields={
                    f"ratings.{index}.goal_id": [_l("This goal is not part of the plan.")]})
            if rating["goal_id"] in seen:
                raise ValidationError(_l("Some fields need attention."), fields={
                    f"ratings.{index}.goal_id": [_l("This goal is rated twice.")]})
            seen.add(rating["goal_id"])
        _check_version(case, expected_version)
        before, evaluation = _record_to_change(actor, case, "evaluation", Evaluation, _evaluation_dict)
        evaluation.summary = values["summary"]
        by_goal = {r.goal_id: r for r in evaluation.ratings}
        for rating in values["ratings"]:
            row = by_goal.get(rating["goal_id"])
            if row is None:
                row = GoalRating(goal_id=rating["goal_id"])
                evaluation.ratings.append(row)
            row.rating = rating["rating"]
            row.notes = rating["notes"]
        db.session.add(evaluation)
        db.session.flush()
        _touch(case)
        _audit(actor, case, "evaluation.saved", before, _evaluation_dict(evaluation), version=case.version)
        return case


def _termination_dict(request: TerminationRequest | None) -> dict | None:
    if request is None:
        return None
    return {k: getattr(request, k) for k in ("outcome", "closure_reason", "reason_details", "aftercare_plan")}


def save_termination_request(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Case:
    """The facilitator proposes how the case ends: resolved (with aftercare) or closed
    unresolved (with the reason). A supervisor decides once termination is requested."""
    values = load(TerminationSchema(), data)
    return _save_form_record(actor, case_id, expected_version, "termination", values, model=TerminationRequest,
                             as_dict=_termination_dict, doing=_l("prepare the termination"),
                             action="termination.saved")


# --- steps -------------------------------------------------------------------------


def _step_dict(step: Step) -> dict:
    return {
        "id": step.id, "step_type": step.step_type, "occurred_at": step.occurred_at,
        "occurred_timezone": step.occurred_timezone, "location": step.location,
        "notes": step.notes, "goal_id": step.goal_id,
    }


class LockedCases(dict[int, tuple[Case, date | None]]):
    """A tablet's outbox: the cases its transaction locked for its steps, by id, changed
    since only by the batch's steps. `planned` (called once, at the first lock) names the
    cases the batch's steps still to come will log on: they are locked with it, in one
    statement. A single API step's holds the case locked with its Idempotency-Key
    (`step_lock`), if any."""

    def __init__(self, planned: Callable[[], Iterable[int]] | None = None) -> None:
        super().__init__()
        self._planned = planned

    def take_planned(self) -> set[int]:
        planned, self._planned = self._planned, None
        return set(planned()) if planned is not None else set()


def log_step(actor: Actor, case_id: int, data: dict, expected_version: int | None = None, *,
             locked: LockedCases | None = None) -> Step:
    """The assigned facilitator logs a piece of work on an open case, at any stage.
    A time without a zone is read in the facilitator's own province zone.

    `locked` (a tablet's outbox): the cases this transaction locked for the steps logged
    before, changed since only by those steps. A case found there is taken as it is instead
    of read and locked again; one locked here is added, with the cases the batch's later
    steps name (`LockedCases`). The caller forgets them all when a savepoint is rolled back
    or another kind of change comes between."""
    values = load(_STEP_SCHEMA, data)
    with write_transaction():
        case, birth_date = _lock_for_step(case_id, locked)
        _authorize(actor, case, (Role.FACILITATOR,), _l("log a step"), expected_version, ids_checked=True)
        goal_id = values.get("goal_id")
        if goal_id is not None and goal_id not in _active_goal_ids(case):
            raise ValidationError(_l("Some fields need attention."),
                                  fields={"goal_id": [_l("This goal is not part of the case's plan.")]})
        _check_version(case, expected_version)
        _require_in_work(case)
        zone = actor.user.timezone
        occurred = values["occurred_at"]
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=ZoneInfo(zone))
            if occurred.astimezone(UTC) > utcnow().replace(microsecond=0) + _TEN_MINUTES:
                raise ValidationError(_l("Some fields need attention."),
                                      fields={"occurred_at": [_l("This time is in the future.")]})
        _refuse_a_step_before_the_case(case, birth_date, occurred, zone)
        step, visits_waiting = _insert_step(
            case, step_type=values["step_type"], occurred_at=occurred.astimezone(UTC),
            occurred_timezone=zone, recorded_at=utcnow(), location=values.get("location") or None,
            notes=values["notes"], goal_id=goal_id, recorded_by_id=actor.user_id,
        )
        _touch(case)
        # Linked into the chain now, its row written with the case's new head (one statement
        # on PostgreSQL); an event a receiver appends to the case writes it first, in order.
        append_case_event(case, action="step.logged", actor=actor, after=_step_dict(step),
                          context={"version": case.version}, deferred=True)
        # The receivers read other tables (visits, aftercare, sealed cells): the case's new
        # head is written once, after them, not flushed before each of their queries.
        try:
            with db.session.no_autoflush:
                step_logged.send(case, step=step, visits_waiting=visits_waiting)
        except BaseException:
            take_deferred_case_event(case)  # the transaction rolls back: never written later
            raise
        _save_case_head(case, last=True)
        return step


# Logging a step is the most frequent write of all: its schema and statements are built
# once, not for every step (building them cost more than most of its checks).
_STEP_SCHEMA = StepSchema()
_steps = Step.__table__
# With the step's id, whether a planned visit waits for a step of its type on the case: the
# agenda's receiver reads the visits only then (most steps were not planned).
_INSERT_STEP_STATEMENT = insert(_steps).returning(
    _steps.c.id, exists().where(waiting_for_step(bindparam("visit_case_id"), bindparam("visit_step_type"))))
_INSERT_STEP = Prepared(_INSERT_STEP_STATEMENT)
_SAVE_CASE_HEAD = (
    update(Case.__table__).where(Case.__table__.c.id == bindparam("case_id"))
    .values(version=bindparam("new_version"), audit_seq=bindparam("new_seq"), audit_hash=bindparam("new_hash"))
)
# PostgreSQL takes the case's deferred audit event with its new head (a data-modifying WITH
# clause): one round trip instead of two.
_SAVE_CASE_HEAD_AND_EVENT = _SAVE_CASE_HEAD.add_cte(insert_event_under("event_").cte("head_event"))
# Sent prepared when nothing takes them as the last statement (a case's reading, whose
# recorded read writes the head: SQLAlchemy's execution cost 0.1 ms of the case page).
_SAVE_CASE_HEAD_SENT = Prepared(_SAVE_CASE_HEAD)
_SAVE_CASE_HEAD_AND_EVENT_SENT = Prepared(_SAVE_CASE_HEAD_AND_EVENT)


# A tablet's outbox, PostgreSQL: the head statement a step of the batch left (database.
# send_last, held by idempotency.Batch) is sent with the next step's INSERT, of whatever
# case, as WITH clauses: ten steps, eleven round trips instead of twenty. The next step has
# refused whatever it refuses by then, and its receivers run after it, so they read every
# case of the batch as written.
_PRIOR_HEAD_PARAMS = {"case_id": "prior_case_id", "new_version": "prior_version", "new_seq": "prior_seq",
                      "new_hash": "prior_hash"}
_PRIOR_HEAD = (
    update(Case.__table__).where(Case.__table__.c.id == bindparam("prior_case_id"))
    .values(version=bindparam("prior_version"), audit_seq=bindparam("prior_seq"), audit_hash=bindparam("prior_hash"))
)
_INSERT_STEP_AFTER_HEAD = Prepared(_INSERT_STEP_STATEMENT.add_cte(_PRIOR_HEAD.cte("prior_head")))
_INSERT_STEP_AFTER_HEAD_AND_EVENT = Prepared(_INSERT_STEP_STATEMENT.add_cte(
    insert_event_under("event_").cte("prior_event"), _PRIOR_HEAD.cte("prior_head")))


def move_lock(case_id: int, locked: dict[int, Case]) -> LockAlong | None:
    """The lock a move of `case_id` takes first (`fire_trigger` with `locked`), for an API
    write to take with its Idempotency-Key's reservation (`idempotency.LockAlong`)."""
    return case_lock(case_id, locked)


def step_lock(case_id: int, locked: LockedCases) -> LockAlong | None:
    """The lock logging a step on `case_id` takes first (`log_step` with `locked`), for an
    API write to take with its Idempotency-Key's reservation (`idempotency.LockAlong`)."""
    return case_of_client_lock(case_id, locked)


def _lock_for_step(case_id: int, locked: LockedCases | None) -> tuple[Case, date | None]:
    if locked is None:
        return lock_case_of_client(case_id)
    found = locked.get(case_id)
    if found is None:
        case_ids = locked.take_planned() | {case_id}
        _write_prior_heads(case_ids)
        if len(case_ids) > 1:
            locked.update(lock_cases_of_clients(case_ids))
        found = locked.get(case_id)
        if found is None:  # in the session already, or not found
            found = locked[case_id] = lock_case_of_client(case_id)
    return found


def _is_a_case_head(held: Any, _values: dict[str, Any]) -> bool:
    return held is _SAVE_CASE_HEAD or held is _SAVE_CASE_HEAD_AND_EVENT


def _is_prior_head_of(case_ids: set[int]) -> Callable[[Any, dict[str, Any]], bool]:
    return lambda held, values: _is_a_case_head(held, values) and values["case_id"] in case_ids


def _write_prior_heads(case_ids: set[int]) -> None:
    """A case read again (locked anew) is read with the head a step before left unwritten
    (take_held): the next step of the batch sends it, this is in case none did yet."""
    prior = take_held(_is_prior_head_of(case_ids))
    if prior is not None:
        session_connection().execute(*prior)


_new_step = Step.__mapper__.class_manager.new_instance


def _insert_step(case: Case, **columns: Any) -> tuple[Step, bool]:
    """Write a step's row with one INSERT … RETURNING and give back the Step it holds, and
    whether a planned visit waits for a step of its type on the case.

    Logging a step is the most frequent write of all; the ORM's unit of work (change
    tracking, dependency sorting, identity bookkeeping) cost more than the statement
    itself. The Step returned is not in the session: it is what was written, for the
    audit event, the receivers of `step_logged` and the answer."""
    params = {"case_id": case.id, **columns, "visit_case_id": case.id, "visit_step_type": columns["step_type"]}
    statement = _INSERT_STEP
    prior = take_held(_is_a_case_head)
    if prior is not None:  # the head (and event) the step before left, of any case, written first
        held, values = prior
        statement = _INSERT_STEP_AFTER_HEAD_AND_EVENT if held is _SAVE_CASE_HEAD_AND_EVENT else _INSERT_STEP_AFTER_HEAD
        params |= {_PRIOR_HEAD_PARAMS.get(name, name): value for name, value in values.items()}
    step_id, visits_waiting = statement.one(session_connection(), params)
    # Its values put in place as a load does (Step(...) sent an attribute event for each,
    # noting changes to flush that never will be: four times the cost).
    step = _new_step()
    step.__dict__.update(id=step_id, case_id=case.id, **columns)
    set_committed_value(step, "case", case)
    if "steps" in case.__dict__:  # a list loaded before no longer holds every step
        db.session.expire(case, ["steps"])
    return step, bool(visits_waiting)


def _write_case_head(case: Case | CaseShown, *, last: bool = False) -> None:
    """Write the case's version and audit head (changed by `_touch` and the audit events
    of this change) with one UPDATE, and the case's deferred audit event if it has one (in
    the same statement on PostgreSQL). The case is locked (lock_case, or read_case's
    reading), so nobody else writes them meanwhile. `last`: nothing of the service's
    transaction follows, so the statement may be left to its caller (`database.send_last`:
    an API write stores its answer with it)."""
    head = {"case_id": case.id, "new_version": case.version, "new_seq": case.audit_seq,
            "new_hash": case.audit_hash}
    connection = session_connection()
    event = take_deferred_case_event(case) if connection.dialect.name == "postgresql" else None
    if event is None:
        write_deferred_case_event(case)
        statement, params = _SAVE_CASE_HEAD, head
    else:
        statement, params = _SAVE_CASE_HEAD_AND_EVENT, head | event_params(event, "event_")
    if last:
        send_last(statement, params)
    elif connection.dialect.name == "sqlite":
        _SAVE_CASE_HEAD_SENT.execute(connection, params)
    else:
        (_SAVE_CASE_HEAD_SENT if event is None else _SAVE_CASE_HEAD_AND_EVENT_SENT).rows(connection, params)


def _save_case_head(case: Case, *, last: bool = False) -> None:
    """`_write_case_head` for the session's case, instead of a flush of the whole case: the
    values written are marked as the ones stored."""
    _write_case_head(case, last=last)
    state = inspect(case)
    if state.committed_state.keys() <= _HEAD_COLUMNS and not state.__dict__.get("_pending_mutations"):
        # Nothing else of the case waits to be written (no other attribute changed, no
        # collection change pending): it is marked clean as a flush would leave it, or the
        # next flush (an autoflush, each outbox entry's, the commit's) would walk the unit of
        # work through every relationship of the case to find that out. (SQLAlchemy makes
        # the pending changes' dict, empty, whenever a collection is set as loaded.)
        state._commit_all(state.dict, db.session.identity_map)
        return
    for name in _HEAD_COLUMNS:
        set_committed_value(case, name, getattr(case, name))


_HEAD_COLUMNS = frozenset(("version", "audit_seq", "audit_hash"))


_TEN_MINUTES = timedelta(minutes=10)
DEFAULT_BACKDATE_TOLERANCE_DAYS = 30


def backdate_tolerance() -> timedelta:
    """How long before a case was recorded its first work may have happened (written on
    paper first, entered later): CASEFLOW_STEP_BACKDATE_TOLERANCE_DAYS."""
    days = DEFAULT_BACKDATE_TOLERANCE_DAYS
    if has_app_context():
        days = current_app.config.get("CASEFLOW_STEP_BACKDATE_TOLERANCE_DAYS", days)
    return timedelta(days=days)


def earliest_case_day(case: Case) -> date:
    """The first day work on the case can have happened, in the case's province zone."""
    recorded = case.opened_at.astimezone(ZoneInfo(case.timezone))
    return (recorded - backdate_tolerance()).date()


def _refuse_a_step_before_the_case(case: Case, birth_date: date | None, occurred: datetime, zone: str) -> None:
    """A step is the evidence that work happened: not before the client was born, and not
    before the case was recorded beyond the tolerance for work written down late."""
    tolerance = backdate_tolerance()
    problem = None
    if occurred < case.opened_at - tolerance:
        recorded = case.opened_at.astimezone(ZoneInfo(zone)).date()
        problem = _l("A step can be at most %(days)s days before the case was recorded (%(day)s).",
                     days=tolerance.days, day=recorded.isoformat())
    elif birth_date and occurred.astimezone(ZoneInfo(zone)).date() < birth_date:
        problem = _l("A step cannot be before the client was born (%(day)s).", day=birth_date.isoformat())
    if problem is not None:
        raise ValidationError(_l("Some fields need attention."), fields={"occurred_at": [problem]})


# --- triggers and sign-offs --------------------------------------------------------


# Made once: making a schema costs more than loading the reason it checks.
_TRANSITION_SCHEMA = TransitionSchema()


def fire_trigger(
    actor: Actor, case_id: int, trigger: str, data: dict | None = None,
    expected_version: int | None = None, *, locked: dict[int, Case] | None = None,
) -> Case:
    """Move a case along its workflow. Who may fire, what must be complete and whether a
    sign-off follows all come from the workflow file. `locked`: the case, if this
    transaction locked it already (`move_lock`)."""
    # Nothing sent, nothing to validate (the schema would load an empty reason).
    values = {} if data is None or data == {} else load(_TRANSITION_SCHEMA, data)
    reason = (values.get("reason") or "").strip() or None
    with write_transaction():
        case = locked.pop(case_id, None) if locked else None
        if case is None:
            case = lock_case(case_id)
        workflow = engine(case.workflow)
        _require_visible(actor, case, expected_version)
        transition = workflow.transition(case.state, trigger)
        if transition.via_sign_off:
            raise NotAllowed(_l("This decision is made through the sign-off request."))
        _authorize(actor, case, transition.roles, _l("do '%(action)s'", action=transition.lazy_title),
                   expected_version)
        if transition.requires_reason and not reason:
            raise ValidationError(_l("A reason is required."), fields={"reason": [_l("A reason is required.")]})
        return _move(actor, case, trigger, reason=reason)


def _move(actor: Actor, case: Case, trigger: str, *, reason: str | None,
          sign_off: SignOff | None = None, authority: dict | None = None) -> Case:
    workflow = engine(case.workflow)
    before = case_summary(case)
    source = case.state
    entered_before = case.stage_entered_at
    closed_before = case.closed_at
    now = utcnow()
    # The case's row is written once, at the end, with its stays (_save_moved_case): the
    # guards', the receivers' and the lazy loads' queries would otherwise flush the
    # half-moved case first, and the audit head once more afterwards.
    with db.session.no_autoflush:
        taken = workflow.fire(case, trigger, now)
        outcome = workflow.definition.states[taken.dest].outcome
        if workflow.is_final(taken.dest):
            case.closure_reason = (case.termination.closure_reason
                                   if case.termination and outcome == "closed_unresolved" else None)
        else:
            case.closure_reason = None
        _reset_records_after_moving_back(case, source, taken)
        stay = CaseStageHistory.entry(case, trigger, reopened=taken.reopens, previous_entered_at=entered_before)
        _touch(case)
        requested = _request_sign_off(actor, case, trigger, now) if taken.sign_off is not None else None
        context = {"trigger": trigger, "reason": reason,
                   "sign_off_requested": requested.id if requested else None,
                   "sign_off_decided": sign_off.id if sign_off else None, **(authority or {})}
        # Written with the case's row (_save_moved_case), unless a receiver appends an event
        # to the case first: then before that one, in the chain's order.
        try:
            append_case_event(case, action="case.transition", actor=actor, before=before,
                              after=case_summary(case), deferred=True,
                              context={k: v for k, v in context.items() if v is not None})
            case_moved.send(case, actor=actor, transition=taken, source=source, now=now)
        except BaseException:
            take_deferred_case_event(case)  # the transaction rolls back: never written later
            raise
    _save_moved_case(case, stay, closes=case.closed_at != closed_before)
    return case


# What a move writes on the case's row: the stage the engine entered, why it closed, and
# the version and audit head (also moved by the receivers' audit events).
_MOVED_COLUMNS = (*STAGE_COLUMNS, "closure_reason", "version", "audit_seq", "audit_hash")
_cases = Case.__table__
_WRITE_MOVED_CASE = _cases.update().where(_cases.c.id == bindparam("moved_id")).values(
    {name: bindparam(f"moved_{name}") for name in _MOVED_COLUMNS})
# PostgreSQL takes the case's row, its stays and the move's audit event in one statement
# (data-modifying WITH clauses, which see the stays as they were before it): one round trip
# instead of four. Without the event when a receiver's event made it write it earlier.
_WRITE_MOVE_AT_ONCE = _WRITE_MOVED_CASE.add_cte(CLOSE_STAY.cte("closed_stay"), OPEN_STAY.cte("opened_stay"))
_WRITE_MOVE_AND_EVENT_AT_ONCE = _WRITE_MOVE_AT_ONCE.add_cte(insert_event_under("event_").cte("moved_event"))
# Sent prepared (see _SQLITE_MOVE_EVENT below): 34 values and SQLAlchemy's execution
# context, cursor and result for a statement that returns nothing.
_POSTGRESQL_WRITE_MOVE = Prepared(_WRITE_MOVE_AT_ONCE)
_POSTGRESQL_WRITE_MOVE_AND_EVENT = Prepared(_WRITE_MOVE_AND_EVENT_AT_ONCE)
_INSERT_SIGN_OFF = insert(SignOff.__table__).returning(SignOff.__table__.c.id)
# SQLite rewrites the index entries of every column named in an UPDATE's SET, whether its
# value changed or not: closed_at (in two indexes, two more pages in the commit's write-ahead
# log) is written there only by a move that closes or reopens the case.
_WRITE_MOVED_STAGE = _cases.update().where(_cases.c.id == bindparam("moved_id")).values(
    {name: bindparam(f"moved_{name}") for name in _MOVED_COLUMNS if name != "closed_at"})
# SQLite's four writes are sent prepared (compiled once, without SQLAlchemy's cache lookup,
# execution context and result per statement: 30-50 µs of Python each).
_SQLITE_MOVE_EVENT = Prepared(insert_event_under("event_"))
_SQLITE_CLOSE_STAY = Prepared(CLOSE_STAY)
_SQLITE_OPEN_STAY = Prepared(OPEN_STAY)
_SQLITE_WRITE_MOVED_CASE = Prepared(_WRITE_MOVED_CASE)
_SQLITE_WRITE_MOVED_STAGE = Prepared(_WRITE_MOVED_STAGE)


def _save_moved_case(case: Case, stay: dict[str, Any], *, closes: bool) -> None:
    """Write what the move changed on the case, its stays (CaseStageHistory.entry) and its
    audit event if still unwritten, with Core statements instead of a flush of the case
    (`closes`: its closed_at changed). The case is locked (lock_case), so nobody else writes
    its row meanwhile."""
    values = {name: getattr(case, name) for name in _MOVED_COLUMNS}
    row = {"moved_id": case.id} | {f"moved_{name}": value for name, value in values.items()}
    connection = session_connection()
    event = take_deferred_case_event(case)
    if connection.dialect.name == "postgresql":
        if event is None:
            _POSTGRESQL_WRITE_MOVE.rows(connection, row | stay)
        else:
            _POSTGRESQL_WRITE_MOVE_AND_EVENT.rows(connection, row | stay | event_params(event, "event_"))
    else:
        if event is not None:
            _SQLITE_MOVE_EVENT.execute(connection, event_params(event, "event_"))
        _SQLITE_CLOSE_STAY.execute(connection, stay)
        _SQLITE_OPEN_STAY.execute(connection, stay)
        (_SQLITE_WRITE_MOVED_CASE if closes else _SQLITE_WRITE_MOVED_STAGE).execute(connection, row)
    _settle(case, values)


def _settle(case: Case, written: dict[str, Any]) -> None:
    """Tell the session the case's row holds its every change, as a flush does once it has
    written them: the commit would otherwise run a unit of work over the case only to find
    nothing to write (as much Python as the UPDATE itself). Only when nothing but the
    `written` columns changed on it: otherwise those are marked as stored one by one, and a
    change the UPDATE did not write stays for the flush."""
    state = inspect(case)
    if state.committed_state.keys() <= written.keys() and "_pending_mutations" not in state.__dict__:
        state._commit_all(state.dict, db.session.identity_map)
        return
    for name, value in written.items():
        set_committed_value(case, name, value)


def _request_sign_off(actor: Actor, case: Case, trigger: str, now: datetime) -> SignOff:
    """Write the sign-off request a move asks for with one INSERT … RETURNING (a flush would
    write the half-moved case with it) and give back the request, persistent and clean."""
    columns = {"case_id": case.id, "requested_trigger": trigger, "requested_by_id": actor.user_id,
               "requested_at": now, "case_version": case.version}
    sign_off_id = session_connection().execute(_INSERT_SIGN_OFF, columns).scalar_one()
    # Every column given: one left out would be read back from the database when first used.
    requested = SignOff(id=sign_off_id, decided_by_id=None, decided_at=None, decision=None, reason=None,
                        **columns)
    make_transient_to_detached(requested)
    db.session.add(requested)
    set_committed_value(requested, "case", case)
    if "sign_offs" in case.__dict__:  # a list loaded before holds every request, this one too
        set_committed_value(case, "sign_offs", [*case.sign_offs, requested])
    return requested


def _reset_records_after_moving_back(case: Case, source: str, taken: TransitionDef) -> None:
    """A case sent back to plan again (or reopened) is evaluated afresh: the previous
    evaluation and termination request stay in the audit trail, not in the live record."""
    definition = engine(case.workflow).definition
    if taken.reopens or definition.stage_index(taken.dest) < definition.stage_index(source):
        clears = {"evaluation", "termination"} - set(definition.editable_records(taken.dest))
        if "evaluation" in clears and case.evaluation is not None:
            db.session.delete(case.evaluation)
        if "termination" in clears and case.termination is not None:
            db.session.delete(case.termination)


def decide_sign_off(actor: Actor, sign_off_id: int, data: dict, expected_version: int | None = None) -> SignOff:
    """A supervisor approves or rejects a request (four eyes: never the case's facilitator,
    nor the requester). The decision applies to the case version the request was made on."""
    values = load(SignOffDecisionSchema(), data)
    with write_transaction():
        sign_off, case = lock_case_of(SignOff, sign_off_id, actor.user, _l("No such sign-off request."))
        if sign_off.decision is not None:
            raise Conflict(
                _l("This request was already decided (%(decision)s).", decision=sign_off.decision),
                current=case_summary(case),
            )
        policy = engine(case.workflow).definition.sign_off_policy(sign_off.requested_trigger)
        if policy is None:
            raise InvalidTransition(_l("The workflow no longer defines this sign-off."))
        if actor.user_id in (case.facilitator_id, sign_off.requested_by_id):
            raise NotAllowed(_l("Four-eyes rule: the case's facilitator or the requester cannot decide."))
        # Who decides, and under what: their own team, an acting delegation, or an escalation.
        authority = decision_authority(actor.user, case, sign_off, policy)
        seen_version = expected_version if expected_version is not None else sign_off.case_version
        if authority.get("escalated_to") is None:
            _authorize(actor, case, policy.decided_by, _l("decide this sign-off"), seen_version)
        else:
            _check_version(case, seen_version)
        trigger = policy.approve if values["decision"] == "approve" else policy.reject
        now = utcnow()
        sign_off.decision = "approved" if values["decision"] == "approve" else "rejected"
        sign_off.decided_by_id = actor.user_id
        sign_off.decided_at = now
        sign_off.reason = (values.get("reason") or "").strip() or None
        _move(actor, case, trigger, reason=sign_off.reason, sign_off=sign_off, authority=authority)
        sign_off_decided.send(case, sign_off=sign_off, actor=actor)
        return sign_off


def reassign_case(actor: Actor, case_id: int, data: dict, expected_version: int | None = None) -> Case:
    """A supervisor moves an open case to another active facilitator of the same team."""
    values = load(ReassignSchema(), data)
    with write_transaction():
        case = lock_case(case_id)
        _authorize(actor, case, (Role.SUPERVISOR,), _l("reassign the case"), expected_version, ids_checked=True)
        # The case stays in its team, also when an acting supervisor moves it.
        target = db.session.get(User, values["facilitator_id"])
        if (target is None or target.role != Role.FACILITATOR
                or target.supervisor_id is None or target.supervisor_id != case.facilitator.supervisor_id):
            raise ValidationError(_l("Choose a facilitator of your team."),
                                  fields={"facilitator_id": [_l("Choose a facilitator of your team.")]})
        _check_version(case, expected_version)
        _require_in_work(case)  # a case in aftercare still has someone following it
        if not target.active:
            raise ValidationError(_l("That facilitator's account is deactivated."),
                                  fields={"facilitator_id": [_l("Deactivated account.")]})
        if target.id == case.facilitator_id:
            raise ValidationError(_l("The case is already assigned to that facilitator."),
                                  fields={"facilitator_id": [_l("Already assigned.")]})
        before = case_summary(case)
        case.facilitator = target
        _touch(case)
        _audit(actor, case, "case.reassigned", before, case_summary(case), reason=values["reason"])
        return case


# What a case's page (and the API's case detail) shows beside the case row: the one-to-one
# records and the plan's goals come in the case's own rows as values (case_shown; outer
# joins; PostgreSQL locks only the case's row: FOR UPDATE OF cases); the evaluation's
# ratings and the sign-offs in one plain query each (read_case): joining them as well would
# multiply the rows (goals x ratings x sign-offs). The province comes along for the
# deadlines and the page.
STEP_PAGE_SIZE = 20


def _other_case_of_client():
    other = aliased(Case)
    return select(other.id).where(other.client_id == Case.client_id, other.id != Case.id).exists()


# The lists a case's page shows in panels of their own, each from its own table: whether
# the case has any is read with the case's row (one EXISTS each), so an empty panel costs
# no statement. The page reads a list only when it has rows.
CASE_PAGE_LISTS: dict[str, Any] = {
    "aftercare": lambda: select(Aftercare.id).where(Aftercare.case_id == Case.id).exists(),
    "referrals": lambda: select(Referral.id).where(Referral.case_id == Case.id).exists(),
    "planned_visits": lambda: select(PlannedVisit.id).where(PlannedVisit.case_id == Case.id).exists(),
    "action_points": lambda: select(ActionPoint.id).where(ActionPoint.case_id == Case.id).exists(),
    "attachments": lambda: select(Attachment.id).where(Attachment.case_id == Case.id).exists(),
    "late_arrivals": lambda: select(LateArrival.id).where(LateArrival.case_id == Case.id).exists(),
    "other_cases": _other_case_of_client,
}


# The answer of _step_check_states by the application's workflows (built at start-up).
_STEP_CHECK_STATES: dict[int, tuple[Any, tuple[str, ...]]] = {}


def _step_check_states() -> tuple[str, ...]:
    """The states whose triggers need a step recorded in the stage (a guard): worked out
    once per application's workflows, not at every reading of a case."""
    workflows = engines()
    known = _STEP_CHECK_STATES.get(id(workflows))
    if known is None or known[0] is not workflows:
        known = _STEP_CHECK_STATES[id(workflows)] = (workflows, tuple(sorted({
            state for workflow in workflows.values() for state in workflow.definition.states
            if any(STEP_IN_STAGE_GUARD in t.guards for t in workflow.transitions_from(state))})))
    return known[1]


STEP_IN_STAGE_GUARD = "intervention_step_logged"


@functools.cache
def _reading_statements(with_steps: bool, with_lists: bool, steps_before: bool,
                        step_check_states: tuple[str, ...] = ()) -> dict[str, Any]:
    """read_case's statements, built once per process (building one costs more Python than
    running it): the locked case row (with whether a step was recorded in its stage when
    its state's guards ask, whether it has sign-offs, the step count and the lists'
    EXISTS), its sign-offs, the evaluation's ratings and a page of steps."""
    step_in_stage = (select(Step.id).where(Step.case_id == Case.id, Step.recorded_at >= Case.stage_entered_at)
                     .exists())
    # State = each, not IN: an IN list is an expanding parameter, whose SQL SQLAlchemy writes
    # anew at every execution (some 15 µs of a case's reading).
    extra = [sql_case((or_(*(Case.state == state for state in step_check_states)), step_in_stage),
                      else_=null())
             if step_check_states else null(),
             # Most cases have never asked for a sign-off: their (empty) list needs no query.
             select(SignOff.id).where(SignOff.case_id == Case.id).exists()]
    extra += ([select(func.count()).select_from(Step).where(Step.case_id == Case.id).scalar_subquery()]
              if with_steps else [])
    # A page (with its lists) also shows the menu's count of the reader's unread notifications.
    extra += [*(make() for make in CASE_PAGE_LISTS.values()), notifications.unread_of_bound_user()] if with_lists else []
    newest_first = (Step.occurred_at.desc(), Step.id.desc())
    steps = select(Step).where(Step.case_id == bindparam("case_id")).order_by(*newest_first)
    # A page shows values, with each step's recorder by name: no objects, no second query.
    # The name is a subquery of the row, not a join: PostgreSQL looks it up for the page's
    # rows only, after the LIMIT. Joined, the planner (trusting a case's few steps in its
    # statistics) sorted all the case's steps by recorder to merge them with the users,
    # then took the page: 3.6 ms of a 2,400-step case's page, 0.3 ms this way.
    recorder = select(User.full_name).where(User.id == Step.recorded_by_id).scalar_subquery()
    steps_shown = (select(*(getattr(Step, name) for name in StepShown._fields[:-1]), recorder)
                   .where(Step.case_id == bindparam("case_id")).order_by(*newest_first))
    if steps_before:
        before_at, before_id = bindparam("before_at"), bindparam("before_id")
        older = or_(Step.occurred_at < before_at, and_(Step.occurred_at == before_at, Step.id < before_id))
        steps, steps_shown = steps.where(older), steps_shown.where(older)
    # Those read as values are sent prepared (prepared.Prepared.rows: on PostgreSQL, without
    # SQLAlchemy's cache lookup, execution context, cursor and result). A case page's three
    # readings cost 1.0-1.1 ms of client CPU through SQLAlchemy's execution, 0.66-0.77 so.
    return {
        # The case's records as values after its extras (case_shown: objects cost more).
        "case": Prepared(case_shown.join_records(select(*case_shown.case_columns(), *extra,
                                                        *case_shown.record_columns()))
                         .where(Case.id == bindparam("case_id")).with_for_update(of=Case)),
        "extras": len(extra),
        # As the relationships order them (Case.sign_offs; Evaluation.ratings has no order).
        # Who asked and who decided are named by the page: read with them, as values.
        "sign_offs": Prepared(case_shown.sign_offs_statement()),
        "ratings": Prepared(case_shown.ratings_statement()),
        "steps": steps.limit(bindparam("limit")),
        "steps_shown": Prepared(steps_shown.limit(bindparam("limit"))),
    }


class StepShown(NamedTuple):
    """A step as a case's page shows it: its values and its recorder's name."""

    id: int
    step_type: str
    occurred_at: datetime
    occurred_timezone: str
    location: str | None
    notes: str
    goal_id: int | None
    recorder_name: str | None


@dataclass(frozen=True)
class CaseReading:
    """A case as one page of it is shown: its records, the latest steps (newest first, at
    most a page), how many steps it has, and the key of the last step shown when older
    ones exist (the next page starts before it). `lists`: which of CASE_PAGE_LISTS the
    case has rows in (None when not asked for)."""

    case: Case | CaseShown
    steps: list[Step] | list[StepShown]
    step_count: int
    older: tuple[datetime, int] | None
    lists: frozenset[str] | None = None
    unread: int | None = None  # with the lists: the reader's unread notifications


def latest_steps(case_id: int, before: tuple[datetime, int] | None = None, limit: int = STEP_PAGE_SIZE, *,
                 shown: bool = False) -> tuple[list[Any], tuple[datetime, int] | None]:
    """A case's steps newest first, `limit` of them, starting before the key `before`
    (occurred_at, id): one indexed query whatever the number of steps. Who recorded each
    step is not loaded; `shown`: the steps as a page shows them (StepShown values, with
    their recorders' names), read without the session's autoflush (read_case has written
    what it changed by then)."""
    params: dict[str, Any] = {"case_id": case_id, "limit": limit + 1}
    if before is not None:
        params |= {"before_at": before[0], "before_id": before[1]}
    statements = _reading_statements(False, False, before is not None)
    if shown:  # values, not objects: on the session's connection, without the ORM's handling
        steps = [StepShown(*row) for row in statements["steps_shown"].rows(db.session.connection(), params)]
    else:
        steps = list(db.session.execute(statements["steps"], params).scalars())
    if len(steps) > limit:
        steps = steps[:limit]
        return steps, (steps[-1].occurred_at, steps[-1].id)
    return steps, None


def _load_case_for_reading(case_id: int, with_steps: bool, with_lists: bool,
                           reader: User | None) -> tuple[CaseShown, Any]:
    """The case locked (as lock_case does) with what its page shows, as values; the rest of
    its row (with the lists, last, the `reader`'s unread notifications)."""
    statements = _reading_statements(with_steps, with_lists, False, _step_check_states())
    params = {"case_id": case_id, "user_id": reader.id if reader is not None else None}
    # Values, not objects: on the session's connection, without the ORM's handling.
    connection = db.session.connection()
    rows = statements["case"].rows(connection, params)
    if not rows:
        raise NotFound(_l("No such case."))
    extras = statements["extras"]
    case, rest = CaseShown(rows, extras), rows[0][case_shown.CASE_WIDTH:case_shown.CASE_WIDTH + extras]
    if rest[0] is not None:  # its actions' guard asks (workflow/guards.py)
        remember_step_in_stage(case, rest[0])
    if rest[1]:
        case.sign_offs = case_shown.sign_offs_shown(statements["sign_offs"].rows(connection, {"case_id": case_id}))
    if case.evaluation is not None:
        case.evaluation.ratings = case_shown.ratings_shown(
            statements["ratings"].rows(connection, {"evaluation_id": case.evaluation.id}))
    return case, rest[2:]


@functools.cache
def _case_head_statement() -> Any:
    """The case locked (as lock_case does) with its client, and nothing else: built once."""
    return (select(Case).where(Case.id == bindparam("case_id")).options(joinedload(Case.client))
            .with_for_update(of=Case).execution_options(populate_existing=True))


def _load_case_head(case_id: int) -> Case:
    case = db.session.execute(_case_head_statement(), {"case_id": case_id}).scalar_one_or_none()
    if case is None:
        raise NotFound(_l("No such case."))
    return case


def read_case(actor: Actor, case_id: int, what: str = "case", *,
              before: tuple[datetime, int] | None = None, limit: int = STEP_PAGE_SIZE,
              lists: bool = False, recorders: bool = False, records: bool = True) -> CaseReading:
    """A case with what its page shows, its read recorded in the same transaction: the
    access check, the audit event and the reads commit together (no second transaction),
    and what was recorded as seen is what is shown. A fixed number of statements whatever
    the case's size; `limit` 0: no steps (a page that does not show them). With `lists`,
    which of CASE_PAGE_LISTS have rows and the reader's unread notifications (the menu's
    count), read with the case's row; with `recorders`, the
    steps as values naming their recorders (StepShown: a page names them; the API gives
    their ids, from the objects). Without `records`, the
    case's own row and its client only (with `limit` 0: a page that names the case and
    shows none of its records, such as its audit history)."""
    with write_transaction():
        case: Case | CaseShown
        if records:
            case, rest = _load_case_for_reading(case_id, bool(limit), lists, actor.user)
        else:
            case, rest = _load_case_head(case_id), ()
        access.require_view(actor.user, case)
        # The event is written by the UPDATE of the case's head (in the same statement on
        # PostgreSQL): one statement fewer.
        append_case_event(case, action="case.viewed", actor=actor, context={"page": what}, deferred=True)
        if records:
            _write_case_head(case)  # values: nothing of the session's to mark written
        else:
            _save_case_head(case)  # one UPDATE, not a flush of the case before the next query
        found, unread = None, None
        if lists:
            *there, unread = rest[1 if limit else 0:]
            found = frozenset(name for name, has in zip(CASE_PAGE_LISTS, there, strict=True) if has)
        if not limit:
            return CaseReading(case, [], 0, None, found, unread)
        steps, older = latest_steps(case_id, before, limit, shown=recorders)
    return CaseReading(case, steps, rest[0], older, found, unread)


def record_case_view(actor: Actor, case_id: int, what: str = "case") -> Case:
    """Every read of a case is itself an audit event (who saw which client's data)."""
    with write_transaction():
        case = db.session.get(Case, case_id)
        access.require_view(actor.user, case)
        case = lock_case(case_id)
        _audit(actor, case, "case.viewed", None, None, page=what)
        return case


def record_denied_access(actor: Actor, case_id: int | None, what: str) -> None:
    """A refused attempt is evidence too: it goes to the actor's own chain."""
    if actor.user is None:
        return
    with write_transaction():
        append_event(chain=user_chain(actor.user.id), action="access.denied", actor=actor,
                     context={"what": what, "case_id": case_id})


# --- reading ---------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    trigger: str
    transition: TransitionDef
    missing: tuple[Missing, ...]

    @property
    def enabled(self) -> bool:
        return not self.missing

    def title(self, locale: str) -> str:
        return self.transition.title(locale)


def available_actions(user: User, cases: list[Case], *, check_guards: bool = True) -> dict[int, list[Action]]:
    """The triggers `user` may fire now on each case, each with what is still missing.

    Uses the shared machine's per-state table; nothing is built per case.
    """
    result: dict[int, list[Action]] = {}
    for case in cases:
        workflow = engine(case.workflow)
        actions = []
        for transition in workflow.transitions_from(case.state):
            if transition.via_sign_off or not access.may_fire(user, case, transition):
                continue
            missing = tuple(workflow.missing_for(case, transition.trigger)) if check_guards else ()
            actions.append(Action(transition.trigger, transition, missing))
        result[case.id] = actions
    return result


def get_case(user: User, case_id: int) -> Case:
    case = db.session.execute(
        select(Case).where(Case.id == case_id).options(
            selectinload(Case.steps), selectinload(Case.sign_offs),
        )
    ).scalar_one_or_none()
    return access.require_view(user, case)


# The team's requests, inside the conditions of `decidable_by`. Made once: an alias builds its
# column collection when made (milliseconds of CPU on every page that reads the queue).
_TEAM_REQUEST, _TEAM_REQUEST_CASE = aliased(SignOff), aliased(Case)


def decidable_by(user: User) -> list[Any]:
    """The conditions, on SignOff joined to its Case, of the requests `user` (a supervisor)
    may decide now: their team's, the teams they act for today, and those escalated to
    them; never their own request, nor one on their own case."""
    # One id list from index lookups (an OR of the two would read every pending request).
    team_requests = select(_TEAM_REQUEST.id).join(
        _TEAM_REQUEST_CASE, _TEAM_REQUEST_CASE.id == _TEAM_REQUEST.case_id).where(
        _TEAM_REQUEST.decision.is_(None), _TEAM_REQUEST_CASE.facilitator_id.in_(access.supervised_ids(user)))
    return [SignOff.decision.is_(None), SignOff.id.in_(union(team_requests, escalated_sign_off_ids(user))),
            SignOff.requested_by_id != user.id, Case.facilitator_id != user.id]


def pending_sign_offs_for(user: User, *, due_dates: bool = False) -> list[SignOff]:
    """Requests this user may decide, oldest first; with `due_dates`, only what a
    decision's deadline reads loaded (the case and its province). The queue's own page
    reads its rows as values (services/sign_off_queue.py)."""
    if user.role != Role.SUPERVISOR:
        return []
    statement = (select(SignOff).join(Case).join(User, Case.facilitator_id == User.id)
                 .where(*decidable_by(user)).order_by(SignOff.requested_at))
    if due_dates:
        statement = statement.options(contains_eager(SignOff.case).selectinload(Case.province))
    return list(db.session.execute(statement).scalars())


